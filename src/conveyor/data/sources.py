"""Sources: turn a file or an in-memory table into a staging table in the store.

A staged source is a table of the source's own columns plus ``_row``: the line number in the
file for CSV (header is line 1) and XES (the line of the ``<event>`` tag), the 1-based row
number for Parquet and in-memory tables. Malformed CSV lines are staged too, as rejects.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from conveyor.data.store import Store, quote
from conveyor.data.xes import XES_TYPES, read_xes
from conveyor.data.xes_lines import stage_xes_lines
from conveyor.errors import SourceError

__all__ = ["FORMATS", "Staged", "detect_format", "stage_source"]

FORMATS = ("csv", "parquet", "xes", "frame")
Progress = Callable[[str, float], None]


@dataclass
class Staged:
    """What staging produced: the table name and what is known of each column."""

    table: str
    source: str
    format: str
    rows: int
    #: Column -> DuckDB type the values should be cast to (known types from XES or Parquet).
    declared_types: dict[str, str] = field(default_factory=dict)
    #: Malformed lines: (line, message, raw text) for CSV rows DuckDB could not split.
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    sha256: str | None = None
    encoding: str | None = None
    #: SQL giving each staged row's source row (line) number; None when ``table`` has no ``_row``
    #: and the loader numbers rows by the order it reads them in (CSV: see :func:`_stage_csv`).
    row_expr: str | None = "_row"
    #: The same rows with ``_row``, where ``table`` has none: read again only to fetch the
    #: records of rejected rows.
    numbered: str | None = None
    #: CSV only: the table DuckDB writes malformed lines to while reading.
    rejects_table: str | None = None


def detect_format(path: Path) -> str:
    """Tell the format from the name, then check the bytes agree."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".xes"):
        return "xes"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    raise SourceError(
        f"cannot tell the format from the name {path.name!r}",
        file=str(path),
        hint="conveyor reads .csv/.tsv/.txt (optionally .gz), .parquet and .xes/.xes.gz files",
    )


def _head(path: Path, n: int = 1 << 16) -> bytes:
    """The first ``n`` bytes of the (decompressed) file; checks gzip integrity of that much."""
    with path.open("rb") as f:
        raw = f.read(n)
    if raw[:2] == b"\x1f\x8b":
        try:
            inflater = zlib.decompressobj(wbits=47)
            return inflater.decompress(raw, n)
        except zlib.error as exc:
            raise SourceError(f"corrupt gzip data: {exc}", file=str(path), hint="copy the file again") from exc
    if path.name.lower().endswith(".gz"):
        raise SourceError("named .gz but is not gzip-compressed", file=str(path), hint="rename it without .gz")
    return raw


def _check_gzip_complete(path: Path) -> None:
    """Read a gzip file to its end; a truncated one gives a clear error instead of bad data."""
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 22):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise SourceError(
            f"the gzip stream is damaged or ends early ({exc})",
            file=str(path),
            hint="the file was cut short or corrupted; copy or download it again",
        ) from exc


def _sniff_encoding(head: bytes, file: str) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise SourceError(
            "looks binary (it contains NUL bytes), not like delimited text",
            file=file,
            hint="is this the right file? conveyor reads CSV, Parquet and XES",
        )
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut by the sample's end
            return "utf-8"
        return "latin-1"


def _file_sha256(path: Path, out: list[str]) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    out.append(digest.hexdigest())


def stage_source(
    store: Store,
    source: Path | object,
    *,
    schema: str,
    progress: Progress | None = None,
    xes_reader: str = "auto",
) -> Staged:
    """Stage ``source`` (a path, or a pandas/polars/Arrow table) for ingest.

    CSV and XES become a temporary table; Parquet and in-memory tables are read in place through
    a temporary view (nothing is copied). Call :func:`drop_staged` when done.
    """
    table = staging_name(schema)
    drop_staged(store, table)
    if not isinstance(source, Path):
        return _stage_frame(store, source, table)
    if not source.exists():
        raise SourceError("no such file", file=str(source), hint="check the path")
    if not source.is_file():
        raise SourceError("is not a file", file=str(source), hint="pass a file, not a folder")
    fmt = detect_format(source)
    sha: list[str] = []
    hasher = threading.Thread(target=_file_sha256, args=(source, sha), daemon=True)
    hasher.start()
    if fmt == "csv":
        staged = _stage_csv(store, source, table)
    elif fmt == "parquet":
        staged = _stage_parquet(store, source, table)
    else:
        staged = _stage_xes(store, source, table, progress, reader=xes_reader)
    hasher.join()
    staged.sha256 = sha[0] if sha else None
    return staged


