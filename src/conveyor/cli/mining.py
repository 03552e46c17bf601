"""Analysis commands: map, variants, durations, bottlenecks, rework, handoffs, conformance.

(No ``from __future__ import annotations`` here: the filter decorator re-exposes these
signatures to Typer, which must see real annotation objects.)
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli._common import JsonOpt, WorkspaceOpt, call_service, console, handled, print_json
from conveyor.cli._filters import with_filters
from conveyor.cli.app import app
from conveyor.cli.render import human, pct

StreamArg = Annotated[str, typer.Argument(help="The stream to analyse.")]


@app.command("map")
@with_filters
def map_(
    stream: StreamArg,
    svg: Annotated[Path | None, typer.Option(help="Also draw the map as SVG to this file.")] = None,
    color: Annotated[str, typer.Option(help="SVG colouring: frequency or performance (mean time).")] = "frequency",
    min_frequency: Annotated[int, typer.Option(help="SVG: hide edges rarer than this.")] = 1,
    top_edges: Annotated[int | None, typer.Option(help="SVG: draw only the most frequent edges.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """The process map: activities, directly-follows edges with times, start and end activities."""
    from rich.table import Table

    result = call_service(workspace, "process_map", stream, filters=filters)
    if svg is not None:
        from conveyor.mining.svg import render_svg

        with handled():
            svg.write_text(
                render_svg(result, color=color, min_frequency=min_frequency, top_edges=top_edges), encoding="utf-8"
            )
    if json:
        print_json(result)
        return
    nodes = Table("activity", "events", "cases", title=f"{stream}: activities")
    for n in result["nodes"]:
        nodes.add_row(n["activity"], f"{n['events']:,}", f"{n['cases']:,}")
    console.print(nodes)
    edges = Table("from", "to", "frequency", "cases", "median", "mean", "p90", title="directly-follows edges")
    for e in result["edges"]:
        edges.add_row(
            e["source"],
            e["target"],
            f"{e['frequency']:,}",
            f"{e['cases']:,}",
            human(e["median_seconds"]),
            human(e["mean_seconds"]),
            human(e["p90_seconds"]),
        )
    console.print(edges)
    console.print("starts: " + ", ".join(f"{a} ({n:,})" for a, n in result["start_activities"].items()))
    console.print("ends:   " + ", ".join(f"{a} ({n:,})" for a, n in result["end_activities"].items()))
    if svg is not None:
        console.print(f"drew the map to {svg}")


@app.command()
@with_filters
def variants(
    stream: StreamArg,
    top: Annotated[int | None, typer.Option(help="Show the K most frequent variants and group the rest.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Variants (distinct activity sequences) with case counts, share and throughput times."""
    from rich.table import Table

    rows = call_service(workspace, "variants", stream, top=top, filters=filters)
    if json:
        print_json([{k: v for k, v in r.items() if k != "variant_id"} | {"variant_id": r["variant_id"]} for r in rows])
        return
    table = Table("#", "cases", "share", "median", "mean", "steps", "activities", title=f"{stream}: variants")
    for r in rows:
        acts = r["activities"]
        shown = " → ".join(acts) if len(acts) <= 8 else " → ".join([*acts[:4], "…", *acts[-3:]])
        table.add_row(
            "" if r["variant_id"] is None else str(r["variant_id"]),
            f"{r['cases']:,}",
            pct(r["share"]),
            human(r["median_seconds"]),
            human(r["mean_seconds"]),
            str(len(acts)) if r["variant_id"] is not None else f"{r.get('variants', 0)} variants",
            shown,
        )
    console.print(table)


