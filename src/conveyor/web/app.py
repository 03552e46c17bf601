"""The web server: the JSON API, the pages, tokens. It owns the workspace's DuckDB file while it
runs; CLI commands on the same workspace send their work here (see conveyor.cli._remote)."""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor import __version__
from conveyor.errors import ConveyorError, StreamNotFoundError
from conveyor.state import SERVER_FILE
from conveyor.workspace import Workspace

__all__ = ["create_app", "server_file", "write_server_file"]

_NOT_FOUND = ("StreamNotFoundError", "CaseNotFoundError", "AutomationNotFoundError", "ModelNotFoundError")
_BAD_INPUT = (
    "FilterError",
    "MetricsError",
    "RuleError",
    "MapError",
    "AccessError",
    "AutomationError",
    "PlanningError",
    "SeriesError",
    "DecideError",
)


def server_file(root: Path) -> Path:
    """Where a running server says how to reach it (URL, pid, the CLI's token); mode 0600."""
    return root / SERVER_FILE


def _error(status: int, kind: str, message: str, *, hint: str | None = None, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": kind, "message": message}
    if hint:
        body["hint"] = hint
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers={"Cache-Control": "no-store"})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def create_app(ws: Workspace) -> FastAPI:
    """The application over an open (writable) workspace; the caller closes the workspace."""
    from conveyor.web import api, api_automation, api_decide, pages, pages_automation

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        from conveyor.web.background import Background

        worker = Background(ws)
        app.state.background = worker
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="conveyor",
        version=__version__,
        description="Operations engine: streams, analyses, KPIs and opportunities of one workspace. "
        "Authenticate with `Authorization: Bearer TOKEN` (`conveyor token create --role viewer`).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    from conveyor.web.jobs import Jobs

    app.state.ws = ws
    app.state.state = ws.state
    app.state.jobs = Jobs()
    app.state.cache = {}

    @app.get("/health", summary="Liveness (the only route without a token)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "workspace": str(ws.root), "pid": os.getpid()}

    app.include_router(api.router)
    app.include_router(api_automation.router)
    app.include_router(api_decide.router)
    app.include_router(pages.router)
    app.include_router(pages_automation.router)

    @app.exception_handler(ConveyorError)
    async def conveyor_error(request: Request, exc: ConveyorError) -> Response:
        kind = type(exc).__name__
        status = (
            404 if kind in _NOT_FOUND or isinstance(exc, StreamNotFoundError) else 422 if kind in _BAD_INPUT else 400
        )
        if not _is_api(request):
            return pages_error(request, status, exc.message, exc.hint)
        return _error(status, kind, exc.message, hint=exc.hint, field=getattr(exc, "field", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"] if x not in ("query", "body", "path"))
        message = f"{field or 'request'}: {err['msg']}"
        if not _is_api(request):
            return pages_error(request, 422, message, None)
        return _error(422, "ValidationError", message, field=field or None, hint="see /docs for the route's parameters")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_api(request):
            if exc.status_code == 401:
                return pages.login_page(request)
            return pages_error(request, exc.status_code, str(exc.detail), None)
        resp = _error(exc.status_code, "HTTPError", str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        return _error(500, type(exc).__name__, f"internal error: {exc}", hint="a bug in conveyor: please report it")

    def pages_error(request: Request, status: int, message: str, hint: str | None) -> Response:
        from conveyor.review.html import environment

        html = environment().get_template("error.html.j2").render(status=status, message=message, hint=hint)
        return Response(html, status_code=status, media_type="text/html")

    return app


def write_server_file(root: Path, *, url: str, token: str) -> Path:
    """Tell CLI commands on this workspace where the server is (readable by this user only)."""
    path = server_file(root)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": url, "pid": os.getpid(), "token": token}, fh)
    return path
