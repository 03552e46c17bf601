"""Planning on the command line: how many people a queue needs.

(No ``from __future__ import annotations``: the filter decorator re-exposes these signatures to
Typer, which must see real annotation objects.)
"""

from typing import Annotated, Any

import typer

from conveyor.cli._common import (
    JsonOpt,
    QuietOpt,
    WorkspaceOpt,
    call_service,
    console,
    handled,
    print_json,
    progress_reporter,
)
from conveyor.cli._filters import with_filters
from conveyor.cli.app import app
from conveyor.cli.render import staffing_line


@app.command()
@with_filters
def staffing(
    stream: Annotated[
        str | None, typer.Argument(help="Plan from this stream's own arrivals and work per case.")
    ] = None,
    arrivals_per_hour: Annotated[float | None, typer.Option(help="Calls or cases arriving per hour.")] = None,
    handle_seconds: Annotated[
        float | None, typer.Option(help="Average handling time (talk + wrap-up), seconds.")
    ] = None,
    service_level: Annotated[float, typer.Option(help="Share to answer within --answer-seconds, e.g. 0.8.")] = 0.8,
    answer_seconds: Annotated[
        float, typer.Option(help="The service level's time, seconds (e.g. 20; 14400 for 4 h).")
    ] = 20,
    max_occupancy: Annotated[float | None, typer.Option(help="Busiest an agent may be, e.g. 0.85.")] = None,
    shrinkage: Annotated[
        float, typer.Option(help="Share of paid time not available (breaks, training), e.g. 0.3.")
    ] = 0.0,
    patience_seconds: Annotated[
        float | None, typer.Option(help="Mean patience before callers give up: Erlang A.")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="With a stream: a plan per value of this case attribute (e.g. queue).")
    ] = None,
    growth: Annotated[float, typer.Option(help="With a stream: scale its arrivals (1.2: 20% more cases).")] = 1.0,
    forecast: Annotated[
        str | None,
        typer.Option(
            help="With a stream: scale its arrivals to a saved forecast of them (conveyor forecast STREAM --save NAME)."
        ),
    ] = None,
    answer_activity: Annotated[
        str | None,
        typer.Option(help="With a stream: the activity that answers a case; shows the service each segment got."),
    ] = None,
    patience_from_log: Annotated[
        bool,
        typer.Option(
            help="With --answer-activity: Erlang A on the patience the log shows (cases that ended without the "
            "activity gave up), per segment."
        ),
    ] = False,
    save: Annotated[
        str | None, typer.Option(help="With a stream: keep the plan in the workspace (planning page, review).")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Agents needed for a service level: Erlang C (Erlang A with --patience-seconds or --patience-from-log), then the
    maximum occupancy and shrinkage. Either from --arrivals-per-hour and --handle-seconds, or per
    hour of the week from a STREAM's arrivals and staff work per case (metrics/STREAM.yaml costs)."""
    common: dict[str, Any] = {
        "service_level": service_level,
        "answer_seconds": answer_seconds,
        "max_occupancy": max_occupancy,
        "shrinkage": shrinkage,
        "patience_seconds": patience_seconds,
    }
    if stream is None:
        with handled():
            from conveyor.planning import PlanningError
            from conveyor.service import staffing as calc

            if arrivals_per_hour is None or handle_seconds is None:
                raise PlanningError(
                    "give --arrivals-per-hour and --handle-seconds, or a STREAM to plan from",
                    hint="e.g. conveyor staffing --arrivals-per-hour 1000 --handle-seconds 120 --service-level 0.8 --answer-seconds 20",
                )
            result = calc(arrivals_per_hour=arrivals_per_hour, handle_seconds=handle_seconds, **common)
        if json:
            print_json(result)
            return
        console.print(
            f"[bold]{result['agents']}[/] agents ({result['agents_with_shrinkage']} with {shrinkage:.0%} shrinkage) for "
            f"{result['load_erlangs']:g} Erlangs: service level {result['service_level']:.1%}, "
            f"probability of waiting {result['probability_of_waiting']:.1%}, occupancy {result['occupancy']:.1%}"
            + (f", abandonment {result['abandonment']:.1%}" if "abandonment" in result else "")
        )
        return
    plan = call_service(
        workspace,
        "staffing_plan",
        stream,
        by=by,
        growth=growth,
        filters=filters,
        forecast=forecast,
        answer_activity=answer_activity,
        patience_from_log=patience_from_log,
        save=save,
        **common,
    )
    if json:
        print_json(plan)
        return
    from rich.table import Table

    table = Table(
        "segment",
        "cases/week",
        "work/case",
        "workload h/week",
        "agent-hours/week",
        "peak",
        *(["people seen/week", "answered in target"] if answer_activity else []),
        title=f"{stream}: staffing plan",
    )
    for s in plan["segments"]:
        p = s["peak"]
        table.add_row(
            s["segment"],
            f"{s['cases_per_week']:,.1f}",
            f"{s['work_seconds_per_case'] / 60:,.0f} min",
            f"{s['workload_hours_per_week']:,.1f}",
            f"{s['agent_hours_per_week']:,}",
            f"{p['agents']} ({p['day']} {p['hour']:02d}:00)",
            *(_observed(s) if answer_activity else []),
        )
    console.print(table)
    console.print(
        f"[dim]{plan['settings']['model']}: {service_level:.0%} within {answer_seconds:g} s per hour of the week, "
        f"from {plan['weeks']:g} weeks of data; --json has every hour[/]"
    )
    for s in plan["segments"]:
        if s.get("misses_target") and s.get("short_of_people") is False:
            console.print(f"[bold]{s['segment']}[/]: {_not_for_want_of_people(s)}")
    if answer_activity:
        left = [s for s in plan["segments"] if (s.get("observed") or {}).get("abandoned_share")]
        if left:
            console.print(f"[dim]{abandonment_line(plan)}[/]")


def abandonment_line(plan: dict[str, Any]) -> str:
    """The cases that ended without the answer activity per segment, and what the plan made of it."""
    from conveyor.metrics.units import human

    parts = []
    for s in plan["segments"]:
        obs = s.get("observed") or {}
        if obs.get("abandoned_share"):
            patience = f", mean patience {human(obs['patience_seconds'])}" if obs.get("patience_seconds") else ""
            parts.append(f"{s['segment']} {obs['abandoned_share']:.1%}{patience}")
    how = (
        "planned with Erlang A on that patience"
        if plan["settings"].get("patience_from_log")
        else "--patience-from-log plans with Erlang A on that patience"
    )
    return f"Ended without {plan['settings']['answer_activity']} (gave up): {', '.join(parts)}; {how}"


def _not_for_want_of_people(segment: dict[str, Any]) -> str:
    obs, peak = segment["observed"], segment["peak"]
    load = (
        f"its load needs {peak['agents']} at its busiest hour ({peak['day']} {peak['hour']:02d}:00)"
        if peak["agents"]
        else "the forecast brings it no cases"
    )
    return (
        f"misses its target in the log with {obs['people_per_week']:g} people a week on it, while {load}: the wait "
        "is not for want of people; look at how its work is picked up (conveyor bottlenecks with --where on it)"
    )


def _observed(segment: dict[str, Any]) -> list[str]:
    obs = segment.get("observed") or {}
    share = obs.get("answered_within_target")
    text = f"{share:.0%}" if share is not None else "-"
    return [
        f"{obs['people_per_week']:g}" if "people_per_week" in obs else "-",
        f"[bold red]{text} (misses)[/]" if segment.get("misses_target") else text,
    ]


@app.command()
def inventory(
    lead_time_days: Annotated[float, typer.Option(help="Days from order to delivery.")],
    forecast: Annotated[
        str | None, typer.Option(help="A saved forecast (conveyor forecast ... --save NAME) to plan from.")
    ] = None,
    on_hand: Annotated[
        str | None, typer.Option(help="CSV of the item column(s) and units on hand (+ on order): what to reorder now.")
    ] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="Without --forecast: the item's column(s), e.g. product,region.")
    ] = None,
    date: Annotated[str | None, typer.Option(help="Without --forecast: the date column.")] = None,
    value: Annotated[str | None, typer.Option(help="Without --forecast: the demand column (units).")] = None,
    dataset: Annotated[str | None, typer.Option(help="A workspace dataset, e.g. demand_daily.")] = None,
    file: Annotated[str | None, typer.Option(help="Or a CSV or Parquet file.")] = None,
    freq: Annotated[
        str | None, typer.Option(help="Without --forecast: D, W, M or Q, the table's period (guessed by default).")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="The date column's format when it is text, e.g. '%d/%m/%y'.")
    ] = None,
    service_level: Annotated[float, typer.Option(help="Chance of not running out during a replenishment.")] = 0.95,
    lead_time_sd_days: Annotated[float, typer.Option(help="Standard deviation of the lead time, days.")] = 0.0,
    order_cost: Annotated[float, typer.Option(help="Cost of placing one order.")] = 50.0,
    holding_cost: Annotated[float, typer.Option(help="Cost of holding one unit for a year.")] = 2.0,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Safety stock, reorder point and order quantity per item, from a saved forecast (or, without
    one, the history of a demand table); with --on-hand, which items to reorder now and how much."""
    from pathlib import Path

    from rich.table import Table

    result = call_service(
        workspace,
        "inventory",
        ids=[c.strip() for c in id.split(",") if c.strip()] if id else None,
        date=date,
        value=value,
        lead_time_days=lead_time_days,
        dataset=dataset,
        file=str(Path(file).resolve()) if file else None,
        forecast=forecast,
        on_hand=str(Path(on_hand).resolve()) if on_hand else None,
        service_level=service_level,
        lead_time_sd_days=lead_time_sd_days,
        order_cost=order_cost,
        holding_cost=holding_cost,
        freq=freq,
        date_format=date_format,
    )
    if json:
        print_json(result)
        return
    stock = bool(on_hand)
    table = Table(
        "item",
        "daily mean",
        "daily sd",
        "safety stock",
        "reorder point",
        "order quantity",
        *(["on hand", "now"] if stock else []),
    )
    for i in result["items"]:
        rec = i.get("recommendation")
        table.add_row(
            i["key"],
            f"{i['daily_mean']:,.1f}",
            f"{i['daily_sd']:,.1f}",
            f"{i['safety_stock']:,}",
            f"{i['reorder_point']:,}",
            f"{i['order_quantity']:,}",
            *(
                [
                    f"{i['on_hand']:,.0f}" if "on_hand" in i else "-",
                    f"[bold]order {rec['quantity']:,}[/]" if rec and rec["action"] == "reorder" else "-",
                ]
                if stock
                else []
            ),
        )
    console.print(table)
    st = result["settings"]
    console.print(
        f"[dim]{st['service_level']:.0%} cycle service level (z = {st['z']}), lead time {st['lead_time_days']:g} days; demand: {st['demand']}[/]"
    )


@app.command()
@with_filters
def forecast(
    stream: Annotated[str | None, typer.Argument(help="Forecast this stream's case arrivals.")] = None,
    horizon: Annotated[int, typer.Option(help="Periods ahead (days, weeks, months: see --freq).")] = 28,
    freq: Annotated[
        str | None, typer.Option(help="D, W, M or Q: the period (a table's own, guessed, by default; D for a stream).")
    ] = None,
    by: Annotated[str | None, typer.Option(help="With a stream: a series per value of this case attribute.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A workspace dataset, e.g. demand_daily.")] = None,
    file: Annotated[str | None, typer.Option(help="Or a CSV or Parquet file.")] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="A table's series column(s), comma-separated, e.g. region,product.")
    ] = None,
    date: Annotated[str | None, typer.Option(help="A table's date column.")] = None,
    value: Annotated[str | None, typer.Option(help="A table's value column (summed per series and period).")] = None,
    date_format: Annotated[
        str | None, typer.Option(help="The date column's format when it is text, e.g. '%d/%m/%y'.")
    ] = None,
    windows: Annotated[int, typer.Option(help="Rolling-origin windows to choose and score the models on.")] = 3,
    models: Annotated[
        str | None,
        typer.Option(
            help="Candidates, comma-separated (default: SeasonalNaive,AutoETS,AutoTheta; also AutoARIMA, MSTL, CrostonOptimized, ADIDA, IMAPA)."
        ),
    ] = None,
    reconcile: Annotated[
        bool,
        typer.Option(
            help="Forecast every level of the --id columns (Total, first, first/second...) and make them add up."
        ),
    ] = False,
    save: Annotated[
        str | None, typer.Option(help="Keep it in the workspace under this name (planning page, review, inventory).")
    ] = None,
    quiet: QuietOpt = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Forecast a stream's case arrivals or a table's series with 80% intervals: the model per
    series chosen by rolling-origin cross-validation, scored honestly (MASE beside the seasonal
    naive's on the same windows, interval coverage)."""
    from pathlib import Path

    with progress_reporter(not quiet and not json) as progress:
        result = call_service(
            workspace,
            "forecast",
            horizon=horizon,
            stream=stream,
            by=by,
            freq=freq,
            dataset=dataset,
            file=str(Path(file).resolve()) if file else None,
            ids=[c.strip() for c in id.split(",") if c.strip()] if id else None,
            date=date,
            value=value,
            date_format=date_format,
            windows=windows,
            models=[m.strip() for m in models.split(",") if m.strip()] if models else None,
            reconcile=reconcile,
            save=save,
            filters=filters,
            progress=progress,
        )
    if json:
        print_json(result)
        return
    _print_forecast(result)


