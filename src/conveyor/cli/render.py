"""Rich rendering of service results for the terminal (no logic here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from conveyor.metrics.units import human, pct

__all__ = ["human", "pct", "render_demo"]


def staffing_line(entry: dict[str, Any]) -> str:
    """A scenario's staffing reading for one pool (``conveyor scenario``'s ``staffing`` entries)."""
    return f"{entry['pool']}: {entry['people'][0]} -> {entry['people'][1]} people: {entry['reading']}"


def render_demo(console: Console, summary: dict[str, Any]) -> None:
    console.print(f"[bold]Northwind Supply[/] demo workspace: {summary['workspace']} (seed {summary['seed']})")
    table = Table("stream", "events", "cases", "activities", "first", "last", "quarantined", title="streams")
    for s in summary["streams"]:
        table.add_row(
            s["name"],
            f"{s['events']:,}",
            f"{s['cases']:,}",
            str(s["activities"]),
            (s["first"] or "")[:10],
            (s["last"] or "")[:10],
            f"{s['quarantined']:,}",
        )
    console.print(table)
    for d in summary["datasets"]:
        console.print(f"dataset [bold]{d['name']}[/]: {d['rows']:,} rows")
    console.print("\n[bold]planted problems[/]:")
    for stream, problems in summary["planted"].items():
        for p in problems:
            console.print(f"  {stream}: {p}")
    console.print("\n[bold]what the analyses find[/]:")
    for stream, a in summary["analyses"].items():
        slow = a["slowest_transitions"][0]
        waited = a["waited_for"][0]
        rw = a["rework"]
        console.print(
            f"  [bold]{stream}[/]: median throughput {human(a['median_seconds'])} (p90 {human(a['p90_seconds'])}); "
            f"the most common path covers {pct(a['top_variant_share'])} of cases"
        )
        console.print(
            f"    most waited-for step: {waited['activity']} ({pct(waited['share'])} of all waiting, "
            f"median {human(waited['median_wait_seconds'])}); slowest hand-over: {slow['source']} → {slow['target']}"
        )
        if rw["cases_with_rework"]:
            console.print(
                f"    rework: {pct(rw['share'])} of cases repeat a step, most often {rw['top']['activity']} "
                f"({pct(rw['top']['rework_rate'])}), costing {human(rw['extra_median_seconds'])} of median throughput"
            )
        else:
            console.print("    rework: no case repeats a step")
        if "start_work_wait_by_queue" in a:
            waits = sorted(a["start_work_wait_by_queue"].items(), key=lambda kv: -(kv[1] or 0))
            console.print(
                "    median wait before work starts, by queue: " + ", ".join(f"{q} {human(w)}" for q, w in waits)
            )
        console.print(f"    process map: {a['map_svg']}")
        if "conformance" in a:
            c = a["conformance"]
            console.print(
                f"    conformance: {pct(c['conforming_share'])} of cases follow every rule in rules/{stream}.yaml"
            )
            for r in c["rules"]:
                console.print(f"      {r['name']}: {r['violating_cases']:,} violating ({pct(r['share'])})")
    ws = summary["workspace"]
    t = summary.get("automation") or {}
    if "live" in t:
        model = t.get("model")
        decider = f"classifier {model['name']} v{model['version']}" if model else "rules"
        console.print(
            f"\n[bold]automation {t['automation']}[/] ({decider} decider, live): shadow accuracy {pct(t['shadow']['accuracy'])} "
            f"on {t['shadow']['decided']:,} tickets; live on {t['live']['decided']:,}: coverage {pct(t['live']['coverage'])}, "
            f"accuracy {pct(t['live']['accuracy'])}, overrides {pct(t['live']['override_rate'])}; "
            f"{t['queue_open']} tickets wait in the review queue"
        )
        if model:
            console.print(
                f"    trained on {model['trained_on']:,} earlier tickets: held-out accuracy {pct(model['accuracy'])}, "
                f"macro-F1 {model['macro_f1']:.2f}, routes {pct(model['coverage_at_90'])} alone at 90% precision "
                f"(conveyor triage models -w {ws})"
            )
        for c in t["scorecard"]:
            mark = "[dim]?[/]" if c["met"] is None else "[green]✓[/]" if c["met"] else "[red]✗[/]"
            console.print(f"    {mark} {c['criterion']}")
        console.print(
            f"    conveyor automation monitor {t['automation']} -w {ws} · conveyor queue -w {ws} · conveyor audit verify -w {ws}"
        )
    _render_invoices(console, summary.get("invoices") or {}, ws)
    _render_risk(console, summary.get("risk") or {}, ws)
    _render_planning(console, summary.get("planning") or {}, ws)
    review = summary["review"]
    console.print(
        f"\n[bold]the operating review[/] ({review['seconds']} s): open [bold]{Path(review['html']).as_uri()}[/] "
        "in a browser (it works offline)"
    )
    console.print(f"[bold]the dashboard[/]: conveyor serve -w {ws}  (then open the login link it prints)")
    console.print(
        f"next: [bold]conveyor kpis order-to-cash -w {ws}[/], [bold]conveyor opportunities ticket-to-resolution -w {ws}[/], "
        f"[bold]conveyor bottlenecks ticket-to-resolution --where queue=Billing -w {ws}[/]"
    )


def _render_invoices(console: Any, inv: dict[str, Any], ws: Any) -> None:
    """The demo's invoice checks: decisions, and how they found what was planted."""
    if not inv:
        return
    s = inv["summary"]
    found = sum(v["found"] for v in inv["planted_found"].values())
    planted = sum(v["planted"] for v in inv["planted_found"].values())
    clean = inv["clean_flagged"]
    console.print(
        f"\n[bold]invoice checks[/]: {s['invoices']:,} supplier invoices, {s['release']:,} release, "
        f"{s['hold']:,} hold ({s['amount_held']:,.2f}), {s['person']:,} to a person; "
        f"planted problems stopped: {found} of {planted}; clean invoices flagged: {clean['flagged']} of {clean['clean']:,}"
    )
    console.print(
        f"    automation {inv['automation']} decided the last {inv['decided']} invoices live "
        f"(coverage {pct(inv['coverage'])}) · conveyor invoices check -w {ws}"
    )


