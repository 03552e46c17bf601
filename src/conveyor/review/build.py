"""What the operating review says, as data: a summary across streams, then each stream in depth.

The HTML report, the PDF and the dashboard's pages all render this; nothing here draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.metrics.units import human, pct

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["build_review", "maturity", "stream_review"]

Progress = Callable[[str, float], None]


def stream_review(ws: Workspace, stream: str, *, paths: float = 0.3, top: int = 5) -> dict[str, Any]:
    """One stream's section: KPIs, map, variants, bottlenecks, rework, conformance, opportunities."""
    from conveyor import service
    from conveyor.mining import bottlenecks, durations, process_map, rework, variants
    from conveyor.mining.svg import render_svg

    engine = ws.engine
    pmap = process_map(engine, stream)
    many = len(pmap["nodes"]) > 15
    out: dict[str, Any] = {
        "name": stream,
        "kpis": service.kpis(ws, stream, period="week"),
        "durations": durations(engine, stream),
        "map_svg": render_svg(pmap, color="frequency", paths=paths if many else 1.0),
        "map_performance_svg": render_svg(pmap, color="performance", paths=paths if many else 1.0),
        "map_note": (f"the busiest {pct(paths)} of paths (every activity kept connected)" if many else "every path"),
        "variants": variants(engine, stream, top=top),
        "bottlenecks": bottlenecks(engine, stream, top=top),
        "rework": rework(engine, stream),
        "opportunities": service.opportunities(ws, stream, top=top),
        "conformance": None,
    }
    rules = ws.root / "rules" / f"{stream}.yaml"
    if rules.is_file():
        from conveyor.mining import check_conformance, load_rules

        out["conformance"] = check_conformance(engine, stream, load_rules(rules))
    out["headline"] = _headline(out)
    return out


def _headline(s: dict[str, Any]) -> list[str]:
    """Three sentences a leader reads first."""
    lines = []
    off = [k for k in s["kpis"] if k["status"] == "off_track"]
    with_target = [k for k in s["kpis"] if k["target"] is not None]
    if with_target:
        lines.append(
            f"{len(with_target) - len(off)} of {len(with_target)} KPIs with a target are on track or close"
            + (f"; off track: {', '.join(k['label'] for k in off[:3])}." if off else ".")
        )
    b = s["bottlenecks"]["transitions"]
    if b:
        lines.append(
            f"Most waiting is between {b[0]['source']} and {b[0]['target']} ({pct(b[0]['share'])} of all waiting, "
            f"median {human(b[0]['median_seconds'])})."
        )
    opp = s["opportunities"]["rows"]
    if opp:
        lines.append(
            f"Biggest opportunity: {opp[0]['recommendation']} {opp[0]['step']}, about "
            f"{opp[0]['savings_per_year']:,.0f} {s['opportunities']['currency']} a year."
        )
    return lines


