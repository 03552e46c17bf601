"""Planning on the command line: how many people a queue needs.

(No ``from __future__ import annotations``: the filter decorator re-exposes these signatures to
Typer, which must see real annotation objects.)
"""

from typing import Annotated, Any

import typer

from conveyor.cli._common import JsonOpt, WorkspaceOpt, call_service, console, handled, print_json
from conveyor.cli._filters import with_filters
from conveyor.cli.app import app


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
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Agents needed for a service level: Erlang C (Erlang A with --patience-seconds), then the
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
    plan = call_service(workspace, "staffing_plan", stream, by=by, growth=growth, filters=filters, **common)
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
        )
    console.print(table)
    console.print(
        f"[dim]{plan['settings']['model']}: {service_level:.0%} within {answer_seconds:g} s per hour of the week, "
        f"from {plan['weeks']:g} weeks of data; --json has every hour[/]"
    )


@app.command()
def inventory(
    id: Annotated[str, typer.Option("--id", help="The item's column(s), comma-separated, e.g. product,region.")],
    date: Annotated[str, typer.Option(help="The date column.")],
    value: Annotated[str, typer.Option(help="The demand column (units).")],
    lead_time_days: Annotated[float, typer.Option(help="Days from order to delivery.")],
    dataset: Annotated[str | None, typer.Option(help="A workspace dataset, e.g. demand_daily.")] = None,
    file: Annotated[str | None, typer.Option(help="Or a CSV or Parquet file.")] = None,
    service_level: Annotated[float, typer.Option(help="Chance of not running out during a replenishment.")] = 0.95,
    lead_time_sd_days: Annotated[float, typer.Option(help="Standard deviation of the lead time, days.")] = 0.0,
    order_cost: Annotated[float, typer.Option(help="Cost of placing one order.")] = 50.0,
    holding_cost: Annotated[float, typer.Option(help="Cost of holding one unit for a year.")] = 2.0,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Safety stock, reorder point and order quantity per item, from its daily demand (history
    stands in for the forecast until forecasts exist)."""
    from pathlib import Path

    from rich.table import Table

    result = call_service(
        workspace,
        "inventory",
        ids=[c.strip() for c in id.split(",") if c.strip()],
        date=date,
        value=value,
        lead_time_days=lead_time_days,
        dataset=dataset,
        file=str(Path(file).resolve()) if file else None,
        service_level=service_level,
        lead_time_sd_days=lead_time_sd_days,
        order_cost=order_cost,
        holding_cost=holding_cost,
    )
    if json:
        print_json(result)
        return
    table = Table("item", "daily mean", "daily sd", "safety stock", "reorder point", "order quantity")
    for i in result["items"]:
        table.add_row(
            i["key"],
            f"{i['daily_mean']:,.1f}",
            f"{i['daily_sd']:,.1f}",
            f"{i['safety_stock']:,}",
            f"{i['reorder_point']:,}",
            f"{i['order_quantity']:,}",
        )
    console.print(table)
    st = result["settings"]
    console.print(
        f"[dim]{st['service_level']:.0%} cycle service level (z = {st['z']}), lead time {st['lead_time_days']:g} days; demand: {st['demand']}[/]"
    )
