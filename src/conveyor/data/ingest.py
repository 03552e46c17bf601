"""Ingest: stage a source, validate and type it, quarantine what is bad, append what is good.

Nothing is dropped: every input row ends either in the stream's ``events`` or in its
``quarantine`` table with file, row, column, value and reason (good + quarantined = rows).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.data.layout import CORE_CASE_COLUMNS, CORE_EVENT_COLUMNS, attribute_types, build_layout
from conveyor.data.quoting import literal, quote
from conveyor.data.schema import CASE_PREFIX, ColumnMapping, resolve_mapping
from conveyor.data.sources import Staged, csv_rejects, drop_staged, stage_source, staging_name
from conveyor.data.store import Store, stream_schema
from conveyor.errors import ConveyorError, MappingError, QuarantineError

__all__ = ["QUARANTINE_COLUMNS", "TIMESTAMP_FORMATS", "IngestResult", "ingest", "set_case_attribute"]

Progress = Callable[[str, float], None]

QUARANTINE_COLUMNS = ("ingest_id", "file", "row", "column", "value", "reason", "record")

#: strptime formats tried, in order, when a timestamp column is text that is not ISO-like.
#: Day-first comes before month-first: where both parse every value, day-first wins.
TIMESTAMP_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%y %H:%M:%S",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)
_NULL_TOKENS = ("", "NA", "N/A", "NaN", "nan", "NULL", "null", "None", "none")


def _cleaned(col: str) -> str:
    """SQL for a text column with the null tokens made NULL. A CASE, not ``IN (...)``: DuckDB
    plans an IN list as a join, and a join gives up the order rows are read in, which numbers
    the rows of a CSV (see ``_stage_csv``)."""
    tokens = " ".join(f"WHEN {literal(t)} THEN NULL" for t in _NULL_TOKENS)
    return f"(CASE {quote(col)} {tokens} ELSE {quote(col)} END)"


_SAMPLE = 100_000


@dataclass
class IngestResult:
    """What one ingest did. ``as_json()`` is what `conveyor ingest --json` prints."""

    stream: str
    source: str
    format: str
    rows: int
    events_loaded: int
    cases: int
    quarantined: int
    already_ingested: bool = False
    timestamp_format: str | None = None
    mapping: dict[str, str | None] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "events_loaded": self.events_loaded,
            "cases": self.cases,
            "quarantined": self.quarantined,
            "already_ingested": self.already_ingested,
        }


def _ensure_stream_tables(store: Store, schema: str) -> None:
    s = quote(schema)
    store.execute(
        f"""
        CREATE SCHEMA IF NOT EXISTS {s};
        CREATE TABLE IF NOT EXISTS {s}.quarantine (
            ingest_id INTEGER, file VARCHAR, "row" BIGINT, "column" VARCHAR, value VARCHAR,
            reason VARCHAR, record JSON
        );
        """
    )


#: Units a numeric timestamp may count since 1970-01-01 UTC, with microseconds per unit.
TIMESTAMP_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
_UNIT_NAMES = {"s": "Unix seconds", "ms": "Unix milliseconds", "us": "Unix microseconds", "ns": "Unix nanoseconds"}


def _numeric_timestamp(store: Store, staged: Staged, col: str, unit: str | None) -> tuple[str, str]:
    """SQL for a number since the epoch, in ``unit`` or, when None, the unit its magnitude says:
    today is ~1.7e9 seconds, ~1.7e12 ms, ~1.7e15 µs, ~1.7e18 ns, so the median of a sample below
    1e11 is seconds (up to the year 5138), below 1e14 milliseconds, below 1e17 microseconds."""
    if unit is None:
        typical = store.scalar(
            f"SELECT median(abs(CAST(x AS DOUBLE))) FROM "
            f"(SELECT {col} AS x FROM {staged.table} WHERE {col} IS NOT NULL LIMIT {_SAMPLE})"
        )
        typical = float(typical or 0)
        unit = "s" if typical < 1e11 else "ms" if typical < 1e14 else "us" if typical < 1e17 else "ns"
    if unit not in TIMESTAMP_UNITS:
        raise ConveyorError(
            f"--timestamp-unit {unit!r} is not a unit", hint=f"use one of: {', '.join(TIMESTAMP_UNITS)}"
        )
    if unit == "ns":
        micros = f"CAST(CAST({col} AS HUGEINT) // 1000 AS BIGINT)"
    elif unit == "us":
        micros = f"CAST({col} AS BIGINT)"
    else:
        micros = f"CAST(round(CAST({col} AS DOUBLE) * {TIMESTAMP_UNITS[unit]}) AS BIGINT)"
    # make_timestamp gives a naive UTC time; timezone('UTC', ...) makes it the instant it is
    return f"timezone('UTC', make_timestamp({micros}))", _UNIT_NAMES[unit]


def _timestamp_expr(
    store: Store, staged: Staged, column: str, fmt: str | None, unit: str | None = None
) -> tuple[str, str | None]:
    """SQL turning the source timestamp column into TIMESTAMPTZ, and the format chosen."""
    types = dict(store.columns(staged.table))
    col = quote(column)
    kind = staged.declared_types.get(column, types[column]).upper()
    source = types[column].upper()
    if source.startswith(("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")):
        # Nanosecond time-zone-aware values (pandas 2 frames) cast only to TIMESTAMPTZ, not via TIMESTAMP.
        return (col, None) if source.startswith("TIMESTAMP WITH TIME ZONE") else (f"CAST({col} AS TIMESTAMPTZ)", None)
    if kind.startswith("TIMESTAMP WITH TIME ZONE") or kind == "TIMESTAMPTZ":
        return f"TRY_CAST({col} AS TIMESTAMPTZ)", "ISO 8601"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        return f"CAST(CAST({col} AS TIMESTAMP) AS TIMESTAMPTZ)", None
    if kind in {"BIGINT", "INTEGER", "DOUBLE", "HUGEINT", "UBIGINT", "FLOAT", "SMALLINT", "DECIMAL"} or (
        kind.startswith("DECIMAL")
    ):
        return _numeric_timestamp(store, staged, col, unit)
    return _text_timestamp(store, staged, col, fmt, unit)


def _text_timestamp(
    store: Store, staged: Staged, col: str, fmt: str | None, unit: str | None
) -> tuple[str, str | None]:
    """A text timestamp column: ``fmt``, ISO 8601, the common format reading most of a sample, or
    numbers since the epoch when more of it reads as numbers."""
    text = f"CAST({col} AS VARCHAR)"
    if fmt:
        return f"CAST(try_strptime({text}, '{fmt.replace(chr(39), chr(39) * 2)}') AS TIMESTAMPTZ)", fmt
    # numbers written as text (a CSV of epoch seconds or milliseconds): the numeric path
    number = f"TRY_CAST({text} AS DECIMAL(38, 6))"
    if unit is not None:
        return _numeric_timestamp(store, staged, number, unit)
    # Pick the format that parses the most of a sample; ISO 8601 (DuckDB's cast) goes first and,
    # when it reads every sampled value, no other format is tried.
    sample = f"(SELECT {text} AS v FROM {staged.table} WHERE {col} IS NOT NULL LIMIT {_SAMPLE})"
    total, iso = store.rows(f"SELECT count(v), count(TRY_CAST(v AS TIMESTAMPTZ)) FROM {sample}")[0]
    if iso == total:
        return f"TRY_CAST({text} AS TIMESTAMPTZ)", "ISO 8601"
    candidates = ["ISO 8601", *TIMESTAMP_FORMATS]
    exprs = [str(iso)] + [f"count(try_strptime(v, '{f}'))" for f in TIMESTAMP_FORMATS]
    counts = store.rows(f"SELECT {', '.join(exprs)} FROM {sample}")[0]
    best = max(range(len(candidates)), key=lambda i: (counts[i], -i))
    numeric = store.scalar(f"SELECT count(TRY_CAST(v AS DECIMAL(38, 6))) FROM {sample}")
    if numeric > counts[best]:
        # more of the sample reads as numbers than any date format reads (20240131 is a date):
        # time since the epoch; a value that is no number is quarantined
        return _numeric_timestamp(store, staged, number, None)
    if best == 0 or counts[best] == 0:
        return f"TRY_CAST({text} AS TIMESTAMPTZ)", "ISO 8601"
    chosen = candidates[best]
    return f"CAST(try_strptime({text}, '{chosen}') AS TIMESTAMPTZ)", chosen


def _attribute_types(
    store: Store, staged: Staged, columns: list[str], *, sample: int | None = _SAMPLE
) -> dict[str, str]:
    """The DuckDB type each attribute column should have, inferred for text columns.

    Inference reads the first ``sample`` rows; the load then checks that no later value fails
    the chosen type (and, if one does, infers again from every row), so nothing is lost.
    """
    types = dict(store.columns(staged.table))
    result: dict[str, str] = {}
    infer: list[str] = []
    for c in columns:
        declared = staged.declared_types.get(c)
        if declared is not None or types[c].upper() == "VARCHAR":
            infer.append(c)
        else:
            result[c] = types[c]
    if not infer:
        return result
    parts = []
    for i, c in enumerate(infer):
        v = _cleaned(c)
        parts.append(
            f"count({v}) AS n{i}, count(TRY_CAST({v} AS BIGINT)) FILTER "
            f"(WHERE regexp_full_match({v}, '[+-]?(0|[1-9][0-9]*)')) AS i{i}, "
            f"count(TRY_CAST({v} AS DOUBLE)) AS d{i}, count(TRY_CAST({v} AS BOOLEAN)) FILTER "
            f"(WHERE lower({v}) IN ('true','false')) AS b{i}, count(TRY_CAST({v} AS TIMESTAMPTZ)) "
            f"FILTER (WHERE regexp_matches({v}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}')) AS t{i}"
        )
    source = staged.table if sample is None else f"(SELECT * FROM {staged.table} LIMIT {sample})"
    row = store.rows(f"SELECT {', '.join(parts)} FROM {source}")[0]
    for i, c in enumerate(infer):
        n, ints, dbl, boo, ts = row[5 * i : 5 * i + 5]
        declared = staged.declared_types.get(c)
        checks = {"BIGINT": ints, "DOUBLE": dbl, "BOOLEAN": boo, "TIMESTAMPTZ": ts, "VARCHAR": n}
        if declared is not None:
            result[c] = declared if n and checks.get(declared, 0) == n else "VARCHAR"
            continue
        result[c] = "VARCHAR"
        if n:
            for t in ("BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMPTZ"):
                if checks[t] == n:
                    result[c] = t
                    break
    return result


def _attr_name(col: str, taken: set[str], reserved: tuple[str, ...]) -> str:
    name = col
    while name in reserved or name in taken:
        name = f"{name}_attr"
    taken.add(name)
    return name


def ingest(
    store: Store,
    source: str | Path | object,
    *,
    stream: str,
    case_id: str | None = None,
    activity: str | None = None,
    timestamp: str | None = None,
    resource: str | None = None,
    lifecycle: str | None = None,
    timestamp_format: str | None = None,
    timestamp_unit: str | None = None,
    timezone: str = "UTC",
    dedupe: bool = False,
    strict: bool = False,
    progress: Progress | None = None,
    xes_reader: str = "auto",
    case_attributes: Sequence[str] = (),
) -> IngestResult:
    """Load ``source`` into ``stream``, creating the stream if needed.

    ``source`` is a path (CSV, Parquet, XES; gzip ok) or a pandas/polars/Arrow table. Columns are
    detected from the usual names unless given. Rows with a missing case id or activity, an
    unparseable timestamp, or that repeat an event already in the stream are quarantined; with
    ``dedupe`` so are exact repeats within the source; with ``strict`` any such row is an error
    and nothing is loaded. Ingesting a file already ingested into the stream adds nothing.
    Numeric timestamps count ``timestamp_unit`` ("s", "ms", "us", "ns") since 1970 UTC, detected
    from their size when not given. Appending costs in proportion to the cases the new events touch.
    ``xes_reader="stream"`` skips the fast line-based XES reader (it falls back by itself).
    Columns named ``case:<name>`` are case attributes; ``case_attributes`` names other columns to
    keep as case attributes (each case takes the value on its first row), as flat files often
    repeat a case's attributes on every row without the prefix.

    >>> from conveyor.data.store import Store
    >>> import pyarrow as pa
    >>> store = Store()
    >>> log = pa.table({"case_id": ["a", "a"], "activity": ["x", "y"],
    ...                 "timestamp": ["2024-01-01 09:00", "2024-01-01 10:00"]})
    >>> ingest(store, log, stream="demo").events_loaded
    2
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    schema = stream_schema(stream)

    def step(label: str, fraction: float) -> None:
        if progress is not None:
            progress(label, fraction)

    if isinstance(source, str):
        source = Path(source)
    step("reading", 0.0)
    staged = stage_source(store, source, schema=schema, progress=progress, xes_reader=xes_reader)
    try:
        if staged.sha256 is not None:
            seen = store.rows(
                "SELECT id, rows FROM main.ingests WHERE stream = ? AND sha256 = ? LIMIT 1",
                [stream, staged.sha256],
            )
            if seen:
                return IngestResult(
                    stream=stream,
                    source=staged.source,
                    format=staged.format,
                    rows=int(seen[0][1]),
                    events_loaded=0,
                    cases=0,
                    quarantined=0,
                    already_ingested=True,
                    seconds=time.perf_counter() - started,
                )
        columns = [c for c, _ in store.columns(staged.table) if c != "_row"]
        mapping = resolve_mapping(
            columns,
            file=staged.source,
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            resource=resource,
            lifecycle=lifecycle,
        )
        role_of = {column: role.replace("_", " ") for role, column in mapping.roles().items()}
        for name in case_attributes:
            if name not in columns or name in role_of:
                raise MappingError(
                    f"column {name!r} given by --case-attribute is "
                    + (f"the {role_of[name]}" if name in role_of else "not in the file")
                    + f"; its columns are: {', '.join(columns)}",
                    file=staged.source,
                    columns=columns,
                    hint="pass --case-attribute with another of the columns listed",
                )
        step("validating", 0.3)
        with store.transaction():
            _ensure_stream_tables(store, schema)
            load = _Load(
                store,
                staged,
                mapping,
                stream=stream,
                schema=schema,
                started_at=started_at,
                case_attributes=tuple(case_attributes),
            )
            result = load.run(
                timezone=timezone,
                timestamp_format=timestamp_format,
                timestamp_unit=timestamp_unit,
                dedupe=dedupe,
                strict=strict,
                step=step,
            )
            result.seconds = time.perf_counter() - started
            load.record(result, result.seconds)
    finally:
        drop_staged(store, staging_name(schema))
        store.execute(
            "DROP TABLE IF EXISTS _typed; DROP VIEW IF EXISTS _new_events; DROP TABLE IF EXISTS _new_case_attrs; "
            "DROP TABLE IF EXISTS _shift"
        )
    step("done", 1.0)
    return result


