"""SLA risk on open cases: for each case still open, the chance it breaches its deadline and the
expected time it still needs, from what is known so far.

A case's **deadline** is a timestamp attribute (``--deadline sla_deadline``) or its start plus a
target (``--target 3d``, e.g. a KPI's target). A case is **closed** when its last event is an end
activity (given, or inferred: an activity that, where it occurs, is the case's last event at
least 95% of the time and ends at least 5% of cases); others are open.

Training uses **snapshots**: at a series of past times, the cases open then, described only by
what had happened by that time (elapsed time, time left to the deadline, events so far, the last
activity and how long ago, counts of each activity, case attributes). Labels: breached (ended
after the deadline, or still open past it) and, for cases that ended, the remaining time. Models:
gradient-boosted trees (scikit-learn's HistGradientBoosting). Evaluation is a time split: models
trained on snapshots before a cut date, with labels known by then, scored on the cases open at the
cut date, with labels known at the log's end: AUC, precision among the riskiest 10%, and the
remaining time's median error; a naive score (the share of the allowed time already used) is
reported beside it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

from conveyor.data.layout import CORE_CASE_COLUMNS
from conveyor.data.quoting import quote
from conveyor.data.store import Store
from conveyor.decide import DecideError

__all__ = ["parse_duration", "risk"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_SNAPSHOTS = 60
_TOP_ACTIVITIES = 20
_SEED = 20261124
_CORE = set(CORE_CASE_COLUMNS)


def parse_duration(text: str) -> float:
    """'90m', '8h', '3d', '2w' (or a number of seconds) to seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw]?)\s*", text)
    if not m:
        raise DecideError(f"--target {text!r}: not a duration", hint="e.g. 8h, 3d or 2w")
    return float(m.group(1)) * _UNITS.get(m.group(2) or "", 1)