def maturity(
    ws: Workspace,
    streams: list[dict[str, Any]],
    sections: list[dict[str, Any]],
    automations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Beginner / growing / mature, from what the workspace holds, with the steps to the next tier."""
    root = ws.root
    names = [s["name"] for s in streams]
    metrics = [n for n in names if (root / "metrics" / f"{n}.yaml").is_file()]
    rules = [n for n in names if (root / "rules" / f"{n}.yaml").is_file()]
    total_q = sum(s["quarantined"] for s in streams)
    total_e = sum(s["events"] for s in streams) or 1
    kpis = [k for sec in sections for k in sec["kpis"] if k["target"] is not None]
    on_track = [k for k in kpis if k["status"] in ("on_track", "at_risk")]
    coverage = [
        k["value"]
        for sec in sections
        for k in sec["kpis"]
        if k["kind"] == "automation_coverage" and k["value"] is not None
    ]
    checks = [
        (
            "beginner",
            "event data from at least one value stream",
            bool(names),
            "ingest a stream: `conveyor ingest FILE --stream NAME`",
        ),
        (
            "beginner",
            "fewer than 1% of rows quarantined",
            total_q / total_e < 0.01,
            "fix the sources of the rows in `conveyor quarantine STREAM`",
        ),
        (
            "growing",
            "three or more value streams in one place",
            len(names) >= 3,
            "bring in order-to-cash, ticket-to-resolution and procure-to-pay",
        ),
        (
            "growing",
            "KPIs with targets for every stream",
            bool(names) and len(metrics) == len(names) and bool(kpis),
            "declare KPIs with targets in metrics/STREAM.yaml",
        ),
        (
            "growing",
            "cost settings for every stream",
            bool(names) and len(metrics) == len(names),
            "state hourly rates and handling times in metrics/STREAM.yaml (costs:)",
        ),
        (
            "growing",
            "conformance rules for at least one stream",
            bool(rules),
            "write the policy as rules/STREAM.yaml and run `conveyor conformance`",
        ),
        (
            "mature",
            "at least 70% of KPIs with a target on track or close",
            bool(kpis) and len(on_track) >= 0.7 * len(kpis),
            "work the off-track KPIs down, starting with the top opportunities",
        ),
        (
            "mature",
            "automations do at least 20% of the steps",
            bool(coverage) and max(coverage) >= 0.2,
            "automate the top-ranked steps, in shadow mode first",
        ),
        (
            "mature",
            "governed automations live, with audit and monitoring",
            any(a["status"]["status"] == "live" for a in automations or []),
            "declare an automation with an owner and success criteria (automations/NAME.yaml), "
            "run it in shadow, then `conveyor automation go-live NAME`",
        ),
    ]
    met = {tier: all(ok for t, _, ok, _ in checks if t == tier) for tier in ("beginner", "growing", "mature")}
    level = (
        "mature"
        if met["beginner"] and met["growing"] and met["mature"]
        else "growing"
        if met["beginner"] and met["growing"]
        else "beginner"
    )
    nxt = {"beginner": "growing", "growing": "mature", "mature": None}[level]
    todo = [hint for t, _, ok, hint in checks if not ok and t in (nxt, level)]
    return {
        "level": level,
        "next_level": nxt,
        "checks": [{"tier": t, "check": c, "met": ok} for t, c, ok, _ in checks],
        "next_steps": todo,
    }


def automation_reviews(ws: Workspace, streams: list[str]) -> list[dict[str, Any]]:
    """Each automation on the reviewed streams (or on none): its monitoring and scorecard."""
    from conveyor.automation import list_automations, monitor
    from conveyor.review.html import automation_figures

    out = []
    for auto in list_automations(ws.root):
        if auto.stream is not None and auto.stream not in streams:
            continue
        m = monitor(ws.state, ws.root, auto.name, ws=ws)
        m["chart"] = automation_figures(m)["volume"]
        out.append(m)
    return out


def build_review(
    ws: Workspace, streams: list[str] | None = None, *, progress: Progress | None = None
) -> dict[str, Any]:
    """The whole review: ``generated``, ``workspace``, ``streams`` (summary rows), ``sections``
    (one per stream), ``maturity`` and ``seconds`` (time to build)."""
    from conveyor import service

    started = time.perf_counter()
    infos = service.streams(ws)
    known = [
        s["name"] for s in infos if s["events"]
    ]  # a stream all of whose rows were quarantined has nothing to review
    chosen = streams or known
    for name in chosen:
        ws.engine.require_stream(name)
    sections = []
    for i, name in enumerate(chosen):
        if progress is not None:
            progress(f"reviewing {name}", i / max(1, len(chosen)))
        sections.append(stream_review(ws, name))
    summary = []
    for sec in sections:
        info = next(s for s in infos if s["name"] == sec["name"])
        kpis = sec["kpis"]
        summary.append(
            {
                **info,
                "median_cycle": human(sec["durations"]["median_seconds"]),
                "on_track": sum(k["status"] == "on_track" for k in kpis),
                "at_risk": sum(k["status"] == "at_risk" for k in kpis),
                "off_track": sum(k["status"] == "off_track" for k in kpis),
                "alerts": [f"{k['label']}: {a}" for k in kpis for a in k["alerts"]][:4],
                "top_opportunity": (sec["opportunities"]["rows"] or [None])[0],
                "savings": sum(r["savings_per_year"] for r in sec["opportunities"]["rows"][:3]),
                "currency": sec["opportunities"]["currency"],
            }
        )
    automations = automation_reviews(ws, chosen)
    from conveyor.planning.saved import overview

    planning = overview(ws.root)
    from conveyor.service import models_overview

    trained = models_overview(ws)
    if progress is not None:
        progress("writing the review", 0.95)
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "workspace": str(ws.root),
        "streams": summary,
        "sections": sections,
        "automations": automations,
        "planning": planning if any(planning.values()) else None,
        "models": trained["models"],
        "live": trained["live"],
        "risks": trained["risks"],
        "invoices": trained["invoices"],
        "maturity": maturity(ws, [s for s in infos if s["name"] in chosen], sections, automations),
        "seconds": round(time.perf_counter() - started, 2),
    }
