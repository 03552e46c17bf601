"""Draw a process map as SVG, laid out by Graphviz ``dot`` (the layout engine of PM4Py, ProM and bupaR).

The map is simplified the way Disco does it, with two sliders:

- ``activities`` (0-1): keep the most frequent share of activities (at least one);
- ``paths`` (0-1): keep the most frequent share of the edges between them, but never leave an
  activity unreachable: each kept activity keeps its most frequent incoming and outgoing edge.

Two views: ``frequency`` (nodes and edges shaded and labelled by how often they happen) and
``performance`` (edges shaded and labelled by the mean time between the two steps). The SVG is
self-contained (no fonts, scripts or links to fetch), so it works in an offline report.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.mining.results import ProcessMap

__all__ = ["MapError", "render_svg", "simplify", "to_dot"]

START, END = "▶", "■"


class MapError(ConveyorError, RuntimeError):
    """The map cannot be drawn (Graphviz missing or failing, or a bad option)."""


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s / size:.1f}{unit}"
    return f"{s:.0f}s"


def _ramp(t: float, *, hot: bool) -> str:
    """A colour from pale to strong: blue for frequency, orange-red for time."""
    t = max(0.0, min(1.0, t))
    lo, hi = ((222, 235, 247), (8, 69, 148)) if not hot else ((254, 224, 180), (179, 0, 0))
    r, g, b = (round(lo[i] + (hi[i] - lo[i]) * t) for i in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def simplify(
    process_map: ProcessMap | dict[str, Any], *, activities: float = 1.0, paths: float = 1.0
) -> dict[str, Any]:
    """The map with the least frequent activities and paths left out (see the module docs)."""
    for name, v in (("activities", activities), ("paths", paths)):
        if not 0 <= v <= 1:
            raise MapError(f"{name} must be between 0 and 1, got {v}", hint=f"e.g. {name}=0.5 keeps the busiest half")
    nodes = sorted(process_map["nodes"], key=lambda n: (-n["events"], n["activity"]))
    keep_n = max(1, math.ceil(activities * len(nodes))) if nodes else 0
    kept_nodes = nodes[:keep_n]
    names = {n["activity"] for n in kept_nodes}
    edges = sorted(
        (e for e in process_map["edges"] if e["source"] in names and e["target"] in names),
        key=lambda e: (-e["frequency"], e["source"], e["target"]),
    )
    keep_e = math.ceil(paths * len(edges))
    chosen = {(e["source"], e["target"]) for e in edges[:keep_e]}
    best_in: dict[str, tuple[str, str]] = {}
    best_out: dict[str, tuple[str, str]] = {}
    for e in edges:  # most frequent first: the first seen is the best (a self-loop connects nothing)
        if e["source"] == e["target"]:
            continue
        best_out.setdefault(e["source"], (e["source"], e["target"]))
        best_in.setdefault(e["target"], (e["source"], e["target"]))
    starts = {a: n for a, n in process_map["start_activities"].items() if a in names}
    ends = {a: n for a, n in process_map["end_activities"].items() if a in names}
    for n in names:
        if n not in starts and n in best_in:
            chosen.add(best_in[n])
        if n not in ends and n in best_out:
            chosen.add(best_out[n])
    return {
        "nodes": kept_nodes,
        "edges": [e for e in edges if (e["source"], e["target"]) in chosen],
        "start_activities": starts,
        "end_activities": ends,
    }


def to_dot(process_map: ProcessMap | dict[str, Any], *, color: str = "frequency", title: str | None = None) -> str:
    """The DOT text for a (simplified) map."""
    if color not in ("frequency", "performance"):
        raise MapError(f"--color {color!r} is not a view", hint="use frequency or performance")
    nodes, edges = process_map["nodes"], process_map["edges"]
    max_events = max((n["events"] for n in nodes), default=1) or 1
    max_freq = max((e["frequency"] for e in edges), default=1) or 1
    times = [math.log1p(float(e["mean_seconds"] or 0)) for e in edges if e.get("mean_seconds")]
    lo_t, span_t = (min(times), (max(times) - min(times)) or 1.0) if times else (0.0, 1.0)
    lines = [
        "digraph map {",
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.45, bgcolor="white", fontname="Helvetica", pad=0.2'
        + (f", label={_q(title)}, labelloc=t, fontsize=16" if title else "")
        + "];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, penwidth=1, color="#2b4c7e"];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        f'  {_q(START)} [shape=circle, label="", width=0.3, style=filled, fillcolor="#3c8d40", color="#3c8d40"];',
        f'  {_q(END)} [shape=doublecircle, label="", width=0.22, style=filled, fillcolor="#555555", color="#555555"];',
    ]
    for n in nodes:
        t = math.log1p(n["events"]) / math.log1p(max_events)
        fill = _ramp(0.15 + 0.7 * t, hot=False) if color == "frequency" else "#f4f6fa"
        font = "white" if color == "frequency" and t > 0.6 else "black"
        label = f"{n['activity']}\n{n['events']:,}"
        lines.append(f"  {_q(n['activity'])} [label={_q(label)}, fillcolor={_q(fill)}, fontcolor={_q(font)}];")
    for e in edges:
        width = 0.8 + 5 * e["frequency"] / max_freq
        if color == "frequency":
            shade, label = _ramp(0.3 + 0.7 * e["frequency"] / max_freq, hot=False), f"{e['frequency']:,}"
        else:
            secs = e.get("mean_seconds") or 0.0
            shade, label = _ramp(0.1 + 0.9 * (math.log1p(secs) - lo_t) / span_t, hot=True), _fmt_time(secs)
        lines.append(
            f"  {_q(e['source'])} -> {_q(e['target'])} [label={_q(' ' + label)}, penwidth={width:.2f}, "
            f"color={_q(shade)}, fontcolor={_q('#333333')}];"
        )
    for a, n in process_map["start_activities"].items():
        lines.append(f'  {_q(START)} -> {_q(a)} [label={_q(" " + format(n, ","))}, style=dashed, color="#3c8d40"];')
    for a, n in process_map["end_activities"].items():
        lines.append(f'  {_q(a)} -> {_q(END)} [label={_q(" " + format(n, ","))}, style=dashed, color="#777777"];')
    lines.append("}")
    return "\n".join(lines)


def render_svg(
    process_map: ProcessMap | dict[str, Any],
    *,
    color: str = "frequency",
    min_frequency: int = 1,
    top_edges: int | None = None,
    activities: float = 1.0,
    paths: float = 1.0,
    title: str | None = None,
) -> str:
    """SVG text for a :func:`~conveyor.mining.process_map` result, laid out by Graphviz ``dot``.

    ``activities`` and ``paths`` are the Disco-style sliders (see :func:`simplify`);
    ``min_frequency`` and ``top_edges`` drop rare edges before that.
    """
    edges = [e for e in process_map["edges"] if e["frequency"] >= min_frequency]
    if top_edges is not None:
        edges = sorted(edges, key=lambda e: -e["frequency"])[:top_edges]
    pm = simplify({**process_map, "edges": edges}, activities=activities, paths=paths)
    return run_dot(to_dot(pm, color=color, title=title))


def run_dot(dot: str) -> str:
    """Graphviz's SVG for ``dot`` text (without the XML prologue, ready to inline in HTML)."""
    exe = shutil.which("dot")
    if exe is None:
        raise MapError(
            "Graphviz is not installed: process maps are laid out by its `dot` program",
            hint="install it: `apt-get install graphviz` (Debian/Ubuntu; `make install` does it), "
            "`brew install graphviz` (macOS)",
        )
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise MapError(
            "Graphviz took more than 2 minutes to lay out the map", hint="simplify it: fewer paths"
        ) from None
    if done.returncode != 0:
        raise MapError(f"Graphviz failed: {done.stderr.decode(errors='replace').strip()[:300]}")
    svg = done.stdout.decode()
    return svg[svg.index("<svg") :]
