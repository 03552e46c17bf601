"""The operating side: KPIs, automation opportunities, the review report, the dashboard, tokens.

(No ``from __future__ import annotations``: the filter decorator re-exposes these signatures to
Typer, which must see real annotation objects.)
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli._common import JsonOpt, QuietOpt, WorkspaceOpt, console, handled, print_json, progress_reporter, state
from conveyor.cli._filters import with_filters
from conveyor.cli.app import app
from conveyor.metrics.units import show

StreamArg = Annotated[str, typer.Argument(help="The stream to measure.")]


def _call(workspace: str | None, fn_name: str, *args: Any, **kwargs: Any) -> Any:
    """Run one service function on the workspace (read-only: analyses never write)."""
    from conveyor import service
    from conveyor.workspace import open_workspace

    with handled(), open_workspace(workspace, read_only=True, engine=state.engine) as ws:
        return getattr(service, fn_name)(ws, *args, **kwargs)


_STATUS = {"on_track": "[green]on track[/]", "at_risk": "[yellow]at risk[/]", "off_track": "[red]off track[/]"}


@app.command()
@with_filters
def kpis(
    stream: StreamArg,
    by: Annotated[str | None, typer.Option("--by", help="Segment by this case attribute.")] = None,
    period: Annotated[str, typer.Option(help="Trend period: week or month.")] = "week",
    kpi: Annotated[list[str] | None, typer.Option("--kpi", help="Only this KPI (repeatable).")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """KPIs against target: value, status, trend per period, anomalies and alerts.

    Definitions come from metrics/STREAM.yaml in the workspace; without one, the default set.
    """
    from rich.table import Table

    rows = _call(workspace, "kpis", stream, by=by, period=period, filters=filters, names=kpi or None)
    if json:
        print_json(rows)
        return
    spark = "▁▂▃▄▅▆▇█"
    table = Table("KPI", "value", "target", "status", f"trend per {period}", "alerts", title=f"{stream}: KPIs")
    for r in rows:
        full = [t for t in r["trend"] if t["full"]] or r["trend"]
        vals = [t["value"] for t in full if t["value"] is not None]
        lo, hi = (min(vals), max(vals)) if vals else (0, 0)
        line = "".join(
            spark[int((t["value"] - lo) / (hi - lo) * 7) if hi > lo else 3] if t["value"] is not None else " "
            for t in full[-26:]
        )
        table.add_row(
            r["label"],
            show(r["value"], r["unit"]),
            show(r["target"], r["unit"]) if r["target"] is not None else "",
            _STATUS.get(r["status"], r["status"].replace("_", " ")),
            line,
            str(len(r["alerts"])) if r["alerts"] else "",
        )
        for s in r.get("segments", []):
            table.add_row(
                f"  {r['by']}={s['segment']}", show(s["value"], r["unit"]), "",
                _STATUS.get(s["status"], s["status"].replace("_", " ")), "", str(len(s["alerts"])) if s["alerts"] else "",
            )
    console.print(table)
    for r in rows:
        for a in r["alerts"][:3]:
            console.print(f"[yellow]![/] {r['label']}: {a}")


@app.command()
@with_filters
def opportunities(
    stream: StreamArg,
    top: Annotated[int, typer.Option(help="How many rows to show.")] = 15,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    filters: Any = None,
) -> None:
    """Steps and hand-overs ranked by what automating or assisting them would save a year.

    Costs come from the costs: section of metrics/STREAM.yaml (defaults are listed below the table).
    """
    from rich.table import Table

    result = _call(workspace, "opportunities", stream, filters=filters, top=top)
    if json:
        print_json(result)
        return
    cur = result["currency"]
    table = Table("#", "step", "kind", "per year", "work h/yr", "wait h/yr", f"savings {cur}/yr", "do", title=f"{stream}: automation opportunities")
    for r in result["rows"]:
        table.add_row(
            str(r["rank"]), r["step"], r["kind"], f"{r['volume_per_year']:,.0f}", f"{r['hours_per_year']:,.0f}",
            f"{r['waiting_hours_per_year']:,.0f}", f"{r['savings_per_year']:,.0f}", r["recommendation"],
        )
    console.print(table)
    for r in result["rows"][:3]:
        console.print(f"[bold]{r['rank']}. {r['step']}[/] ({r['recommendation']}): " + " ".join(r["reasons"]))
    console.print("[dim]assumptions: " + "; ".join(result["assumptions"]) + "[/]")


@app.command()
def review(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("review.html"),
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also print it to this PDF (headless Chromium).")] = None,
    stream: Annotated[list[str] | None, typer.Option("--stream", "-s", help="Only this stream (repeatable).")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """The operating review: one self-contained HTML file (works offline), optionally a PDF.

    A summary across streams and a maturity self-assessment, then per stream the KPIs against
    target with trends and anomalies, the process map, variants, bottlenecks, rework,
    conformance (rules/STREAM.yaml) and the top automation opportunities.
    """
    from conveyor.review import write_review
    from conveyor.workspace import open_workspace

    with handled(), progress_reporter(not quiet and not json) as progress, open_workspace(
        workspace, read_only=True, engine=state.engine
    ) as ws:
        result = write_review(ws, out, pdf=pdf, streams=stream or None, progress=progress)
    if json:
        print_json(result)
        return
    console.print(f"wrote the review of {', '.join(result['streams'])} to [bold]{result['html']}[/] in {result['seconds']} s")
    if "pdf" in result:
        console.print(f"and the PDF to [bold]{result['pdf']}[/]")
    console.print(f"open it in a browser: [bold]{Path(result['html']).as_uri()}[/] (it needs no network)")