@dataclass
class _Load:
    """One ingest's load, in named steps: type the rows, mark duplicates, quarantine the bad,
    lay out the good, record it. ``_typed`` (a temp table) carries the rows between steps."""

    store: Store
    staged: Staged
    mapping: ColumnMapping
    stream: str
    schema: str
    started_at: datetime
    ingest_id: int = 0
    ev_names: dict[str, str] = field(default_factory=dict)
    case_names: dict[str, str] = field(default_factory=dict)
    ts_format: str | None = None
    stage_row: str = "_row"
    case_attributes: tuple[str, ...] = ()  # columns without the case: prefix kept per case

    @property
    def s(self) -> str:
        return quote(self.schema)

    def run(
        self,
        *,
        timezone: str,
        timestamp_format: str | None,
        timestamp_unit: str | None,
        dedupe: bool,
        strict: bool,
        step: Progress,
    ) -> IngestResult:
        self.ingest_id = int(self.store.scalar("SELECT nextval('main.ingest_ids')"))
        self.type_rows(timezone=timezone, timestamp_format=timestamp_format, timestamp_unit=timestamp_unit)
        self.count_csv_rejects()
        existing = self.store.has_table(self.schema, "events")
        self.mark_duplicates(dedupe=dedupe, existing=existing)
        reasons = self.quarantine()
        quarantined = sum(reasons.values())
        if strict and quarantined:
            self.fail_strict(quarantined)
        drop_staged(self.store, staging_name(self.schema))  # free the raw copy before the heavy part
        step("laying out", 0.6)
        loaded, new_cases = self.append(existing=existing)
        _update_catalog(self.store, self.stream, self.schema, self.started_at)
        return IngestResult(
            stream=self.stream,
            source=self.staged.source,
            format=self.staged.format,
            rows=self.staged.rows,
            events_loaded=loaded,
            cases=new_cases,
            quarantined=quarantined,
            timestamp_format=self.ts_format,
            mapping=self.mapping.as_dict(),
            reasons=reasons,
        )

    def type_rows(self, *, timezone: str, timestamp_format: str | None, timestamp_unit: str | None) -> None:
        """``_typed``: every source row with its core fields, typed attributes, a fingerprint and
        the reason it is rejected (NULL when it is good)."""
        store, staged, mapping = self.store, self.staged, self.mapping
        stage = staged.table
        roles = set(mapping.roles().values())
        extras = [c for c, _ in store.columns(stage) if c not in roles and c != "_row"]
        case_cols = [c for c in extras if c.startswith(CASE_PREFIX) or c in self.case_attributes]
        event_cols = [c for c in extras if c not in case_cols]
        source_types = {c: t.upper() for c, t in store.columns(stage)}
        attr_types = _attribute_types(store, staged, extras)

        def text(col: str | None) -> str:
            if col is None:
                return "NULL::VARCHAR"
            v = f"CAST({quote(col)} AS VARCHAR)"
            # blank (empty or spaces only): only a value starting with a space is trimmed, which
            # spares trimming every value (a fifth of reading a CSV's core columns)
            return f"(CASE WHEN {v} = '' OR (prefix({v}, ' ') AND trim({v}) = '') THEN NULL ELSE {v} END)"

        def typed(col: str) -> str:
            if source_types[col] != "VARCHAR":
                return quote(col)  # already typed by the source (Parquet, Arrow)
            t = attr_types[col]
            return _cleaned(col) if t == "VARCHAR" else f"TRY_CAST({_cleaned(col)} AS {t})"

        def lost(cols: list[str]) -> str:
            """True where a text value did not survive the cast to its inferred type."""
            checks = [
                f"({_cleaned(c)} IS NOT NULL AND TRY_CAST({_cleaned(c)} AS {attr_types[c]}) IS NULL)"
                for c in cols
                if source_types[c] == "VARCHAR" and attr_types[c] != "VARCHAR"
            ]
            return " OR ".join(checks) if checks else "false"

        taken: set[str] = set()
        self.ev_names = {c: _attr_name(c, taken, CORE_EVENT_COLUMNS) for c in event_cols}
        taken_case: set[str] = set()
        self.case_names = {c: _attr_name(c.removeprefix(CASE_PREFIX), taken_case, CORE_CASE_COLUMNS) for c in case_cols}
        # Text already stored as text stays text: an append must not narrow what earlier ingests kept
        # (a column of text in a chunk that happens to hold only digits is not a number column).
        for table, names, core in (
            ("events", self.ev_names, CORE_EVENT_COLUMNS),
            ("cases", self.case_names, CORE_CASE_COLUMNS),
        ):
            stored = dict(attribute_types(store, self.schema, table, core))
            for c, n in names.items():
                if source_types[c] == "VARCHAR" and stored.get(n) == "VARCHAR":
                    attr_types[c] = "VARCHAR"
        fp_cols = ["case_id", "activity", "ts", "resource", "lifecycle", *self.ev_names.values()]
        reason = """CASE WHEN case_id IS NULL THEN 'missing case id'
                         WHEN activity IS NULL THEN 'missing activity'
                         WHEN ts IS NULL AND (_ts_raw IS NULL OR trim(_ts_raw) = '') THEN 'missing timestamp'
                         WHEN ts IS NULL THEN 'unparseable timestamp' END"""
        ts_text = source_types[mapping.timestamp] == "VARCHAR"
        ts_src = f"CAST({quote(mapping.timestamp)} AS VARCHAR)" if ts_text else "NULL::VARCHAR"
        try:
            store.execute(f"SET TimeZone = {literal(timezone)}")
        except Exception as exc:
            raise ConveyorError(
                f"unknown timezone {timezone!r}", hint="use an IANA name such as UTC or Europe/Amsterdam"
            ) from exc
        try:
            ts_expr, self.ts_format = _timestamp_expr(
                store, staged, mapping.timestamp, timestamp_format, timestamp_unit
            )
            for attempt in range(2):
                attr_sel = "".join(f", {typed(c)} AS {quote(n)}" for c, n in self.ev_names.items())
                case_sel = "".join(f", {typed(c)} AS {quote('case:' + n)}" for c, n in self.case_names.items())

                def select(source: str, row: str, attr_sel: str = attr_sel, case_sel: str = case_sel) -> str:
                    return f"""
                    SELECT *, hash({", ".join(quote(c) for c in fp_cols)}) AS fp, {reason} AS _reason FROM (
                        SELECT * EXCLUDE (_ts_src), CASE WHEN ts IS NULL THEN _ts_src END AS _ts_raw FROM (
                            SELECT {row} AS _row,
                                   {text(mapping.case_id)} AS case_id,
                                   {text(mapping.activity)} AS activity,
                                   {ts_expr} AS ts,
                                   {ts_src} AS _ts_src,
                                   {text(mapping.resource)} AS resource,
                                   {text(mapping.lifecycle)} AS lifecycle{attr_sel}{case_sel},
                                   {lost(extras)} AS _lost
                            FROM {source}
                        )
                    )"""

                self._materialize_typed(select)
                if attempt or not store.scalar("SELECT count(*) FROM _typed WHERE _lost"):
                    break
                # A value beyond the inference sample did not fit its column's type: infer from all rows.
                attr_types = _attribute_types(store, staged, extras, sample=None)
            store.execute("ALTER TABLE _typed DROP COLUMN _lost")
        finally:
            store.execute("SET TimeZone = 'UTC'")

    def _materialize_typed(self, select: Callable[[str, str], str]) -> None:
        """``_typed`` from ``select(source, row number SQL)``. A staged table without ``_row`` is
        numbered by the order rows arrive in: DuckDB keeps it into the new table (row ids) while
        insertion order is preserved and the plan has no join; with a join the numbered view is
        read instead."""
        store, staged = self.store, self.staged
        if staged.row_expr is not None or staged.numbered is None:
            store.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {select(staged.table, staged.row_expr or '_row')}")
            return
        sql = select(staged.table, "NULL::BIGINT")
        plan = "\n".join(str(r[-1]) for r in store.rows(f"EXPLAIN {sql}"))
        if "JOIN" in plan.upper():
            store.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {select(staged.numbered, '_row')}")
            return
        store.execute("SET preserve_insertion_order = true")
        try:
            store.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {sql}")
        finally:
            store.execute("SET preserve_insertion_order = false")
        # row ids count from 0, or from a large base inside a transaction: the header is line 1
        store.execute("UPDATE _typed SET _row = rowid - (SELECT min(rowid) FROM _typed) + 2")

    def count_csv_rejects(self) -> None:
        """Lines DuckDB's CSV reader could not split: count them and renumber the rows after them."""
        store, staged = self.store, self.staged
        self.stage_row = "_row"
        if staged.format != "csv":
            return
        staged.rejects = csv_rejects(store, staged)
        staged.rows = int(store.scalar("SELECT count(*) FROM _typed")) + len(staged.rejects)
        if staged.rejects:
            # Rows after a skipped line sit lower in the file: accepted row r (0-based) is on line
            # r + 2 + #{j : reject_line[j] - j <= r + 2}.
            shifts = [line - j for j, (line, _, _) in enumerate(staged.rejects)]
            store.execute("CREATE OR REPLACE TEMP TABLE _shift AS SELECT unnest(?::BIGINT[]) AS k", [shifts])
            store.execute("UPDATE _typed SET _row = _row + (SELECT count(*) FROM _shift WHERE k <= _typed._row)")
            stage = staged.numbered or staged.table
            self.stage_row = f"({stage}._row + (SELECT count(*) FROM _shift WHERE k <= {stage}._row))"

    def mark_duplicates(self, *, dedupe: bool, existing: bool) -> None:
        """Repeats within the source (with ``dedupe``) and events the stream already holds."""
        store, s = self.store, self.s
        if dedupe:
            store.execute(
                """
                UPDATE _typed t SET _reason = 'duplicate of row ' || d.first_row
                FROM (SELECT _row, min(_row) OVER (PARTITION BY fp, case_id, activity, ts) AS first_row
                      FROM _typed WHERE _reason IS NULL) d
                WHERE t._row = d._row AND d.first_row <> d._row
                """
            )
        if existing:
            store.execute(
                f"""
                UPDATE _typed t SET _reason = 'duplicate of an event already in the stream (ingest '
                    || d.ingest_id || ')'
                FROM (SELECT e.fp, c.case_id, e.ts, min(e.ingest_id) AS ingest_id
                      FROM {s}.events e JOIN {s}.cases c USING (case_idx)
                      WHERE e.fp IN (SELECT fp FROM _typed) GROUP BY ALL) d
                WHERE t._reason IS NULL AND t.fp = d.fp AND t.case_id = d.case_id AND t.ts = d.ts
                """
            )

    def quarantine(self) -> dict[str, int]:
        """Move every rejected row, with its whole source record, to the quarantine; the count per reason."""
        store, staged, mapping, s = self.store, self.staged, self.mapping, self.s
        stage = staged.numbered or staged.table
        if store.scalar("SELECT count(*) FROM _typed WHERE _reason IS NOT NULL"):
            stage_cols = [c for c, _ in store.columns(stage) if c != "_row"]
            record = "to_json({" + ", ".join(f"{literal(c)}: {quote(c)}" for c in stage_cols) + "})"
            column_sql = f"""CASE WHEN t._reason LIKE 'duplicate%' THEN NULL
                                  WHEN t.case_id IS NULL THEN {literal(mapping.case_id)}
                                  WHEN t.activity IS NULL THEN {literal(mapping.activity)}
                                  ELSE {literal(mapping.timestamp)} END"""
            value_sql = """CASE WHEN t._reason LIKE 'duplicate%' OR t.case_id IS NULL OR t.activity IS NULL
                                THEN NULL ELSE t._ts_raw END"""  # _ts_raw is kept only where parsing failed
            store.execute(
                f"""
                INSERT INTO {s}.quarantine
                SELECT ?, ?, t._row, {column_sql}, {value_sql}, t._reason, r.rec
                FROM (SELECT * FROM _typed WHERE _reason IS NOT NULL) t
                JOIN (SELECT {self.stage_row} AS _row, {record} AS rec FROM {stage}
                      WHERE {self.stage_row} IN (SELECT _row FROM _typed WHERE _reason IS NOT NULL)) r
                USING (_row)
                ORDER BY t._row
                """,
                [self.ingest_id, staged.source],
            )
        for line, message, raw in staged.rejects:
            store.execute(
                f"INSERT INTO {s}.quarantine VALUES (?, ?, ?, NULL, ?, ?, ?)",
                [self.ingest_id, staged.source, line, raw, f"malformed line: {message}", json.dumps({"line": raw})],
            )
        return {
            str(k): int(v)
            for k, v in store.rows(
                f"SELECT regexp_replace(reason, ' \\(ingest.*| of row .*|: .*', ''), count(*) FROM {s}.quarantine "
                "WHERE ingest_id = ? GROUP BY ALL ORDER BY 2 DESC, 1",
                [self.ingest_id],
            )
        }

    def fail_strict(self, quarantined: int) -> None:
        first = self.store.rows(
            f'SELECT file, "row", "column", value, reason FROM {self.s}.quarantine WHERE ingest_id = ? '
            'ORDER BY "row" LIMIT 1',
            [self.ingest_id],
        )[0]
        detail = dict(zip(("file", "row", "column", "value", "reason"), first, strict=True))
        where = f", column {detail['column']!r}, value {detail['value']!r}" if detail["column"] else ""
        raise QuarantineError(
            f"{quarantined} row(s) of {self.staged.source} would be quarantined (--strict); nothing was "
            f"loaded. First: row {detail['row']}{where}: {detail['reason']}",
            count=quarantined,
            first=detail,
        )

    def append(self, *, existing: bool) -> tuple[int, int]:
        """Lay out the good rows (only the cases they touch are recomputed); (events, cases) loaded."""
        store, s = self.store, self.s
        loaded = int(store.scalar("SELECT count(*) FROM _typed WHERE _reason IS NULL"))
        if not loaded:
            return 0, 0
        # source order continues after what the stream holds, so ties keep arrival order
        base = int(store.scalar(f"SELECT coalesce(max(seq), 0) FROM {s}.events")) if existing else 0
        ev_attr = "".join(f", {quote(n)}" for n in self.ev_names.values())
        store.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW _new_events AS
            SELECT case_id, activity, ts, resource, lifecycle, {base} + _row AS seq, fp,
                   {self.ingest_id}::INTEGER AS ingest_id{ev_attr}
            FROM _typed WHERE _reason IS NULL
            """
        )
        new_attrs: str | None = None
        if self.case_names:
            cols = ", ".join(f"t.{quote('case:' + n)} AS {quote(n)}" for n in self.case_names.values())
            # A case's attributes are those on its first row.
            store.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE _new_case_attrs AS
                SELECT t.case_id, {cols} FROM _typed t
                SEMI JOIN (SELECT min(_row) AS r FROM _typed WHERE _reason IS NULL GROUP BY case_id) f
                ON t._row = f.r
                """
            )
            new_attrs = "_new_case_attrs"
        new_cases = build_layout(store, self.schema, events_rel="_new_events", case_attrs_rel=new_attrs)
        return loaded, new_cases

    def record(self, result: IngestResult, seconds: float) -> None:
        """The ingest's row in ``main.ingests``."""
        self.store.execute(
            "INSERT INTO main.ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.ingest_id,
                self.stream,
                self.staged.source,
                self.staged.format,
                self.staged.sha256,
                self.staged.rows,
                result.events_loaded,
                result.quarantined,
                self.started_at,
                seconds,
                json.dumps({**self.mapping.as_dict(), "timestamp_format": self.ts_format}),
            ],
        )