class _Log:
    """The stream's events as arrays, sorted by case and time; cases with start, end, deadline."""

    def __init__(self, store: Store, stream: str, deadline: str | None, target: float | None, end: list[str] | None):
        schema = quote(store.require_stream(stream))
        names = dict(store.rows(f"SELECT code, name FROM {schema}.activities"))
        ev = store.arrow(f"SELECT case_idx, activity, epoch(ts) AS t FROM {schema}.events ORDER BY case_idx, ts, pos")
        self.case = ev["case_idx"].to_numpy()
        self.act = ev["activity"].to_numpy()
        self.t = ev["t"].to_numpy().astype(float)
        cols = dict(store.columns(f"{schema}.cases"))
        if deadline is None and target is None:
            stamps = [
                c for c, t in cols.items() if t.upper().startswith("TIMESTAMP") and c not in ("first_ts", "last_ts")
            ]
            raise DecideError(
                "give the deadline: --deadline COLUMN (a timestamp case attribute) or --target DURATION (e.g. 3d)",
                hint=f"timestamp attributes of {stream}: {', '.join(stamps) or 'none'}",
            )
        if deadline is not None and deadline not in cols:
            raise DecideError(
                f"--deadline: {stream} has no case attribute {deadline!r}",
                hint=f"its case attributes: {', '.join(c for c in cols if c not in _CORE)}",
            )
        skip = _CORE | ({deadline} if deadline else set())
        self.attr_names = [c for c in cols if c not in skip]
        sel = ", ".join(quote(c) for c in self.attr_names)
        dl = f"epoch({quote(deadline)})" if deadline else "NULL::DOUBLE"
        cases = store.records(
            f"SELECT case_idx, case_id, epoch(first_ts) AS start, epoch(last_ts) AS last, {dl} AS deadline"
            f"{', ' + sel if sel else ''} FROM {schema}.cases ORDER BY case_idx"
        )
        n = max((c["case_idx"] for c in cases), default=-1) + 1
        self.ids = np.array([""] * n, dtype=object)
        self.start = np.full(n, np.nan)
        self.last = np.full(n, np.nan)
        self.deadline = np.full(n, np.nan)
        self.attrs: dict[str, np.ndarray] = {c: np.full(n, None, dtype=object) for c in self.attr_names}
        for c in cases:
            i = c["case_idx"]
            self.ids[i], self.start[i], self.last[i] = c["case_id"], c["start"], c["last"]
            self.deadline[i] = c["deadline"] if deadline else c["start"] + float(target or 0)
            for a in self.attr_names:
                self.attrs[a][i] = c[a]
        # the last activity of each case, and which activities end cases
        last_pos = (
            np.r_[np.flatnonzero(np.diff(self.case)), len(self.case) - 1] if len(self.case) else np.array([], int)
        )
        last_act = np.full(n, -1)
        last_act[self.case[last_pos]] = self.act[last_pos]
        code = {v: k for k, v in names.items()}
        if end:
            unknown = [a for a in end if a not in code]
            if unknown:
                raise DecideError(
                    f"--end-activity: {stream} has no activity {unknown[0]!r}",
                    hint=f"its activities: {', '.join(sorted(code))[:300]}",
                )
            ends: set[int] = {code[a] for a in end}
        else:
            ends = set()
            occ = np.bincount(self.act, minlength=max(names, default=0) + 1)
            as_last = np.bincount(last_act[last_act >= 0], minlength=len(occ))
            for k in range(len(occ)):
                if occ[k] and as_last[k] / occ[k] >= 0.95 and as_last[k] >= 0.05 * n:
                    ends.add(k)
        self.end_names = sorted(names[a] for a in ends)
        self.closed = np.isin(last_act, list(ends)) if ends else np.ones(n, bool)
        self.end = np.where(self.closed, self.last, np.nan)
        self.now = float(self.t.max()) if len(self.t) else 0.0
        counts = np.bincount(self.act)
        self.top = np.argsort(-counts)[:_TOP_ACTIVITIES]
        self.names = names
        self.n = n
        # categorical attributes as codes (top 30 values), numbers as numbers
        self.cat_codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self.num: dict[str, np.ndarray] = {}
        for a, values in self.attrs.items():
            if all(v is None or isinstance(v, int | float) for v in values):
                self.num[a] = np.array([np.nan if v is None else float(v) for v in values])
            elif all(v is None or isinstance(v, str) for v in values):
                uniq, inv, cnt = np.unique(values.astype(str), return_inverse=True, return_counts=True)
                keep = np.argsort(-cnt)[:30]
                mapping = np.full(len(uniq), -1)
                mapping[keep] = np.arange(len(keep))
                if len(uniq) <= 0.5 * n or len(uniq) <= 30:  # an id-like column (every value new) is no feature
                    self.cat_codes[a] = (mapping[inv], [uniq[k] for k in keep])

    def snapshot(self, at: float, cases: np.ndarray) -> np.ndarray:
        """Features of ``cases`` as known at time ``at``."""
        m = np.isin(self.case, cases) & (self.t <= at)
        idx = {c: j for j, c in enumerate(cases)}
        rows = np.array([idx[c] for c in self.case[m]], dtype=int)
        k = len(cases)
        n_ev = np.bincount(rows, minlength=k).astype(float)
        last_t = np.full(k, np.nan)
        last_a = np.full(k, -1.0)
        if len(rows):
            # events are sorted by case and time: the last one per case wins
            last_t[rows] = self.t[m]
            last_a[rows] = self.act[m]
        counts = np.zeros((k, len(self.top)))
        for j, a in enumerate(self.top):
            counts[:, j] = np.bincount(rows[self.act[m] == a], minlength=k)
        start = self.start[cases]
        st = start.astype("datetime64[s]")
        hour = (st.astype("datetime64[h]") - st.astype("datetime64[D]")).astype(int)
        weekday = ((st.astype("datetime64[D]").astype(int) + 3) % 7).astype(float)
        feats = [
            (at - start) / 3600,
            (self.deadline[cases] - at) / 3600,
            (at - np.nan_to_num(last_t, nan=at)) / 3600,
            n_ev,
            last_a,
            hour.astype(float),
            weekday,
            counts,
        ]
        feats += [codes[cases].astype(float) for codes, _ in self.cat_codes.values()]
        feats += [v[cases] for v in self.num.values()]
        return np.column_stack(feats)

    def categorical_mask(self) -> list[bool]:
        return (
            [False, False, False, False, True, False, False]
            + [False] * len(self.top)
            + [True] * len(self.cat_codes)
            + [False] * len(self.num)
        )

    def open_at(self, at: float) -> np.ndarray:
        """Cases started by ``at`` and not yet ended then (ended later, or still open)."""
        ended_after = np.isnan(self.end) | (self.end > at)
        return np.flatnonzero((self.start <= at) & ended_after & ~np.isnan(self.start) & ~np.isnan(self.deadline))

    def labels(self, cases: np.ndarray, known_at: float) -> tuple[np.ndarray, np.ndarray]:
        """(breached: 1/0, NaN when not known by ``known_at``; end time, NaN when not ended by then)."""
        end = np.where(self.end[cases] <= known_at, self.end[cases], np.nan)
        dl = self.deadline[cases]
        breached = np.full(len(cases), np.nan)
        ended = ~np.isnan(end)
        breached[ended] = (end[ended] > dl[ended]).astype(float)
        past = ~ended & (dl <= known_at)
        breached[past] = 1.0
        return breached, end


