"""Unusual points in a KPI's series, robust to trend, seasonality and the outliers themselves.

The method (documented, no fitted model to go wrong on 20 points):

1. **Trend**: a centred running median (window 5 points, or one season when seasons are
   estimated): a few outliers do not move a median, so they stand out from it.
2. **Seasonality**: when the series holds at least two full seasons (104 weeks, 24 months), the
   median of the detrended values at each position in the season is removed too.
3. **Score**: the modified z-score of each residual, ``0.6745 · (r − median) / MAD``
   (Iglewicz and Hoaglin, 1993); a point scoring above 3.5 is an anomaly. With a MAD of zero
   (most residuals equal) the mean absolute deviation stands in; with no spread at all nothing is
   flagged.

Partial periods (the first and last, usually) and periods with fewer than 5 cases are not judged.
Threshold alerts against targets are the KPI's own (see conveyor.metrics.kpis).

>>> pts = [{"period": str(i), "value": v, "n": 50, "full": True} for i, v in enumerate([10, 11, 10, 12, 11, 10, 40, 11, 10, 12])]
>>> [a["period"] for a in detect(pts)]
['6']
"""

from __future__ import annotations

from statistics import median
from typing import Any

__all__ = ["THRESHOLD", "detect"]

THRESHOLD = 3.5
MIN_CASES = 5
MIN_POINTS = 7


def _running_median(xs: list[float], window: int) -> list[float]:
    half = window // 2
    return [median(xs[max(0, i - half) : i + half + 1]) for i in range(len(xs))]


def detect(trend: list[dict[str, Any]], *, season: int | None = None) -> list[dict[str, Any]]:
    """Anomalous points of ``trend`` (dicts with period, value, n, full); marks each point's
    ``anomaly`` and returns ``period, value, expected, score, direction`` per anomaly."""
    for t in trend:
        t["anomaly"] = False
    pts = [t for t in trend if t.get("full", True) and t["value"] is not None and t.get("n", MIN_CASES) >= MIN_CASES]
    if len(pts) < MIN_POINTS:
        return []
    xs = [float(t["value"]) for t in pts]
    seasonal = season is not None and season >= 2 and len(xs) >= 2 * season
    level = _running_median(xs, season if seasonal and season else 5)
    detrended = [x - lv for x, lv in zip(xs, level, strict=True)]
    if seasonal and season:
        pos_median = [median(detrended[i::season]) for i in range(season)]
        expected = [lv + pos_median[i % season] for i, lv in enumerate(level)]
    else:
        expected = level
    resid = [x - e for x, e in zip(xs, expected, strict=True)]
    centre = median(resid)
    mad = median(abs(r - centre) for r in resid)
    scale = mad / 0.6745 if mad > 0 else 1.2533 * sum(abs(r - centre) for r in resid) / len(resid)
    if scale <= 1e-12 * max(1.0, *(abs(x) for x in xs)):
        return []
    out = []
    for t, x, e, r in zip(pts, xs, expected, resid, strict=True):
        score = (r - centre) / scale
        if abs(score) > THRESHOLD:
            t["anomaly"] = True
            out.append(
                {
                    "period": t["period"],
                    "value": x,
                    "expected": e,
                    "score": round(score, 2),
                    "direction": "high" if score > 0 else "low",
                }
            )
    return out
