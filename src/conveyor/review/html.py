"""The review as one self-contained HTML file (Plotly's JavaScript inlined: it works from ``file://``
with no network), and as PDF through headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.metrics.units import human, pct, show

__all__ = [
    "ReportError",
    "automation_figures",
    "chart_json",
    "environment",
    "model_figures",
    "planning_figures",
    "plotly_js",
    "render_html",
    "write_pdf",
]

STATUS_LABEL = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_target": "no target",
    "no_data": "no data",
}


class ReportError(ConveyorError, RuntimeError):
    """The report cannot be written (no Chromium for the PDF, a folder that does not exist...)."""


@cache
def plotly_js() -> str:
    """Plotly's minified JavaScript, from the plotly wheel (no CDN)."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def chart_json(kpi: dict[str, Any]) -> str:
    """A Plotly figure (data and layout) for one KPI's trend: the series, its target, its anomalies."""
    full = [t for t in kpi["trend"] if t["value"] is not None and t["full"]]
    pts = full or [t for t in kpi["trend"] if t["value"] is not None]
    scale = {"seconds": 86400.0, "share": 0.01}.get(kpi["unit"], 1.0)
    unit = {"seconds": "days", "share": "%"}.get(kpi["unit"], kpi["unit"])
    xs = [t["period"] for t in pts]
    ys = [t["value"] / scale for t in pts]
    data: list[dict[str, Any]] = [
        {
            "x": xs,
            "y": ys,
            "type": "scatter",
            "mode": "lines",
            "name": kpi["label"],
            "line": {"color": "#2b4c7e", "width": 2},
            "hovertemplate": "%{x}: %{y:.3~f} " + unit + "<extra></extra>",
        }
    ]
    partial = [(t["period"], t["value"] / scale) for t in pts if not t["full"]]
    if partial:
        data.append(
            {
                "x": [p for p, _ in partial],
                "y": [v for _, v in partial],
                "type": "scatter",
                "mode": "markers",
                "name": "partial period",
                "marker": {"color": "#bbbbbb", "size": 5},
                "hoverinfo": "skip",
            }
        )
    if kpi["target"] is not None and xs:
        data.append(
            {
                "x": [xs[0], xs[-1]],
                "y": [kpi["target"] / scale] * 2,
                "type": "scatter",
                "mode": "lines",
                "name": "target",
                "line": {"color": "#3c8d40", "dash": "dash", "width": 1.5},
            }
        )
    if kpi["anomalies"]:
        data.append(
            {
                "x": [a["period"] for a in kpi["anomalies"]],
                "y": [a["value"] / scale for a in kpi["anomalies"]],
                "type": "scatter",
                "mode": "markers",
                "name": "anomaly",
                "marker": {"color": "#c0392b", "size": 9, "symbol": "circle-open", "line": {"width": 2}},
            }
        )
    layout = {
        "height": 170,
        "margin": {"l": 44, "r": 8, "t": 6, "b": 26},
        "showlegend": False,
        "xaxis": {"type": "date", "tickfont": {"size": 9}},
        "yaxis": {"title": {"text": unit, "font": {"size": 9}}, "tickfont": {"size": 9}, "rangemode": "tozero"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#fbfbfd",
    }
    return json.dumps({"data": data, "layout": layout}).replace("</", "<\\/")


def automation_figures(m: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An automation's charts (Plotly figures) from its monitoring: decisions a week stacked by
    tier, and accuracy a week against people's answers."""
    weeks = m["weekly"]
    days = [w["day"] for w in weeks]
    margin = {"l": 40, "r": 10, "t": 10, "b": 30}
    volume = {
        "data": [
            {"type": "bar", "name": tier, "x": days, "y": [w[tier] for w in weeks], "marker": {"color": color}}
            for tier, color in (("auto", "#2e7d32"), ("suggest", "#b26a00"), ("human", "#5f6b7a"))
        ],
        "layout": {"barmode": "stack", "height": 210, "margin": margin, "legend": {"orientation": "h", "y": 1.2}},
    }
    accuracy = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "accuracy",
                "x": days,
                "y": [round(w["correct"] / w["answered"], 3) if w["answered"] else None for w in weeks],
                "connectgaps": True,
            }
        ],
        "layout": {"height": 210, "margin": margin, "yaxis": {"range": [0, 1.05], "tickformat": ".0%"}},
    }
    return {"volume": volume, "accuracy": accuracy}