def _training(log: _Log, until: float, first: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Snapshots between ``first`` and ``until`` with labels known at ``until``."""
    X, y, rem, ok_rem = [], [], [], []
    for at in np.linspace(first, until, _SNAPSHOTS + 1)[:-1]:
        cases = log.open_at(at)
        if len(cases) == 0:
            continue
        b, end = log.labels(cases, until)
        keep = ~np.isnan(b)
        if not keep.any():
            continue
        X.append(log.snapshot(at, cases[keep]))
        y.append(b[keep])
        rem.append(np.log1p(np.maximum(end[keep] - at, 0) / 3600))
        ok_rem.append(~np.isnan(end[keep]))
    if not X:
        return np.empty((0, 0)), np.empty(0), np.empty(0), np.empty(0, bool)
    return np.vstack(X), np.concatenate(y), np.concatenate(rem), np.concatenate(ok_rem)


class _Constant:
    """Every past case fell on one side of its deadline: that is the only answer there is."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1 - self.value), np.full(len(X), self.value)])


def _models(log: _Log, X: np.ndarray, y: np.ndarray, rem: np.ndarray, ok: np.ndarray) -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    mask = log.categorical_mask()
    if len(y) == 0:
        raise DecideError("no past case was open long enough to learn from", hint="a longer log is needed")
    if len(np.unique(y)) < 2:
        clf: Any = _Constant(float(y[0]))
    else:
        clf = HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.05, categorical_features=mask, random_state=_SEED
        ).fit(X, y)
    reg = None
    if ok.sum() >= 20:
        reg = HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, categorical_features=mask, random_state=_SEED
        ).fit(X[ok], rem[ok])
    return clf, reg