def staging_name(schema: str) -> str:
    """The (unquoted) name of the temporary staging relation for a stream's schema."""
    return f"_stage_{schema}"


def drop_staged(store: Store, table: str) -> None:
    """Remove everything staging made for ``table``."""
    plain = table.replace("-", "_h")
    for name in (table, table + "_num", plain + "_rej", plain + "_scan", table + "_ev", table + "_tr"):
        if store.scalar("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = ?", [name]):
            store.execute(f"DROP VIEW {quote(name)}")
        if store.scalar("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]):
            store.execute(f"DROP TABLE {quote(name)}")
    store.unregister(table + "_frame")


def _stage_csv(store: Store, path: Path, table: str) -> Staged:
    """A view over the file: nothing is copied. The loader numbers the rows in the order DuckDB's
    parallel reader delivers them, which is file order (numbering inside the scan, ``WITH
    ORDINALITY``, doubles what materializing the rows costs); a second view numbers them with
    ``WITH ORDINALITY``, read only for the records of rejected rows. Either way ``_row`` is the
    line number (header = line 1) until a malformed line is skipped; :func:`csv_rejects` and the
    loader then shift later rows down.
    """
    file = str(path)
    head = _head(path)
    encoding = _sniff_encoding(head, file)
    if head[:2] == b"\x1f\x8b" or path.name.lower().endswith(".gz"):
        _check_gzip_complete(path)
    if not head.strip():
        raise SourceError("is empty", file=file, hint="export the log again; the file has no rows")
    plain = table.replace("-", "_h")  # DuckDB takes only plain identifiers for the rejects tables
    options = (
        "all_varchar = true, header = true, store_rejects = true, "
        f"rejects_scan = '{plain}_scan', rejects_table = '{plain}_rej', "
        f"encoding = '{encoding}', null_padding = false, strict_mode = true"
    )
    literal = file.replace("'", "''")
    try:
        store.rows(f"DESCRIBE SELECT * FROM read_csv('{literal}', {options})")  # sniff now: errors name the file
        store.execute(f"CREATE TEMP VIEW {quote(table)} AS SELECT * FROM read_csv('{literal}', {options})")
        store.execute(
            f"CREATE TEMP VIEW {quote(table + '_num')} AS SELECT * EXCLUDE (ordinality), ordinality + 1 AS _row "
            f"FROM read_csv('{literal}', {options}) WITH ORDINALITY"
        )
    except duckdb.Error as exc:
        raise SourceError(
            f"cannot be read as delimited text: {str(exc).splitlines()[0]}",
            file=file,
            hint="check the delimiter, quoting and encoding; conveyor detects , ; tab and |",
        ) from exc
    return Staged(
        table=quote(table),
        source=file,
        format="csv",
        rows=-1,
        encoding=encoding,
        rejects_table=f"{plain}_rej",
        row_expr=None,
        numbered=quote(table + "_num"),
    )


def csv_rejects(store: Store, staged: Staged) -> list[tuple[int, str, str]]:
    """Malformed lines met while reading a staged CSV: (line, message, raw text), by line."""
    if staged.rejects_table is None:
        return []
    exists = store.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [staged.rejects_table])
    if not exists:
        return []
    rows = store.rows(
        f"SELECT line, any_value(error_message), any_value(csv_line) FROM {quote(staged.rejects_table)} "
        "GROUP BY line ORDER BY line"
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def _stage_parquet(store: Store, path: Path, table: str) -> Staged:
    file = str(path)
    with path.open("rb") as f:
        magic = f.read(4)
        tail = b""
        if path.stat().st_size >= 8:
            f.seek(-4, 2)
            tail = f.read(4)
    if magic != b"PAR1" or tail != b"PAR1":
        raise SourceError(
            "is not a complete Parquet file (its PAR1 markers are missing)",
            file=file,
            hint="the file may be truncated or another format; re-export it",
        )
    try:
        cols = [r[0] for r in store.rows("DESCRIBE SELECT * FROM read_parquet(?)", [file])]
        sel = ", ".join(quote(c) for c in cols)
        literal = file.replace("'", "''")
        store.execute(
            f"CREATE TEMP VIEW {quote(table)} AS SELECT {sel}, file_row_number + 1 AS _row "
            f"FROM read_parquet('{literal}', file_row_number = true)"
        )
    except duckdb.Error as exc:
        raise SourceError(
            f"cannot be read as Parquet: {str(exc).splitlines()[0]}", file=file, hint="re-export it"
        ) from exc
    rows = int(store.scalar(f"SELECT count(*) FROM {quote(table)}"))
    return Staged(table=quote(table), source=file, format="parquet", rows=rows)


def _to_arrow(frame: object) -> Any:
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    module = type(frame).__module__.split(".")[0]
    if module == "polars":
        return frame.to_arrow()  # type: ignore[attr-defined]
    if module == "pandas":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if hasattr(frame, "__arrow_c_stream__"):
        return pa.table(frame)
    raise SourceError(
        f"cannot ingest a {type(frame).__name__}",
        file="<python object>",
        hint="pass a path, a pandas or polars DataFrame, or a pyarrow Table",
    )


def _stage_frame(store: Store, frame: object, table: str) -> Staged:
    import pyarrow as pa

    arrow = _to_arrow(frame)
    arrow = arrow.append_column("_row", pa.array(range(1, arrow.num_rows + 1), pa.int64()))
    store.register(table + "_frame", arrow)
    store.execute(f"CREATE TEMP VIEW {quote(table)} AS SELECT * FROM {quote(table + '_frame')}")
    kind = type(frame).__module__.split(".")[0]
    return Staged(table=quote(table), source=f"<{kind} table>", format="frame", rows=arrow.num_rows)


def _stage_xes(store: Store, path: Path, table: str, progress: Progress | None, *, reader: str) -> Staged:
    """``reader``: "auto" tries the line fast path first; "stream" goes straight to expat."""
    if reader == "auto" and _head(path).lstrip().startswith(b"<"):  # also checks the gzip header
        if progress is not None:
            progress("reading XES", 0.1)
        fast = stage_xes_lines(store, str(path), table)
        if fast is not None:
            rows, declared = fast
            return Staged(table=quote(table), source=str(path), format="xes", rows=rows, declared_types=declared)
    return _stage_xes_streaming(store, path, table, progress)


def _stage_xes_streaming(store: Store, path: Path, table: str, progress: Progress | None) -> Staged:
    events_t, traces_t = quote(table + "_ev"), quote(table + "_tr")
    store.execute(f"DROP TABLE IF EXISTS {events_t}; DROP TABLE IF EXISTS {traces_t}")
    known: dict[str, set[str]] = {events_t: set(), traces_t: set()}
    types: dict[str, str] = {}

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("reading XES", done / total if total else 1.0)

    try:
        for chunk in read_xes(path, on_progress=report):
            types.update(chunk.types)
            for target, arrow in ((events_t, chunk.events), (traces_t, chunk.traces)):
                store.register("_xes_chunk", arrow)
                try:
                    if not known[target]:
                        store.execute(f"CREATE TEMP TABLE {target} AS SELECT * FROM _xes_chunk")
                    else:
                        for col in arrow.column_names:
                            if col not in known[target]:
                                store.execute(f"ALTER TABLE {target} ADD COLUMN {quote(col)} VARCHAR")
                        store.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _xes_chunk")
                    known[target].update(arrow.column_names)
                finally:
                    store.unregister("_xes_chunk")
        trace_cols = [c for c, _ in store.columns(traces_t) if c != "_trace"]
        sel = ", ".join(f"t.{quote(c)}" for c in trace_cols)
        store.execute(
            f"CREATE TEMP TABLE {quote(table)} AS SELECT e.* EXCLUDE (_trace){', ' + sel if sel else ''} "
            f"FROM {events_t} e LEFT JOIN {traces_t} t USING (_trace)"
        )
    finally:
        store.execute(f"DROP TABLE IF EXISTS {events_t}; DROP TABLE IF EXISTS {traces_t}")
    rows = int(store.scalar(f"SELECT count(*) FROM {quote(table)}"))
    declared = {k: XES_TYPES.get(v, "VARCHAR") for k, v in types.items()}
    return Staged(table=quote(table), source=str(path), format="xes", rows=rows, declared_types=declared)
