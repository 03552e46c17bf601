"""The rows a model learns from: a CSV or Parquet file, or a stream's cases (one row per case:
its attributes, when it started and how long it took)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.data.layout import CORE_CASE_COLUMNS
from conveyor.data.quoting import literal, quote
from conveyor.data.series import relation
from conveyor.data.store import Store
from conveyor.decide import DecideError

__all__ = ["read_rows", "read_table", "read_traces"]


def read_rows(
    store: Store, *, file: str | None = None, stream: str | None = None, until: datetime | None = None
) -> tuple[list[dict[str, Any]], str]:
    """(rows as dicts, where they came from). Stream rows carry ``case_id``, ``started`` and
    ``time_to_resolve_hours`` besides the case attributes; ``until`` keeps cases started before it."""
    if (file is None) == (stream is None):
        raise DecideError("give either --file or --stream", hint="e.g. --file tickets.csv, or --stream support")
    if file is not None:
        rel = relation(store, None, file)
        names = [c for c, _ in store.columns(f"SELECT * FROM {rel}")]
        # every column as text: labels and codes compare as written in the file
        cols = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in names)
        return store.records(f"SELECT {cols} FROM {rel}"), str(file)
    assert stream is not None
    schema = store.require_stream(stream)
    skip = set(CORE_CASE_COLUMNS) - {"case_id"}
    attrs = [c for c, _ in store.columns(f"{quote(schema)}.cases") if c not in skip]
    where = f"WHERE first_ts < {literal(until.isoformat())}::TIMESTAMPTZ" if until else ""
    rows = store.records(
        f"SELECT {', '.join(quote(c) for c in attrs)}, first_ts AS started, "
        f"round(duration_seconds / 3600, 2) AS time_to_resolve_hours FROM {quote(schema)}.cases {where} "
        "ORDER BY first_ts, case_id"
    )
    return rows, f"stream {stream}"


def read_table(store: Store, source: str) -> tuple[list[dict[str, Any]], str]:
    """(rows with every value as text, its name): ``source`` is a CSV or Parquet file when one
    exists at that path, else a dataset of the workspace."""
    from pathlib import Path

    from conveyor.data.series import SeriesError

    is_file = Path(source).is_file()
    try:
        rel = relation(store, None if is_file else source, source if is_file else None)
    except SeriesError as exc:
        raise DecideError(f"{source}: not a file, and {exc.message}", hint=exc.hint) from None
    names = [c for c, _ in store.columns(f"SELECT * FROM {rel}")]
    cols = ", ".join(f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in names)
    return store.records(f"SELECT {cols} FROM {rel}"), source


def read_traces(store: Store, stream: str) -> dict[str, list[tuple[str, datetime]]]:
    """Each case's (activity, time) in order."""
    s = quote(store.require_stream(stream))
    out: dict[str, list[tuple[str, datetime]]] = {}
    for case_id, act, ts in store.rows(
        f"SELECT c.case_id, a.name, e.ts FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"JOIN {s}.activities a ON a.code = e.activity ORDER BY e.case_idx, e.pos"
    ):
        out.setdefault(case_id, []).append((act, ts))
    return out
