"""Automation opportunities: the steps and hand-overs worth automating or assisting, with what they would save.

From the log alone, with the stream's cost settings (:class:`~conveyor.metrics.definitions.Costs`):

- **Steps** (activities) cost work: volume × service time (measured from start events, else the
  stated handling minutes), at the performers' hourly rate. Steps done only by automations or by
  parties outside the company cost no staff time. Repeats of a step in a case are rework.
- **Hand-overs** (directly-follows pairs) cost waiting: volume × the mean time between the two
  steps, in case-hours, at ``delay_cost_per_case_hour``. Waits before steps listed in
  ``external_waits`` or done by outside parties (customer, bank, carrier...) are left out: they
  are someone else's clock.
- **Exceptions** (steps fewer than half of the cases reach) cost the extra throughput time of
  the cases that reach them; counted only where reaching them is predictable (≥ 0.9, below), as
  only then can they be prevented or prepared for (an unpredictable branch may be the business).
  Repeats of a step (self-loops) are rework, not hand-overs.
- **How rule-like** a step is: for a decision (a step followed by different steps), a depth-4
  decision tree predicting the next step from the case attributes, 5-fold cross-validated
  accuracy; for an exception, the same for whether a case reaches it. ≥ 0.9 → ``automate``,
  ≥ 0.7 → ``augment`` (suggest to a person), below → ``human``. A step that is no decision
  (always followed by the same step) is ``augment`` (assist the person doing it).
- **Savings per year**: the share of each cost the recommendation removes, stated in
  :data:`SHARES` (automate: 80% of the work and waiting; augment: 30% of the work, 50% of the
  waiting; human: 5% and 10%), plus half of the rework (checks at the source).

Rows overlap (a hand-over's wait and an exception's extra time can be the same hours): rank by
them, do not add them up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.data.quoting import quote
from conveyor.data.sql import Query
from conveyor.metrics.definitions import Costs
from conveyor.metrics.kpis import stream_info
from conveyor.metrics.units import human, pct
from conveyor.mining import Filters, activity_stats, process_map
from conveyor.mining.filters import scope_for

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["SHARES", "rank_opportunities"]

#: Share of (work, waiting) each recommendation removes.
SHARES = {"automate": (0.8, 0.8), "augment": (0.3, 0.5), "human": (0.05, 0.1)}
REWORK_SHARE = 0.5
YEAR_DAYS = 365.25
MAX_ROWS = 20_000

PERFORMERS = Query(
    "opportunities.performers",
    """WITH {scope}
    SELECT a.name AS activity, r.name AS resource, count(*) AS n
    FROM fe JOIN {s}.activities a ON a.code = fe.activity LEFT JOIN {s}.resources r ON r.code = fe.resource
    GROUP BY ALL""",
)

# Volumes per year from the arrival rate: cases started per day over the span of case starts
# (the last events trail on after the last start and would dilute it).
SPAN_DAYS = Query(
    "opportunities.span",
    """WITH {scope}
    SELECT count(*) AS cases, (epoch_us(max(first_ts)) - epoch_us(min(first_ts))) / 86400e6 AS days FROM fc""",
)

# Per activity: cases reaching it, and the median throughput of cases that do and do not.
EXCEPTIONS = Query(
    "opportunities.exceptions",
    """WITH {scope}, hit AS (SELECT DISTINCT case_idx, activity FROM fe),
    w AS (
        SELECT hit.activity, count(*) AS cases, median(fc.duration_seconds) AS median_with
        FROM hit JOIN fc ON fc.case_idx = hit.case_idx GROUP BY hit.activity
    ), wo AS (
        SELECT acts.activity, median(fc.duration_seconds) AS median_without
        FROM (SELECT DISTINCT activity FROM hit) acts CROSS JOIN fc
        LEFT JOIN hit h ON h.activity = acts.activity AND h.case_idx = fc.case_idx
        WHERE h.case_idx IS NULL GROUP BY acts.activity
    )
    SELECT a.name AS activity, w.cases, w.median_with, wo.median_without
    FROM w JOIN {s}.activities a ON a.code = w.activity LEFT JOIN wo ON wo.activity = w.activity""",
)

# What follows the first occurrence of each activity in each case, with the case's attributes.
NEXT_STEPS = Query(
    "opportunities.next_steps",
    """WITH {scope}, firsts AS (
        SELECT case_idx, activity, next_activity,
               row_number() OVER (PARTITION BY case_idx, activity ORDER BY pos) AS k
        FROM fe
    )
    SELECT f.case_idx, a.name AS activity, coalesce(n.name, '(end)') AS next_activity
    FROM firsts f JOIN {s}.activities a ON a.code = f.activity LEFT JOIN {s}.activities n ON n.code = f.next_activity
    WHERE f.k = 1 ORDER BY f.case_idx, a.name""",
)

SEGMENT_WAITS = Query(
    "opportunities.segment_waits",
    """WITH {scope}
    SELECT src.name AS source, dst.name AS target, CAST(c.{attr} AS VARCHAR) AS value,
           avg((epoch_us(fe.next_ts) - epoch_us(fe.ts)) / 1e6) AS mean_seconds, count(*) AS n
    FROM fe JOIN {s}.cases c ON c.case_idx = fe.case_idx
    JOIN {s}.activities src ON src.code = fe.activity JOIN {s}.activities dst ON dst.code = fe.next_activity
    GROUP BY ALL""",
)


@dataclass
class _Model:
    """How well the case attributes predict an outcome: cross-validated accuracy and its drivers."""

    accuracy: float
    baseline: float
    drivers: list[str]
    rows: int


def _predictability(features: Any, target: list[str]) -> _Model | None:
    """A depth-4 decision tree's 5-fold cross-validated accuracy (None with too little data)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(target)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2 or len(y) < 50 or features.shape[1] == 0:
        return None
    keep = np.isin(y, labels[counts >= 5])  # classes too rare to split five ways
    x, y = features[keep], y[keep]
    if len(np.unique(y)) < 2:
        return None
    tree = DecisionTreeClassifier(max_depth=4, min_samples_leaf=max(5, len(y) // 200), random_state=0)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    acc = float(cross_val_score(tree, x, y, cv=folds).mean())
    tree.fit(x, y)
    order = np.argsort(tree.feature_importances_)[::-1]
    drivers = [int(i) for i in order if tree.feature_importances_[i] > 0.1][:2]
    _, counts = np.unique(y, return_counts=True)
    return _Model(acc, float(counts.max() / counts.sum()), [str(d) for d in drivers], len(y))


def _distinct_counts(engine: Engine, s: str, attrs: dict[str, str]) -> dict[str, int]:
    """How many values each case attribute takes (one scan for them all)."""
    if not attrs:
        return {}
    names = list(attrs)
    sel = ", ".join(f"count(DISTINCT {quote(a)}) AS n{i}" for i, a in enumerate(names))
    row = engine.records(f"SELECT {sel} FROM {s}.cases")[0]
    return {a: int(row[f"n{i}"]) for i, a in enumerate(names)}


def _case_features(
    engine: Engine, s: str, attrs: dict[str, str], distinct: dict[str, int]
) -> tuple[Any, list[str], dict[int, int]]:
    """One-hot categorical and numeric case attributes (ids and free text left out)."""
    import numpy as np

    usable: list[str] = []
    numeric: list[str] = []
    for a, typ in attrs.items():
        t = typ.upper()
        if any(x in t for x in ("TIMESTAMP", "DATE", "TIME")):
            continue
        if any(x in t for x in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL")):
            numeric.append(a)
            continue
        if 2 <= distinct[a] <= 30:
            usable.append(a)
    cols = ["case_idx", *usable, *numeric]
    sel = ", ".join(quote(c) if c != "case_idx" else c for c in cols)
    rows = engine.rows(f"SELECT {sel} FROM {s}.cases ORDER BY case_idx LIMIT {MAX_ROWS * 5}")
    index = {int(r[0]): i for i, r in enumerate(rows)}
    names: list[str] = []
    blocks = []
    for j, a in enumerate(usable, start=1):
        values = sorted({str(r[j]) for r in rows})
        for v in values:
            names.append(f"{a}={v}")
            blocks.append([1.0 if str(r[j]) == v else 0.0 for r in rows])
    for j, a in enumerate(numeric, start=1 + len(usable)):
        names.append(a)
        blocks.append([float(r[j]) if r[j] is not None else -1.0 for r in rows])
    x = np.array(blocks, dtype=float).T if blocks else np.zeros((len(rows), 0))
    return x, names, index


def _recommend(model: _Model | None, decision: bool) -> str:
    if model is None:
        return "augment" if not decision else "human"
    if model.accuracy >= 0.9:
        return "automate"
    return "augment" if model.accuracy >= 0.7 else "human"


def rank_opportunities(
    engine: Engine, stream: str, *, costs: Costs | None = None, filters: Filters | None = None, top: int | None = None
) -> dict[str, Any]:
    """Steps and hand-overs ranked by savings per year: ``{"currency", "assumptions", "rows": [
    {step, kind, volume_per_year, hours_per_year, waiting_hours_per_year, savings_per_year,
    recommendation, rule_score, reasons}]}``."""
    costs = costs or Costs()
    info = stream_info(engine, stream)
    scope = scope_for(engine, stream, filters)
    span = engine.run(SPAN_DAYS, params=scope.params, **scope.parts())[0]
    if not span["cases"]:
        return {"currency": costs.currency, "assumptions": _assumptions(costs), "rows": []}
    per_year = YEAR_DAYS / max(1.0, float(span["days"] or 0))
    stats: dict[str, dict[str, Any]] = {a["activity"]: dict(a) for a in activity_stats(engine, stream, filters=filters)}
    pmap = process_map(engine, stream, filters=filters)
    performers: dict[str, dict[str, int]] = {}
    for r in engine.run(PERFORMERS, params=scope.params, **scope.parts()):
        performers.setdefault(r["activity"], {})[str(r["resource"])] = int(r["n"])
    auto_rx, ext_rx = re.compile(costs.automation_resources), re.compile(costs.external_resources)

    def staff_share(act: str) -> float:
        """Share of the step's executions done by the company's own people."""
        done = performers.get(act, {})
        total = sum(done.values()) or 1
        return sum(n for r, n in done.items() if not auto_rx.search(r) and not ext_rx.search(r)) / total

    distinct = _distinct_counts(engine, scope.s, info.attributes)
    models = _models(engine, scope, info, stats, int(span["cases"]), distinct)
    exceptions = {r["activity"]: r for r in engine.run(EXCEPTIONS, params=scope.params, **scope.parts())}
    rows = []
    for act, st in stats.items():
        rows.append(
            _step_row(
                act, st, costs, models.get(act), exceptions.get(act), staff_share(act), per_year, int(span["cases"])
            )
        )
    concentration = _concentrations(engine, scope, info, distinct)
    for e in pmap["edges"]:
        tgt = e["target"]
        if e["source"] == tgt or tgt in costs.external_waits or staff_share(tgt) < 0.5 or not e["mean_seconds"]:
            continue
        rows.append(_edge_row(dict(e), costs, models.get(tgt), per_year, concentration.get((e["source"], tgt))))
    rows = [r for r in rows if r["savings_per_year"] > 0]
    rows.sort(key=lambda r: -r["savings_per_year"])
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    return {"currency": costs.currency, "assumptions": _assumptions(costs), "rows": rows[:top] if top else rows}


def _models(
    engine: Engine, scope: Any, info: Any, stats: dict[str, Any], n_cases: int, distinct: dict[str, int]
) -> dict[str, _Model]:
    """Per activity, how predictable its outcome is: the next step (decisions) or reaching it (exceptions)."""
    import numpy as np

    x, names, index = _case_features(engine, scope.s, info.attributes, distinct)
    if x.shape[1] == 0:
        return {}
    nxt: dict[str, list[tuple[int, str]]] = {}
    for r in engine.run(NEXT_STEPS, params=scope.params, **scope.parts()):
        nxt.setdefault(r["activity"], []).append((int(r["case_idx"]), r["next_activity"]))
    out: dict[str, _Model] = {}
    everyone = np.array(sorted(index.values()))
    for act, seen in nxt.items():
        pairs = [(c, n) for c, n in seen if c in index][:MAX_ROWS]
        outcomes = {n for _, n in pairs}
        if len(outcomes) > 1:
            model = _predictability(x[[index[c] for c, _ in pairs]], [n for _, n in pairs])
        elif stats.get(act, {}).get("cases", n_cases) < 0.5 * n_cases:
            reached = np.zeros(len(everyone), dtype=bool)
            reached[[index[c] for c, _ in pairs]] = True
            sample = everyone[:MAX_ROWS]
            model = _predictability(x[sample], ["yes" if v else "no" for v in reached[sample]])
        else:
            continue
        if model is not None:
            model.drivers = [names[int(d)] for d in model.drivers]
            out[act] = model
    return out


def _concentrations(engine: Engine, scope: Any, info: Any, distinct: dict[str, int]) -> dict[tuple[str, str], str]:
    """Per hand-over, a sentence when one segment of a case attribute waits far longer than the rest."""
    out: dict[tuple[str, str], tuple[float, str]] = {}
    for attr, t in sorted(info.attributes.items()):  # ties go to the first name, whatever the engine's column order
        if not any(x in t.upper() for x in ("VARCHAR", "STRING", "BOOL")):  # text or flags, on any engine
            continue
        if not 2 <= distinct[attr] <= 12:
            continue
        by_edge: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in engine.run(SEGMENT_WAITS, params=scope.params, **scope.parts(attr=quote(attr))):
            by_edge.setdefault((r["source"], r["target"]), []).append(r)
        for edge, segs in by_edge.items():
            total = sum(s["n"] for s in segs)
            for s in sorted(segs, key=lambda g: str(g["value"])):
                rest_n = total - s["n"]
                if s["n"] < 0.05 * total or rest_n < 0.2 * total or s["mean_seconds"] is None:
                    continue
                rest = sum((o["mean_seconds"] or 0) * o["n"] for o in segs if o is not s) / rest_n
                ratio = s["mean_seconds"] / rest if rest > 0 else 0
                if ratio >= 2 and ratio > out.get(edge, (0.0, ""))[0] * (1 + 1e-9):
                    out[edge] = (
                        ratio,
                        f"The wait is concentrated where {attr} is {s['value']}: {human(s['mean_seconds'])} on "
                        f"average there against {human(rest)} elsewhere ({pct(s['n'] / total)} of the cases).",
                    )
    return {k: v[1] for k, v in out.items()}


def _explain_model(model: _Model | None, what: str) -> str | None:
    if model is None:
        return None
    if model.accuracy < model.baseline + 0.02:
        return (
            f"The most common outcome alone is right {pct(model.baseline)} of the time for {what}; "
            "the case's attributes add nothing to that."
        )
    drivers = f", mostly from {' and '.join(model.drivers)}" if model.drivers else ""
    return (
        f"A simple rule on the case's attributes predicts {what} {pct(model.accuracy)} of the time{drivers} "
        f"(always guessing the most common outcome: {pct(model.baseline)})."
    )


def _step_row(
    act: str,
    st: dict[str, Any],
    costs: Costs,
    model: _Model | None,
    exc: dict[str, Any] | None,
    staff: float,
    per_year: float,
    n_cases: int,
) -> dict[str, Any]:
    measured = st.get("median_service_seconds")
    minutes = costs.handling_minutes_by_activity.get(act, costs.handling_minutes)
    service_h = (measured / 3600) if measured is not None else minutes / 60
    volume = st["events"] * per_year
    hours = volume * service_h * staff
    repeats = max(0, st["events"] - st["cases"]) * per_year
    rework_h = repeats * service_h * staff
    decision = model is not None and model.baseline < 0.999 and st["cases"] >= 0.5 * n_cases
    rec = _recommend(model, decision)
    work_share = SHARES[rec][0]
    extra_h = 0.0
    if exc is not None and st["cases"] < 0.5 * n_cases and exc["median_without"] is not None:
        extra_h = max(0.0, (exc["median_with"] - exc["median_without"]) / 3600) * st["cases"] * per_year
    # an exception is worth acting on when the cases that reach it can be told in advance (to
    # prevent it or prepare for it); an unpredictable branch may be the business itself
    exc_share = SHARES["automate"][1] if model is not None and model.accuracy >= 0.9 else 0.0
    savings = (
        costs.hourly_rate * (hours - rework_h) * work_share
        + costs.hourly_rate * rework_h * max(work_share, REWORK_SHARE)
        + costs.delay_cost_per_case_hour * extra_h * exc_share
    )
    reasons = [
        f"{act} happens about {volume:,.0f} times a year"
        + (
            f" and takes {human(service_h * 3600)} of work each time (measured)."
            if measured is not None
            else f"; at {minutes:g} minutes of work each (the stated handling time), that is {hours:,.0f} hours a year."
        )
    ]
    if staff == 0:
        reasons.append(
            "Automations or outside parties already do it: no staff time to save; the saving is in preventing it."
        )
    if repeats >= 1:
        reasons.append(f"It is repeated about {repeats:,.0f} times a year within the same cases: rework.")
    if extra_h > 0:
        reasons.append(
            f"Only {pct(st['cases'] / n_cases)} of cases reach it, and they take "
            f"{human((exc['median_with'] - exc['median_without']) if exc else 0)} longer (median)."
        )
    said = _explain_model(model, "what happens next" if decision else "which cases reach it")
    if said:
        reasons.append(said)
    kind = "exception" if extra_h > 0 and exc_share > 0 else "rework" if repeats >= 1 else "step"
    return {
        "step": act,
        "kind": kind,
        "volume_per_year": round(volume, 1),
        "hours_per_year": round(hours, 1),
        "waiting_hours_per_year": round(extra_h, 1),
        "savings_per_year": round(savings, 2),
        "recommendation": rec,
        "rule_score": None if model is None else round(model.accuracy, 3),
        "reasons": reasons,
    }


def _edge_row(
    e: dict[str, Any], costs: Costs, model: _Model | None, per_year: float, concentration: str | None
) -> dict[str, Any]:
    tgt = e["target"]
    volume = e["frequency"] * per_year
    wait_h = volume * e["mean_seconds"] / 3600
    # a queue is shortened by routing and prioritising even where the step's outcome is not predictable
    rec = "automate" if model is not None and model.accuracy >= 0.9 else "augment"
    savings = costs.delay_cost_per_case_hour * wait_h * SHARES[rec][1]
    reasons = [
        f"Cases wait {human(e['mean_seconds'])} on average (median {human(e['median_seconds'])}) between "
        f"{e['source']} and {tgt}, about {volume:,.0f} times a year: {wait_h:,.0f} case-hours of waiting.",
    ]
    if concentration:
        reasons.append(concentration)
    if rec == "automate":
        reasons.append(f"Deciding {tgt} automatically when the rule is confident removes most of this queue.")
    else:
        reasons.append(f"Routing, prioritising or preparing {tgt} for the person who does it shortens this queue.")
    said = _explain_model(model, f"the outcome of {tgt}")
    if said:
        reasons.append(said)
    return {
        "step": f"{e['source']} → {tgt}",
        "kind": "hand-over",
        "volume_per_year": round(volume, 1),
        "hours_per_year": 0.0,
        "waiting_hours_per_year": round(wait_h, 1),
        "savings_per_year": round(savings, 2),
        "recommendation": rec,
        "rule_score": None if model is None else round(model.accuracy, 3),
        "reasons": reasons,
    }


def _assumptions(costs: Costs) -> list[str]:
    return [
        f"work costs {costs.hourly_rate:g} {costs.currency} per person-hour"
        + (f" ({len(costs.hourly_rates)} people with their own rate)" if costs.hourly_rates else ""),
        f"a step without measured service time takes {costs.handling_minutes:g} minutes of work",
        f"a case waiting one hour costs {costs.delay_cost_per_case_hour:g} {costs.currency}",
        "automate removes 80% of a step's work and waiting; augment 30% of the work and 50% of the waiting; "
        "human 5% and 10%; half of all rework is avoidable",
        "waits before steps of outside parties or listed in external_waits are not counted",
    ]
