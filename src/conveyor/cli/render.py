"""Rich rendering of service results for the terminal (no logic here)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


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
    console.print("\n[bold]planted problems[/] (what later analyses should find):")
    for stream, problems in summary["planted"].items():
        for p in problems:
            console.print(f"  {stream}: {p}")
    console.print(
        f"\nnext: [bold]conveyor streams -w {summary['workspace']}[/], "
        f"[bold]conveyor export order-to-cash -o o2c.xes -w {summary['workspace']}[/]"
    )


def human(seconds: float | None) -> str:
    """A duration as an operations person reads it: 45s, 12m, 3.5h, 2.1d, 5.0w."""
    if seconds is None:
        return "-"
    s = float(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 60:
        return f"{sign}{s:.0f}s"
    if s < 3600:
        return f"{sign}{s / 60:.0f}m"
    if s < 86400:
        return f"{sign}{s / 3600:.1f}h"
    if s < 14 * 86400:
        return f"{sign}{s / 86400:.1f}d"
    return f"{sign}{s / 604800:.1f}w"


def pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"
