"""Reading back the rows ingest rejected."""

from __future__ import annotations

from conveyor.data.store import Store, quote

__all__ = ["quarantine_rows"]


def quarantine_rows(store: Store, stream: str, *, limit: int | None = None) -> list[dict[str, object]]:
    """The stream's rejected rows, oldest first, each with file, row, column, value and reason."""
    schema = store.require_stream(stream, events=False)  # all of an ingest may be here
    sql = (
        f'SELECT ingest_id, file, "row", "column", value, reason, record FROM {quote(schema)}.quarantine '
        'ORDER BY ingest_id, "row"'
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    keys = ("ingest_id", "file", "row", "column", "value", "reason", "record")
    return [dict(zip(keys, r, strict=True)) for r in store.rows(sql)]
