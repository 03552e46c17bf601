"""Pages for governed automation: the review queue (reviewers) and the automations' monitoring
(with the kill switch for admins); and the planning page. They call the service functions; their buttons call the API
with the session cookie."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from conveyor import service
from conveyor.access import allows
from conveyor.review.html import automation_figures, model_figures, planning_figures
from conveyor.web.api import WS
from conveyor.web.auth import Principal, require
from conveyor.web.pages import _render, _stream_names

__all__ = ["router"]

router = APIRouter()
Viewer = Annotated[Principal, Depends(require("viewer"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]


@router.get("/queue", response_class=HTMLResponse, summary="The review queue: accept, override, escalate, assign")
def queue_page(request: Request, who: Reviewer, ws: WS, automation: str | None = None) -> HTMLResponse:
    from conveyor.automation import list_automations

    items = service.queue(ws, automation=automation or None, state="open", limit=500)
    autos = {a.name: a for a in list_automations(ws.root)}
    meta = {
        name: {
            "labels": a.labels,
            "reasons": a.override_reasons,
            "fields": list(a.input),
            # a triage model's past cases can suggest a reply
            "draft_model": a.decider.options.get("model") if a.decider.kind == "triage" else None,
        }
        for name, a in autos.items()
    }
    done = service.queue(ws, automation=automation or None, state="done", limit=10)
    return _render(
        request,
        "queue.html.j2",
        who=who,
        streams=_stream_names(ws),
        items=items,
        done=done,
        automation=automation,
        automations=sorted(autos),
        meta_json=json.dumps(meta),
        items_json=json.dumps(items, default=str),
    )


@router.get("/automations", response_class=HTMLResponse, summary="Every automation with its status and figures")
def automations_page(request: Request, who: Viewer, ws: WS) -> HTMLResponse:
    rows = service.automations(ws)
    return _render(request, "automations.html.j2", who=who, streams=_stream_names(ws), rows=rows)


@router.get("/automations/{name}", response_class=HTMLResponse, summary="One automation: monitoring and scorecard")
def automation_page(request: Request, name: str, who: Viewer, ws: WS) -> HTMLResponse:
    m = service.automation_monitor(ws, name)
    dead = service.deliveries(ws, automation=name, status="dead", limit=50)
    recent = service.audit_recent(ws, automation=name, limit=15)
    return _render(
        request,
        "automation.html.j2",
        who=who,
        streams=_stream_names(ws),
        m=m,
        dead=dead,
        recent=recent,
        charts={k: json.dumps(v) for k, v in automation_figures(m).items()},
        is_admin=allows(who["role"], "admin"),
    )


@router.get("/planning", response_class=HTMLResponse, summary="Forecasts, staffing plans and scenarios")
def planning_page(request: Request, who: Viewer, ws: WS) -> HTMLResponse:
    pl = service.planning(ws)
    figs = {k: json.dumps(v).replace("</", "<\\/") for k, v in planning_figures(pl).items()}
    return _render(request, "planning.html.j2", who=who, streams=_stream_names(ws), pl=pl, figs=figs)


@router.get("/models", response_class=HTMLResponse, summary="Trained models: held-out quality, live mistakes, risk")
def models_page(request: Request, who: Viewer, ws: WS) -> HTMLResponse:
    ov = service.models_overview(ws)
    figs = {k: json.dumps(v).replace("</", "<\\/") for k, v in model_figures(ov["models"]).items()}
    return _render(
        request,
        "models.html.j2",
        who=who,
        streams=_stream_names(ws),
        models=ov["models"],
        live=ov["live"],
        risks=ov["risks"],
        figs=figs,
        detail=False,
        inv=ov["invoices"],
    )


@router.get("/models/{name}", response_class=HTMLResponse, summary="One trained model")
def model_page(request: Request, who: Viewer, ws: WS, name: str, version: int | None = None) -> HTMLResponse:
    ov = service.models_overview(ws, name=name, version=version)
    figs = {k: json.dumps(v).replace("</", "<\\/") for k, v in model_figures(ov["models"]).items()}
    return _render(
        request,
        "models.html.j2",
        who=who,
        streams=_stream_names(ws),
        models=ov["models"],
        live=ov["live"],
        risks=ov["risks"],
        figs=figs,
        detail=True,
    )
