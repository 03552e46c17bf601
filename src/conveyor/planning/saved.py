"""Planning results kept in the workspace (``forecasts/``, ``plans/``, ``scenarios/``, one JSON
file each), and the overview the planning page and the operating review show from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.planning.staffing import PlanningError

__all__ = ["KINDS", "load", "names", "overview", "save"]

#: kind -> (folder, the command that saves one)
KINDS = {
    "forecast": ("forecasts", "conveyor forecast ... --save NAME"),
    "plan": ("plans", "conveyor staffing STREAM ... --save NAME"),
    "scenario": ("scenarios", "conveyor scenario STREAM --file F --save NAME"),
}


def _path(root: Path, kind: str, name: str) -> Path:
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise PlanningError(f"--save: {name!r} is not a name", hint="letters, digits, - and _")
    return root / KINDS[kind][0] / f"{name}.json"


def save(root: Path, kind: str, name: str, data: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file)."""
    path = _path(root, kind, name)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, **data, "saved_as": name}, default=str), encoding="utf-8")
    tmp.replace(path)


def names(root: Path, kind: str) -> list[str]:
    return sorted(p.stem for p in (root / KINDS[kind][0]).glob("*.json"))


def load(root: Path, kind: str, name: str) -> dict[str, Any]:
    path = _path(root, kind, name)
    if not path.is_file():
        known = names(root, kind)
        raise PlanningError(f"no saved {kind} {name!r}", hint=f"saved: {', '.join(known) or 'none'}; {KINDS[kind][1]}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def overview(root: Path, *, series_per_forecast: int = 4) -> dict[str, Any]:
    """Everything saved, trimmed for a page: each forecast's accuracy and its first series
    (the top level first) with history; each plan's segments without the 168 hours but with
    its peak grid; each scenario whole."""
    forecasts = []
    for n in names(root, "forecast"):
        f = load(root, "forecast", n)
        series = sorted(f["series"], key=lambda s: (len(s["id"]), s["key"]))
        forecasts.append(
            {
                **{k: v for k, v in f.items() if k != "series"},
                "series": series[:series_per_forecast],
                "series_total": len(series),
            }
        )
    plans = []
    for n in names(root, "plan"):
        p = load(root, "plan", n)
        plans.append(p)
    scenarios = [load(root, "scenario", n) for n in names(root, "scenario")]
    return {"forecasts": forecasts, "plans": plans, "scenarios": scenarios}