def _update_catalog(store: Store, stream: str, schema: str, now: datetime) -> None:
    s = quote(schema)
    has_events = store.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'events'",
        [schema],
    )
    if has_events:
        events, first, last = store.rows(f"SELECT count(*), min(ts), max(ts) FROM {s}.events")[0]
        cases = store.scalar(f"SELECT count(*) FROM {s}.cases")
        activities = store.scalar(f"SELECT count(*) FROM {s}.activities")
    else:
        events, first, last, cases, activities = 0, None, None, 0, 0
    quarantined = store.scalar(f"SELECT count(*) FROM {s}.quarantine")
    store.execute(
        """
        INSERT INTO main.streams VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at, events = excluded.events,
            cases = excluded.cases, activities = excluded.activities, first_ts = excluded.first_ts,
            last_ts = excluded.last_ts, quarantined = excluded.quarantined
        """,
        [stream, now, now, events, cases, activities, first, last, quarantined],
    )


def set_case_attribute(store: Store, stream: str, attribute: str, values: dict[str, str | None]) -> list[str]:
    """Set one case attribute (text) of many cases, ``{case_id: value}``, adding the attribute if
    it is new; the case ids the stream does not have (nothing is set for them).

    Later appends keep the values (stored case attributes win over new rows). Raises when the
    stream does not exist, or when ``attribute`` is one of conveyor's own case columns.
    """
    store.require_stream(stream)
    if attribute in CORE_CASE_COLUMNS:
        raise ConveyorError(
            f"{attribute!r} is one of conveyor's own case columns and cannot be set",
            hint=f"pick another attribute name (not {', '.join(CORE_CASE_COLUMNS)})",
        )
    s = quote(stream_schema(stream))
    import pyarrow as pa

    given = pa.table(
        {"case_id": list(values), "value": list(values.values())},
        schema=pa.schema([("case_id", pa.string()), ("value", pa.string())]),
    )
    with store.transaction():
        store.register("_set_values", given)
        try:
            missing = [
                r[0] for r in store.rows(f"SELECT case_id FROM _set_values EXCEPT SELECT case_id FROM {s}.cases")
            ]
            store.execute(f"ALTER TABLE {s}.cases ADD COLUMN IF NOT EXISTS {quote(attribute)} VARCHAR")
            store.execute(
                f"UPDATE {s}.cases SET {quote(attribute)} = v.value FROM _set_values v WHERE {s}.cases.case_id = v.case_id"
            )
        finally:
            store.unregister("_set_values")
        store.execute("UPDATE main.streams SET updated_at = ? WHERE name = ?", [datetime.now(UTC), stream])
    return missing
