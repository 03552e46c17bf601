"""The event backbone: sources, ingest, the store and export. Names load on first use.

The ingest function is ``conveyor.ingest`` (or ``conveyor.data.ingest.ingest``): here the name
``ingest`` is the submodule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_exports

_LAZY = {
    "ColumnMapping": "conveyor.data.schema",
    "IngestResult": "conveyor.data.ingest",
    "Store": "conveyor.data.store",
    "StreamInfo": "conveyor.data.store",
    "export_stream": "conveyor.data.export",
    "quarantine_rows": "conveyor.data.quarantine",
}

__all__ = [
    "ColumnMapping",
    "IngestResult",
    "Store",
    "StreamInfo",
    "export_stream",
    "quarantine_rows",
]

if TYPE_CHECKING:
    from conveyor.data.export import export_stream
    from conveyor.data.ingest import IngestResult
    from conveyor.data.quarantine import quarantine_rows
    from conveyor.data.schema import ColumnMapping
    from conveyor.data.store import Store, StreamInfo


__getattr__ = lazy_exports(__name__, _LAZY)