@app.command()
@with_filters
def durations(
    stream: StreamArg,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Case throughput times (first to last event) and per-activity statistics."""
    from rich.table import Table

    summary = call_service(workspace, "durations", stream, filters=filters)
    if json:
        print_json(summary)
        return
    console.print(
        f"[bold]{stream}[/]: {summary['cases']:,} cases; median {human(summary['median_seconds'])}, "
        f"mean {human(summary['mean_seconds'])}, p90 {human(summary['p90_seconds'])}, "
        f"min {human(summary['min_seconds'])}, max {human(summary['max_seconds'])}"
    )
    hist = Table("throughput", "cases", "share", "", title="distribution")
    total = summary["cases"] or 1
    for b in summary["histogram"]:
        hist.add_row(b["bucket"], f"{b['cases']:,}", pct(b["cases"] / total), "█" * round(40 * b["cases"] / total))
    console.print(hist)
    acts = Table("activity", "events", "cases", "resources", "median wait before", "median service", title="activities")
    for a in summary["activities"]:
        acts.add_row(
            a["activity"],
            f"{a['events']:,}",
            f"{a['cases']:,}",
            f"{a['resources']:,}",
            human(a["median_wait_seconds"]),
            human(a["median_service_seconds"]),
        )
    console.print(acts)


@app.command()
@with_filters
def bottlenecks(
    stream: StreamArg,
    top: Annotated[int, typer.Option(help="How many transitions and activities to list.")] = 10,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Where the time goes: transitions and activities ranked by their share of all waiting time."""
    from rich.table import Table

    result = call_service(workspace, "bottlenecks", stream, top=top, filters=filters)
    if json:
        print_json(result)
        return
    t = Table("from", "to", "share of waiting", "total", "median", "cases", title=f"{stream}: slowest transitions")
    for r in result["transitions"]:
        t.add_row(
            r["source"],
            r["target"],
            pct(r["share"]),
            human(r["total_seconds"]),
            human(r["median_seconds"]),
            f"{r['cases']:,}",
        )
    console.print(t)
    a = Table("activity", "share of waiting", "median wait before it", "cases", title="activities waited for")
    for r in result["activities"]:
        a.add_row(
            r["activity"], pct(r["share"]), human(r["median_wait_seconds"]), f"{r['cases']:,} of {r['of_cases']:,}"
        )
    console.print(a)


@app.command()
@with_filters
def rework(
    stream: StreamArg,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Activities repeated within a case, rework rates, and the time rework costs."""
    from rich.table import Table

    result = call_service(workspace, "rework", stream, filters=filters)
    if json:
        print_json(result)
        return
    s = result["summary"]
    console.print(
        f"[bold]{stream}[/]: {s['cases_with_rework']:,} of {s['cases']:,} cases ({pct(s['share'])}) repeat an activity; "
        f"median throughput {human(s['median_seconds_with_rework'])} with rework vs "
        f"{human(s['median_seconds_without_rework'])} without (+{human(s['extra_median_seconds'])})"
    )
    t = Table("activity", "cases", "repeated in", "rework rate", "extra events", title="rework by activity")
    for r in result["activities"]:
        if r["cases_repeated"]:
            t.add_row(
                r["activity"],
                f"{r['cases']:,}",
                f"{r['cases_repeated']:,}",
                pct(r["rework_rate"]),
                f"{r['extra_events']:,}",
            )
    console.print(t)


@app.command()
@with_filters
def handoffs(
    stream: StreamArg,
    top: Annotated[int, typer.Option(help="How many handovers to list.")] = 20,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Resource-to-resource handovers and the workload each resource carries."""
    from rich.table import Table

    result = call_service(workspace, "handoffs", stream, top=top, filters=filters)
    if json:
        print_json(result)
        return
    t = Table("from", "to", "handoffs", "cases", "median time", title=f"{stream}: handoffs")
    for r in result["handoffs"]:
        t.add_row(r["source"], r["target"], f"{r['handoffs']:,}", f"{r['cases']:,}", human(r["median_seconds"]))
    console.print(t)
    w = Table("resource", "events", "share", "cases", "activities", title="workload")
    for r in result["workload"]:
        w.add_row(r["resource"], f"{r['events']:,}", pct(r["share"]), f"{r['cases']:,}", str(r["activities"]))
    console.print(w)


@app.command()
@with_filters
def conformance(
    stream: StreamArg,
    rules: Annotated[Path, typer.Option("--rules", help="YAML rules file (see README: Conformance).")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Check a stream against rules: violations per rule and their effect on throughput."""
    from rich.table import Table

    from conveyor.mining import load_rules

    with handled():
        load_rules(rules)  # a bad file is reported here, before any work
    result = call_service(workspace, "conformance", stream, rules=str(rules.resolve()), filters=filters)
    if json:
        print_json(result)
        return
    console.print(
        f"[bold]{stream}[/]: {result['conforming_cases']:,} of {result['cases']:,} cases ({pct(result['conforming_share'])}) "
        f"break no rule; median {human(result['median_seconds_conforming'])} conforming vs "
        f"{human(result['median_seconds_violating'])} otherwise"
    )
    t = Table("#", "rule", "violating", "share", "median ok", "median violating", "examples", title="rules")
    for r in result["rules"]:
        t.add_row(
            str(r["rule"]),
            r["name"],
            f"{r['violating_cases']:,}",
            pct(r["share"]),
            human(r["median_seconds_conforming"]),
            human(r["median_seconds_violating"]),
            ", ".join(r["examples"][:3]),
        )
    console.print(t)
    if result["unknown_activities"]:
        console.print(
            f"[yellow]rules name activities this stream never has:[/] {', '.join(result['unknown_activities'])}"
        )
