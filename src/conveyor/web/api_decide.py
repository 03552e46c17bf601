"""The trained deciders' part of the API: train a triage model (a job), evaluate it, list the
models, one model's card, similar past cases. Each route calls one service function (the CLI's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from conveyor import service
from conveyor.web.api import WS, _json
from conveyor.web.auth import Principal, require

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["models"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainRequest(_Body):
    text: list[str] = Field(min_length=1, description="The text column(s).")
    label: str = Field(description="The column to learn.")
    file: str | None = Field(default=None, description="A CSV or Parquet file on the server's machine.")
    stream: str | None = Field(default=None, description="Or a stream: one row per case.")
    categorical: list[str] | None = None
    outcome: list[str] | None = None
    id_column: str | None = None
    name: str | None = None
    until: str | None = Field(default=None, description="With a stream: cases started before this time.")


@router.post("/models/triage", status_code=202, summary="Train a triage model (as `conveyor triage train`); a job")
def triage_train(body: TrainRequest, request: Request, _: Admin) -> Response:
    root_ws = request.app.state.ws

    def work(progress: Any) -> Any:
        ws = root_ws.session()
        try:
            return service.triage_train(ws, progress=progress, **body.model_dump())
        finally:
            ws.close()

    return _json(request.app.state.jobs.start("triage_train", work), 202)


class EvalRequest(_Body):
    file: str | None = None
    stream: str | None = None
    version: int | None = None


@router.post("/models/{name}/eval", summary="A model's quality on labelled data (as `conveyor triage eval`)")
def triage_eval(name: str, body: EvalRequest, _: Viewer, ws: WS) -> Response:
    return _json(service.triage_eval(ws, name, **body.model_dump()))


@router.get("/models", summary="Trained models with their held-out quality")
def triage_models(_: Viewer, ws: WS) -> Response:
    return _json(service.triage_models(ws))


@router.get("/models/{name}", summary="One model's card: data, metrics, curve, confusion, mistakes")
def triage_model(
    name: str, _: Viewer, ws: WS, version: Annotated[int | None, Query(description="Default: the newest.")] = None
) -> Response:
    return _json(service.triage_model(ws, name, version=version))


class SimilarRequest(_Body):
    item: dict[str, Any] = Field(description="The new case's fields (text and attributes).")
    k: int = Field(default=5, ge=1, le=50)


@router.post("/models/{name}/similar", summary="Past cases like this one, with how they ended, and the proposal")
def similar_cases(name: str, body: SimilarRequest, _: Viewer, ws: WS) -> Response:
    return _json(service.similar_cases(ws, name, item=body.item, k=body.k))


@router.get(
    "/streams/{stream}/risk", summary="Open cases by their chance of breaching the deadline (as `conveyor risk`)"
)
def risk(
    stream: str,
    _: Viewer,
    ws: WS,
    deadline: Annotated[
        str | None, Query(description="A timestamp case attribute holding each case's deadline.")
    ] = None,
    target: Annotated[str | None, Query(description="Or a target from the case's start, e.g. 3d.")] = None,
    end_activity: Annotated[list[str] | None, Query(description="Activities that close a case (repeat).")] = None,
    as_of: Annotated[str | None, Query(description="The log as it stood at this time (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    model: Annotated[str | None, Query(description="Score with this saved risk model instead of training one.")] = None,
) -> Response:
    return _json(
        service.risk(
            ws,
            stream,
            deadline=deadline,
            target=target,
            end_activity=end_activity,
            as_of=as_of,
            limit=limit,
            model=model,
        )
    )


class RiskSaveRequest(_Body):
    save: str = Field(description="The name to keep the model under (a new version when it exists).")
    deadline: str | None = Field(default=None, description="A timestamp case attribute holding each deadline.")
    target: str | None = Field(default=None, description="Or a target from the case's start, e.g. 3d.")
    end_activity: list[str] | None = Field(default=None, description="Activities that close a case.")
    as_of: str | None = Field(default=None, description="Train on the log as it stood then (ISO 8601).")
    limit: int = Field(default=50, ge=1, le=10_000)


@router.post("/streams/{stream}/risk", summary="Train an SLA risk model and keep it (as `conveyor risk --save`)")
def risk_save(stream: str, body: RiskSaveRequest, _: Admin, ws: WS) -> Response:
    return _json(service.risk_save(ws, stream, **body.model_dump()))


class DraftRequest(_Body):
    item: dict[str, Any] = Field(description="The ticket's fields.")
    reply: str | None = Field(default=None, description="The past cases' reply column (default: one named *reply*).")


@router.post("/models/{name}/draft", summary="A suggested reply (personal data redacted before any endpoint)")
def draft(name: str, body: DraftRequest, _: Reviewer, ws: WS) -> Response:
    return _json(service.draft(ws, name, item=body.item, reply=body.reply))


class InvoiceCheckRequest(_Body):
    orders: str = Field(default="purchase_orders", description="Purchase order lines: a dataset or a file.")
    receipts: str = Field(default="goods_receipts", description="Goods receipts: a dataset or a file.")
    invoices: str = Field(default="invoices", description="Invoices: a dataset or a file.")
    stream: str | None = Field(
        default=None, description="Instead of documents: check the order of a stream's steps (activities only)."
    )
    tolerances: dict[str, float] | None = Field(
        default=None,
        description="price, quantity, duplicate_days, duplicate_amount, similar_number, unusual_z, min_history",
    )
    everything: bool = Field(default=False, description="List released invoices too.")
    limit: int = Field(default=200, ge=1, le=100_000)


@router.post("/invoices/check", summary="Three-way match, duplicate invoices, unusual amounts (as `conveyor invoices`)")
def invoice_check(body: InvoiceCheckRequest, _: Viewer, ws: WS) -> Response:
    return _json(service.invoice_check(ws, **body.model_dump()))