def _render_risk(console: Any, r: dict[str, Any], ws: Any) -> None:
    """The demo's SLA risk model: its time-split figures and the open tickets at risk."""
    if not r:
        return
    ev = r["evaluation"]
    score = (
        f"AUC {ev['auc']:.2f} (time used alone {ev['naive']['auc']:.2f}), "
        f"{pct(ev['precision_top_10'])} of the riskiest 10% breached"
        if ev.get("auc") is not None
        else f"not evaluated: {ev.get('note')}"
    )
    console.print(
        f"\n[bold]SLA risk[/] ({r['model']} on {r['stream']}): {score}; now {r['open_cases']:,} open tickets, "
        f"{r['at_risk']:,} likely to miss their deadline · conveyor risk {r['stream']} --model {r['model']} -w {ws}"
    )


def _render_planning(console: Any, pl: dict[str, Any], ws: Any) -> None:
    """The demo's planning: forecasts' scores, queues missing their target, the scenario."""
    if not pl:
        return
    console.print("\n[bold]planning[/]:")
    for name, f in pl["forecasts"].items():
        score = (
            f"MASE {f['mase']:.2f} vs seasonal naive {f['mase_seasonal_naive']:.2f}, 80% intervals cover {pct(f['coverage_80'])}"
            if f["mase_ratio"] is not None
            else "not scored"
        )
        console.print(f"    forecast {name}: {f['series_count']} series, {f['horizon']} {f['period']}s ahead; {score}")
    if pl["misses_target"]:
        console.print(
            f"    support queues missing their service level in the log: [bold]{', '.join(pl['misses_target'])}[/] "
            "(staffing plan 'support-queues')"
            + (
                f"; {', '.join(pl['enough_people'])} has the people its load needs: the wait is not for want of people"
                if pl.get("enough_people")
                else ""
            )
        )
    sc = pl["scenario"]
    console.print(
        f"    scenario ticket-surge: median cycle time {sc['change']['cycle_time_median']:+.1%}, "
        f"cases/week {sc['change']['throughput_per_week']:+.1%}; "
        + "; ".join(f"playbook '{n}': {'triggered' if t else 'not triggered'}" for n, t in sc["playbooks"])
    )
    for e in sc.get("staffing") or []:
        console.print(f"    {staffing_line(e)}")
    console.print(f"    the planning page: /planning on conveyor serve -w {ws}")