def _forecast_figure(series: dict[str, Any], period: str) -> dict[str, Any]:
    hist = series.get("history") or []
    fc = series["forecast"]
    xs = [p["date"] for p in fc]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "actual",
            "x": [h["date"] for h in hist],
            "y": [h["value"] for h in hist],
            "line": {"color": "#1f4e79"},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "80% low",
            "x": xs,
            "y": [p["lo_80"] for p in fc],
            "line": {"width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "80% interval",
            "x": xs,
            "y": [p["hi_80"] for p in fc],
            "fill": "tonexty",
            "fillcolor": "rgba(178,106,0,0.18)",
            "line": {"width": 0},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "forecast",
            "x": xs,
            "y": [p["mean"] for p in fc],
            "line": {"color": "#b26a00", "dash": "dot"},
        },
    ]
    layout = {
        "height": 220,
        "margin": {"l": 48, "r": 8, "t": 8, "b": 28},
        "legend": {"orientation": "h", "y": 1.18, "font": {"size": 10}},
        "xaxis": {"type": "date", "tickfont": {"size": 9}},
        "yaxis": {
            "tickfont": {"size": 9},
            "rangemode": "tozero",
            "title": {"text": f"per {period}", "font": {"size": 9}},
        },
    }
    return {"data": data, "layout": layout}


