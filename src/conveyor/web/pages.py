"""Server-rendered pages: the review's views made interactive (stream and segment pickers, the CLI's
filters, map sliders, drill-down to cases and to one case's timeline). They call the service
functions, like the API, and hold no SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from conveyor import service
from conveyor.access import check_session, check_token, create_session, redeem_login_code
from conveyor.mining.filters import Filters
from conveyor.review.html import environment
from conveyor.web.api import WS, FilterParams
from conveyor.web.auth import COOKIE, Principal, require

__all__ = ["login_page", "router"]

router = APIRouter()
Viewer = Annotated[Principal, Depends(require("viewer"))]
F = Annotated[Filters | None, Depends(FilterParams)]
_FILTER_KEYS = (
    "from",
    "to",
    "window",
    "where",
    "variant",
    "start_activity",
    "end_activity",
    "min_duration",
    "max_duration",
    "events",
)


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status)


def login_page(request: Request, *, message: str | None = None, status: int = 401) -> HTMLResponse:
    nxt = request.query_params.get("next") or (
        request.url.path if request.url.path not in ("/login", "/logout") else "/"
    )
    return _render(request, "login.html.j2", status=status, message=message, next=nxt)


def _query(request: Request, **more: Any) -> str:
    """The current filter query string (the same filters on every link), with ``more`` set."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k in _FILTER_KEYS and v != ""]
    for k, v in more.items():
        if v is not None:
            items.append((k, str(v)))
    return urlencode(items)


def _stream_names(ws: Any) -> list[str]:
    return [s["name"] for s in service.streams(ws)]


def _cached(request: Request, ws: Any, op: str, stream: str, **kwargs: Any) -> Any:
    """A service result, kept while the stream's data does not change (opportunities take seconds)."""
    if not hasattr(request.state, "versions"):  # once per request: what the data and definitions are now
        versions = {s["name"]: (s["events"], s["last"]) for s in service.streams(ws)}
        request.state.versions = (versions, _metrics_version(ws.root))
    versions, definitions = request.state.versions
    key = (op, stream, repr(sorted(kwargs.items())), versions.get(stream), definitions)
    cache = request.app.state.cache
    if key not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[key] = getattr(service, op)(ws, stream, **kwargs)
    return cache[key]


@router.get("/login", response_class=HTMLResponse, summary="Log in (a one-time link code, or a form for a token)")
def login(request: Request, code: str | None = None, next: str = "/") -> Response:
    if code:
        role = redeem_login_code(request.app.state.state, code)
        if role is None:
            return login_page(request, message="This login link was already used or has expired: log in with a token.")
        return _logged_in(request, create_session(request.app.state.state, role=role, token_id=None), next)
    if _already_in(request):
        return RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/", status_code=303)
    return login_page(request)


def _already_in(request: Request) -> bool:
    """Whether the request already carries valid credentials (then the login page moves on)."""
    state = request.app.state.state
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and check_token(state, auth[7:].strip()):
        return True
    return bool(request.cookies.get(COOKIE)) and check_session(state, request.cookies[COOKIE]) is not None


def _logged_in(request: Request, secret: str, next_url: str) -> Response:
    target = next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", max_age=12 * 3600, path="/")
    return response


@router.post("/login", response_class=HTMLResponse, summary="Log in with a token: sets the session cookie")
def login_post(request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    who = check_token(request.app.state.state, token.strip())
    if who is None:
        return login_page(request, message="That token is not valid (unknown, mistyped or revoked).")
    return _logged_in(request, create_session(request.app.state.state, role=who["role"], token_id=who["id"]), next)


@router.post("/logout", summary="End the browser session")
def logout(request: Request, _: Viewer) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse, summary="Overview: every stream against its targets")
def overview(request: Request, who: Viewer, ws: WS) -> HTMLResponse:
    rows = []
    for info in service.streams(ws):
        kpis = _cached(request, ws, "kpis", info["name"])
        opp = _cached(request, ws, "opportunities", info["name"], top=3)
        rows.append({"info": info, "kpis": kpis, "opportunities": opp})
    return _render(request, "overview.html.j2", who=who, rows=rows, streams=[r["info"]["name"] for r in rows])


