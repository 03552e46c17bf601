"""The JSON API under ``/api/v1``: each route calls one service function (the CLI's) and answers
exactly what the matching CLI command prints with ``--json``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from conveyor import service
from conveyor.access import ROLES, create_token, list_tokens, revoke_token
from conveyor.mining.filters import Filters, filters_from_options
from conveyor.mining.results import to_json
from conveyor.web.auth import Principal, require
from conveyor.workspace import Workspace

__all__ = ["FilterParams", "router", "session"]

router = APIRouter(prefix="/api/v1")
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def session(request: Request) -> Iterator[Workspace]:
    """The workspace on a connection of the request's own (closed when it is answered)."""
    ws = request.app.state.ws.session()
    try:
        yield ws
    finally:
        ws.close()


WS = Annotated[Workspace, Depends(session)]


def FilterParams(  # noqa: N802  (a dependency named like the thing it gives)
    since: Annotated[str | None, Query(alias="from", description="Time window start (ISO 8601).")] = None,
    until: Annotated[str | None, Query(alias="to", description="Time window end, exclusive.")] = None,
    window: Annotated[str, Query(description="contained, intersecting, started or completed.")] = "contained",
    event_level: Annotated[bool, Query(description="Trim events to the window.")] = False,
    where: Annotated[list[str] | None, Query(description="Case attribute KEY=VALUE (repeat).")] = None,
    variant: Annotated[list[str] | None, Query(description="Variant id (repeat).")] = None,
    start_activity: Annotated[list[str] | None, Query()] = None,
    end_activity: Annotated[list[str] | None, Query()] = None,
    events: Annotated[bool, Query(description="Lifecycle events one by one, not activity instances.")] = False,
    min_duration: Annotated[str | None, Query(description="e.g. 4h, 2d.")] = None,
    max_duration: Annotated[str | None, Query()] = None,
) -> Filters | None:
    """The filters every analysis takes, from the query string (the CLI's filter options)."""

    def given(values: list[str] | None) -> list[str] | None:
        """A form's empty choice ("(all cases)") filters nothing."""
        return [v for v in values if v] if values else None

    return filters_from_options(
        since=since or None,
        until=until or None,
        window=window,
        event_level=event_level,
        where=given(where),
        variant=given(variant),
        start_activity=given(start_activity),
        end_activity=given(end_activity),
        events=events,
        min_duration=min_duration or None,
        max_duration=max_duration or None,
    )


F = Annotated[Filters | None, Depends(FilterParams)]


class FilterBody(BaseModel):
    """The analysis filters in a POST body: the same names as the query string's (``from``, ``to``,
    ``where``, ...), so a job runs on the cases the command line chose."""

    model_config = {"populate_by_name": True}

    since: str | None = Field(default=None, alias="from", description="Time window start (ISO 8601).")
    until: str | None = Field(default=None, alias="to", description="Time window end, exclusive.")
    window: str = "contained"
    event_level: bool = False
    where: list[str] | None = Field(default=None, description="Case attribute KEY=VALUE.")
    variant: list[str] | None = None
    start_activity: list[str] | None = None
    end_activity: list[str] | None = None
    events: bool = False
    min_duration: str | None = None
    max_duration: str | None = None

    def filters(self) -> Filters | None:
        return FilterParams(**{k: getattr(self, k) for k in FilterBody.model_fields})

    def options(self) -> dict[str, Any]:
        """The request without its filters (for the service call)."""
        return self.model_dump(exclude=set(FilterBody.model_fields))


def _json(data: Any, status: int = 200) -> Response:
    return Response(content=to_json(data), media_type="application/json", status_code=status)


@router.get("/streams", summary="Every stream with its size and time span")
def streams(_: Viewer, ws: WS) -> Response:
    return _json(service.streams(ws))


@router.get("/streams/{stream}/map", summary="The process map: activities, directly-follows edges, starts and ends")
def process_map(stream: str, _: Viewer, ws: WS, filters: F) -> Response:
    return _json(service.process_map(ws, stream, filters=filters))


@router.get("/streams/{stream}/variants", summary="Variants with case counts, share and throughput")
def variants(stream: str, _: Viewer, ws: WS, filters: F, top: Annotated[int | None, Query(ge=1)] = None) -> Response:
    return _json(service.variants(ws, stream, top=top, filters=filters))


@router.get("/streams/{stream}/durations", summary="Case throughput times and per-activity statistics")
def durations(stream: str, _: Viewer, ws: WS, filters: F) -> Response:
    return _json(service.durations(ws, stream, filters=filters))


