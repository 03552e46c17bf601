"""The service functions the CLI, the API and the pages all call: one per thing a user asks for.

Each takes an open :class:`~conveyor.workspace.Workspace` and plain arguments and returns plain
data (the JSON the CLI prints and the API answers). No rendering here and no SQL: the packages
below do the work. :data:`ROUTES` says which API route serves each, so a CLI command can send its
work to a running server (``conveyor serve``) instead of opening the workspace's file itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.metrics.kpis import Period
    from conveyor.mining.filters import Filters
    from conveyor.workspace import Workspace

__all__ = [
    "ROUTES",
    "bottlenecks",
    "case",
    "cases",
    "conformance",
    "durations",
    "export",
    "handoffs",
    "ingest",
    "kpis",
    "opportunities",
    "process_map",
    "quarantine",
    "review",
    "rework",
    "segment_values",
    "streams",
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
    return {
        **result.as_json(),
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "reasons": dict(result.reasons),
    }
