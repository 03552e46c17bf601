"""Draw a process map as a self-contained SVG: no Graphviz, no network, no JavaScript.

Layout is layered, top to bottom: an activity's layer is its distance from the start along the
most frequent paths (breadth first), activities within a layer are ordered by the barycentre of
their neighbours (a few sweeps down and up, as Sugiyama-style layouts do), forward edges are
curves between layers and backward edges (loops, rework) arc around the right-hand side.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import Any
from xml.sax.saxutils import escape

from conveyor.mining.results import ProcessMap

__all__ = ["render_svg"]

START, END = "▶ start", "■ end"
_LAYER_GAP = 110
_NODE_H = 44
_GAP_X = 40
_CHAR_W = 7.2


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
    lo, hi = ((222, 235, 247), (8, 69, 148)) if not hot else ((254, 232, 200), (179, 0, 0))
    r, g, b = (round(lo[i] + (hi[i] - lo[i]) * t) for i in range(3))
    return f"rgb({r},{g},{b})"


def _layers(nodes: list[str], edges: list[tuple[str, str, int]]) -> dict[str, int]:
    out: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for a, b, f in edges:
        out[a].append((f, b))
    rank = {START: 0}
    queue = deque([START])
    while queue:
        a = queue.popleft()
        for _, b in sorted(out[a], key=lambda x: (-x[0], x[1])):
            if b not in rank:
                rank[b] = rank[a] + 1
                queue.append(b)
    deepest = max(rank.values(), default=0)
    for n in nodes:
        rank.setdefault(n, deepest + 1)  # unreachable from the start (filtered views): put last
    rank[END] = max(r for n, r in rank.items() if n != END) + 1
    return rank


def _order(rank: dict[str, int], edges: list[tuple[str, str, int]]) -> dict[int, list[str]]:
    layers: dict[int, list[str]] = defaultdict(list)
    for n, r in sorted(rank.items(), key=lambda x: (x[1], x[0])):
        layers[r].append(n)
    nbrs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for a, b, f in edges:
        if a != b:
            nbrs[a].append((b, f))
            nbrs[b].append((a, f))
    for sweep in range(6):
        order = range(1, len(layers)) if sweep % 2 == 0 else range(len(layers) - 2, -1, -1)
        for r in order:
            ref = r - 1 if sweep % 2 == 0 else r + 1
            pos = {n: i for i, n in enumerate(layers.get(ref, []))}

            def centre(n: str, pos: dict[str, int] = pos) -> float:
                pts = [(pos[m], f) for m, f in nbrs[n] if m in pos]
                total = sum(f for _, f in pts)
                return sum(p * f for p, f in pts) / total if total else math.inf

            current = {n: i for i, n in enumerate(layers[r])}
            layers[r].sort(key=lambda n: (centre(n) if centre(n) != math.inf else current[n], current[n]))
    return layers


def render_svg(
    process_map: ProcessMap | dict[str, Any],
    *,
    color: str = "frequency",
    min_frequency: int = 1,
    top_edges: int | None = None,
    title: str | None = None,
) -> str:
    """SVG text for a :func:`~conveyor.mining.process_map` result.

    ``color`` is ``frequency`` (node and edge shade by count) or ``performance`` (edges shaded and
    labelled by mean time). ``min_frequency`` and ``top_edges`` simplify a busy map.
    """
    if color not in ("frequency", "performance"):
        from conveyor.errors import ConveyorError

        raise ConveyorError(f"--color {color!r} is not a colouring", hint="use frequency or performance")
    edges_in = sorted(process_map["edges"], key=lambda e: -e["frequency"])
    kept = [e for e in edges_in if e["frequency"] >= min_frequency]
    if top_edges is not None:
        kept = kept[:top_edges]
    events = {n["activity"]: n["events"] for n in process_map["nodes"]}
    used = {e["source"] for e in kept} | {e["target"] for e in kept}
    used |= set(process_map["start_activities"]) | set(process_map["end_activities"])
    nodes = [n for n in events if n in used]
    graph = [(e["source"], e["target"], e["frequency"]) for e in kept]
    graph += [(START, a, n) for a, n in process_map["start_activities"].items()]
    graph += [(a, END, n) for a, n in process_map["end_activities"].items()]
    rank = _layers(nodes, graph)
    layers = _order(rank, graph)

    width_of = {n: max(120.0, _CHAR_W * len(n) + 28) for n in [*nodes, START, END]}
    widest = max(sum(width_of[n] for n in layer) + _GAP_X * (len(layer) - 1) for layer in layers.values())
    canvas_w = widest + 260
    xy: dict[str, tuple[float, float]] = {}
    for r, layer in layers.items():
        row_w = sum(width_of[n] for n in layer) + _GAP_X * (len(layer) - 1)
        x = (widest - row_w) / 2 + 40
        for n in layer:
            xy[n] = (x + width_of[n] / 2, 60 + r * _LAYER_GAP)
            x += width_of[n] + _GAP_X
    canvas_h = 60 + (max(layers) + 1) * _LAYER_GAP

    max_f = max((f for _, _, f in graph), default=1)
    max_events = max(events.values(), default=1)
    times = [e["mean_seconds"] for e in kept if e["mean_seconds"] is not None]
    max_t = max(times, default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{canvas_w:.0f}" height="{canvas_h:.0f}" '
        f'viewBox="0 0 {canvas_w:.0f} {canvas_h:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    if title:
        parts.append(f'<text x="16" y="24" font-size="15" font-weight="bold">{escape(title)}</text>')
    side = widest + 60
    for i, (a, b, f) in enumerate(graph):
        (x1, y1), (x2, y2) = xy[a], xy[b]
        edge = next((e for e in kept if e["source"] == a and e["target"] == b), None)
        mean = edge["mean_seconds"] if edge else None
        stroke = _ramp(f / max_f, hot=False) if color == "frequency" or mean is None else _ramp(mean / max_t, hot=True)
        width = 1 + 5 * math.log1p(f) / math.log1p(max_f)
        label = f"{f:,}" if color == "frequency" or mean is None else _fmt_time(mean)
        if a == b:
            x, y = x1 + width_of[a] / 2, y1
            d = f"M {x:.1f} {y - 8:.1f} C {x + 45:.1f} {y - 30:.1f}, {x + 45:.1f} {y + 30:.1f}, {x:.1f} {y + 8:.1f}"
            lx, ly = x + 40, y + 4
        elif rank[b] > rank[a]:
            y1s, y2s = y1 + _NODE_H / 2, y2 - _NODE_H / 2
            mid = (y1s + y2s) / 2
            d = f"M {x1:.1f} {y1s:.1f} C {x1:.1f} {mid:.1f}, {x2:.1f} {mid:.1f}, {x2:.1f} {y2s:.1f}"
            lx, ly = (x1 + x2) / 2 + 4, mid - 2
        elif rank[b] == rank[a]:  # same layer: straight across between the facing sides
            direction = 1 if x2 > x1 else -1
            xs, xe = x1 + direction * width_of[a] / 2, x2 - direction * width_of[b] / 2
            d = f"M {xs:.1f} {y1 + 6:.1f} L {xe:.1f} {y2 + 6:.1f}"
            lx, ly = (xs + xe) / 2 - 8, y1 - 2
        else:  # backward: arc round the right-hand side
            bend = side + 18 * (i % 6)
            xs, xe = x1 + width_of[a] / 2, x2 + width_of[b] / 2
            d = f"M {xs:.1f} {y1:.1f} C {bend:.1f} {y1:.1f}, {bend:.1f} {y2:.1f}, {xe:.1f} {y2:.1f}"
            lx, ly = bend - 10, (y1 + y2) / 2
        parts.append(
            f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width:.2f}" marker-end="url(#arrow)">'
            f"<title>{escape(a)} → {escape(b)}: {f:,} times"
            + (f", mean {_fmt_time(mean)}" if mean is not None else "")
            + "</title></path>"
        )
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" fill="#333" font-size="10">{escape(label)}</text>')
    for n, (x, y) in xy.items():
        w = width_of[n]
        if n in (START, END):
            fill, ink, text = "#f2f2f2", "#333", n
        else:
            share = events.get(n, 0) / max_events
            fill = _ramp(share, hot=False) if color == "frequency" else "#fdfdfd"
            ink = "white" if color == "frequency" and share > 0.55 else "#111"
            text = n
        parts.append(
            f'<g><rect x="{x - w / 2:.1f}" y="{y - _NODE_H / 2:.1f}" width="{w:.1f}" height="{_NODE_H}" rx="8" '
            f'fill="{fill}" stroke="#444"/>'
            f'<text x="{x:.1f}" y="{y - 3:.1f}" text-anchor="middle" fill="{ink}" font-weight="bold">{escape(text)}</text>'
        )
        if n in events:
            parts.append(f'<text x="{x:.1f}" y="{y + 13:.1f}" text-anchor="middle" fill="{ink}">{events[n]:,}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
