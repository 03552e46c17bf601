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