@router.get(
    "/streams/{stream}", response_class=HTMLResponse, summary="One stream: KPIs, map, bottlenecks, opportunities"
)
def stream_page(
    request: Request,
    stream: str,
    who: Viewer,
    ws: WS,
    filters: F,
    by: str | None = None,
    period: str = "week",
    view: str = "frequency",
    activities: Annotated[float, Query(ge=0, le=1)] = 1.0,
    paths: Annotated[float, Query(ge=0, le=1)] = 0.4,
) -> HTMLResponse:
    from conveyor.mining.svg import render_svg

    by = by or None
    period = period if period in ("week", "month") else "week"
    kpis = _cached(request, ws, "kpis", stream, by=by, period=period, filters=filters)
    pmap = _cached(request, ws, "process_map", stream, filters=filters)
    context = {
        "who": who,
        "stream": stream,
        "streams": _stream_names(ws),
        "kpis": kpis,
        "by": by,
        "period": period,
        "view": view,
        "activities": activities,
        "paths": paths,
        "map_svg": render_svg(
            pmap,
            color=view if view in ("frequency", "performance") else "frequency",
            activities=activities,
            paths=paths,
        ),
        "n_nodes": len(pmap["nodes"]),
        "activity_names": sorted(n["activity"] for n in _cached(request, ws, "process_map", stream)["nodes"]),
        "n_edges": len(pmap["edges"]),
        "durations": _cached(request, ws, "durations", stream, filters=filters),
        "bottlenecks": _cached(request, ws, "bottlenecks", stream, top=8, filters=filters),
        "opportunities": _cached(request, ws, "opportunities", stream, top=8, filters=filters),
        "segment_values": _cached(request, ws, "segment_values", stream),
        "q": request.query_params,
        "query": lambda **more: _query(request, **more),
    }
    return _render(request, "stream.html.j2", **context)


@router.get("/streams/{stream}/cases", response_class=HTMLResponse, summary="The cases behind a figure")
def cases_page(
    request: Request,
    stream: str,
    who: Viewer,
    ws: WS,
    filters: F,
    activity: str | None = None,
    source: str | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    result = service.cases(ws, stream, filters=filters, activity=activity, source=source, target=target, limit=limit)
    what = f"passing {source} → {target}" if source and target else f"doing {activity}" if activity else "in scope"
    return _render(
        request,
        "cases.html.j2",
        who=who,
        stream=stream,
        streams=_stream_names(ws),
        result=result,
        what=what,
        query=lambda **more: _query(request, **more),
    )


@router.get("/streams/{stream}/cases/{case_id}", response_class=HTMLResponse, summary="One case's timeline")
def case_page(request: Request, stream: str, case_id: str, who: Viewer, ws: WS) -> HTMLResponse:
    result = service.case(ws, stream, case_id)
    return _render(request, "case.html.j2", who=who, stream=stream, streams=_stream_names(ws), result=result)


@router.get("/review", response_class=HTMLResponse, summary="The operating review, as the report file shows it")
def review_page(request: Request, _: Viewer, ws: WS) -> HTMLResponse:
    """The review, rebuilt when a stream's data or a definition file changes."""
    from conveyor.review.build import build_review
    from conveyor.review.html import render_html

    version = tuple((s["name"], s["events"], s["last"]) for s in service.streams(ws))
    cache = request.app.state.cache
    key = ("review", version, _metrics_version(ws.root))
    if key not in cache:
        cache[key] = render_html(build_review(ws))
    return HTMLResponse(cache[key])


def _metrics_version(root: Path) -> tuple[tuple[str, float], ...]:
    """When the KPI definitions, rules or trained models last changed (a cached review is stale
    after an edit or a new model version)."""
    files = [
        *(root / "metrics").glob("*.yaml"),
        *(root / "rules").glob("*.yaml"),
        *(root / "models").glob("*/v*/card.json"),
    ]
    return tuple(sorted((str(f.relative_to(root)), f.stat().st_mtime) for f in files))


@router.get("/static/plotly.min.js", summary="Plotly's JavaScript (served locally: pages need no network)")
def plotly(_: Viewer) -> Response:
    from conveyor.review.html import plotly_js

    return Response(
        plotly_js(), media_type="application/javascript", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get("/static/swagger/{name}", summary="Swagger UI's files (served locally)")
def swagger_file(name: str, _: Viewer) -> Response:
    import swagger_ui

    if name not in ("swagger-ui-bundle.js", "swagger-ui.css"):
        return Response(status_code=404)
    return FileResponse(Path(swagger_ui.__file__).parent / "static" / name)


@router.get("/docs", response_class=HTMLResponse, summary="The API's reference (Swagger UI over /openapi.json)")
def docs(request: Request, _: Viewer) -> HTMLResponse:
    return _render(request, "docs.html.j2")


@router.get("/openapi.json", summary="The OpenAPI document")
def openapi(request: Request, _: Viewer) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse(request.app.openapi())
