"""Forecasts with prediction intervals, the model per series chosen by rolling-origin
cross-validation, and hierarchical reconciliation so the levels add up.

The models come from statsforecast (seasonal naive, AutoETS, AutoTheta, AutoARIMA, MSTL, and
Croston / ADIDA / IMAPA for intermittent demand); reconciliation from hierarchicalforecast. What
this module adds is the honest part:

- **Rolling origin.** Each series is cut at ``windows`` origins ``horizon`` periods apart; every
  candidate forecasts the ``horizon`` periods after each origin from the data before it.
- **Selection measured as it is used.** The figure reported for a series is not the best
  candidate's error on the windows it was picked on (that flatters it): for each window from the
  second on, the candidate with the lowest error on the *earlier* windows is the one scored. The
  model finally used for the future is the best on all windows.
- **MASE** scales each window's mean absolute error by the in-sample mean absolute seasonal
  difference of the data before its origin (Hyndman and Koehler), per series; the seasonal naive
  forecast is scored on the same windows, so ``mase / mase_seasonal_naive`` says how much better
  than the simplest honest baseline the forecast is.
- **Each choice leans on the panel.** A series has only a few windows to choose on, so its
  own errors are noisy: a model's score for a series is its mean MASE there, shrunk towards the
  model's mean MASE over every series on the same (earlier) windows, the panel weighing as much
  as ``PANEL_WEIGHT`` windows of the series' own. Series that behave unlike the rest still get
  their own model once their own windows say so clearly.
- **Intervals checked on the windows.** A model whose 80% intervals covered outside 75-85% of the
  panel's held-out actuals on the earlier windows has its intervals' half-widths rescaled to cover
  80% there (MSTL's, for one, leave out the uncertainty of the season it removed); each scored
  window uses only the windows before it, the future all of them (``interval_scale``).
- **coverage_80** is the share of held-out actuals inside the scored forecasts' 80% intervals.

Series are indexed by period number (day, week from the earliest date, month, quarter), so any
weekday anchor or month start works and periods with no row count as zero.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from conveyor.data.quoting import quote
from conveyor.data.store import Store
from conveyor.planning import boosting
from conveyor.planning.boosting import NAME as GLOBAL
from conveyor.planning.staffing import PlanningError

__all__ = ["FREQS", "Panel", "forecast", "panel_from_rows", "panel_from_stream", "panel_from_table"]

#: frequency code -> (name, season length)
FREQS: dict[str, tuple[str, int]] = {"D": ("day", 7), "W": ("week", 52), "M": ("month", 12), "Q": ("quarter", 4)}
LEVEL = 80
#: the combination candidate: the mean of these models' forecasts and bounds, when two or more run
ENSEMBLE = ("AutoETS", "AutoTheta", "AutoARIMA", "MSTL", GLOBAL)
#: the global model's forecast columns, as statsforecast names a model's
_GLOBAL_COLUMNS = [GLOBAL, f"{GLOBAL}-lo-{LEVEL}", f"{GLOBAL}-hi-{LEVEL}"]
#: How many of a series' own windows the panel's errors count as when choosing its model
#: (measured on Walmart and Australian retail: 0.686 / 0.946 / 0.879 / 0.792 of the seasonal
#: naive's MASE with each series on its own, 0.679 / 0.897 / 0.875 / 0.752 with the panel at 4).
PANEL_WEIGHT = 4.0
#: a model's intervals are rescaled only when on the panel's earlier windows they covered outside
#: this range, and only from this many held-out points or more
COVERAGE_BAND = (0.75, 0.85)
CALIBRATION_POINTS = 40
#: the most recent history models are fitted on, per frequency: older data slows fitting down
#: (an ETS search is linear in it, an ARIMA search worse) and rarely describes today's pattern
MAX_HISTORY = {"D": 3 * 365, "W": 4 * 52, "M": 10 * 12, "Q": 10 * 4}
EPOCH = date(1970, 1, 1)
Progress = Callable[[str, float], None]


@dataclass
class Panel:
    """Series on an integer period index: ``values[key]`` is a float array from period
    ``starts[key]`` on, ``ids[key]`` the id columns' values."""

    freq: str
    origin: date  # period 0 of a weekly index; unused otherwise
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    id_columns: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    def to_date(self, period: int) -> date:
        if self.freq == "D":
            return EPOCH + timedelta(days=period)
        if self.freq == "W":
            return self.origin + timedelta(days=7 * period)
        per_year = 12 if self.freq == "M" else 4
        year, k = divmod(period, per_year)
        return date(year, k * (12 // per_year) + 1, 1)

    def period(self, day: date) -> int:
        if self.freq == "D":
            return (day - EPOCH).days
        if self.freq == "W":
            return (day - self.origin).days // 7
        if self.freq == "M":
            return day.year * 12 + day.month - 1
        return day.year * 4 + (day.month - 1) // 3


def panel_from_rows(
    rows: list[tuple[Any, ...]],
    *,
    id_columns: list[str],
    freq: str,
    source: dict[str, Any] | None = None,
    monday_weeks: bool = False,
) -> Panel:
    """A panel from ``(id values..., date, value)`` rows (several rows of one period add up;
    periods with no row between a series' first and last are zero)."""
    if freq not in FREQS:
        raise PlanningError(
            f"--freq: unknown frequency {freq!r}", hint="one of D (day), W (week), M (month), Q (quarter)"
        )
    dated = [r for r in rows if r[-2] is not None and r[-1] is not None]
    if not dated:
        raise PlanningError("no rows with both a date and a value to forecast", hint="check --date and --value")
    origin = min(_as_date(r[-2]) for r in dated)
    if monday_weeks:
        origin -= timedelta(days=origin.weekday())
    panel = Panel(freq=freq, origin=origin, id_columns=list(id_columns), source=dict(source or {}))
    sums: dict[str, dict[int, float]] = {}
    n = len(id_columns)
    for r in dated:
        key = "/".join(str(v) for v in r[:n]) if n else "all"
        panel.ids.setdefault(key, dict(zip(id_columns, r[:n], strict=True)))
        p = panel.period(_as_date(r[-2]))
        bucket = sums.setdefault(key, {})
        bucket[p] = bucket.get(p, 0.0) + float(r[-1])
    for key in sorted(sums):
        periods = sums[key]
        first, last = min(periods), max(periods)
        arr = np.zeros(last - first + 1)
        for p, v in periods.items():
            arr[p - first] = v
        panel.starts[key] = first
        panel.values[key] = arr
    return panel


def _as_date(value: Any) -> date:
    out: date = value.date() if hasattr(value, "date") and callable(value.date) else value
    return out


def panel_from_table(
    store: Store,
    *,
    ids: list[str],
    date_column: str,
    value: str,
    dataset: str | None = None,
    file: str | None = None,
    freq: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """Series from a workspace dataset or a CSV/Parquet file, summed per id and period."""
    from conveyor.data.series import dated_relation, infer_freq

    rel, date_sql = dated_relation(
        store, ids=ids, date_column=date_column, value=value, dataset=dataset, file=file, date_format=date_format
    )
    freq = (freq or infer_freq(store, rel, date_sql)).upper()
    sel = "".join(f"CAST({quote(c)} AS VARCHAR), " for c in ids)
    rows = store.rows(
        f"SELECT {sel}{date_sql} AS d, sum(TRY_CAST({quote(value)} AS DOUBLE)) FROM {rel} GROUP BY ALL ORDER BY ALL"
    )
    return panel_from_rows(rows, id_columns=ids, freq=freq, source={"dataset": dataset} if dataset else {"file": file})


def panel_from_stream(
    engine: Any, stream: str, *, freq: str = "D", by: str | None = None, filters: Any = None
) -> Panel:
    """Cases started per period, per value of ``by`` (a case attribute) or overall."""
    from conveyor.metrics.workload import daily_arrivals

    rows = daily_arrivals(engine, stream, by=by, filters=filters)
    if not rows:
        raise PlanningError(f"stream {stream!r} has no cases to forecast (after the filters)")
    if by is None:
        panel = panel_from_rows(
            [r[1:] for r in rows], id_columns=[], freq=freq.upper(), source={"stream": stream}, monday_weeks=True
        )
    else:
        panel = panel_from_rows(
            [(r[0] if r[0] is not None else "(none)", *r[1:]) for r in rows],
            id_columns=[by],
            freq=freq.upper(),
            source={"stream": stream, "by": by},
            monday_weeks=True,
        )
    # a segment with no cases in the extract's last periods had none then: zeros to the end, so
    # every segment's forecast starts where the extract ends
    first, last = min(r[1] for r in rows), max(r[1] for r in rows)
    end = panel.period(last)
    for key, v in panel.values.items():
        short = end - (panel.starts[key] + len(v) - 1)
        if short > 0:
            panel.values[key] = np.concatenate([v, np.zeros(short)])
    # the extract's first and last weeks or months are partial: they would read as a dip
    head = panel.period(first) if panel.period(first - timedelta(days=1)) == panel.period(first) else None
    tail = panel.period(last) if panel.period(last + timedelta(days=1)) == panel.period(last) else None
    for key in list(panel.values):
        v, start = panel.values[key], panel.starts[key]
        if start == head:
            v, start = v[1:], start + 1
        if len(v) and start + len(v) - 1 == tail:
            v = v[:-1]
        if len(v) == 0:
            del panel.values[key], panel.starts[key], panel.ids[key]
        else:
            panel.values[key], panel.starts[key] = v, start
    if not panel.values:
        raise PlanningError(f"stream {stream!r} spans less than one whole {FREQS[panel.freq][0]}", hint="--freq D")
    return panel


# -- models ---------------------------------------------------------------------------------------


def _candidates(
    freq: str, season: int, *, intermittent: bool, longest: int, horizon: int, names: list[str] | None
) -> list[Any]:
    from statsforecast.models import (
        ADIDA,
        IMAPA,
        MSTL,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        CrostonOptimized,
        SeasonalNaive,
    )
    from statsforecast.utils import ConformalIntervals

    conformal = ConformalIntervals(h=horizon, n_windows=2)
    pool: dict[str, Callable[[], Any]] = {
        "SeasonalNaive": lambda: SeasonalNaive(season_length=season),
        "AutoETS": lambda: AutoETS(season_length=season),
        "AutoTheta": lambda: AutoTheta(season_length=season),
        # a seasonal ARIMA search over 52-week seasons takes minutes per series
        "AutoARIMA": lambda: AutoARIMA(season_length=season if season <= 12 else 1),
        "MSTL": lambda: MSTL(
            season_length=[7, 365] if freq == "D" else [season], trend_forecaster=AutoETS(model="ZZN")
        ),
        "CrostonOptimized": lambda: CrostonOptimized(prediction_intervals=conformal),
        "ADIDA": lambda: ADIDA(prediction_intervals=conformal),
        "IMAPA": lambda: IMAPA(prediction_intervals=conformal),
    }
    if names:
        unknown = [n for n in names if n not in pool and n != GLOBAL]
        if unknown:
            raise PlanningError(f"--models: unknown model {unknown[0]!r}", hint=f"models: {', '.join([*pool, GLOBAL])}")
        chosen = ["SeasonalNaive", *(n for n in names if n not in ("SeasonalNaive", GLOBAL))]
    else:
        chosen = ["SeasonalNaive", "AutoETS", "AutoTheta"]  # AutoARIMA on request: ~10x slower
        if freq == "D" and longest >= 2 * 365 + horizon:
            chosen.append("MSTL")
        elif season > 24 and longest >= 2 * season + horizon:
            # statsforecast's ETS drops seasons longer than 24 (a weekly year), so on weekly data it
            # forecasts flat through the holidays; MSTL (STL's season + ETS on the rest) is the
            # seasonal ETS there. Walmart, per store and per department: 0.679x -> 0.622x and
            # 0.897x -> 0.836x the seasonal naive's MASE.
            chosen = ["SeasonalNaive", "AutoTheta", "MSTL"]
        if intermittent:
            chosen += ["CrostonOptimized", "ADIDA", "IMAPA"]
    return [pool[n]() for n in chosen]


def _alias(model: Any) -> str:
    return str(getattr(model, "alias", type(model).__name__))


def _frame(panel: Panel, keys: list[str]) -> Any:
    import pandas as pd

    parts = []
    for k in keys:
        v = panel.values[k]
        parts.append(pd.DataFrame({"unique_id": k, "ds": np.arange(panel.starts[k], panel.starts[k] + len(v)), "y": v}))
    return pd.concat(parts, ignore_index=True)


def _statsforecast(models: list[Any]) -> Any:
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    return StatsForecast(models=models, freq=1, n_jobs=min(os.cpu_count() or 1, 4), fallback_model=Naive())


def _batches(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


# -- scoring --------------------------------------------------------------------------------------


def _scale(y: np.ndarray, upto: int, season: int) -> float:
    """In-sample mean absolute seasonal difference of y[:upto] (the naive lag when too short)."""
    train = y[:upto]
    lag = season if len(train) > season else 1
    if len(train) <= lag:
        return math.nan
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return scale if scale > 0 else math.nan


def _score(cv: Any, panel: Panel, names: list[str], season: int) -> dict[str, dict[str, Any]]:
    """Per series: ``{"mase": [windows x models], "inside": [windows x models] (share of points
    inside the 80% interval), "windows": [{cutoff, actual, scale, models: {name: (mean, lo, hi)}}]}``,
    windows in time order."""
    out: dict[str, dict[str, Any]] = {}
    for key, g in cv.groupby("unique_id", sort=False):
        y = panel.values[str(key)]
        start = panel.starts[str(key)]
        cutoffs = sorted(g["cutoff"].unique())
        mase = np.full((len(cutoffs), len(names)), np.nan)
        inside = np.full((len(cutoffs), len(names)), np.nan)
        kept: list[dict[str, Any]] = []
        for w, cut in enumerate(cutoffs):
            gw = g[g["cutoff"] == cut].sort_values("ds")
            actual = gw["y"].to_numpy(float)
            scale = _scale(y, int(cut) - start + 1, season)
            window: dict[str, Any] = {"cutoff": int(cut), "actual": actual, "scale": scale, "models": {}}
            for j, name in enumerate(names):
                pred = gw[name].to_numpy(float)
                mase[w, j] = np.mean(np.abs(actual - pred)) / scale
                lo, hi = f"{name}-lo-{LEVEL}", f"{name}-hi-{LEVEL}"
                if lo in gw:
                    bounds = gw[lo].to_numpy(float), gw[hi].to_numpy(float)
                    inside[w, j] = np.mean((actual >= bounds[0]) & (actual <= bounds[1]))
                else:
                    bounds = pred, pred
                window["models"][name] = (pred, *bounds)
            kept.append(window)
        out[str(key)] = {"mase": mase, "inside": inside, "windows": kept}
    return out


def _reach(actual: np.ndarray, mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per point, the multiple of the interval's half-width on its side of the mean that would
    just take the actual in (inf where the interval has no width there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(actual < mean, (mean - actual) / (mean - lo), (actual - mean) / (hi - mean))
    reach = np.where(actual == mean, 0.0, reach)
    return np.where(np.isnan(reach), np.inf, reach)


def _calibrate(scores: dict[str, dict[str, Any]], names: list[str]) -> dict[str, float]:
    """Rescale a model's interval half-widths where, over every series' earlier windows (counted
    back from the last, as the panel's errors are), they covered outside ``COVERAGE_BAND``: to the
    80th percentile of the half-width multiples that take the actuals in. Rewrites each scored
    window's bounds and ``inside`` with the factor learned before it; returns each model's factor
    over all windows, for the future."""
    reach: dict[tuple[int, int], list[np.ndarray]] = {}
    for s in scores.values():
        n = len(s["windows"])
        for w, window in enumerate(s["windows"]):
            for j, name in enumerate(names):
                mean, lo, hi = window["models"][name]
                ok = np.isfinite(mean)  # the global model has no forecast for short series
                reach.setdefault((n - 1 - w, j), []).append(_reach(window["actual"][ok], mean[ok], lo[ok], hi[ok]))
    learned: dict[tuple[int, int], float] = {}

    def factor(j: int, back_from: int) -> float:
        if (j, back_from) not in learned:
            parts = [r for (b, m), rs in reach.items() if m == j and b >= back_from for r in rs]
            learned[(j, back_from)] = _band_factor(parts)
        return learned[(j, back_from)]

    for s in scores.values():
        n = len(s["windows"])
        for w in range(1, n):
            window = s["windows"][w]
            for j, name in enumerate(names):
                f = factor(j, n - w)  # the windows before this one
                if f != 1.0:
                    mean, lo, hi = window["models"][name]
                    mean, lo, hi = window["models"][name] = _widen(mean, lo, hi, f)
                    s["inside"][w, j] = np.mean((window["actual"] >= lo) & (window["actual"] <= hi))
    return {name: round(factor(j, 0), 4) for j, name in enumerate(names)}


def _band_factor(reaches: list[np.ndarray]) -> float:
    """1 when the intervals took in ``COVERAGE_BAND`` of the points (or there are too few to
    tell), else the half-width multiple that would have taken in 80% of them."""
    points = np.concatenate(reaches) if reaches else np.empty(0)
    if len(points) < CALIBRATION_POINTS or COVERAGE_BAND[0] <= np.mean(points <= 1.0) <= COVERAGE_BAND[1]:
        return 1.0
    q = float(np.quantile(points, LEVEL / 100))
    return q if math.isfinite(q) and q > 0 else 1.0


def _widen(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The interval's half-widths x ``f`` around the same mean."""
    return mean, mean - f * (mean - lo), mean + f * (hi - mean)


class _PanelErrors:
    """Every series' cross-validated errors summed per window, windows counted from the last
    (series of different lengths have different numbers of windows, all ending at their end)."""

    def __init__(self, scores: dict[str, dict[str, Any]], models: int) -> None:
        self.models = models
        self.sums: dict[int, np.ndarray] = {}
        self.counts: dict[int, np.ndarray] = {}
        for s in scores.values():
            mase = s["mase"]
            for w in range(mase.shape[0]):
                back = mase.shape[0] - 1 - w
                ok = np.isfinite(mase[w])
                self.sums.setdefault(back, np.zeros(models))[ok] += mase[w][ok]
                self.counts.setdefault(back, np.zeros(models))[ok] += 1

    def mean(self, back_from: int) -> tuple[np.ndarray, np.ndarray]:
        """Per model, the mean error on the windows at least ``back_from`` from the last (and
        whether there is one)."""
        backs = [b for b in self.sums if b >= back_from]
        total = sum((self.sums[b] for b in backs), np.zeros(self.models))
        count = sum((self.counts[b] for b in backs), np.zeros(self.models))
        return total / np.maximum(count, 1), count > 0


def _select(mase: np.ndarray, names: list[str], panel: _PanelErrors | None = None) -> tuple[str, list[int]]:
    """The model for the future (lowest score on all windows) and, for each window from the
    second on, the model chosen on the windows before it (the honest score's picks). A model's
    score: its mean MASE on the series' windows, shrunk towards the panel's on windows as early."""
    n = mase.shape[0]

    def best(upto: int) -> int:
        rows = mase[:upto]
        ok = np.isfinite(rows)
        own_sum, own_n = np.where(ok, rows, 0.0).sum(axis=0), ok.sum(axis=0)
        if panel is None:
            prior, has = np.zeros(len(names)), np.zeros(len(names), dtype=bool)
        else:
            prior, has = panel.mean(n - upto)  # windows no later than the last one chosen on
        weight = np.where(has, PANEL_WEIGHT, 0.0)
        score = np.where(own_n + weight > 0, (own_sum + weight * prior) / np.maximum(own_n + weight, 1e-12), np.inf)
        # a model with no forecast for this series (the global model skips short ones) is not its choice
        score = np.where((own_n == 0) & ~np.isfinite(mase).any(axis=0), np.inf, score)
        return int(np.argmin(score))

    picks = [best(w) for w in range(1, n)]
    return names[best(n)], picks


# -- the forecast ---------------------------------------------------------------------------------


def _hierarchy(panel: Panel) -> tuple[Panel, Any, dict[str, np.ndarray]]:
    """Every level's series (Total, then each prefix of the id columns) over the common span, the
    summing matrix and the tags hierarchicalforecast wants."""
    import pandas as pd

    first = min(panel.starts.values())
    last = max(panel.starts[k] + len(v) - 1 for k, v in panel.values.items())
    bottom = sorted(panel.values)
    full = {k: np.zeros(last - first + 1) for k in bottom}
    for k in bottom:
        full[k][panel.starts[k] - first : panel.starts[k] - first + len(panel.values[k])] = panel.values[k]
    cols = panel.id_columns
    out = Panel(freq=panel.freq, origin=panel.origin, id_columns=cols, source=panel.source)
    tags: dict[str, np.ndarray] = {}
    rows: list[np.ndarray] = []
    names: list[str] = []
    for depth in range(len(cols) + 1):
        level = "/".join(cols[:depth]) or "Total"
        members: dict[str, list[str]] = {}
        for k in bottom:
            vals = [str(panel.ids[k][c]) for c in cols[:depth]]
            members.setdefault("/".join(vals) if depth else "Total", []).append(k)
        level_keys = []
        for key, ks in sorted(members.items()):
            uid = key if depth == len(cols) else f"{key} ({level})" if depth else "Total"
            out.values[uid] = np.sum([full[k] for k in ks], axis=0)
            out.starts[uid] = first
            ident = panel.ids[ks[0]]
            out.ids[uid] = {c: ident[c] for c in cols[:depth]}
            rows.append(np.array([1.0 if k in ks else 0.0 for k in bottom]))
            names.append(uid)
            level_keys.append(uid)
        tags[level] = np.array(level_keys, dtype=object)
    s = pd.DataFrame(np.vstack(rows), columns=bottom)
    s.insert(0, "unique_id", names)
    return out, s, tags


def _recent(panel: Panel, cap: int) -> Panel:
    out = Panel(freq=panel.freq, origin=panel.origin, ids=panel.ids, id_columns=panel.id_columns, source=panel.source)
    for k, v in panel.values.items():
        out.values[k] = v[-cap:]
        out.starts[k] = panel.starts[k] + len(v) - len(out.values[k])
    return out


def forecast(
    panel: Panel,
    *,
    horizon: int,
    windows: int = 3,
    models: list[str] | None = None,
    reconcile: bool = False,
    history: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Forecast every series of ``panel`` ``horizon`` periods ahead (see the module's docstring
    for how models are chosen and scored). ``history``: include that many last actuals per series."""
    started = time.perf_counter()
    if horizon < 1:
        raise PlanningError("--horizon must be at least 1 period", field="horizon", hint="e.g. --horizon 8")
    if windows < 2:
        raise PlanningError(
            "--windows must be at least 2 (one to choose a model on, one to score the choice)", field="windows"
        )
    name, season = FREQS[panel.freq]
    if reconcile and not panel.id_columns:
        raise PlanningError("reconciliation needs id columns to build the levels from", hint="--id region,product")
    base = panel
    summing = tags = None
    if reconcile:
        base, summing, tags = _hierarchy(panel)
    base = _recent(base, MAX_HISTORY[panel.freq])
    keys = sorted(base.values)
    lengths = {k: len(base.values[k]) for k in keys}
    zeros = {k: float(np.mean(base.values[k] == 0)) for k in keys}
    candidates = _candidates(
        panel.freq,
        season,
        intermittent=any(z >= 0.3 for z in zeros.values()),
        longest=max(lengths.values()),
        horizon=horizon,
        names=models,
    )
    names = [_alias(m) for m in candidates]
    positive = all(bool(np.all(v >= 0)) for v in base.values.values())
    if GLOBAL in models if models else _global_by_default(panel.freq, lengths, season):
        names.append(GLOBAL)
    members = [n for n in names if n in ENSEMBLE]
    if len(members) >= 2:
        names.append("Ensemble")
    min_train = max(season + 1, 3 * horizon, 8)
    # series by how many windows their length allows (statsforecast wants the same for a call)
    groups: dict[int, list[str]] = {}
    for k in keys:
        groups.setdefault(min(windows, max(0, (lengths[k] - min_train) // horizon)), []).append(k)
    evaluated = [k for w, ks in groups.items() if w >= 2 for k in ks]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learned, spread = (
            _global_windows(base, groups, lengths, horizon=horizon, season=season, positive=positive, progress=progress)
            if GLOBAL in names
            else (None, {})
        )
        scores = _cross_validate(base, groups, candidates, names, learned, horizon, season, progress)
        scale = _calibrate(scores, names) if scores else {}
        chosen, picks = _choose(keys, scores, names)
        learned_future = (
            _global_future(base, chosen, members, horizon=horizon, season=season, positive=positive, spread=spread)
            if GLOBAL in names
            else None
        )
        predictions = _future(base, candidates, names, chosen, horizon, scale, learned_future, progress)
    reconciled_cv: dict[str, dict[str, Any]] | None = None
    rescale = 1.0
    if summing is not None and tags is not None:
        predictions = _reconcile(predictions, summing, tags)
        reconciled_cv, rescale = _reconciled_windows(scores, picks, names, summing, tags)
        predictions = {k: _widen(*v, rescale) for k, v in predictions.items()}
    result = _report(base, keys, names, chosen, picks, scores, predictions, lengths, history)
    _add_reconciled(result, reconciled_cv, scores, names)
    if result["reconciled"] is not None:
        result["reconciled"]["interval_scale"] = round(rescale, 4)
    result.update(
        {
            "source": panel.source,
            "freq": panel.freq,
            "period": name,
            "season_length": season,
            "horizon": horizon,
            "windows": windows,
            "level": LEVEL,
            "candidates": names,
            # each model's interval half-widths x this (1 where they covered 75-85% on the windows)
            "interval_scale": scale,
            "series_count": len(keys),
            "evaluated_series": len(evaluated),
            "reconciliation": "MinTrace (wls_struct), Total / "
            + " / ".join("/".join(panel.id_columns[: d + 1]) for d in range(len(panel.id_columns)))
            if reconcile
            else None,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    return result


def _cross_validate(
    base: Panel,
    groups: dict[int, list[str]],
    candidates: list[Any],
    names: list[str],
    learned: Any,
    horizon: int,
    season: int,
    progress: Progress | None,
) -> dict[str, dict[str, Any]]:
    """Every candidate's rolling-origin forecasts, scored per series (``_score``), in batches of
    series with the same number of windows; the global model's (``learned``) merged in."""
    members = [n for n in names if n in ENSEMBLE]
    total = sum(len(ks) for ks in groups.values())
    batch = max(20, math.ceil(total / 12))
    done = 0
    scores: dict[str, dict[str, Any]] = {}
    for w, ks in sorted(groups.items()):
        for part in _batches(ks, batch):
            if w >= 2:
                cv = _statsforecast(candidates).cross_validation(
                    h=horizon, df=_frame(base, part), n_windows=w, step_size=horizon, level=[LEVEL]
                )
                if learned is not None:
                    cv["unique_id"] = cv["unique_id"].astype(str)
                    cv = cv.merge(learned, on=["unique_id", "ds", "cutoff"], how="left")
                _combine(cv, members, names)
                scores.update(_score(cv, base, names, season))
            done += len(part)
            if progress is not None:
                progress(f"cross-validating {total:,} series", 0.8 * done / total)
    return scores


def _choose(
    keys: list[str], scores: dict[str, dict[str, Any]], names: list[str]
) -> tuple[dict[str, str], dict[str, list[int]]]:
    """Each series' model for the future and its honest picks (``_select``, leaning on the panel)."""
    chosen: dict[str, str] = {}
    picks: dict[str, list[int]] = {}
    errors = _PanelErrors(scores, len(names)) if scores else None
    for k in keys:
        if k in scores:
            chosen[k], picks[k] = _select(scores[k]["mase"], names, errors)
        else:  # too short to choose on: the exponential smoothing family adapts to what there is
            chosen[k] = next((n for n in ("AutoETS", "AutoTheta") if n in names), names[-1])
    return chosen, picks


def _global_by_default(freq: str, lengths: dict[str, int], season: int) -> bool:
    """Offer the global model on monthly and quarterly panels of many series long enough for it."""
    usable = sum(1 for n in lengths.values() if n >= boosting.min_length(season))
    return freq in ("M", "Q") and usable >= boosting.MIN_SERIES


def _global_windows(
    panel: Panel,
    groups: dict[int, list[str]],
    lengths: dict[str, int],
    *,
    horizon: int,
    season: int,
    positive: bool,
    progress: Progress | None,
) -> tuple[Any, dict[int, float]]:
    """The global model's rolling-origin forecasts, with bounds (``_global_bounds``), for every
    series long enough for it: ``unique_id, ds, cutoff, GLOBAL, GLOBAL-lo-80, GLOBAL-hi-80``, and
    the future's spread per step."""
    import pandas as pd

    if progress is not None:
        progress("cross-validating the global model", 0.0)
    parts = []
    for w, ks in sorted(groups.items()):
        usable = [k for k in ks if lengths[k] >= boosting.min_length(season, w * horizon)]
        if w >= 2 and usable:
            parts.append(
                boosting.cross_validate(
                    _frame(panel, usable), horizon=horizon, windows=w, season=season, positive=positive
                )
            )
    if not parts:
        return pd.DataFrame(columns=["unique_id", "ds", "cutoff", *_GLOBAL_COLUMNS]), {}
    cv = pd.concat(parts, ignore_index=True)
    cv["unique_id"] = cv["unique_id"].astype(str)
    return _global_bounds(cv, panel, season)


def _global_bounds(cv: Any, panel: Panel, season: int) -> tuple[Any, dict[int, float]]:
    """80% bounds for the global model's windows: at each step ahead, +/- the 80th percentile of
    its absolute errors at that step over every series' earlier windows (each error in its series'
    MASE scale, so series of any size pool), times the series' own scale. The first window, with
    none before it, uses its own (it is not scored: it only feeds later windows' choices). Returns
    the windows and, for the future, that percentile per step from all windows."""
    cv = cv.sort_values(["unique_id", "cutoff", "ds"]).reset_index(drop=True)
    cuts = cv.groupby("unique_id")["cutoff"].transform(lambda c: c.rank(method="dense").astype(int))
    count = cv.groupby("unique_id")["cutoff"].transform("nunique")
    cv["back"] = count - cuts
    cv["step"] = cv["ds"] - cv["cutoff"]
    scale = {
        (str(k), int(c)): _scale(panel.values[str(k)], int(c) - panel.starts[str(k)] + 1, season)
        for k, c in cv[["unique_id", "cutoff"]].drop_duplicates().itertuples(index=False)
    }
    cv["scale"] = [scale[(k, int(c))] for k, c in zip(cv["unique_id"], cv["cutoff"], strict=True)]
    cv["error"] = (cv["y"] - cv[GLOBAL]).abs() / cv["scale"]
    ok = cv[np.isfinite(cv["error"])]
    half = np.full(len(cv), np.nan)
    backs = sorted(cv["back"].unique())
    for b in backs:
        earlier = ok[ok["back"] > b] if b < backs[-1] else ok[ok["back"] >= b]
        q = earlier.groupby("step")["error"].quantile(LEVEL / 100)
        rows = (cv["back"] == b).to_numpy()
        half[rows] = cv.loc[rows, "step"].map(q).to_numpy(float) * cv.loc[rows, "scale"].to_numpy(float)
    spread = ok.groupby("step")["error"].quantile(LEVEL / 100)
    return _global_interval(cv, half)[["unique_id", "ds", "cutoff", *_GLOBAL_COLUMNS]], {
        int(k): float(v) for k, v in spread.items()
    }


def _global_future(
    panel: Panel,
    chosen: dict[str, str],
    members: list[str],
    *,
    horizon: int,
    season: int,
    positive: bool,
    spread: dict[int, float],
) -> Any:
    """The global model fitted on all of every series long enough for it, forecasting those that
    chose it (alone or in the ensemble), with +/- the windows' error percentile per step times the
    series' scale: ``unique_id, ds, GLOBAL, GLOBAL-lo-80, GLOBAL-hi-80`` (None when none chose it)."""
    wanted = {k for k, m in chosen.items() if m == GLOBAL or (m == "Ensemble" and GLOBAL in members)}
    if not wanted:
        return None
    usable = [k for k in sorted(panel.values) if len(panel.values[k]) >= boosting.min_length(season)]
    fc = boosting.fit_predict(_frame(panel, usable), horizon=horizon, season=season, positive=positive)
    fc["unique_id"] = fc["unique_id"].astype(str)
    fc = fc[fc["unique_id"].isin(wanted)].copy()
    scale = {k: _scale(panel.values[k], len(panel.values[k]), season) for k in wanted}
    last = {k: panel.starts[k] + len(panel.values[k]) - 1 for k in wanted}
    steps = fc["ds"].to_numpy(int) - fc["unique_id"].map(last).to_numpy(int)
    half = np.array([spread.get(int(s), np.nan) for s in steps]) * fc["unique_id"].map(scale).to_numpy(float)
    return _global_interval(fc, half)


def _global_interval(frame: Any, half: np.ndarray) -> Any:
    """The global model's 80% bounds: its forecast +/- ``half``."""
    frame[f"{GLOBAL}-lo-{LEVEL}"] = frame[GLOBAL] - half
    frame[f"{GLOBAL}-hi-{LEVEL}"] = frame[GLOBAL] + half
    return frame


def _combine(frame: Any, members: list[str], names: list[str]) -> None:
    """The ensemble: the members' mean forecast and bounds. Where a member has none (the global
    model skips series too short for it) the mean is over the others, in the windows and the
    future alike."""
    if "Ensemble" in names:
        for suffix in ("", f"-lo-{LEVEL}", f"-hi-{LEVEL}"):
            frame[f"Ensemble{suffix}"] = frame[[m + suffix for m in members]].mean(axis=1)


def _future(
    panel: Panel,
    candidates: list[Any],
    names: list[str],
    chosen: dict[str, str],
    horizon: int,
    scale: dict[str, float],
    learned: Any,
    progress: Progress | None,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each series' forecast (mean, low, high) from its chosen model, fitted on all its data, its
    interval rescaled by ``scale`` (see ``_calibrate``); the global model's from ``learned``."""
    by_model: dict[str, list[str]] = {}
    for k, m in chosen.items():
        by_model.setdefault(m, []).append(k)
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    done = 0
    members = [n for n in ENSEMBLE if n in names]
    for m, ks in by_model.items():
        if m == GLOBAL:
            fc = learned[learned["unique_id"].isin(ks)]
        else:
            models = (
                [c for c, n in zip(candidates, names, strict=False) if n in members]
                if m == "Ensemble"
                else [candidates[names.index(m)]]
            )
            fc = _statsforecast(models).forecast(df=_frame(panel, ks), h=horizon, level=[LEVEL])
            if m == "Ensemble" and GLOBAL in members:
                fc["unique_id"] = fc["unique_id"].astype(str)
                fc = fc.merge(learned, on=["unique_id", "ds"], how="left")
        if m == "Ensemble":
            _combine(fc, members, names)
        for key, group in fc.groupby("unique_id", sort=False):
            g = group.sort_values("ds")
            out[str(key)] = _widen(
                g[m].to_numpy(float),
                g[f"{m}-lo-{LEVEL}"].to_numpy(float),
                g[f"{m}-hi-{LEVEL}"].to_numpy(float),
                scale.get(m, 1.0),
            )
        done += len(ks)
        if progress is not None:
            progress("forecasting", 0.8 + 0.2 * done / len(chosen))
    return out


def _reconcile(
    predictions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], summing: Any, tags: dict[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """MinTrace with structural weights (needs no residual covariance, so it works on short
    histories), intervals by the normal approximation."""
    import pandas as pd
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MinTrace

    rows = []
    for uid in summing["unique_id"]:
        mean, lo, hi = predictions[uid]
        rows.append(
            pd.DataFrame(
                {"unique_id": uid, "ds": np.arange(len(mean)), "f": mean, f"f-lo-{LEVEL}": lo, f"f-hi-{LEVEL}": hi}
            )
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = HierarchicalReconciliation([MinTrace(method="wls_struct")]).reconcile(
            Y_hat_df=pd.concat(rows, ignore_index=True), tags=tags, S_df=summing, level=[LEVEL]
        )
    col = next(c for c in rec.columns if c.startswith("f/") and "-lo-" not in c and "-hi-" not in c)
    out = {}
    for key, group in rec.groupby("unique_id", sort=False):
        g = group.sort_values("ds")
        out[str(key)] = (
            g[col].to_numpy(float),
            g[f"{col}-lo-{LEVEL}"].to_numpy(float),
            g[f"{col}-hi-{LEVEL}"].to_numpy(float),
        )
    return out


def _reconciled_windows(
    scores: dict[str, dict[str, Any]],
    picks: dict[str, list[int]],
    names: list[str],
    summing: Any,
    tags: dict[str, np.ndarray],
) -> tuple[dict[str, dict[str, Any]], float]:
    """The scored windows reconciled as the future is: at each origin from the second on, every
    level's forecast from the model its series chose on the earlier windows, made to add up with
    the same MinTrace. Reconciling moves the intervals, so they are checked again as the base
    forecasts' are (``_calibrate``): each window's rescaled on the reconciled windows before it.
    Per series: ``{"mase": [...], "inside": [...]}`` per scored window; and the factor for the
    future's reconciled intervals. An origin some series lack (too short) is left out for all."""
    series = [str(u) for u in summing["unique_id"]]
    if not all(k in scores for k in series):
        return {}, 1.0
    counts = {len(scores[k]["windows"]) for k in series}
    if len(counts) != 1:  # the levels span the same periods, so this does not happen; stay safe
        return {}, 1.0
    out: dict[str, dict[str, Any]] = {k: {"mase": [], "inside": []} for k in series}
    reach: list[np.ndarray] = []
    for w in range(1, counts.pop()):
        chosen = {k: scores[k]["windows"][w]["models"][names[picks[k][w - 1]]] for k in series}
        rec = _reconcile(chosen, summing, tags)
        f = _band_factor(reach)  # from the reconciled windows before this one
        for k in series:
            window = scores[k]["windows"][w]
            actual = window["actual"]
            reach.append(_reach(actual, *rec[k]))
            mean, lo, hi = _widen(*rec[k], f)
            out[k]["mase"].append(float(np.mean(np.abs(actual - mean)) / window["scale"]))
            out[k]["inside"].append(float(np.mean((actual >= lo) & (actual <= hi))))
    return out, _band_factor(reach)


def _add_reconciled(
    result: dict[str, Any],
    reconciled: dict[str, dict[str, Any]] | None,
    scores: dict[str, dict[str, Any]],
    names: list[str],
) -> None:
    """Per series and overall, the reconciled forecasts' own cross-validated accuracy, beside the
    base forecasts' (``mase``, ``coverage_80``), on the same windows (None when not reconciled)."""
    if not reconciled:
        result["reconciled"] = None
        return
    naive = names.index("SeasonalNaive")
    per_mase: list[float] = []
    per_naive: list[float] = []
    inside: list[float] = []
    levels: dict[str, list[dict[str, Any]]] = {}
    for entry in result["series"]:
        r = reconciled.get(entry["key"])
        if not r or not r["mase"]:
            continue
        entry["mase_reconciled"] = _mean(r["mase"])
        entry["coverage_80_reconciled"] = _mean(r["inside"])
        base = scores[entry["key"]]["mase"]
        per_mase.append(float(np.mean(r["mase"])))
        per_naive.append(float(np.mean(base[1 : 1 + len(r["mase"]), naive])))
        inside.extend(v for v in r["inside"] if math.isfinite(v))
        if entry["mase_reconciled"] is not None and entry["mase"] is not None:
            levels.setdefault("/".join(entry["id"]) or "Total", []).append(entry)
    mase, naive_mase = _mean(per_mase), _mean(per_naive)
    result["reconciled"] = {
        "mase": mase,
        "mase_seasonal_naive": naive_mase,
        "mase_ratio": round(mase / naive_mase, 4) if mase is not None and naive_mase else None,
        "coverage_80": _mean(inside),
        # where reconciling helps and where it costs: each level's mean MASE before and after
        "levels": [
            {
                "level": level,
                "series": len(es),
                "mase": _mean([e["mase"] for e in es]),
                "mase_reconciled": _mean([e["mase_reconciled"] for e in es]),
                "mase_seasonal_naive": _mean([e["mase_seasonal_naive"] for e in es]),
            }
            for level, es in sorted(levels.items(), key=lambda kv: len(kv[0].split("/")) if kv[0] != "Total" else 0)
        ],
    }


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return round(float(np.mean(finite)), 4) if finite else None


def _report(
    panel: Panel,
    keys: list[str],
    names: list[str],
    chosen: dict[str, str],
    picks: dict[str, list[int]],
    scores: dict[str, dict[str, Any]],
    predictions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    lengths: dict[str, int],
    history: int,
) -> dict[str, Any]:
    naive = names.index("SeasonalNaive")
    series = []
    all_mase: list[float] = []
    all_naive: list[float] = []
    inside: list[float] = []
    chosen_count: dict[str, int] = {}
    for k in keys:
        chosen_count[chosen[k]] = chosen_count.get(chosen[k], 0) + 1
        y = panel.values[k]
        nonneg = bool(np.all(y >= 0))
        mean, lo, hi = predictions[k]
        if nonneg:
            mean, lo, hi = np.maximum(mean, 0), np.maximum(lo, 0), np.maximum(hi, 0)
        last = panel.starts[k] + len(y) - 1
        entry: dict[str, Any] = {
            "key": k,
            "id": {c: _plain(v) for c, v in panel.ids[k].items()},
            "level": "/".join(panel.ids[k]) or "Total",
            "length": lengths[k],
            "model": chosen[k],
            "cv_windows": 0,
            "mase": None,
            "mase_seasonal_naive": None,
            "coverage_80": None,
            "forecast": [
                {
                    "date": panel.to_date(last + i + 1).isoformat(),
                    "mean": round(float(mean[i]), 4),
                    "lo_80": round(float(lo[i]), 4),
                    "hi_80": round(float(hi[i]), 4),
                }
                for i in range(len(mean))
            ],
        }
        if k in scores:
            s = scores[k]
            m = [float(s["mase"][w + 1, j]) for w, j in enumerate(picks[k])]
            b = [float(s["mase"][w + 1, naive]) for w in range(len(picks[k]))]
            c = [float(s["inside"][w + 1, j]) for w, j in enumerate(picks[k])]
            entry.update(
                {
                    "cv_windows": int(s["mase"].shape[0]),
                    "mase": _mean(m),
                    "mase_seasonal_naive": _mean(b),
                    "coverage_80": _mean(c),
                }
            )
            if entry["mase"] is not None and entry["mase_seasonal_naive"] is not None:
                all_mase.append(entry["mase"])
                all_naive.append(entry["mase_seasonal_naive"])
            inside.extend(v for v in c if math.isfinite(v))
        if history:
            first = max(panel.starts[k], last - history + 1)
            entry["history"] = [
                {"date": panel.to_date(p).isoformat(), "value": float(y[p - panel.starts[k]])}
                for p in range(first, last + 1)
            ]
        series.append(entry)
    mase, base = _mean(all_mase), _mean(all_naive)
    return {
        "mase": mase,
        "mase_seasonal_naive": base,
        "mase_ratio": round(mase / base, 4) if mase is not None and base else None,
        "coverage_80": _mean(inside),
        "models_chosen": dict(sorted(chosen_count.items(), key=lambda kv: -kv[1])),
        "series": series,
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
