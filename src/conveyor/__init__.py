"""conveyor: an operations engine.

    import conveyor
    ws = conveyor.open_workspace("my-workspace")
    conveyor.ingest(ws.store, "orders.csv", stream="order-to-cash")

Names are imported on first use, so ``import conveyor`` (and every CLI command) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "ConveyorError": "conveyor.errors",
    "IngestResult": "conveyor.data.ingest",
    "Store": "conveyor.data.store",
    "StreamInfo": "conveyor.data.store",
    "Workspace": "conveyor.workspace",
    "export_stream": "conveyor.data.export",
    "ingest": "conveyor.data.ingest",
    "init_workspace": "conveyor.workspace",
    "open_workspace": "conveyor.workspace",
    "quarantine_rows": "conveyor.data.quarantine",
}

__all__ = [
    "ConveyorError",
    "IngestResult",
    "Store",
    "StreamInfo",
    "Workspace",
    "__version__",
    "export_stream",
    "ingest",
    "init_workspace",
    "open_workspace",
    "quarantine_rows",
]

if TYPE_CHECKING:
    from conveyor.data.export import export_stream
    from conveyor.data.ingest import IngestResult, ingest
    from conveyor.data.quarantine import quarantine_rows
    from conveyor.data.store import Store, StreamInfo
    from conveyor.errors import ConveyorError
    from conveyor.workspace import Workspace, init_workspace, open_workspace


__getattr__ = lazy_exports(__name__, _LAZY)