def planning_figures(overview: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Charts for the planning page and review: each forecast series (actuals, forecast, 80%
    band), each staffing plan (agents per hour of the week by segment), each scenario's tornado."""
    out: dict[str, dict[str, Any]] = {}
    for f in overview["forecasts"]:
        for i, series in enumerate(f["series"]):
            out[f"fc-{f['name']}-{i}"] = _forecast_figure(series, f["period"])
    for p in overview["plans"]:
        segs = p["segments"]
        labels = [f"{h['day']} {h['hour']:02d}" for h in segs[0]["hours"]] if segs else []
        out[f"plan-{p['name']}"] = {
            "data": [
                {
                    "type": "heatmap",
                    "x": labels,
                    "y": [s["segment"] for s in segs],
                    "z": [[h["agents_with_shrinkage"] for h in s["hours"]] for s in segs],
                    "colorscale": "YlOrBr",
                    "colorbar": {"title": {"text": "agents"}, "thickness": 10},
                }
            ],
            "layout": {
                "height": 60 + 34 * len(segs),
                "margin": {"l": 110, "r": 8, "t": 8, "b": 40},
                "xaxis": {"tickfont": {"size": 9}, "nticks": 14},
                "yaxis": {"tickfont": {"size": 10}},
            },
        }
    for sc in overview["scenarios"]:
        base = sc["as_is"]["cycle_time_median"] / 86400
        rows = list(reversed(sc["tornado"]))
        out[f"tornado-{sc['saved_as']}"] = {
            "data": [
                _tornado_side(rows, side, name, colour, base)
                for side, name, colour in ((0, "low", "#2e7d32"), (1, "high", "#c62828"))
            ],
            "layout": {
                # side by side: a driver's low and high often move the KPI the same way (overlaid,
                # the longer bar hid the shorter)
                "barmode": "group",
                "height": 80 + 36 * len(rows),
                "margin": {"l": 160, "r": 8, "t": 8, "b": 34},
                "xaxis": {
                    "title": {"text": "median cycle time vs as-is (days)", "font": {"size": 10}},
                    "zeroline": True,
                },
                "legend": {"orientation": "h", "y": 1.2},
            },
        }
    return out


def _tornado_side(rows: list[dict[str, Any]], side: int, name: str, colour: str, base: float) -> dict[str, Any]:
    """One side (low or high) of a scenario's tornado: each driver's change of the median cycle
    time in days, with its 95% interval paired by seed as an error bar; a bar within the noise
    (its interval holds 0) is drawn faint. Scenarios saved before 2026-12-07 have no intervals."""
    ivs = [(t.get("cycle_time_median_change_intervals") or [None, None])[side] for t in rows]
    noise = [(t.get("within_noise") or [False, False])[side] for t in rows]
    trace: dict[str, Any] = {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "y": [t["driver"] for t in rows],
        "x": [t["cycle_time_median"][side] / 86400 - base for t in rows],
        "marker": {"color": colour, "opacity": [0.3 if n else 1.0 for n in noise]},
        "hovertemplate": "%{y}: %{x:+.3f} d<extra>" + name + "</extra>",
    }
    if any(iv is not None for iv in ivs):
        trace["error_x"] = {
            "type": "data",
            "array": [(iv[1] - iv[0]) / 2 * base if iv else 0 for iv in ivs],
            "color": "#555",
            "thickness": 1,
        }
    return trace


@cache
def environment() -> Any:
    """The Jinja2 environment for the report and the dashboard's pages (autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.PackageLoader("conveyor.review", "templates"), jinja2.PackageLoader("conveyor.web", "templates")]
        ),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(human=human, pct=pct, show=show, chart=chart_json, status=lambda s: STATUS_LABEL.get(s, s))
    env.filters["money"] = lambda v: f"{v:,.0f}"
    return env


def model_figures(cards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per trained model: its precision-coverage curve (held out) and the confusion between its
    largest labels (rows: the right label; columns: what it said)."""
    out: dict[str, dict[str, Any]] = {}
    for c in cards:
        m = c.get("metrics") or {}
        curve = m.get("curve") or []
        if curve:
            out[f"curve-{c['name']}"] = {
                "data": [
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "x": [p["coverage"] for p in curve],
                        "y": [p["precision"] for p in curve],
                        "text": [f"confidence >= {p['threshold']:.2f}" for p in curve],
                        "hovertemplate": "%{x:.0%} of tickets at %{y:.1%} precision (%{text})<extra></extra>",
                        "line": {"color": "#2b6cb0"},
                    }
                ],
                "layout": {
                    "height": 260,
                    "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
                    "xaxis": {
                        "title": {"text": "share decided alone (most confident first)"},
                        "tickformat": ".0%",
                        "range": [0, 1.02],
                    },
                    "yaxis": {"title": {"text": "precision"}, "tickformat": ".0%"},
                    "shapes": [
                        {
                            "type": "line",
                            "x0": 0,
                            "x1": 1,
                            "y0": 0.9,
                            "y1": 0.9,
                            "line": {"dash": "dot", "color": "#999", "width": 1},
                        }
                    ],
                },
            }
        per = (m.get("per_label") or [])[:12]
        if per:
            names = [r["label"] for r in per]
            conf = m.get("confusion") or {}
            z = [
                [
                    round(r["recall"] * r["support"]) if r["label"] == p else conf.get(r["label"], {}).get(p, 0)
                    for p in names
                ]
                for r in per
            ]
            out[f"confusion-{c['name']}"] = {
                "data": [
                    {
                        "type": "heatmap",
                        "x": names,
                        "y": names,
                        "z": z,
                        "colorscale": "Blues",
                        "reversescale": True,
                        "hovertemplate": "right: %{y}<br>said: %{x}<br>%{z} tickets<extra></extra>",
                        "colorbar": {"thickness": 10},
                    }
                ],
                "layout": {
                    "height": 120 + 22 * len(names),
                    "margin": {"l": 110, "r": 8, "t": 8, "b": 90},
                    "xaxis": {"title": {"text": "the model said"}, "type": "category", "tickfont": {"size": 10}},
                    "yaxis": {
                        "title": {"text": "right label"},
                        "type": "category",
                        "autorange": "reversed",
                        "tickfont": {"size": 10},
                    },
                },
            }
    return out


def render_html(review: dict[str, Any]) -> str:
    """The report's HTML (one file, everything inlined)."""
    charts = {
        **(planning_figures(review["planning"]) if review.get("planning") else {}),
        **model_figures(review.get("models") or []),
    }
    figs = {k: json.dumps(v).replace("</", "<\\/") for k, v in charts.items()}
    return str(
        environment()
        .get_template("report.html.j2")
        .render(
            r=review,
            plotly_js=plotly_js(),
            pl=review.get("planning"),
            models=review.get("models"),
            live=review.get("live"),
            risks=review.get("risks"),
            figs=figs,
        )
    )


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise ReportError(
            "the PDF is printed by headless Chromium, which is not installed",
            hint="install it: `apt-get install chromium` (`make install` does it), or write only the HTML",
        )
    return exe


#: Flags for a headless Chromium that never reaches for the network (the machine may have none).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
]


def write_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the report to PDF with headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="conveyor-chromium-") as profile:
        cmd = [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=10000",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    if done.returncode != 0 or not pdf_path.is_file():
        raise ReportError(f"Chromium could not print {html_path} to PDF: {done.stderr.decode(errors='replace')[-300:]}")