@router.get("/streams/{stream}/bottlenecks", summary="Where the waiting time goes")
def bottlenecks(stream: str, _: Viewer, ws: WS, filters: F, top: Annotated[int, Query(ge=1)] = 10) -> Response:
    return _json(service.bottlenecks(ws, stream, top=top, filters=filters))


@router.get("/streams/{stream}/rework", summary="Activities repeated within cases")
def rework(stream: str, _: Viewer, ws: WS, filters: F) -> Response:
    return _json(service.rework(ws, stream, filters=filters))


@router.get("/streams/{stream}/handoffs", summary="Resource-to-resource handovers and workload")
def handoffs(stream: str, _: Viewer, ws: WS, filters: F, top: Annotated[int, Query(ge=1)] = 20) -> Response:
    return _json(service.handoffs(ws, stream, top=top, filters=filters))


@router.get("/streams/{stream}/conformance", summary="The stream checked against its rules (rules/STREAM.yaml)")
def conformance(stream: str, _: Viewer, ws: WS, filters: F, rules: str | None = None) -> Response:
    return _json(service.conformance(ws, stream, rules=rules, filters=filters))


@router.get("/streams/{stream}/kpis", summary="KPIs against target, with trends, anomalies and alerts")
def kpis(
    stream: str,
    _: Viewer,
    ws: WS,
    filters: F,
    by: Annotated[str | None, Query(description="Segment by this case attribute.")] = None,
    period: Literal["week", "month"] = "week",
    kpi: Annotated[list[str] | None, Query(description="Only these KPIs.")] = None,
) -> Response:
    return _json(service.kpis(ws, stream, by=by, period=period, filters=filters, names=kpi))


