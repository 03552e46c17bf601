"""The Typer application and its commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._common import (
    ActivityOpt,
    CaseIdOpt,
    JsonOpt,
    LifecycleOpt,
    QuietOpt,
    ResourceOpt,
    TimestampOpt,
    WorkspaceOpt,
    call_service,
    console,
    handled,
    print_json,
    progress_reporter,
    state,
)

app = typer.Typer(
    name="conveyor",
    help="conveyor: ingest event data, map and measure value streams, automate, plan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            envvar="CONVEYOR_ENGINE",
            help="Engine for this command: duckdb or spark (default: store.engine in conveyor.toml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """conveyor: ingest event data, map and measure value streams, automate, plan."""
    state.engine = engine


@app.command()
def init(
    directory: Annotated[str | None, typer.Argument(help="Folder to make a workspace in (default: current).")] = None,
) -> None:
    """Make a workspace: conveyor.toml (documented settings) and an embedded DuckDB file."""
    from conveyor.workspace import init_workspace

    with handled():
        root = init_workspace(directory)
    console.print(f"workspace ready in [bold]{root}[/]")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV/TSV (gzip ok), Parquet, or XES (.xes, .xes.gz) file.")],
    stream: Annotated[
        str | None, typer.Option("--stream", "-s", help="Stream to load into (default: the file's name).")
    ] = None,
    case_id: CaseIdOpt = None,
    activity: ActivityOpt = None,
    timestamp: TimestampOpt = None,
    resource: ResourceOpt = None,
    lifecycle: LifecycleOpt = None,
    timestamp_format: Annotated[
        str | None, typer.Option(help="strptime format of the timestamps, e.g. '%d/%m/%Y %H:%M'.")
    ] = None,
    timestamp_unit: Annotated[
        str | None,
        typer.Option(help="Unit of numeric timestamps since 1970: s, ms, us or ns (default: told by their size)."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="Timezone of timestamps without an offset (default from conveyor.toml).")
    ] = None,
    dedupe: Annotated[
        bool | None, typer.Option("--dedupe/--no-dedupe", help="Quarantine exact repeats of an earlier row.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Fail, loading nothing, if any row would be quarantined.")] = False,
    case_attribute: Annotated[
        list[str] | None,
        typer.Option(
            help="Keep this column as a case attribute (its value on the case's first row), for --by and "
            "--where; repeat or comma-separate. Columns named case:NAME are case attributes anyway."
        ),
    ] = None,
    quiet: QuietOpt = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Load an event log into a stream; bad rows go to quarantine with their reasons."""
    name = stream or _stream_name(file)
    with progress_reporter(not quiet and not json) as progress:
        result = call_service(
            workspace,
            "ingest",
            name,
            write=True,
            progress=progress,
            path=str(file.resolve()),
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            resource=resource,
            lifecycle=lifecycle,
            timestamp_format=timestamp_format,
            timestamp_unit=timestamp_unit,
            timezone=timezone,
            dedupe=dedupe,
            strict=strict,
            case_attributes=[c.strip() for v in case_attribute or [] for c in v.split(",") if c.strip()] or None,
        )
    if json:
        keys = ("stream", "events_loaded", "cases", "quarantined", "already_ingested", "automations")
        print_json({k: result[k] for k in keys if k in result})
        return
    if result["already_ingested"]:
        console.print(f"{file} was already ingested into [bold]{name}[/]: nothing added.")
        return
    console.print(
        f"[bold]{name}[/]: loaded {result['events_loaded']:,} events in {result['cases']:,} cases "
        f"from {result['rows']:,} rows ({result['seconds']:.2f} s)"
    )
    if result["quarantined"]:
        why = ", ".join(f"{n:,} {reason}" for reason, n in result["reasons"].items())
        console.print(
            f"[yellow]quarantined {result['quarantined']:,} rows[/] ({why}); see `conveyor quarantine {name}`"
        )
    for a in result.get("automations", []):
        console.print(
            f"automation [bold]{a['automation']}[/]: {a['decided']:,} new events decided, {a['skipped']:,} skipped"
        )


def _stream_name(file: Path) -> str:
    import re

    stem = file.name.lower()
    for ext in (".gz", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".xes"):
        stem = stem.removesuffix(ext)
    return re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_") or "events"