def _evaluate(log: _Log, now: float) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    closed_ends = np.sort(log.end[~np.isnan(log.end) & (log.end <= now)])
    if len(closed_ends) < 50:
        raise DecideError(
            f"only {len(closed_ends)} closed cases: too few to learn and test on",
            hint="a risk model needs at least 50 closed cases",
        )
    cut = float(closed_ends[int(len(closed_ends) * 0.7)])
    first = float(np.nanmin(log.start) + np.nanmedian(log.end - log.start))
    X, y, rem, ok = _training(log, cut, min(first, cut - 1))
    clf, reg = _models(log, X, y, rem, ok)
    if isinstance(clf, _Constant):
        return {
            "cut": _iso(cut),
            "train_snapshots": len(y),
            "test_predictions": 0,
            "note": f"every case before the cut date {'breached' if clf.value else 'met'} its deadline: "
            "nothing to learn which ones breach",
        }
    # test: snapshots from the cut to the end, each case described as it was then, labelled by
    # what happened by the log's end
    last = float(closed_ends[int(len(closed_ends) * 0.97)])
    ps, bs, used_all, pred_h, true_h = [], [], [], [], []
    seen: set[int] = set()
    for at in np.linspace(cut, max(cut, last), _SNAPSHOTS):
        cases = log.open_at(at)
        if len(cases) == 0:
            continue
        b, end = log.labels(cases, now)
        keep = ~np.isnan(b)
        cases, b, end = cases[keep], b[keep], end[keep]
        if len(cases) == 0:
            continue
        seen.update(int(c) for c in cases)
        Xt = log.snapshot(at, cases)
        ps.append(clf.predict_proba(Xt)[:, 1])
        bs.append(b)
        used_all.append((at - log.start[cases]) / np.maximum(log.deadline[cases] - log.start[cases], 1))
        ended = ~np.isnan(end)
        if reg is not None and ended.any():
            pred_h.append(np.expm1(reg.predict(Xt[ended])))
            true_h.append((end[ended] - at) / 3600)
    if not ps:
        return {"cut": _iso(cut), "test_predictions": 0, "note": "no case open after the cut date to score"}
    p, b, used = np.concatenate(ps), np.concatenate(bs), np.concatenate(used_all)
    if len(p) < 10 or len(np.unique(b)) < 2:
        return {"cut": _iso(cut), "test_predictions": len(p), "note": "too few open cases after the cut date to score"}
    k = max(1, len(p) // 10)
    out: dict[str, Any] = {
        "cut": _iso(cut),
        "train_snapshots": len(y),
        "test_predictions": len(p),
        "test_cases": len(seen),
        "breach_rate": round(float(b.mean()), 4),
        "auc": round(float(roc_auc_score(b, p)), 4),
        "precision_top_10": round(float(b[np.argsort(-p)[:k]].mean()), 4),
        "naive": {
            "score": "share of the allowed time used",
            "auc": round(float(roc_auc_score(b, used)), 4),
            "precision_top_10": round(float(b[np.argsort(-used)[:k]].mean()), 4),
        },
    }
    if pred_h:
        ph, th = np.concatenate(pred_h), np.concatenate(true_h)
        out["remaining_median_abs_error_hours"] = round(float(np.median(np.abs(ph - th))), 2)
        out["remaining_median_hours"] = round(float(np.median(th)), 2)
    return out


def _last_activity(log: _Log, case: int, at: float) -> str | None:
    m = (log.case == case) & (log.t <= at)
    return log.names.get(int(log.act[m][-1])) if m.any() else None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def risk(
    store: Store,
    stream: str,
    *,
    deadline: str | None = None,
    target: str | None = None,
    end_activity: list[str] | None = None,
    limit: int = 50,
    evaluate: bool = True,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Open cases by their chance of breaching, with the expected remaining time and the honest
    time-split evaluation of the models behind it. ``as_of``: look at the log as it stood then
    (cases that ended later are open; nothing after it is used)."""
    log = _Log(store, stream, deadline, parse_duration(target) if target else None, end_activity)
    now = as_of.timestamp() if as_of is not None else log.now
    evaluation = _evaluate(log, now) if evaluate else None
    first = float(np.nanmin(log.start) + np.nanmedian(log.end - log.start))
    X, y, rem, ok = _training(log, now, min(first, now - 1))
    clf, reg = _models(log, X, y, rem, ok)
    open_cases = log.open_at(now)
    rows: list[dict[str, Any]] = []
    at_risk = 0
    if len(open_cases):
        Xo = log.snapshot(now, open_cases)
        p = clf.predict_proba(Xo)[:, 1]
        hours = np.expm1(reg.predict(Xo)) if reg is not None else np.full(len(open_cases), np.nan)
        past = log.deadline[open_cases] <= now
        p = np.where(past, 1.0, p)
        at_risk = int((p >= 0.5).sum())
        order = np.lexsort((-hours, -p))
        for j in order[:limit]:
            c = open_cases[j]
            rows.append(
                {
                    "case_id": str(log.ids[c]),
                    "breach_probability": round(float(p[j]), 3),
                    "already_breached": bool(past[j]),
                    "expected_remaining_hours": None if np.isnan(hours[j]) else round(float(hours[j]), 1),
                    "deadline": _iso(float(log.deadline[c])),
                    "elapsed_hours": round((now - float(log.start[c])) / 3600, 1),
                    "last_activity": _last_activity(log, int(c), now),
                }
            )
    return {
        "stream": stream,
        "as_of": _iso(now),
        "deadline": deadline or f"start + {target}",
        "end_activities": log.end_names,
        "open_cases": len(open_cases),
        "at_risk": at_risk,
        "cases": rows,
        "evaluation": evaluation,
    }
