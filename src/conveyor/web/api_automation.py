"""The governed-automation part of the API: automations, decisions, the review queue, deliveries
and the audit chain. Each route calls one service function (the CLI's); the caller's token names
the actor in the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from conveyor import service
from conveyor.access import actor_name
from conveyor.web.api import WS, _json
from conveyor.web.auth import Principal, require, require_inline

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["automation"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
ReviewerInline = Annotated[Principal, Depends(require_inline("reviewer"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _wake(request: Request) -> None:
    """Let the background loop deliver new actions now rather than within the second."""
    worker = getattr(request.app.state, "background", None)
    if worker is not None:
        worker.wake()


@router.get("/automations", summary="Every automation: status, volume, coverage, accuracy, open queue")
def automations(_: Viewer, ws: WS) -> Response:
    return _json(service.automations(ws))


class CreateRequest(_Body):
    definition: dict[str, Any] = Field(description="The automation, as in automations/NAME.yaml.")
    replace: bool = False


@router.post("/automations", status_code=201, summary="Declare an automation (validated; saved as YAML)")
def automation_create(body: CreateRequest, who: Admin, ws: WS) -> Response:
    return _json(
        service.automation_create(ws, definition=body.definition, replace=body.replace, actor=actor_name(who)), 201
    )


@router.get("/automations/{name}", summary="One automation's definition and status")
def automation(name: str, _: Viewer, ws: WS) -> Response:
    return _json(service.automation(ws, name))


@router.get("/automations/{name}/monitor", summary="Monitoring: volume, coverage, accuracy, drift, segments, scorecard")
def automation_monitor(name: str, _: Viewer, ws: WS) -> Response:
    return _json(service.automation_monitor(ws, name))


class DecideRequest(_Body):
    input: dict[str, Any] = Field(description="The item's fields, as declared in the automation's input.")


@router.post("/automations/{name}/decide", summary="Decide on one item (as `conveyor decide`)")
async def decide(name: str, body: DecideRequest, who: ReviewerInline, request: Request) -> Response:
    # On the event loop, without a store session: a decision touches only the state store, and
    # thread hops under load cost more than the decision itself (bench/decisions.py).
    result = service.decide(request.app.state.ws, name, input=body.input, actor=actor_name(who), deliver=False)
    if result["tier"] == "auto":
        _wake(request)
    return _json(result)


class CalibrateRequest(_Body):
    precision: float = Field(gt=0, le=1, description="Target share of automatic actions that are right.")
    on: Literal["shadow", "history"] = "shadow"
    apply: bool = False


@router.post("/automations/{name}/calibrate", summary="Thresholds from a target precision")
def automation_calibrate(name: str, body: CalibrateRequest, who: Admin, ws: WS) -> Response:
    return _json(
        service.automation_calibrate(
            ws, name, precision=body.precision, on=body.on, apply=body.apply, actor=actor_name(who)
        )
    )


class RunRequest(_Body):
    replay: bool = False


@router.post("/automations/{name}/run", summary="Run the automation's trigger now")
def automation_run(name: str, _: Admin, ws: WS, body: Annotated[RunRequest | None, Body()] = None) -> Response:
    return _json(service.automation_run(ws, name, replay=body.replay if body else False))


@router.get("/decisions/{decision_id}", summary="One decision with its queue item, deliveries and audit records")
def decision(decision_id: str, _: Viewer, ws: WS) -> Response:
    return _json(service.decision(ws, decision_id))


class OutcomeRequest(_Body):
    label: str = Field(description="What the right answer turned out to be.")


@router.post("/decisions/{decision_id}/outcome", summary="Record what really happened to an automatic decision")
def outcome(decision_id: str, body: OutcomeRequest, who: Reviewer, ws: WS) -> Response:
    return _json(service.outcome(ws, decision_id, label=body.label, actor=actor_name(who)))


@router.get("/queue", summary="The review queue, oldest first")
def queue(
    _: Reviewer,
    ws: WS,
    automation: str | None = None,
    state: Literal["open", "escalated", "done", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    return _json(service.queue(ws, automation=automation, state=state, limit=limit))


class AnswerRequest(_Body):
    action: Literal["accept", "override", "answer", "escalate", "assign"]
    label: str | None = None
    reason: str | None = None
    note: str | None = None
    assignee: str | None = None


@router.post("/queue/{decision_id}", summary="Accept, override, answer, escalate or assign a queue item")
def queue_answer(decision_id: str, body: AnswerRequest, who: Reviewer, ws: WS, request: Request) -> Response:
    result = service.queue_answer(ws, decision_id, **body.model_dump(), actor=actor_name(who), deliver=False)
    _wake(request)
    return _json(result)


@router.get("/deliveries", summary="The automations' actions: pending, done, dead letters")
def deliveries(
    _: Viewer,
    ws: WS,
    automation: str | None = None,
    status: Literal["pending", "done", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> Response:
    return _json(service.deliveries(ws, automation=automation, status=status, limit=limit))


@router.post("/deliveries/{delivery_id}/retry", summary="Send a dead letter again")
def delivery_retry(delivery_id: str, who: Admin, ws: WS, request: Request) -> Response:
    result = service.delivery_retry(ws, delivery_id, actor=actor_name(who))
    _wake(request)
    return _json(result)


@router.get("/audit/verify", summary="Walk the audit chain: ok, records, first_bad")
def audit_verify(_: Viewer, ws: WS) -> Response:
    return _json(service.audit_verify(ws))


@router.get("/audit", summary="The latest audit records, newest first")
def audit_recent(
    _: Admin, ws: WS, automation: str | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 20
) -> Response:
    return _json(service.audit_recent(ws, automation=automation, limit=limit))


class ExportRequest(_Body):
    out: str = Field(description="The JSON Lines file to write, on the server's machine.")
    automation: str | None = None


@router.post("/audit/export", summary="Write the audit chain as JSON Lines (as `conveyor audit export`)")
def audit_export(body: ExportRequest, _: Admin, ws: WS) -> Response:
    return _json(service.audit_export(ws, out=body.out, automation=body.automation))


# Last: its path would otherwise catch /calibrate and /run.
class MoveRequest(_Body):
    reason: str | None = Field(None, description="Why (required to pause).")


@router.post("/automations/{name}/{move}", summary="shadow, go-live, pause (the kill switch) or resume")
def automation_move(
    name: str,
    move: Literal["shadow", "go-live", "pause", "resume"],
    who: Admin,
    ws: WS,
    body: Annotated[MoveRequest | None, Body()] = None,
) -> Response:
    return _json(service.automation_move(ws, name, move, reason=body.reason if body else None, actor=actor_name(who)))
