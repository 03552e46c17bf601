"""Run the server: own the workspace, tell the CLI where it is, print the login link, serve."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["run_server"]


def run_server(workspace: str | None, sock: socket.socket, *, announce: Callable[[dict[str, Any]], None]) -> None:
    """Serve the workspace on the bound socket until interrupted; clean up after."""
    import uvicorn

    from conveyor.access import create_login_code, create_token, revoke_token
    from conveyor.web.app import create_app, server_file, write_server_file
    from conveyor.workspace import open_workspace

    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    with open_workspace(workspace) as ws:
        token, info = create_token(ws.state, role="admin", name="conveyor CLI (while the server runs)")
        code = create_login_code(ws.state)
        write_server_file(ws.root, url=url, token=token)
        app = create_app(ws)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        # What start-up loaded (DuckDB, FastAPI, Plotly's figures...) lives as long as the server:
        # kept out of the collector's full passes, which would otherwise stall requests for tens of ms.
        import gc

        gc.collect()
        gc.freeze()
        # The event loop answers decisions; the background loop's ingests run Python between their
        # queries. A shorter GIL hand-over (default 5 ms) keeps the loop's waits short.
        import sys

        sys.setswitchinterval(0.001)
        announce({"url": url, "login_url": f"{url}/login?code={code}", "workspace": str(ws.root), "pid": _pid()})
        try:
            server.run(sockets=[sock])
        finally:
            with contextlib.suppress(OSError):
                server_file(ws.root).unlink()
            with contextlib.suppress(Exception):
                revoke_token(ws.state, info["id"])


def _pid() -> int:
    import os

    return os.getpid()
