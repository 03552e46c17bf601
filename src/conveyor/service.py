"""The service functions the CLI, the API and the pages all call: one per thing a user asks for.

Each takes an open :class:`~conveyor.workspace.Workspace` and plain arguments and returns plain
data (the JSON the CLI prints and the API answers). No rendering here and no SQL: the packages
below do the work. :data:`ROUTES` says which API route serves each, so a CLI command can send its
work to a running server (``conveyor serve``) instead of opening the workspace's file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.metrics.kpis import Period
    from conveyor.mining.filters import Filters
    from conveyor.workspace import Workspace

__all__ = [
    "ROUTES",
    "audit_export",
    "audit_recent",
    "audit_verify",
    "automation",
    "automation_calibrate",
    "automation_create",
    "automation_monitor",
    "automation_move",
    "automation_run",
    "automations",
    "bottlenecks",
    "case",
    "cases",
    "conformance",
    "decide",
    "decision",
    "deliveries",
    "delivery_retry",
    "draft",
    "durations",
    "export",
    "handoffs",
    "ingest",
    "inventory",
    "kpis",
    "models_overview",
    "opportunities",
    "outcome",
    "process_map",
    "quarantine",
    "queue",
    "queue_answer",
    "review",
    "rework",
    "risk",
    "risk_save",
    "segment_values",
    "similar_cases",
    "staffing",
    "staffing_plan",
    "streams",
    "triage_eval",
    "triage_model",
    "triage_models",
    "triage_train",
    "variants",
]

#: operation -> (HTTP method, API path under /api/v1, role it needs). Path fields come from the
#: call's arguments of the same name; the rest travel as query parameters (GET) or JSON (POST).
ROUTES: dict[str, tuple[str, str, str]] = {
    "streams": ("GET", "/streams", "viewer"),
    "process_map": ("GET", "/streams/{stream}/map", "viewer"),
    "variants": ("GET", "/streams/{stream}/variants", "viewer"),
    "durations": ("GET", "/streams/{stream}/durations", "viewer"),
    "bottlenecks": ("GET", "/streams/{stream}/bottlenecks", "viewer"),
    "rework": ("GET", "/streams/{stream}/rework", "viewer"),
    "handoffs": ("GET", "/streams/{stream}/handoffs", "viewer"),
    "conformance": ("GET", "/streams/{stream}/conformance", "viewer"),
    "kpis": ("GET", "/streams/{stream}/kpis", "viewer"),
    "opportunities": ("GET", "/streams/{stream}/opportunities", "viewer"),
    "cases": ("GET", "/streams/{stream}/cases", "viewer"),
    "case": ("GET", "/streams/{stream}/cases/{case_id}", "viewer"),
    "quarantine": ("GET", "/streams/{stream}/quarantine", "viewer"),
    "review": ("POST", "/review", "admin"),
    "export": ("POST", "/streams/{stream}/export", "admin"),
    "ingest": ("POST", "/streams/{stream}/ingest", "admin"),
    # governed automation
    "automations": ("GET", "/automations", "viewer"),
    "automation": ("GET", "/automations/{name}", "viewer"),
    "automation_create": ("POST", "/automations", "admin"),
    "automation_move": ("POST", "/automations/{name}/{move}", "admin"),
    "automation_monitor": ("GET", "/automations/{name}/monitor", "viewer"),
    "automation_calibrate": ("POST", "/automations/{name}/calibrate", "admin"),
    "automation_run": ("POST", "/automations/{name}/run", "admin"),
    "decide": ("POST", "/automations/{name}/decide", "reviewer"),
    "decision": ("GET", "/decisions/{decision_id}", "viewer"),
    "outcome": ("POST", "/decisions/{decision_id}/outcome", "reviewer"),
    "queue": ("GET", "/queue", "reviewer"),
    "queue_answer": ("POST", "/queue/{decision_id}", "reviewer"),
    "deliveries": ("GET", "/deliveries", "viewer"),
    "delivery_retry": ("POST", "/deliveries/{delivery_id}/retry", "admin"),
    "audit_verify": ("GET", "/audit/verify", "viewer"),
    "audit_export": ("POST", "/audit/export", "admin"),
    "audit_recent": ("GET", "/audit", "admin"),
    # planning
    "staffing": ("GET", "/staffing", "viewer"),
    "staffing_plan": ("GET", "/streams/{stream}/staffing", "viewer"),
    "inventory": ("GET", "/inventory", "viewer"),
    "forecast": ("POST", "/forecast", "viewer"),
    "simulate": ("POST", "/streams/{stream}/simulate", "viewer"),
    "scenario": ("POST", "/streams/{stream}/scenario", "viewer"),
    "forecasts": ("GET", "/forecasts", "viewer"),
    "saved_forecast": ("GET", "/forecasts/{name}", "viewer"),
    "planning": ("GET", "/planning", "viewer"),
    # trained deciders
    "triage_train": ("POST", "/models/triage", "admin"),
    "triage_eval": ("POST", "/models/{name}/eval", "viewer"),
    "triage_models": ("GET", "/models", "viewer"),
    "triage_model": ("GET", "/models/{name}", "viewer"),
    "similar_cases": ("POST", "/models/{name}/similar", "viewer"),
    "risk": ("GET", "/streams/{stream}/risk", "viewer"),
    "risk_save": ("POST", "/streams/{stream}/risk", "admin"),
    "draft": ("POST", "/models/{name}/draft", "reviewer"),
    "invoice_check": ("POST", "/invoices/check", "viewer"),
}


def streams(ws: Workspace) -> list[dict[str, Any]]:
    """Every stream with its size and time span (``conveyor streams --json``)."""
    return [s.as_dict() for s in ws.store.streams()]


def process_map(ws: Workspace, stream: str, *, filters: Filters | None = None) -> Any:
    from conveyor.mining import process_map as run

    return run(ws.engine, stream, filters=filters)


def variants(ws: Workspace, stream: str, *, top: int | None = None, filters: Filters | None = None) -> Any:
    from conveyor.mining import variants as run

    return run(ws.engine, stream, top=top, filters=filters)


def durations(ws: Workspace, stream: str, *, filters: Filters | None = None) -> dict[str, Any]:
    """Case throughput times and what each activity does."""
    from conveyor.mining import activity_stats
    from conveyor.mining import durations as run

    return {**run(ws.engine, stream, filters=filters), "activities": activity_stats(ws.engine, stream, filters=filters)}


def bottlenecks(ws: Workspace, stream: str, *, top: int = 10, filters: Filters | None = None) -> Any:
    from conveyor.mining import bottlenecks as run

    return run(ws.engine, stream, top=top, filters=filters)


def rework(ws: Workspace, stream: str, *, filters: Filters | None = None) -> Any:
    from conveyor.mining import rework as run

    return run(ws.engine, stream, filters=filters)


def handoffs(ws: Workspace, stream: str, *, top: int = 20, filters: Filters | None = None) -> Any:
    from conveyor.mining import handoffs as run

    return run(ws.engine, stream, top=top, filters=filters)


def conformance(ws: Workspace, stream: str, *, rules: str | None = None, filters: Filters | None = None) -> Any:
    """Check the stream against a rules file (default: the workspace's ``rules/STREAM.yaml``)."""
    from conveyor.mining import check_conformance, load_rules

    path = Path(rules) if rules else ws.root / "rules" / f"{stream}.yaml"
    return check_conformance(ws.engine, stream, load_rules(path), filters=filters)


def kpis(
    ws: Workspace,
    stream: str,
    *,
    by: str | None = None,
    period: Period = "week",
    filters: Filters | None = None,
    names: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The stream's KPIs from ``metrics/STREAM.yaml`` (or the defaults) against their targets."""
    from conveyor.metrics import compute_kpis, load_metrics

    metrics = load_metrics(ws.root, stream)
    return compute_kpis(ws.engine, stream, metrics=metrics, by=by, period=period, filters=filters, names=names)


def opportunities(
    ws: Workspace, stream: str, *, filters: Filters | None = None, top: int | None = None
) -> dict[str, Any]:
    """Steps ranked by what automating or assisting them would save a year."""
    from conveyor.metrics import load_metrics
    from conveyor.metrics.opportunities import rank_opportunities

    return rank_opportunities(ws.engine, stream, costs=load_metrics(ws.root, stream).costs, filters=filters, top=top)


def cases(
    ws: Workspace,
    stream: str,
    *,
    filters: Filters | None = None,
    activity: str | None = None,
    source: str | None = None,
    target: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The cases behind a figure, longest first (only those passing ``source → target`` if given)."""
    from conveyor.mining.cases import cases as run

    through = (source, target) if source and target else None
    return run(ws.engine, stream, filters=filters, activity=activity, through=through, limit=limit)


def case(ws: Workspace, stream: str, case_id: str) -> dict[str, Any]:
    """One case's attributes and timeline."""
    from conveyor.mining.cases import case_timeline

    return case_timeline(ws.engine, stream, case_id)


def segment_values(ws: Workspace, stream: str) -> dict[str, list[str]]:
    """Case attributes with few values (the pages' segment and filter pickers), with their values."""
    from conveyor.mining.cases import segment_values as run

    return run(ws.engine, stream)


def quarantine(ws: Workspace, stream: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    from conveyor.data import quarantine_rows

    return quarantine_rows(ws.store, stream, limit=limit)


def review(
    ws: Workspace,
    *,
    out: str,
    pdf: str | None = None,
    streams: list[str] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Write the operating review (HTML, optionally PDF) to ``out``."""
    from conveyor.review import write_review

    return write_review(ws, Path(out), pdf=Path(pdf) if pdf else None, streams=streams, progress=progress)


def export(ws: Workspace, stream: str, *, out: str) -> dict[str, Any]:
    from conveyor.data import export_stream

    n = export_stream(ws.store, stream, Path(out))
    return {"stream": stream, "out": out, "events": n}


def ingest(
    ws: Workspace, stream: str, *, path: str, progress: Callable[[str, float], None] | None = None, **options: Any
) -> dict[str, Any]:
    """Load a file into a stream (options: the column mapping and ingest flags of `conveyor ingest`)."""
    from conveyor.data.ingest import ingest as run

    options = {k: v for k, v in options.items() if v is not None}
    options.setdefault("timezone", ws.settings.ingest.timezone)
    options.setdefault("dedupe", ws.settings.ingest.dedupe)
    result = run(ws.store, Path(path), stream=stream, progress=progress, **options)
    if ws.engine_name != "duckdb" and result.events_loaded:
        if progress is not None:
            progress("publishing to Spark", 0.99)
        ws.publish(stream)  # the Spark engine reads the layout as Parquet
    out = {
        **result.as_json(),
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "reasons": dict(result.reasons),
    }
    if result.events_loaded and _has_automations(ws):
        from conveyor.automation import deliver_due, run_triggers

        if progress is not None:
            progress("running the automations on the new events", 0.995)
        out["automations"] = run_triggers(ws, ws.state, kind="events", stream=stream)
        if out["automations"]:
            deliver_due(ws.state, ws)
    return out


# -- governed automation ----------------------------------------------------------------------------


def _has_automations(ws: Workspace) -> bool:
    return (ws.root / "automations").is_dir() and any((ws.root / "automations").glob("*.yaml"))


def _actor(actor: str | None) -> str:
    from conveyor.access import actor_name

    return actor or actor_name(None)


def automations(ws: Workspace) -> list[dict[str, Any]]:
    """Every automation with its status, volume, coverage, accuracy and open queue."""
    from conveyor.automation import summary

    return summary(ws.state, ws.root)


def automation(ws: Workspace, name: str) -> dict[str, Any]:
    """One automation's definition and its current status."""
    from conveyor.automation import current_status, load_automation

    auto = load_automation(ws.root, name)
    return {"definition": auto.as_json(), "status": current_status(ws.state, auto)}


def automation_create(
    ws: Workspace, *, definition: dict[str, Any], replace: bool = False, actor: str | None = None
) -> dict[str, Any]:
    """Validate a definition and save it as automations/NAME.yaml (audited)."""
    from conveyor.automation import AutomationError, parse_automation, save_automation
    from conveyor.automation.audit import append
    from conveyor.automation.definitions import automation_path

    auto = parse_automation(definition, source="definition")
    path = automation_path(ws.root, auto.name)
    if path.exists() and not replace:
        raise AutomationError(
            f"automation {auto.name!r} exists already", hint="pass replace (--replace) to change it", field="name"
        )
    save_automation(ws.root, auto)
    with ws.state.transaction():
        append(ws.state, "define", auto.as_json(), automation=auto.name, actor=_actor(actor))
    return automation(ws, auto.name)


def automation_move(
    ws: Workspace, name: str, move: str, *, reason: str | None = None, actor: str | None = None
) -> dict[str, Any]:
    """shadow, go-live, pause (with a reason: the kill switch) or resume; audited."""
    from conveyor.automation import AutomationError, load_automation, set_status

    if move not in ("shadow", "go-live", "pause", "resume"):
        raise AutomationError(
            f"move: {move!r} is not a status change", hint="valid values: shadow, go-live, pause, resume", field="move"
        )
    return set_status(ws.state, load_automation(ws.root, name), move, actor=_actor(actor), reason=reason)


def automation_monitor(ws: Workspace, name: str) -> dict[str, Any]:
    """Volume, coverage, accuracy, overrides, latency, drift, segments and the pilot scorecard."""
    from conveyor.automation import monitor

    return monitor(ws.state, ws.root, name, ws=ws)


def automation_calibrate(
    ws: Workspace,
    name: str,
    *,
    precision: float,
    on: str = "shadow",
    apply: bool = False,
    actor: str | None = None,
) -> dict[str, Any]:
    """Confidence thresholds reaching a target precision, from the shadow period or history."""
    from conveyor.automation import calibrate

    return calibrate(ws.state, ws.root, name, precision=precision, on=on, ws=ws, apply=apply, actor=_actor(actor))


def automation_run(ws: Workspace, name: str, *, replay: bool = False) -> dict[str, Any]:
    """Run an automation's trigger now (events or schedule), then deliver its actions."""
    from conveyor.automation import deliver_due, run_trigger

    result = run_trigger(ws, ws.state, name, replay=replay)
    result["deliveries"] = deliver_due(ws.state, ws)
    return result


def decide(
    ws: Workspace,
    name: str,
    *,
    input: Any,
    actor: str | None = None,
    deliver: bool = True,
) -> dict[str, Any]:
    """Decide on one item: ``{"decision_id", "tier", "label", "confidence", "explanation", ...}``.
    ``deliver`` carries out the actions at once (in the server, its background loop does)."""
    from conveyor.automation import decide as run
    from conveyor.automation import deliver_due

    result = run(ws.state, ws.root, name, input, actor=_actor(actor), store=ws.store)
    if deliver and result["tier"] == "auto":
        deliver_due(ws.state, ws)
    return result


def decision(ws: Workspace, decision_id: str) -> dict[str, Any]:
    """One decision with its queue item, deliveries and audit records."""
    from conveyor.automation.engine import decision_record

    return decision_record(ws.state, decision_id)


def outcome(ws: Workspace, decision_id: str, *, label: str, actor: str | None = None) -> dict[str, Any]:
    """Record what really happened to an item the automation handled alone."""
    from conveyor.automation import record_outcome

    return record_outcome(ws.state, ws.root, decision_id, label, actor=_actor(actor))


def queue(
    ws: Workspace, *, automation: str | None = None, state: str = "open", limit: int = 200
) -> list[dict[str, Any]]:
    """The review queue (open and escalated items by default), oldest first."""
    from conveyor.automation.engine import queue_items

    return queue_items(ws.state, automation=automation, state_filter=state, limit=limit)


def queue_answer(
    ws: Workspace,
    decision_id: str,
    *,
    action: str,
    label: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    assignee: str | None = None,
    actor: str | None = None,
    deliver: bool = True,
) -> dict[str, Any]:
    """accept, override (label and reason), answer (shadow), escalate or assign a queue item."""
    from conveyor.automation import deliver_due, resolve

    result = resolve(
        ws.state,
        ws.root,
        decision_id,
        action,
        actor=_actor(actor),
        label=label,
        reason=reason,
        note=note,
        assignee=assignee,
    )
    if deliver and result.get("outcome") in ("accepted", "overridden", "matched", "differed"):
        deliver_due(ws.state, ws)
    return result


def deliveries(
    ws: Workspace, *, automation: str | None = None, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """The automations' actions (the outbox): pending, done and dead letters."""
    from conveyor.automation import deliveries as run

    return run(ws.state, automation, status=status, limit=limit)


def delivery_retry(ws: Workspace, delivery_id: str, *, actor: str | None = None) -> dict[str, Any]:
    """Send a dead letter again."""
    from conveyor.automation import retry_delivery

    return retry_delivery(ws.state, delivery_id, actor=_actor(actor))


def audit_verify(ws: Workspace) -> dict[str, Any]:
    """Walk the audit chain: ``{"ok", "records", "first_bad", "problem"}``."""
    from conveyor.automation.audit import verify

    return verify(ws.state)


def audit_recent(ws: Workspace, *, automation: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest audit records, newest first."""
    from conveyor.automation.audit import recent

    return recent(ws.state, automation=automation, limit=limit)


def audit_export(ws: Workspace, *, out: str, automation: str | None = None) -> dict[str, Any]:
    """Write the audit chain as JSON Lines (verifiable with `conveyor audit verify --file`)."""
    from conveyor.automation.audit import export

    return export(ws.state, Path(out), automation=automation)


# -- planning ------------------------------------------------------------------------------------------


def staffing(ws: Workspace | None = None, **options: Any) -> dict[str, Any]:
    """Agents for a queue (Erlang C, or Erlang A with ``patience_seconds``): the options of
    `conveyor staffing` (arrivals_per_hour, handle_seconds, service_level, answer_seconds,
    max_occupancy, shrinkage, patience_seconds). Needs no workspace."""
    from conveyor.planning import staff

    return staff(**{k: v for k, v in options.items() if v is not None})


def staffing_plan(
    ws: Workspace,
    stream: str,
    *,
    service_level: float,
    answer_seconds: float,
    by: str | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_seconds: float | None = None,
    growth: float = 1.0,
    filters: Filters | None = None,
    forecast: str | None = None,
    answer_activity: str | None = None,
    patience_from_log: bool = False,
    save: str | None = None,
) -> dict[str, Any]:
    """Agents per hour of the week from the stream's own arrivals (scaled to a saved forecast of
    them when ``forecast`` names one) and work per case; with ``answer_activity``, what the log
    shows each segment achieved (share answered within the target, people seen, cases that left
    without it), and with ``patience_from_log`` Erlang A on the patience mined from those."""
    from conveyor.metrics import load_metrics
    from conveyor.planning import staffing_plan as run

    plan = run(
        ws.engine,
        stream,
        metrics=load_metrics(ws.root, stream),
        service_level=service_level,
        answer_seconds=answer_seconds,
        by=by,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
        patience_seconds=patience_seconds,
        growth=growth,
        filters=filters,
        forecast=load_forecast(ws.root, forecast) if forecast else None,
        answer_activity=answer_activity,
        patience_from_log=patience_from_log,
    )
    if save:
        from conveyor.planning.saved import save as keep

        plan["name"] = save
        keep(ws.root, "plan", save, plan)
    return plan


def inventory(
    ws: Workspace,
    *,
    lead_time_days: float,
    ids: list[str] | None = None,
    date: str | None = None,
    value: str | None = None,
    dataset: str | None = None,
    file: str | None = None,
    forecast: str | None = None,
    on_hand: str | None = None,
    service_level: float = 0.95,
    lead_time_sd_days: float = 0.0,
    order_cost: float = 50.0,
    holding_cost: float = 2.0,
    freq: str | None = None,
    date_format: str | None = None,
) -> dict[str, Any]:
    """Safety stock, reorder point and order quantity per item: from a saved forecast (its
    demand and error over the coming periods) or a table of demand per day, week, month or
    quarter (its history, ``freq`` guessed from its dates unless given); with ``on_hand`` (a CSV
    of item and stock), which items to reorder now."""
    from conveyor.planning import reorder_policy
    from conveyor.planning.inventory import daily_from_forecast, read_on_hand

    if forecast is not None:
        saved = load_forecast(ws.root, forecast)
        series, source = (
            daily_from_forecast(saved),
            f"forecast {forecast!r} (its next {saved['horizon']} {saved['period']}s)",
        )
    else:
        from conveyor.data.series import PERIOD_NAMES, daily_stats
        from conveyor.planning import PlanningError

        if not ids or date is None or value is None:
            raise PlanningError(
                "give --forecast NAME, or --id, --date and --value of a demand table",
                hint="conveyor forecast ... --save demand, then conveyor inventory --forecast demand --lead-time-days 7",
            )
        series = daily_stats(
            ws.store, ids=ids, date=date, value=value, dataset=dataset, file=file, freq=freq, date_format=date_format
        )
        per = PERIOD_NAMES[series[0]["freq"]] if series else "day"
        source = f"history (per {per})"
    return reorder_policy(
        series,
        lead_time_days=lead_time_days,
        service_level=service_level,
        lead_time_sd_days=lead_time_sd_days,
        order_cost=order_cost,
        holding_cost=holding_cost,
        on_hand=read_on_hand(on_hand) if on_hand else None,
        demand=source,
    )


def forecast(
    ws: Workspace,
    *,
    horizon: int,
    stream: str | None = None,
    by: str | None = None,
    freq: str | None = None,
    dataset: str | None = None,
    file: str | None = None,
    ids: list[str] | None = None,
    date: str | None = None,
    value: str | None = None,
    date_format: str | None = None,
    windows: int = 3,
    models: list[str] | None = None,
    reconcile: bool = False,
    save: str | None = None,
    filters: Filters | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Forecasts with 80% intervals and cross-validated accuracy (`conveyor forecast`), from a
    stream's case arrivals or a table; ``save`` keeps it in the workspace for the planning page,
    the review and `conveyor inventory --forecast`."""
    from conveyor.planning import PlanningError
    from conveyor.planning.forecast import FREQS, panel_from_stream, panel_from_table
    from conveyor.planning.forecast import forecast as run

    if stream is not None:
        panel = panel_from_stream(ws.engine, stream, freq=freq or "D", by=by, filters=filters)
    elif dataset is None and file is None:
        raise PlanningError(
            "give a STREAM, --dataset or --file to forecast",
            hint="conveyor forecast --dataset demand_daily --id product --date date --value units --horizon 28",
        )
    else:
        if date is None or value is None:
            raise PlanningError("a table needs --date and --value", hint="e.g. --date date --value units")
        panel = panel_from_table(
            ws.store,
            ids=ids or [],
            date_column=date,
            value=value,
            dataset=dataset,
            file=file,
            freq=freq,
            date_format=date_format,
        )
    season = FREQS[panel.freq][1]
    result = run(
        panel,
        horizon=horizon,
        windows=windows,
        models=models,
        reconcile=reconcile,
        history=min(2 * season + horizon, 120) if save else 0,
        progress=progress,
    )
    if save:
        from conveyor.planning.saved import save as keep

        result["name"] = save
        keep(ws.root, "forecast", save, result)
    return result


def load_forecast(root: Path, name: str) -> dict[str, Any]:
    from conveyor.planning.saved import load

    return load(root, "forecast", name)


def forecasts(ws: Workspace) -> list[dict[str, Any]]:
    """The saved forecasts with their accuracy (not their series)."""
    from conveyor.planning.saved import names

    out = []
    for name in names(ws.root, "forecast"):
        data = load_forecast(ws.root, name)
        out.append({k: v for k, v in data.items() if k != "series"} | {"name": name})
    return out


def planning(ws: Workspace) -> dict[str, Any]:
    """The saved forecasts, staffing plans and scenarios, as the planning page shows them."""
    from conveyor.planning.saved import overview

    return overview(ws.root)


def saved_forecast(ws: Workspace, name: str) -> dict[str, Any]:
    """One saved forecast, every series with its history and forecast."""
    return load_forecast(ws.root, name)


def simulate(
    ws: Workspace,
    stream: str,
    *,
    replications: int = 5,
    seed: int = 1,
    filters: Filters | None = None,
    pools_by: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """The stream's simulation reproducing its as-is: actual vs simulated KPIs with 95% intervals
    over replications (`conveyor simulate`). Times in seconds. ``pools_by``: a case attribute
    (e.g. the queue) whose values have their own pool of people per activity; ``seed``: the
    replications' random numbers (the same seed, the same answer)."""
    import time

    from conveyor.metrics import load_metrics
    from conveyor.planning.simulate import KPIS, calibrate, run_replications, summarise

    started = time.perf_counter()
    model = calibrate(ws.engine, stream, metrics=load_metrics(ws.root, stream), filters=filters, pools_by=pools_by)
    runs = run_replications(model, replications=replications, seed=seed, progress=progress)
    mean, intervals = summarise(runs)
    actual = {k: round(model.actual[k], 3) for k in KPIS}
    return {
        "stream": stream,
        "replications": replications,
        "seed": seed,
        "actual": actual,
        "simulated": {k: mean[k] for k in KPIS},
        "intervals": {k: intervals[k] for k in KPIS},
        "error": {k: round(mean[k] / actual[k] - 1, 4) if actual[k] else None for k in KPIS},
        # the log's own 95% intervals (its cases as a sample of the process), and whether the
        # simulated value falls inside: as close as the log can tell
        "actual_intervals": {k: [round(v, 3) for v in model.actual_intervals[k]] for k in KPIS},
        "within_log_interval": {
            k: bool(model.actual_intervals[k][0] <= mean[k] <= model.actual_intervals[k][1]) for k in KPIS
        },
        # the simulated share of cases quicker than the log's median (0.5 is a perfect fit)
        "share_below_actual_median": {
            "simulated": round(mean["share_below_actual_median"], 4),
            "interval": intervals["share_below_actual_median"],
        },
        "utilisation": {k.split(":", 1)[1]: round(v, 4) for k, v in mean.items() if k.startswith("utilisation:")},
        "cases_per_replication": mean["cases"],
        "cases_per_second": round(mean["cases_per_second"], 1),
        "model": model.describe(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def scenario(
    ws: Workspace,
    stream: str,
    *,
    file: str,
    replications: int | None = None,
    filters: Filters | None = None,
    save: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """A what-if scenario file run on the stream's simulation (`conveyor scenario`)."""
    from conveyor.metrics import load_metrics
    from conveyor.planning.scenario import parse_scenario, run_scenario
    from conveyor.planning.simulate import calibrate

    spec = parse_scenario(Path(file))
    model = calibrate(
        ws.engine, stream, metrics=load_metrics(ws.root, stream), filters=filters, pools_by=spec.get("pools_by")
    )
    result = run_scenario(
        model, spec, replications=replications, forecasts=lambda name: load_forecast(ws.root, name), progress=progress
    )
    if save:
        from conveyor.planning.saved import save as keep

        keep(ws.root, "scenario", save, result)
    return result


# -- trained deciders ---------------------------------------------------------------------------


def triage_train(
    ws: Workspace,
    *,
    text: list[str],
    label: str,
    file: str | None = None,
    stream: str | None = None,
    categorical: list[str] | None = None,
    outcome: list[str] | None = None,
    id_column: str | None = None,
    name: str | None = None,
    until: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Train a triage model on labelled tickets (`conveyor triage train`) and keep it as a new
    version in the workspace; its card, with the held-out metrics beside the plain baseline's."""
    from conveyor.decide import registry
    from conveyor.decide.rows import read_rows
    from conveyor.decide.triage import train

    cut = datetime.fromisoformat(until) if until else None
    if cut is not None and cut.tzinfo is None:
        cut = cut.replace(tzinfo=UTC)
    rows, source = read_rows(ws.store, file=file, stream=stream, until=cut)
    if stream is not None:
        id_column = id_column or "case_id"
        outcome = outcome if outcome is not None else ["time_to_resolve_hours"]
    model, metrics = train(
        rows,
        text=text,
        label=label,
        categorical=categorical or [],
        outcome=outcome or [],
        id_column=id_column,
        source=source,
        progress=progress,
    )
    card = {
        "kind": "triage",
        "data": {"source": source, "rows": len(rows), **({"until": until} if until else {})},
        "reads": {"text": text, "label": label, "categorical": categorical or [], "outcome": outcome or []},
        "labels": model.labels,
        "metrics": metrics,
    }
    return registry.save(ws.root, name or label, model, card)


def triage_eval(
    ws: Workspace, name: str, *, file: str | None = None, stream: str | None = None, version: int | None = None
) -> dict[str, Any]:
    """A model's quality on labelled tickets it did not learn from (`conveyor triage eval`)."""
    from conveyor.decide import registry
    from conveyor.decide.rows import read_rows
    from conveyor.decide.triage import evaluate

    model, card = registry.load(ws.root, name, version)
    rows, source = read_rows(ws.store, file=file, stream=stream)
    return {"model": name, "version": card["version"], "source": source, **evaluate(model, rows)}


def triage_models(ws: Workspace) -> dict[str, Any]:
    """Every trained model's newest card (`conveyor triage models`), mistakes left out; SLA risk
    models with their time-split figures."""
    from conveyor.decide import registry

    out = []
    for c in registry.model_cards(ws.root):
        m = c.get("metrics") or {}
        if c.get("kind") == "risk":
            keep = ("auc", "precision_top_10", "breach_rate", "naive", "cut", "note")
            out.append({k: v for k, v in c.items() if k != "metrics"} | {"metrics": {k: m.get(k) for k in keep}})
            continue
        out.append(
            {k: v for k, v in c.items() if k != "metrics"}
            | {
                "metrics": {
                    k: m.get(k) for k in ("accuracy", "macro_f1", "coverage_at_precision", "calibration_error")
                },
                "baseline": m.get("baseline"),
            }
        )
    return {"models": out}


def triage_model(ws: Workspace, name: str, *, version: int | None = None) -> dict[str, Any]:
    """One model's card: who trained it on what, its held-out metrics, curve, confusion and mistakes."""
    from conveyor.decide import registry

    return registry.card(ws.root, name, version) | {"versions": registry.versions(ws.root, name)}


def similar_cases(ws: Workspace, name: str, *, item: dict[str, Any], k: int = 5) -> dict[str, Any]:
    """Past tickets most like ``item`` (its text and attributes), with how they ended, and the
    model's proposal for it."""
    from conveyor.decide import registry
    from conveyor.decide.triage import explain

    model, card = registry.load(ws.root, name)
    pred = model.predict([item], explain=5)[0]
    similar = model.similar(item, k=k)
    return {
        "model": name,
        "version": card["version"],
        "label": pred.label,
        "confidence": pred.confidence,
        "explanation": explain(pred, similar, model.label) if pred.label else "nothing to read",
        "similar": similar,
    }


def risk(
    ws: Workspace,
    stream: str,
    *,
    deadline: str | None = None,
    target: str | None = None,
    end_activity: list[str] | None = None,
    as_of: str | None = None,
    limit: int = 50,
    save: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Open cases by their chance of breaching the deadline, with the expected remaining time and
    the models' time-split evaluation (`conveyor risk`). ``save``: keep the model as a version in
    the workspace (a decider and the models page use it); ``model``: score with a saved one
    instead of training (its evaluation is the one it was saved with)."""
    from conveyor.decide import registry
    from conveyor.decide.risk import fit, result, risk_model

    at = datetime.fromisoformat(as_of) if as_of else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if model is not None:
        fitted, card = risk_model(ws.root, model)
        if fitted.stream != stream:
            from conveyor.decide import DecideError

            raise DecideError(
                f"model {model!r} scores stream {fitted.stream!r}, not {stream!r}",
                hint=f"`conveyor risk {fitted.stream} --model {model}`",
            )
        scored = fitted.score(ws.store, as_of=at.timestamp() if at else None, limit=limit)
        return result(fitted, scored, card["metrics"]) | {"model": model, "version": card["version"]}
    fitted, evaluation, scored = fit(
        ws.store, stream, deadline=deadline, target=target, end_activity=end_activity, as_of=at, limit=limit
    )
    out = result(fitted, scored, evaluation)
    if save is not None:
        card = registry.save(
            ws.root,
            save,
            fitted,
            {
                "kind": "risk",
                "stream": stream,
                "deadline": deadline or f"start + {target}",
                "data": {"source": f"stream {stream}", "rows": fitted.snapshots, "as_of": scored["as_of"]},
                "reads": fitted.spec,
                "end_activities": fitted.spec["end_activities"],
                "metrics": evaluation,
            },
        )
        out |= {"model": save, "version": card["version"]}
    return out


def models_overview(ws: Workspace, *, name: str | None = None, version: int | None = None) -> dict[str, Any]:
    """What the models page and the review show: every model's newest card (or ``name``'s, at
    ``version``), how each does live (decisions, final answers, latest mistakes), each risk
    model's riskiest open cases, and the invoice checks on the workspace's documents."""
    from conveyor.decide import registry
    from conveyor.decide.live import live_records

    if name is not None:
        cards = [registry.card(ws.root, name, version) | {"versions": registry.versions(ws.root, name)}]
    else:
        cards = registry.model_cards(ws.root)
    risks = [
        {"card": c, **risk(ws, c["stream"], model=c["name"], limit=8)}
        for c in cards
        if c.get("kind") == "risk" and ws.store.has_stream(str(c.get("stream")))
    ]
    return {
        "models": cards,
        "live": live_records(ws.state, cards) if cards and _has_automations(ws) else {},
        "risks": risks,
        "invoices": invoice_overview(ws) if name is None else None,
    }


def risk_save(
    ws: Workspace,
    stream: str,
    *,
    save: str,
    deadline: str | None = None,
    target: str | None = None,
    end_activity: list[str] | None = None,
    as_of: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Train an SLA risk model and keep it as a version named ``save`` (`conveyor risk --save`)."""
    return risk(
        ws, stream, deadline=deadline, target=target, end_activity=end_activity, as_of=as_of, limit=limit, save=save
    )


def draft(ws: Workspace, name: str, *, item: dict[str, Any], reply: str | None = None) -> dict[str, Any]:
    """A suggested reply to a ticket (`conveyor triage draft`): through the OpenAI-compatible
    endpoint in [drafting] with personal data redacted, else the closest resolved case's reply."""
    from conveyor.decide import registry
    from conveyor.decide.draft import draft_reply

    model, card = registry.load(ws.root, name)
    outcome = card.get("reads", {}).get("outcome", [])
    field = reply or next((c for c in outcome if "reply" in c.lower() or "resolution" in c.lower()), None)
    if field is not None and field not in outcome:
        from conveyor.decide import DecideError

        raise DecideError(
            f"--reply: model {name!r} keeps no column {field!r} with its past cases",
            hint=f"it keeps: {', '.join(outcome) or 'none'}; train with --outcome {field}",
        )
    similar = model.similar(item, k=5)
    result = draft_reply(
        item, similar, text_fields=model.text, reply_field=field, settings=ws.settings.drafting, root=ws.root
    )
    return {"model": name, "version": card["version"], **result}


def invoice_check(
    ws: Workspace,
    *,
    orders: str = "purchase_orders",
    receipts: str = "goods_receipts",
    invoices: str = "invoices",
    stream: str | None = None,
    tolerances: dict[str, float] | None = None,
    everything: bool = False,
    limit: int = 200,
) -> dict[str, Any]:
    """Three-way match, duplicates and unusual amounts on procure-to-pay documents (files or
    workspace datasets): each invoice's decision (release, hold, person) with its flags
    (`conveyor invoices check`). Flagged invoices come first, holds before persons. With
    ``stream``: the order of that stream's steps instead (a log with no document values)."""
    from conveyor.decide.invoices import Tolerances, check_documents
    from conveyor.decide.rows import read_table

    if stream is not None:
        return _invoice_log_check(ws, stream, everything=everything, limit=limit)
    tol = Tolerances.parse(tolerances)
    tables = [read_table(ws.store, s)[0] for s in (orders, receipts, invoices)]
    result = check_documents(*tables, tolerances=tol, sources=(orders, receipts, invoices))
    return _ranked(result, "invoices", everything=everything, limit=limit)


def _invoice_log_check(ws: Workspace, stream: str, *, everything: bool, limit: int) -> dict[str, Any]:
    """The order of procure-to-pay steps in each case: invoices before goods, price changes after
    the order, payments with no invoice."""
    from conveyor.decide.invoices import check_log
    from conveyor.decide.rows import read_traces

    result = check_log(read_traces(ws.store, stream))
    return {"stream": stream, **_ranked(result, "cases", everything=everything, limit=limit)}


def _ranked(result: dict[str, Any], key: str, *, everything: bool, limit: int) -> dict[str, Any]:
    order = {"hold": 0, "person": 1, "release": 2}
    rows = [r for r in result[key] if everything or r["decision"] != "release"]
    rows.sort(key=lambda r: (order[r["decision"]], -(r["amount"] or 0)))
    return {**result, key: rows[:limit], "shown": min(limit, len(rows)), "matching": len(rows)}


def invoice_overview(ws: Workspace, *, limit: int = 8) -> dict[str, Any] | None:
    """The invoice checks on the workspace's own documents (datasets ``purchase_orders``,
    ``goods_receipts`` and ``invoices``) for the models page and the review; None without them."""
    return invoice_check(ws, limit=limit) if has_invoice_documents(ws) else None


def has_invoice_documents(ws: Workspace) -> bool:
    """Whether the workspace holds the datasets `conveyor invoices check` reads by default."""
    have = {name for name, _, _ in ws.store.datasets()}
    return {"purchase_orders", "goods_receipts", "invoices"} <= have
