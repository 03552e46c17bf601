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
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.data.layout import CORE_CASE_COLUMNS
from conveyor.data.quoting import quote
from conveyor.data.store import Store
from conveyor.decide import DecideError

__all__ = ["RiskModel", "fit", "parse_duration", "result", "risk", "risk_model"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
_SNAPSHOTS = 60
_TOP_ACTIVITIES = 20
_SEED = 20261124
_MAX_KEYS = 250
_CORE = set(CORE_CASE_COLUMNS)


def parse_duration(text: str) -> float:
    """'90m', '8h', '3d', '2w' (or a number of seconds) to seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw]?)\s*", text)
    if not m:
        raise DecideError(f"--target {text!r}: not a duration", hint="e.g. 8h, 3d or 2w")
    return float(m.group(1)) * _UNITS.get(m.group(2) or "", 1)


class _Log:
    """A stream's events as arrays, sorted by case and time; its cases (numbered 0..n-1 here) with
    start, end and deadline. ``spec``: the features a saved model was trained on (its activities,
    attribute values and end activities), so a later or partial log is described the same way.
    ``case_ids``: read only those cases (scoring one case for a decision)."""

    def __init__(
        self,
        store: Store,
        stream: str,
        deadline: str | None,
        target: float | None,
        end: list[str] | None,
        *,
        spec: dict[str, Any] | None = None,
        case_ids: list[str] | None = None,
    ):
        schema = quote(store.require_stream(stream))
        names = dict(store.rows(f"SELECT code, name FROM {schema}.activities"))
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
        only, named, params = "", None, None
        if case_ids is not None:
            only, named, params = (
                " WHERE case_id IN (SELECT unnest(?::VARCHAR[]))",
                {"ids": list(case_ids)},
                [list(case_ids)],
            )
        skip = _CORE | ({deadline} if deadline else set())
        self.attr_names = [c for c in cols if c not in skip]
        sel = ", ".join(quote(c) for c in self.attr_names)
        dl = f"epoch({quote(deadline)})" if deadline else "NULL::DOUBLE"
        cases = store.records(
            f"SELECT case_idx, case_id, epoch(first_ts) AS start, epoch(last_ts) AS last, {dl} AS deadline"
            f"{', ' + sel if sel else ''} FROM {schema}.cases{only.replace('?', '$ids')} ORDER BY case_idx",
            named,
        )
        ev_only = f" WHERE case_idx IN (SELECT case_idx FROM {schema}.cases{only})" if only else ""
        ev = store.arrow(
            f"SELECT case_idx, activity, epoch(ts) AS t FROM {schema}.events{ev_only} ORDER BY case_idx, ts, pos",
            params,
        )
        # cases numbered densely in case_idx order (a partial read keeps its arrays small)
        idx = np.array([c["case_idx"] for c in cases], dtype=np.int64)
        self.case = np.searchsorted(idx, ev["case_idx"].to_numpy())
        self.act = ev["activity"].to_numpy()
        self.t = ev["t"].to_numpy().astype(float)
        n = len(cases)
        self.ids = np.array([c["case_id"] for c in cases], dtype=object)
        self.start = np.array([c["start"] for c in cases], dtype=float)
        self.last = np.array([c["last"] for c in cases], dtype=float)
        if deadline:
            self.deadline = np.array([np.nan if c["deadline"] is None else c["deadline"] for c in cases], dtype=float)
        else:
            self.deadline = self.start + float(target or 0)
        self.attrs: dict[str, np.ndarray] = {
            a: np.array([c[a] for c in cases] if cases else [], dtype=object) for a in self.attr_names
        }
        self.names = names
        self.n = n
        code = {v: k for k, v in names.items()}
        # the last activity of each case, and which activities end cases
        last_pos = (
            np.r_[np.flatnonzero(np.diff(self.case)), len(self.case) - 1] if len(self.case) else np.array([], int)
        )
        last_act = np.full(n, -1)
        last_act[self.case[last_pos]] = self.act[last_pos]
        if spec is not None:
            end = list(spec["end_activities"])
        if end:
            unknown = [a for a in end if a not in code]
            if unknown and spec is None:
                raise DecideError(
                    f"--end-activity: {stream} has no activity {unknown[0]!r}",
                    hint=f"its activities: {', '.join(sorted(code))[:300]}",
                )
            ends: set[int] = {code[a] for a in end if a in code}
        else:
            ends = set()
            occ = np.bincount(self.act, minlength=max(names, default=0) + 1)
            as_last = np.bincount(last_act[last_act >= 0], minlength=len(occ))
            for k in range(len(occ)):
                if occ[k] and as_last[k] / occ[k] >= 0.95 and as_last[k] >= 0.05 * n:
                    ends.add(k)
        self.end_names = sorted(names[a] for a in ends) if spec is None else list(spec["end_activities"])
        self.closed = np.isin(last_act, list(ends)) if (ends or spec is not None) else np.ones(n, bool)
        self.end = np.where(self.closed, self.last, np.nan)
        self.now = float(self.t.max()) if len(self.t) else 0.0
        self._describe(spec)

    def _describe(self, spec: dict[str, Any] | None) -> None:
        """Fix the features: the activities counted, the key of each activity (the last one is a
        categorical feature), categorical attributes as codes (top 30 values), numbers as numbers.
        From this log, or as a saved model's ``spec`` says."""
        names, n = self.names, self.n
        code = {v: k for k, v in names.items()}
        size = max(names, default=-1) + 1
        if spec is None:
            counts = np.bincount(self.act, minlength=size)
            by_count = [names[int(c)] for c in np.argsort(-counts, kind="stable") if int(c) in names]
            top = by_count[:_TOP_ACTIVITIES]
            vocab = by_count[:_MAX_KEYS]  # a categorical feature has at most 255 values
        else:
            top, vocab = list(spec["top"]), list(spec["activities"])
        self.top = np.array([code.get(a, -2) for a in top], dtype=np.int64)  # -2: absent here, never counted
        at = {a: i for i, a in enumerate(vocab)}
        self.key = np.full(max(size, 1), -1.0)  # store code -> the model's activity key (-1: unknown)
        for c, a in names.items():
            self.key[c] = at.get(a, -1)
        self.cat_codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self.num: dict[str, np.ndarray] = {}
        if spec is None:
            for a, values in self.attrs.items():
                if all(v is None or isinstance(v, int | float) for v in values):
                    self.num[a] = np.array([np.nan if v is None else float(v) for v in values])
                elif all(v is None or isinstance(v, str) for v in values):
                    uniq, cnt = np.unique(values.astype(str), return_counts=True)
                    if len(uniq) <= 0.5 * n or len(uniq) <= 30:  # an id-like column (every value new) is no feature
                        self.cat_codes[a] = self._codes(values, [str(uniq[k]) for k in np.argsort(-cnt)[:30]])
        else:
            for a, kept in spec["categorical"].items():
                self.cat_codes[a] = self._codes(self.attrs.get(a, np.full(n, None, dtype=object)), list(kept))
            for a in spec["numeric"]:
                values = self.attrs.get(a, np.full(n, None, dtype=object))
                self.num[a] = np.array([_number(v) for v in values], dtype=float)
        self.spec = {
            "top": top,
            "activities": vocab,
            "categorical": {a: kept for a, (_, kept) in self.cat_codes.items()},
            "numeric": list(self.num),
            "end_activities": self.end_names,
        }

    @staticmethod
    def _codes(values: np.ndarray, kept: list[str]) -> tuple[np.ndarray, list[str]]:
        at = {v: i for i, v in enumerate(kept)}
        return np.array([at.get(str(v), -1) for v in values], dtype=np.int64), kept

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
            last_a[rows] = self.key[self.act[m]]
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


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


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


class RiskModel:
    """A fitted SLA-risk model of one stream: the breach classifier, the remaining-time regressor
    and the features they read. Saved in the workspace (``conveyor risk --save``), it scores open
    cases without training again, and one case at a time as a decider."""

    def __init__(
        self,
        stream: str,
        deadline: str | None,
        target: str | None,
        spec: dict[str, Any],
        clf: Any,
        reg: Any,
        snapshots: int = 0,
    ) -> None:
        self.stream, self.deadline, self.target = stream, deadline, target
        self.spec, self.clf, self.reg = spec, clf, reg
        self.snapshots = snapshots  # training rows: open cases at past moments

    def _log(self, store: Store, case_ids: list[str] | None = None) -> _Log:
        target = parse_duration(self.target) if self.target else None
        return _Log(store, self.stream, self.deadline, target, None, spec=self.spec, case_ids=case_ids)

    def score(
        self, store: Store, *, as_of: float | None = None, limit: int = 50, case_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """The open cases (of ``case_ids``, if given) as of ``as_of`` (default: the last event),
        riskiest first."""
        log = self._log(store, case_ids)
        return _scored(self, log, log.now if as_of is None else as_of, limit)

    def case(self, store: Store, case_id: str, *, as_of: float | None = None) -> dict[str, Any] | None:
        """One case's breach probability, expected remaining time and what it stands on, as it
        stood at ``as_of`` (default: its last event; events after it are not read). A case closed
        by then says so, with whether it met its deadline. None when the stream has no such case
        (or it had not begun by then)."""
        log = self._log(store, [case_id])
        if log.n == 0:
            return None
        at = float(log.last[0]) if as_of is None else as_of
        if at < log.start[0]:
            return None
        if log.closed[0] and log.end[0] <= at:
            return {
                "case_id": case_id,
                "closed": True,
                "breached": bool(log.end[0] > log.deadline[0]),
                "ended": _iso(float(log.end[0])),
                "deadline": _iso(float(log.deadline[0])),
            }
        if np.isnan(log.deadline[0]):
            return {"case_id": case_id, "closed": False, "breach_probability": None, "note": "the case has no deadline"}
        rows = _scored(self, log, at, 1)["cases"]
        return {**rows[0], "closed": False}


def _scored(model: RiskModel, log: _Log, now: float, limit: int) -> dict[str, Any]:
    open_cases = log.open_at(now)
    rows: list[dict[str, Any]] = []
    at_risk = 0
    if len(open_cases):
        from sklearn import config_context

        Xo = log.snapshot(now, open_cases)
        with config_context(assume_finite=True, skip_parameter_validation=True):  # checked at training
            p = model.clf.predict_proba(Xo)[:, 1]
            hours = np.expm1(model.reg.predict(Xo)) if model.reg is not None else np.full(len(open_cases), np.nan)
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
                    "hours_to_deadline": round((float(log.deadline[c]) - now) / 3600, 1),
                    "elapsed_hours": round((now - float(log.start[c])) / 3600, 1),
                    "last_activity": _last_activity(log, int(c), now),
                }
            )
    return {"as_of": _iso(now), "open_cases": len(open_cases), "at_risk": at_risk, "cases": rows}


