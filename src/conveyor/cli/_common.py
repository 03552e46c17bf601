"""Pieces every command shares: the workspace option, JSON output, errors, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from conveyor.errors import ConveyorError

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="CONVEYOR_WORKSPACE",
        help="Workspace folder (default: $CONVEYOR_WORKSPACE, else the current folder).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]

# How a source's columns map onto the event model (ingest and spark-ingest take the same flags).
CaseIdOpt = Annotated[str | None, typer.Option(help="Column holding the case id.")]
ActivityOpt = Annotated[str | None, typer.Option(help="Column holding the activity.")]
TimestampOpt = Annotated[str | None, typer.Option(help="Column holding the timestamp.")]
ResourceOpt = Annotated[str | None, typer.Option(help="Column holding the resource (optional).")]
LifecycleOpt = Annotated[str | None, typer.Option(help="Column holding the lifecycle transition (optional).")]


class _State:
    """What the top-level options set for the command that runs (the CLI is one process)."""

    engine: str | None = None


state = _State()
console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """JSON to stdout, plain (no colour codes), one document (the analyses' one rendering)."""
    from conveyor.mining.results import to_json

    sys.stdout.write(to_json(data) + "\n")


@contextmanager
def handled() -> Iterator[None]:
    """Turn conveyor errors into a message and exit code 1, never a traceback."""
    try:
        yield
    except ConveyorError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("CONVEYOR_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc).splitlines()[0] if str(exc) else '')}",
            highlight=False,
            soft_wrap=True,
        )
        err_console.print(
            "[dim]hint:[/] this is a bug in conveyor; rerun with CONVEYOR_DEBUG=1 for the traceback and report it",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[Callable[[str, float], None] | None]:
    """A Rich progress bar on stderr when it is a terminal and not ``--quiet``."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(label: str, fraction: float) -> None:
            bar.update(task, description=label, completed=max(0.0, min(1.0, fraction)))

        yield update


def call_service(
    workspace: str | None,
    op: str,
    *args: Any,
    write: bool = False,
    progress: Callable[[str, float], None] | None = None,
    **kwargs: Any,
) -> Any:
    """Run service function ``op`` (conveyor.service) on the workspace: through the server that owns
    it when one runs (its API gives the same JSON), else on the workspace opened here."""
    from conveyor.cli._remote import find_server

    with handled():
        remote = find_server(workspace)
        if remote is not None:
            return remote.call(op, *args, progress=progress, **kwargs)
        from conveyor import service
        from conveyor.workspace import open_workspace

        if progress is not None:
            kwargs["progress"] = progress
        with open_workspace(workspace, read_only=not write, engine=state.engine) as ws:
            return getattr(service, op)(ws, *args, **kwargs)
