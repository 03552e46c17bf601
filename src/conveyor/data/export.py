"""Export a stream as CSV, Parquet or XES, with the standard column names so it reads back."""

from __future__ import annotations

from pathlib import Path

from conveyor.data.layout import CORE_CASE_COLUMNS, CORE_EVENT_COLUMNS, attribute_columns
from conveyor.data.quoting import quote
from conveyor.data.schema import STANDARD_NAMES
from conveyor.data.store import Store
from conveyor.data.xes import write_xes
from conveyor.errors import ConveyorError

__all__ = ["export_sql", "export_stream"]

_HIDDEN = {"seq", "fp", "ingest_id", "pos", "case_idx", "next_activity", "next_ts", "next_resource", "start_ts"}


def export_sql(store: Store, stream: str) -> tuple[str, list[str]]:
    """SQL for the stream's events in case/position order, and the case-attribute columns."""
    schema = store.require_stream(stream)
    s = quote(schema)
    ev_attrs = [c for c in attribute_columns(store, schema, "events", CORE_EVENT_COLUMNS) if c not in _HIDDEN]
    case_attrs = attribute_columns(store, schema, "cases", CORE_CASE_COLUMNS)
    std = STANDARD_NAMES
    sel = [
        f"c.case_id AS {quote(std['case_id'])}",
        f"a.name AS {quote(std['activity'])}",
        f"e.ts AS {quote(std['timestamp'])}",
        f"r.name AS {quote(std['resource'])}",
        f"e.lifecycle AS {quote(std['lifecycle'])}",
        *(f"e.{quote(c)}" for c in ev_attrs),
        *(f"c.{quote(c)} AS {quote('case:' + c)}" for c in case_attrs),
    ]
    sql = (
        f"SELECT {', '.join(sel)} FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"JOIN {s}.activities a ON a.code = e.activity LEFT JOIN {s}.resources r ON r.code = e.resource "
        "ORDER BY e.case_idx, e.pos"
    )
    return sql, [f"case:{c}" for c in case_attrs]


def export_stream(store: Store, stream: str, out: str | Path, *, fmt: str | None = None) -> int:
    """Write the stream to ``out``; the format comes from ``fmt`` or the file's extension.

    Returns the number of events written.
    """
    out = Path(out)
    name = out.name.lower()
    fmt = fmt or (
        "parquet"
        if name.endswith((".parquet", ".pq"))
        else "xes"
        if name.endswith((".xes", ".xes.gz"))
        else "csv"
        if name.endswith((".csv", ".csv.gz"))
        else None
    )
    if fmt not in {"csv", "parquet", "xes"}:
        raise ConveyorError(
            f"cannot tell the export format from {out.name!r}",
            hint="name the file .csv, .csv.gz, .parquet or .xes (or .xes.gz)",
        )
    sql, case_attrs = export_sql(store, stream)
    events = int(store.stream(stream).events)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        store.execute(
            # every value quoted: empty text reads back as text, not missing, and a value such as
            # '' cannot make the reader's sniffer take ' for the quote character
            f"COPY ({sql}) TO '{str(out).replace(chr(39), chr(39) * 2)}' "
            """(HEADER, DELIMITER ',', QUOTE '"', FORCE_QUOTE *, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S.%f%z')"""
        )
    elif fmt == "parquet":
        store.execute(f"COPY ({sql}) TO '{str(out).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
    else:
        import gzip

        opener = gzip.open if name.endswith(".gz") else open
        with opener(out, "wt", encoding="utf-8") as fh:
            events = write_xes(
                fh,
                store.batches(sql),
                case_column=STANDARD_NAMES["case_id"],
                case_attributes=case_attrs,
            )
    return events