def fit(
    store: Store,
    stream: str,
    *,
    deadline: str | None = None,
    target: str | None = None,
    end_activity: list[str] | None = None,
    as_of: datetime | None = None,
    evaluate: bool = True,
    limit: int = 50,
) -> tuple[RiskModel, dict[str, Any] | None, dict[str, Any]]:
    """Train on the log as it stood at ``as_of`` (default: its last event): the model, its
    time-split evaluation (None when not asked for) and its scores of the cases open then."""
    log = _Log(store, stream, deadline, parse_duration(target) if target else None, end_activity)
    now = as_of.timestamp() if as_of is not None else log.now
    evaluation = _evaluate(log, now) if evaluate else None
    first = float(np.nanmin(log.start) + np.nanmedian(log.end - log.start))
    X, y, rem, ok = _training(log, now, min(first, now - 1))
    clf, reg = _models(log, X, y, rem, ok)
    model = RiskModel(stream, deadline, target, log.spec, clf, reg, len(y))
    return model, evaluation, _scored(model, log, now, limit)


def result(model: RiskModel, scored: dict[str, Any], evaluation: dict[str, Any] | None) -> dict[str, Any]:
    """What `conveyor risk` answers."""
    return {
        "stream": model.stream,
        "as_of": scored["as_of"],
        "deadline": model.deadline or f"start + {model.target}",
        "end_activities": model.spec["end_activities"],
        **{k: scored[k] for k in ("open_cases", "at_risk", "cases")},
        "evaluation": evaluation,
    }


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
    model, evaluation, scored = fit(
        store,
        stream,
        deadline=deadline,
        target=target,
        end_activity=end_activity,
        as_of=as_of,
        evaluate=evaluate,
        limit=limit,
    )
    return result(model, scored, evaluation)


def risk_model(root: Path, name: str, version: int | None = None) -> tuple[RiskModel, dict[str, Any]]:
    """A saved risk model and its card; a clear error when ``name`` is another kind of model."""
    from conveyor.decide import registry

    model, card = registry.load(root, name, version)
    if card.get("kind") != "risk" or not isinstance(model, RiskModel):
        raise DecideError(
            f"model {name!r} is a {card.get('kind', 'triage')} model, not an SLA risk model",
            hint="save one with `conveyor risk STREAM --target 3d --save NAME`",
        )
    return model, card
