"""conveyor: an operations engine.

>>> import conveyor
>>> ws = conveyor.open_workspace("my-workspace")          # doctest: +SKIP
>>> conveyor.ingest(ws.store, "orders.csv", stream="order-to-cash")  # doctest: +SKIP
"""

from conveyor.data import IngestResult, Store, StreamInfo, export_stream, ingest, quarantine_rows
from conveyor.errors import ConveyorError
from conveyor.workspace import Workspace, init_workspace, open_workspace

__version__ = "0.1.0"

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
