"""The event backbone: sources, ingest, the store and export."""

from conveyor.data.export import export_stream
from conveyor.data.ingest import IngestResult, ingest
from conveyor.data.schema import ColumnMapping
from conveyor.data.store import Store, StreamInfo

__all__ = ["ColumnMapping", "IngestResult", "Store", "StreamInfo", "export_stream", "ingest", "quarantine_rows"]


def quarantine_rows(store: Store, stream: str, *, limit: int | None = None) -> list[dict[str, object]]:
    """The stream's rejected rows, oldest first, each with file, row, column, value and reason."""
    from conveyor.data.store import quote

    schema = store.require_stream(stream)
    sql = (
        f'SELECT ingest_id, file, "row", "column", value, reason, record FROM {quote(schema)}.quarantine '
        'ORDER BY ingest_id, "row"'
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    keys = ("ingest_id", "file", "row", "column", "value", "reason", "record")
    return [dict(zip(keys, r, strict=True)) for r in store.rows(sql)]