@app.command("spark-ingest")
def spark_ingest(
    source: Annotated[str, typer.Argument(help="Parquet or CSV path/URI (hdfs://, s3a://...) or a table Spark knows.")],
    stream: Annotated[str, typer.Option("--stream", "-s", help="Stream to build.")],
    case_id: CaseIdOpt = None,
    activity: ActivityOpt = None,
    timestamp: TimestampOpt = None,
    resource: ResourceOpt = None,
    lifecycle: LifecycleOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Build a stream on Spark from any event table Spark can read (for logs beyond one machine)."""
    from conveyor.data.spark_layout import build_layout_spark
    from conveyor.workspace import open_workspace

    with handled(), open_workspace(workspace, read_only=True, engine="spark") as ws:
        result = build_layout_spark(
            ws.spark,
            source,
            stream=stream,
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            resource=resource,
            lifecycle=lifecycle,
        )
        where = ws.warehouse
    if json:
        print_json(result.as_json())
    else:
        console.print(
            f"[bold]{stream}[/]: laid out {result.events_loaded:,} events in {result.cases:,} cases on Spark, in {where}"
            + (f"; quarantined {result.quarantined:,} rows" if result.quarantined else "")
        )


@app.command()
def publish(
    stream: Annotated[str | None, typer.Argument(help="Stream to publish (default: every stream).")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write streams' layout as Parquet to the Spark warehouse, for the Spark engine."""
    from conveyor.workspace import open_workspace

    with handled(), open_workspace(workspace, read_only=True) as ws:
        names = [stream] if stream else [s.name for s in ws.store.streams() if s.events]
        for name in names:
            ws.store.require_stream(name)
            ws.publish(name)
        where = ws.warehouse
    if json:
        print_json({"warehouse": where, "streams": names})
    else:
        console.print(f"published {', '.join(names) or 'no streams'} to {where}")


@app.command()
def streams(workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """List the workspace's streams with their size and time span."""
    from rich.table import Table

    infos = call_service(workspace, "streams")
    if json:
        print_json(infos)
        return
    if not infos:
        console.print("no streams yet: `conveyor ingest FILE --stream NAME` loads one")
        return
    table = Table("name", "events", "cases", "activities", "first", "last", "quarantined")
    for s in infos:
        table.add_row(
            s["name"],
            f"{s['events']:,}",
            f"{s['cases']:,}",
            f"{s['activities']:,}",
            (s["first"] or "")[:16].replace("T", " "),
            (s["last"] or "")[:16].replace("T", " "),
            f"{s['quarantined']:,}",
        )
    console.print(table)


@app.command()
def quarantine(
    stream: Annotated[str, typer.Argument(help="Stream whose rejected rows to show.")],
    limit: Annotated[int | None, typer.Option(help="Show at most this many rows.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show rows rejected by ingest: file, row, column, value and reason."""
    from rich.table import Table

    rows = call_service(workspace, "quarantine", stream, limit=limit)
    if json:
        print_json(rows)
        return
    if not rows:
        console.print(f"nothing quarantined in {stream}")
        return
    table = Table("ingest", "file", "row", "column", "value", "reason")
    for r in rows:
        table.add_row(
            *(("" if r[k] is None else str(r[k])) for k in ("ingest_id", "file", "row", "column", "value", "reason"))
        )
    console.print(table)


@app.command()
def export(
    stream: Annotated[str, typer.Argument(help="Stream to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv, .csv.gz, .parquet, .xes or .xes.gz.")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write a stream to CSV, Parquet or XES (readable by conveyor and PM4Py)."""
    result = call_service(workspace, "export", stream, out=str(out.resolve()))
    if json:
        print_json(result)
    else:
        console.print(f"wrote {result['events']:,} events of [bold]{stream}[/] to {out}")


@app.command()
def demo(
    directory: Annotated[
        str | None, typer.Argument(help="Folder for the demo workspace (default: ./conveyor-demo).")
    ] = None,
    cases: Annotated[
        int | None, typer.Option(help="Orders to simulate; other streams scale with it (default 2,000).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same company.")] = 7,
    quiet: QuietOpt = False,
    json: JsonOpt = False,
) -> None:
    """Create a workspace holding a simulated mid-sized company, ingest it and summarise it."""
    from conveyor.demo import run_demo

    target = directory or "conveyor-demo"
    with handled(), progress_reporter(not quiet and not json) as progress:
        summary = run_demo(target, cases=cases, seed=seed, progress=progress)
    if json:
        print_json(summary)
        return
    from conveyor.cli.render import render_demo

    render_demo(console, summary)


def main() -> None:
    """Console-script entry point."""
    import conveyor.cli.automate
    import conveyor.cli.decide
    import conveyor.cli.mining
    import conveyor.cli.operate
    import conveyor.cli.plan  # noqa: F401  (KPIs, opportunities, review, serve, tokens; automation; planning; triage)

    app()
