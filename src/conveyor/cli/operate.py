"""The operating side: KPIs, automation opportunities, the review report, the dashboard, tokens.

(No ``from __future__ import annotations``: the filter decorator re-exposes these signatures to
Typer, which must see real annotation objects.)
"""

from pathlib import Path
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
from conveyor.metrics.units import show

StreamArg = Annotated[str, typer.Argument(help="The stream to measure.")]


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

    rows = call_service(workspace, "kpis", stream, by=by, period=period, filters=filters, names=kpi or None)
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
                f"  {r['by']}={s['segment']}",
                show(s["value"], r["unit"]),
                "",
                _STATUS.get(s["status"], s["status"].replace("_", " ")),
                "",
                str(len(s["alerts"])) if s["alerts"] else "",
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

    result = call_service(workspace, "opportunities", stream, filters=filters, top=top)
    if json:
        print_json(result)
        return
    cur = result["currency"]
    table = Table(
        "#",
        "step",
        "kind",
        "per year",
        "work h/yr",
        "wait h/yr",
        f"savings {cur}/yr",
        "do",
        title=f"{stream}: automation opportunities",
    )
    for r in result["rows"]:
        table.add_row(
            str(r["rank"]),
            r["step"],
            r["kind"],
            f"{r['volume_per_year']:,.0f}",
            f"{r['hours_per_year']:,.0f}",
            f"{r['waiting_hours_per_year']:,.0f}",
            f"{r['savings_per_year']:,.0f}",
            r["recommendation"],
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
    with progress_reporter(not quiet and not json) as progress:
        result = call_service(
            workspace,
            "review",
            out=str(out.resolve()),
            pdf=str(pdf.resolve()) if pdf else None,
            streams=stream or None,
            progress=progress,
        )
    if json:
        print_json(result)
        return
    console.print(
        f"wrote the review of {', '.join(result['streams'])} to [bold]{result['html']}[/] in {result['seconds']} s"
    )
    if "pdf" in result:
        console.print(f"and the PDF to [bold]{result['pdf']}[/]")
    console.print(f"open it in a browser: [bold]{Path(result['html']).as_uri()}[/] (it needs no network)")


token_app = typer.Typer(help="API tokens with roles: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _state(workspace: str | None) -> Any:
    """The workspace's operational state (SQLite: usable while a server runs)."""
    from conveyor.state import open_state
    from conveyor.workspace import workspace_root

    return open_state(workspace_root(workspace))


def _has_server(workspace: str | None) -> bool:
    from conveyor.cli._remote import find_server

    return find_server(workspace) is not None


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer (reads), reviewer (also the review queue) or admin (everything).")],
    name: Annotated[str | None, typer.Option(help="What the token is for, e.g. 'wallboard'.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a token; its secret is printed once (only a hash is kept)."""
    from conveyor.access import create_token

    with handled(), _state(workspace) as st:
        token, info = create_token(st, role=role, name=name)
    if json:
        print_json({**info, "token": token})
        return
    console.print(f"token [bold]{info['id']}[/] ({info['role']}, {info['name']}): {token}")
    console.print("[dim]shown once: store it now. Use it as `Authorization: Bearer TOKEN`, or paste it at /login.[/]")


@token_app.command("list")
def token_list(workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """Tokens with their role, creation, last use and revocation (never their secrets)."""
    from rich.table import Table

    from conveyor.access import list_tokens

    with handled(), _state(workspace) as st:
        rows = list_tokens(st)
    if json:
        print_json(rows)
        return
    table = Table("id", "name", "role", "created", "last used", "revoked")
    for r in rows:
        table.add_row(r["id"], r["name"], r["role"], r["created_at"], r["last_used_at"] or "", r["revoked_at"] or "")
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `conveyor token list`).")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Revoke a token at once (its browser sessions end too)."""
    from conveyor.access import revoke_token

    with handled(), _state(workspace) as st:
        row = revoke_token(st, token_id)
    if json:
        print_json(row)
        return
    console.print(f"revoked token [bold]{row['id']}[/] ({row['name']})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8000,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The dashboard and the JSON API (/api/v1, reference at /docs) over this workspace.

    Prints a one-time login link. While it runs it owns the workspace's file: other conveyor
    commands on the workspace send their work through it.
    """
    import socket

    from conveyor.web.serve import run_server

    with handled():
        if _has_server(workspace):
            from conveyor.errors import ConveyorError

            raise ConveyorError(
                "a conveyor server already runs on this workspace", hint="open its login link, or stop it first"
            )
        # IPPROTO_TCP given: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say so,
        # and without it every answer waits ~40 ms for the client's delayed ACK
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(2048)  # connections wait in the backlog from now on, even before Uvicorn runs
        except OSError as exc:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}; try --port 0") from None

        def announce(info: dict[str, Any]) -> None:
            if json:
                print_json(info)
            else:
                console.print(f"conveyor serves [bold]{info['workspace']}[/] at {info['url']}")
                console.print(f"log in (one-time link, valid for an hour): [bold]{info['login_url']}[/]")
                console.print(f"API: {info['url']}/api/v1 (reference: {info['url']}/docs) · Ctrl-C stops it")
            import sys

            sys.stdout.flush()

        run_server(workspace, sock, announce=announce)