def _print_forecast(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("series", "model", "MASE", "seasonal naive", f"next {result['period']}", "80% interval")
    shown = result["series"][:25]
    for s in shown:
        first = s["forecast"][0]
        table.add_row(
            s["key"],
            s["model"],
            f"{s['mase']:.3f}" if s["mase"] is not None else "-",
            f"{s['mase_seasonal_naive']:.3f}" if s["mase_seasonal_naive"] is not None else "-",
            f"{first['mean']:,.1f}",
            f"{first['lo_80']:,.1f} - {first['hi_80']:,.1f}",
        )
    console.print(table)
    if len(result["series"]) > len(shown):
        console.print(f"[dim]... and {len(result['series']) - len(shown):,} more series (--json has them all)[/]")
    ratio = result["mase_ratio"]
    console.print(
        f"{result['series_count']:,} series, {result['horizon']} {result['period']}s ahead: MASE "
        + (
            f"[bold]{result['mase']:.3f}[/] vs seasonal naive {result['mase_seasonal_naive']:.3f} "
            f"([bold]{ratio:.2f}x[/]), 80% intervals cover {result['coverage_80']:.0%}"
            if ratio is not None
            else "not measured (series too short for two windows)"
        )
        + f" over {result['evaluated_series']:,} series and {result['windows']} rolling windows; "
        f"models: {', '.join(f'{k} {v}' for k, v in result['models_chosen'].items())}; {result['seconds']:g} s"
        + (f"; saved as {result['name']!r}" if result.get("name") else "")
    )
    rescaled = {m: f for m, f in result.get("interval_scale", {}).items() if f != 1.0}
    if rescaled:
        console.print(
            "Intervals rescaled to cover 80% on the windows (they covered outside 75-85%): "
            + ", ".join(f"{m} x{f:.2f}" for m, f in rescaled.items())
        )
    rec = result.get("reconciled")
    if rec and rec.get("mase_ratio") is not None:
        console.print(
            f"Reconciled (what the forecasts above are), scored on the same windows: MASE [bold]{rec['mase']:.3f}[/] "
            f"([bold]{rec['mase_ratio']:.2f}x[/] the seasonal naive's), 80% intervals cover {rec['coverage_80']:.0%}; "
            "by level, MASE before -> after: "
            + ", ".join(f"{lv['level']} {lv['mase']:.3f} -> {lv['mase_reconciled']:.3f}" for lv in rec["levels"])
        )


def _days(seconds: float) -> str:
    return f"{seconds / 86400:,.2f} d" if seconds >= 86400 else f"{seconds / 3600:,.1f} h"


@app.command()
@with_filters
def simulate(
    stream: Annotated[str, typer.Argument(help="The stream to simulate.")],
    replications: Annotated[int, typer.Option(help="Independent replications (intervals over them).")] = 5,
    seed: Annotated[
        int, typer.Option(min=0, help="The replications' random numbers: the same seed, the same answer.")
    ] = 1,
    pools_by: Annotated[
        str | None,
        typer.Option("--pools-by", help="A case attribute (e.g. queue): a pool of people per value and activity."),
    ] = None,
    quiet: QuietOpt = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Simulate STREAM's as-is from its own log (arrivals, routes, times, pools, calendars) and say
    how well it reproduces it: actual vs simulated cycle time and throughput."""
    with progress_reporter(not quiet and not json) as progress:
        result = call_service(
            workspace,
            "simulate",
            stream,
            replications=replications,
            seed=seed,
            filters=filters,
            pools_by=pools_by,
            progress=progress,
        )
    if json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(
        "",
        "actual",
        "the log's own 95%",
        "simulated",
        "95% interval",
        "error",
        title=f"{stream}: simulation vs the log",
    )
    for key, label in (
        ("cycle_time_median", "median cycle time"),
        ("cycle_time_p90", "90th percentile cycle time"),
        ("cycle_time_mean", "mean cycle time"),
        ("throughput_per_week", "cases per week"),
    ):
        fmt = _days if key.startswith("cycle") else (lambda v: f"{v:,.1f}")
        low, high = result["intervals"][key]
        err = result["error"][key]
        a_low, a_high = result["actual_intervals"][key]
        inside = result["within_log_interval"][key]
        table.add_row(
            label,
            fmt(result["actual"][key]),
            f"{fmt(a_low)} - {fmt(a_high)}",
            fmt(result["simulated"][key]) + ("" if inside else " [yellow](outside)[/]"),
            f"{fmt(low)} - {fmt(high)}",
            f"{err:+.1%}" if err is not None else "-",
        )
    console.print(table)
    console.print(
        "[dim]the log's own 95%: where its value could fall from another sample of the same process "
        "(its cases' count and spread); a simulated value inside it is as close as the log can tell[/]"
    )
    share = result["share_below_actual_median"]["simulated"]
    console.print(f"{share:.1%} of the simulated cases finish quicker than the log's median (50% would be exact)")
    busiest = sorted(result["utilisation"].items(), key=lambda kv: -kv[1])[:3]
    if busiest:
        console.print(
            "Busiest pools (share of their open hours at work): " + ", ".join(f"{name} {u:.1%}" for name, u in busiest)
        )
    m = result["model"]
    queued = sorted(
        ((name, p["all_busy_share_of_wait"]) for name, p in m["pools"].items() if p.get("all_busy_share_of_wait")),
        key=lambda kv: -kv[1],
    )[:3]
    if queued and queued[0][1] >= 0.01:
        console.print(
            "Waiting for people (all of the pool busy, in the log; the simulated pools replay it and staffing "
            "shortens it): " + ", ".join(f"{name} {share:.1%} of the waiting before it" for name, share in queued)
        )
    else:
        console.print(
            "No pool's people were all busy for 1% of the waiting before it in the log: that waiting is not "
            "for want of people, and more of them cannot shorten it"
        )
    console.print(
        f"[dim]{result['replications']} replications of {result['cases_per_replication']:,.0f} cases, "
        f"{result['cases_per_second']:,.0f} simulated cases/s; work: {m['work']}; "
        f"step times: the copied log case's, its waiting jittered (x lognormal, sd {m['step_time_jitter']:g} in logs); "
        "--json has the pools and their utilisation[/]"
    )
    for note in m["notes"]:
        console.print(f"[yellow]note:[/] {note}")


@app.command()
@with_filters
def scenario(
    stream: Annotated[str, typer.Argument(help="The stream to simulate.")],
    file: Annotated[str, typer.Option("--file", help="The scenario YAML (drivers, sensitivity, playbooks).")],
    replications: Annotated[int | None, typer.Option(help="Replications per run (default: the file's, or 5).")] = None,
    save: Annotated[str | None, typer.Option(help="Keep the result in the workspace (planning page, review).")] = None,
    quiet: QuietOpt = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """What if: run a scenario's drivers (demand, staff, handling time, automation share) on
    STREAM's simulation against the as-is, with a tornado over the drivers and playbooks checked
    against saved forecasts."""
    from pathlib import Path

    with progress_reporter(not quiet and not json) as progress:
        result = call_service(
            workspace,
            "scenario",
            stream,
            file=str(Path(file).resolve()),
            replications=replications,
            filters=filters,
            save=save,
            progress=progress,
        )
    if json:
        print_json(result)
        return
    from rich.table import Table

    table = Table("", "as-is", "scenario", "change (95%, paired)", title=f"{stream}: {result['name'] or 'scenario'}")
    for key, label in (
        ("cycle_time_median", "median cycle time"),
        ("cycle_time_p90", "90th percentile cycle time"),
        ("throughput_per_week", "cases per week"),
    ):
        fmt = _days if key.startswith("cycle") else (lambda v: f"{v:,.1f}")
        ch = result["change"][key]
        paired = (result.get("change_intervals") or {}).get(key)
        shown = f"{ch:+.1%}" if ch is not None else "-"
        if ch is not None and paired:
            shown += f" ({round(paired[0], 3) + 0:+.1%} to {round(paired[1], 3) + 0:+.1%})"  # no "-0.0%"
        table.add_row(label, fmt(result["as_is"][key]), fmt(result["scenario"][key]), shown)
    console.print(table)
    if result["tornado"]:
        console.print("[bold]sensitivity[/] (median cycle time, low - high):")
        for t in result["tornado"]:
            lo, hi = t["cycle_time_median"]
            noise = t.get("within_noise") or [False, False]
            mark = [" [dim](within the noise)[/]" if n else "" for n in noise]
            console.print(f"  {t['driver']:<28} {_days(lo)}{mark[0]} - {_days(hi)}{mark[1]}")
    for p in result["playbooks"]:
        state = "[bold red]triggered[/]" if p["triggered"] else "not triggered"
        w, a = p["at_forecast"]["without"], p["at_forecast"]["with_action"]
        console.print(
            f"playbook {p['name']!r}: {state} (growth {p['growth']:.2f} vs {p['threshold']:.2f}; {p['why']}); "
            f"at the forecast's demand the median cycle time goes {_days(w['cycle_time_median'])} -> {_days(a['cycle_time_median'])} with it"
        )
        for e in p.get("staffing") or []:
            console.print(f"  {staffing_line(e)}")
    for e in result.get("staffing") or []:
        console.print(staffing_line(e))
