"""CLI commands on a workspace a server owns: send the work to its API instead of opening the file.

DuckDB lets one process write a file, and ``conveyor serve`` holds it. The server leaves
``.conveyor-server.json`` (URL, pid, a token for this user's CLI; readable by this user only) in
the workspace; a command that finds it, and a server answering there, calls the route that runs
the same service function (:data:`conveyor.service.ROUTES`) and gets the same JSON back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError

__all__ = ["Remote", "find_server"]

#: How a service function's keyword becomes an API parameter, where the names differ.
_RENAME = {"since": "from", "until": "to", "names": "kpi"}


class RemoteError(ConveyorError, RuntimeError):
    """The server answered with an error (its message and hint are passed on)."""


class Remote:
    """A running server for this workspace."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            resp = httpx.request(
                method, self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=None, **kw
            )
        except httpx.HTTPError as exc:
            raise RemoteError(
                f"the conveyor server at {self.url} did not answer: {exc}",
                hint="it may have stopped; run the command again, or stop the server and delete .conveyor-server.json",
            ) from None
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
            except (ValueError, KeyError, TypeError):
                err = {"message": resp.text[:300]}
            raise RemoteError(err.get("message", "error"), hint=err.get("hint"))
        return resp.json()

    def call(self, op: str, *args: Any, progress: Callable[[str, float], None] | None = None, **kwargs: Any) -> Any:
        """Run service function ``op`` on the server (positional arguments fill the path)."""
        from conveyor import service
        from conveyor.mining.filters import filter_options

        if op not in service.ROUTES:
            raise ConveyorError(
                f"`{op}` cannot run while `conveyor serve` owns this workspace",
                hint="stop the server (Ctrl-C where it runs), then run the command again",
            )
        method, template, _ = service.ROUTES[op]
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        values = dict(zip(names, args, strict=False))
        path = template.format(**{k: _quote(str(v)) for k, v in values.items()})
        params: dict[str, Any] = {}
        filters = kwargs.pop("filters", None)
        for k, v in {**filter_options(filters), **kwargs}.items():
            if v is not None:
                params[_RENAME.get(k, k)] = v
        if method == "GET":
            return self._request("GET", "/api/v1" + path, params=params)
        result = self._request(method, "/api/v1" + path, json=params)
        if isinstance(result, dict) and result.get("status") == "running" and "id" in result:
            return self._wait(result["id"], progress)
        return result

    def _wait(self, job_id: str, progress: Callable[[str, float], None] | None) -> Any:
        while True:
            job = self._request("GET", f"/api/v1/jobs/{job_id}")
            if progress is not None:
                progress(job["step"], job["progress"])
            if job["status"] == "done":
                return job["result"]
            if job["status"] == "failed":
                raise RemoteError(job["error"]["message"], hint=job["error"].get("hint"))
            time.sleep(0.2)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def find_server(workspace: str | None) -> Remote | None:
    """The server that owns this workspace, if one is running and answers."""
    from conveyor.config import CONFIG_FILE
    from conveyor.state import SERVER_FILE
    from conveyor.workspace import resolve_workspace_dir

    root = resolve_workspace_dir(workspace)
    path = root / SERVER_FILE
    if not path.is_file() or not (root / CONFIG_FILE).is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)
    except (ValueError, KeyError, OSError, TypeError):
        return None  # stale: the server is gone
    import httpx

    try:
        ok = httpx.get(info["url"].rstrip("/") + "/health", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return None
    if Path(ok.get("workspace", "")) != root:
        return None
    return Remote(info["url"], info["token"])