@router.get("/streams/{stream}/opportunities", summary="Steps ranked by what automating them would save a year")
def opportunities(
    stream: str, _: Viewer, ws: WS, filters: F, top: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    return _json(service.opportunities(ws, stream, filters=filters, top=top))


@router.get("/streams/{stream}/cases", summary="The cases behind a figure, longest first")
def cases(
    stream: str,
    _: Viewer,
    ws: WS,
    filters: F,
    activity: str | None = None,
    source: str | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> Response:
    return _json(
        service.cases(ws, stream, filters=filters, activity=activity, source=source, target=target, limit=limit)
    )


@router.get("/streams/{stream}/cases/{case_id}", summary="One case's attributes and timeline")
def case(stream: str, case_id: str, _: Viewer, ws: WS) -> Response:
    return _json(service.case(ws, stream, case_id))


@router.get("/streams/{stream}/quarantine", summary="Rows rejected by ingest, with their reasons")
def quarantine(stream: str, _: Viewer, ws: WS, limit: Annotated[int | None, Query(ge=1)] = None) -> Response:
    return _json(service.quarantine(ws, stream, limit=limit))


@router.get("/review", summary="The operating review as one self-contained HTML document", response_class=HTMLResponse)
def review_html(_: Viewer, ws: WS, stream: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
    from conveyor.review.build import build_review
    from conveyor.review.html import render_html

    return HTMLResponse(render_html(build_review(ws, stream or None)))


class ReviewRequest(BaseModel):
    out: str = Field(description="Where to write the HTML (a path on the server's machine).")
    pdf: str | None = None
    streams: list[str] | None = None


@router.post("/review", summary="Write the review to a file on the server's machine (as `conveyor review`)")
def review_write(body: ReviewRequest, _: Admin, ws: WS) -> Response:
    return _json(service.review(ws, out=body.out, pdf=body.pdf, streams=body.streams))


class ExportRequest(BaseModel):
    out: str = Field(description="Output file on the server's machine: .csv, .csv.gz, .parquet, .xes or .xes.gz.")


@router.post("/streams/{stream}/export", summary="Write a stream to a file (as `conveyor export`)")
def export(stream: str, body: ExportRequest, _: Admin, ws: WS) -> Response:
    return _json(service.export(ws, stream, out=body.out))


class IngestRequest(BaseModel):
    path: str = Field(description="The file to load, on the server's machine.")
    case_id: str | None = None
    activity: str | None = None
    timestamp: str | None = None
    resource: str | None = None
    lifecycle: str | None = None
    timestamp_format: str | None = None
    timestamp_unit: str | None = None
    timezone: str | None = None
    dedupe: bool | None = None
    strict: bool = False
    case_attributes: list[str] | None = Field(
        default=None, description="Columns to keep as case attributes (besides those named case:NAME)."
    )


@router.post("/streams/{stream}/ingest", status_code=202, summary="Start loading a file into a stream; poll the job")
def ingest(stream: str, body: IngestRequest, request: Request, _: Admin) -> Response:
    root_ws = request.app.state.ws

    def work(progress: Any) -> Any:
        ws = root_ws.session()
        try:
            return service.ingest(ws, stream, progress=progress, **body.model_dump())
        finally:
            ws.close()

    return _json(request.app.state.jobs.start("ingest", work), 202)


@router.get("/jobs/{job_id}", summary="How a background job goes")
def job(job_id: str, request: Request, _: Viewer) -> Response:
    from fastapi import HTTPException

    found = request.app.state.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return _json(found)


@router.get("/jobs", summary="Every background job of this server")
def jobs(request: Request, _: Viewer) -> Response:
    return _json(request.app.state.jobs.all())


class TokenRequest(BaseModel):
    role: Literal["viewer", "reviewer", "admin"] = Field(description=f"One of {', '.join(ROLES)}.")
    name: str | None = None


@router.get("/tokens", summary="Tokens (never their secrets)")
def tokens(request: Request, _: Admin) -> Response:
    return _json(list_tokens(request.app.state.state))


@router.post("/tokens", status_code=201, summary="Create a token; its secret is shown once")
def token_create(request: Request, _: Admin, body: Annotated[TokenRequest, Body()]) -> Response:
    token, info = create_token(request.app.state.state, role=body.role, name=body.name)
    return _json({**info, "token": token}, 201)


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def token_revoke(token_id: str, request: Request, _: Admin) -> Response:
    return _json(revoke_token(request.app.state.state, token_id))


@router.get("/staffing", summary="Agents for a queue: Erlang C, or Erlang A with a patience (as `conveyor staffing`)")
def staffing(
    _: Viewer,
    arrivals_per_hour: Annotated[float, Query(ge=0)],
    handle_seconds: Annotated[float, Query(gt=0)],
    service_level: Annotated[float, Query(gt=0, le=1)] = 0.8,
    answer_seconds: Annotated[float, Query(ge=0)] = 20,
    max_occupancy: Annotated[float | None, Query(gt=0, le=1)] = None,
    shrinkage: Annotated[float, Query(ge=0, le=0.95)] = 0.0,
    patience_seconds: Annotated[float | None, Query(gt=0)] = None,
) -> Response:
    return _json(
        service.staffing(
            arrivals_per_hour=arrivals_per_hour,
            handle_seconds=handle_seconds,
            service_level=service_level,
            answer_seconds=answer_seconds,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
            patience_seconds=patience_seconds,
        )
    )


@router.get("/streams/{stream}/staffing", summary="Agents per hour of the week from the stream's workload")
def staffing_plan(
    stream: str,
    _: Viewer,
    ws: WS,
    filters: F,
    service_level: Annotated[float, Query(gt=0, le=1)] = 0.8,
    answer_seconds: Annotated[float, Query(ge=0)] = 20,
    by: str | None = None,
    max_occupancy: Annotated[float | None, Query(gt=0, le=1)] = None,
    shrinkage: Annotated[float, Query(ge=0, le=0.95)] = 0.0,
    patience_seconds: Annotated[float | None, Query(gt=0)] = None,
    growth: Annotated[float, Query(gt=0)] = 1.0,
    forecast: Annotated[str | None, Query(description="A saved forecast of this stream's arrivals.")] = None,
    answer_activity: Annotated[
        str | None, Query(description="The activity that answers a case: its observed service.")
    ] = None,
    patience_from_log: Annotated[
        bool, Query(description="Erlang A on the patience the log shows (cases ending without the answer).")
    ] = False,
    save: Annotated[str | None, Query(description="Keep the plan in the workspace under this name.")] = None,
) -> Response:
    return _json(
        service.staffing_plan(
            ws,
            stream,
            service_level=service_level,
            answer_seconds=answer_seconds,
            by=by,
            max_occupancy=max_occupancy,
            shrinkage=shrinkage,
            patience_seconds=patience_seconds,
            growth=growth,
            filters=filters,
            forecast=forecast,
            answer_activity=answer_activity,
            patience_from_log=patience_from_log,
            save=save,
        )
    )


@router.get("/inventory", summary="Safety stock, reorder point and order quantity per item (as `conveyor inventory`)")
def inventory(
    _: Viewer,
    ws: WS,
    lead_time_days: Annotated[float, Query(gt=0)],
    forecast: Annotated[str | None, Query(description="A saved forecast to plan from.")] = None,
    on_hand: Annotated[
        str | None, Query(description="CSV of items and units on hand, on the server's machine.")
    ] = None,
    ids: Annotated[list[str] | None, Query(description="Without a forecast: the item's column(s) (repeat).")] = None,
    date: str | None = None,
    value: str | None = None,
    dataset: str | None = None,
    file: str | None = None,
    service_level: Annotated[float, Query(gt=0, lt=1)] = 0.95,
    lead_time_sd_days: Annotated[float, Query(ge=0)] = 0.0,
    order_cost: Annotated[float, Query(gt=0)] = 50.0,
    holding_cost: Annotated[float, Query(gt=0)] = 2.0,
    freq: Annotated[str | None, Query(description="Without a forecast: D, W, M or Q (guessed by default).")] = None,
    date_format: Annotated[str | None, Query(description="The date column's format when it is text.")] = None,
) -> Response:
    return _json(
        service.inventory(
            ws,
            ids=ids,
            date=date,
            value=value,
            lead_time_days=lead_time_days,
            dataset=dataset,
            file=file,
            forecast=forecast,
            on_hand=on_hand,
            service_level=service_level,
            lead_time_sd_days=lead_time_sd_days,
            order_cost=order_cost,
            holding_cost=holding_cost,
            freq=freq,
            date_format=date_format,
        )
    )


class ForecastRequest(FilterBody):
    horizon: int = Field(ge=1, description="Periods ahead.")
    stream: str | None = Field(default=None, description="Forecast this stream's case arrivals.")
    by: str | None = None
    freq: Literal["D", "W", "M", "Q"] | None = None
    dataset: str | None = None
    file: str | None = Field(default=None, description="A CSV or Parquet file on the server's machine.")
    ids: list[str] | None = None
    date: str | None = None
    value: str | None = None
    date_format: str | None = None
    windows: int = Field(default=3, ge=2, le=12)
    models: list[str] | None = None
    reconcile: bool = False
    save: str | None = None


@router.post("/forecast", status_code=202, summary="Start a forecast (as `conveyor forecast`); poll the job")
def forecast(body: ForecastRequest, request: Request, _: Viewer) -> Response:
    root_ws = request.app.state.ws

    def work(progress: Any) -> Any:
        ws = root_ws.session()
        try:
            return service.forecast(ws, progress=progress, filters=body.filters(), **body.options())
        finally:
            ws.close()

    return _json(request.app.state.jobs.start("forecast", work), 202)


@router.get("/forecasts", summary="Saved forecasts with their accuracy")
def forecasts(_: Viewer, ws: WS) -> Response:
    return _json(service.forecasts(ws))


@router.get("/planning", summary="Saved forecasts, staffing plans and scenarios (the planning page's data)")
def planning(_: Viewer, ws: WS) -> Response:
    return _json(service.planning(ws))


@router.get("/forecasts/{name}", summary="One saved forecast: every series' history, forecast and interval")
def saved_forecast(name: str, _: Viewer, ws: WS) -> Response:
    return _json(service.saved_forecast(ws, name))


class SimulateRequest(FilterBody):
    replications: int = Field(default=5, ge=1, le=100)
    seed: int = Field(default=1, ge=0, description="The replications' random numbers: the same seed, the same answer.")
    pools_by: str | None = Field(default=None, description="A case attribute whose values have their own pools.")


@router.post(
    "/streams/{stream}/simulate",
    status_code=202,
    summary="Simulate the stream's as-is (as `conveyor simulate`); poll the job",
)
def simulate(stream: str, body: SimulateRequest, request: Request, _: Viewer) -> Response:
    root_ws = request.app.state.ws

    def work(progress: Any) -> Any:
        ws = root_ws.session()
        try:
            return service.simulate(
                ws,
                stream,
                replications=body.replications,
                seed=body.seed,
                filters=body.filters(),
                pools_by=body.pools_by,
                progress=progress,
            )
        finally:
            ws.close()

    return _json(request.app.state.jobs.start("simulate", work), 202)


class ScenarioRequest(FilterBody):
    file: str = Field(description="The scenario YAML, on the server's machine.")
    replications: int | None = Field(default=None, ge=1, le=100)
    save: str | None = None


@router.post(
    "/streams/{stream}/scenario",
    status_code=202,
    summary="Run a what-if scenario (as `conveyor scenario`); poll the job",
)
def scenario(stream: str, body: ScenarioRequest, request: Request, _: Viewer) -> Response:
    root_ws = request.app.state.ws

    def work(progress: Any) -> Any:
        ws = root_ws.session()
        try:
            return service.scenario(
                ws,
                stream,
                file=body.file,
                replications=body.replications,
                save=body.save,
                filters=body.filters(),
                progress=progress,
            )
        finally:
            ws.close()

    return _json(request.app.state.jobs.start("scenario", work), 202)
