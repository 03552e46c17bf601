"""Is it working? Per automation: volume, coverage, accuracy, overrides, latency, errors, input
drift, accuracy per segment and the pilot scorecard; and thresholds set from a target precision.

Definitions (the dashboard and the review say the same):

- **coverage**: share of live decisions the automation acted on alone (tier ``auto``);
- **accuracy**: share of decisions with a proposal whose final answer (a person's accept,
  override or shadow answer; a recorded outcome) equals the proposal;
- **override rate**: share of proposals a person judged (accepted, overridden, confirmed,
  corrected) that they changed;
- **input drift**: the population stability index (PSI) of each kept input field, recent live
  decisions against the shadow period (else the first half of the decisions): categories (the
  reference's 20 most common values and "other") for text with declared values, strings and
  booleans; the reference's deciles for numbers; word-count bands (0-9, 10-19, 20-39, 40-79, 80+)
  for free text. PSI = sum((cur - ref) * ln(cur / ref)) with shares floored at 0.0001; above 0.2
  is flagged as drift, 0.1-0.2 as a moderate shift;
- **accuracy per segment**: per value of each segment field; a segment is flagged when it has at
  least 20 judged decisions, its accuracy is at least 10 points below the rest's and a
  two-proportion z-test gives z < -1.96;
- **pilot scorecard**: each success criterion measured on the live period, met or not; KPI
  criteria compare the cases the automation handled alone with the cases started in an equally
  long period before it went live, on the same stream.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.automation import audit
from conveyor.automation.definitions import (
    Automation,
    AutomationError,
    TierThresholds,
    load_automation,
    save_automation,
)
from conveyor.automation.engine import current_status
from conveyor.data.items import case_items, cases_started
from conveyor.state import StateStore

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["calibrate", "monitor", "psi", "summary"]

_JUDGED = ("accepted", "overridden", "confirmed", "corrected")
_CHANGED = ("overridden", "corrected")
DRIFT_FLAG = 0.2
#: KPIs that count cases: not comparable between the cases an automation handled and a whole period.
_VOLUME_KPIS = ("throughput", "backlog")
DRIFT_MODERATE = 0.1


def _rows(state: StateStore, name: str) -> list[dict[str, Any]]:
    return state.execute(
        "SELECT d.id, d.status, d.tier, d.policy_tier, d.label, d.confidence, d.error, d.latency_ms, d.input, "
        "d.case_id, d.created_at, d.final_label, d.outcome, q.reason AS override_reason FROM decisions d "
        "LEFT JOIN queue q ON q.decision_id = d.id WHERE d.automation = ? ORDER BY d.created_at",
        (name,),
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(s[lo] + (s[hi] - s[lo]) * (pos - lo), 3)


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Volume, coverage, accuracy, overrides, errors and latency of a set of decisions."""
    live = [r for r in rows if r["status"] == "live"]
    answered = [r for r in rows if r["label"] is not None and r["final_label"] is not None]
    judged = [r for r in rows if r["label"] is not None and r["outcome"] in _JUDGED]
    changed = [r for r in judged if r["outcome"] in _CHANGED]
    lat = [float(r["latency_ms"]) for r in rows]
    return {
        "volume": len(rows),
        "live": len(live),
        "auto": sum(1 for r in live if r["tier"] == "auto"),
        "coverage": _rate(sum(1 for r in live if r["tier"] == "auto"), len(live)),
        "answered": len(answered),
        "accuracy": _rate(sum(1 for r in answered if r["label"] == r["final_label"]), len(answered)),
        "judged": len(judged),
        "override_rate": _rate(len(changed), len(judged)),
        "override_reasons": dict(Counter(r["override_reason"] or "(outcome recorded)" for r in changed).most_common()),
        "errors": sum(1 for r in rows if r["error"]),
        "error_rate": _rate(sum(1 for r in rows if r["error"]), len(rows)),
        "latency_ms": {"p50": _quantile(lat, 0.5), "p95": _quantile(lat, 0.95), "p99": _quantile(lat, 0.99)},
        "tiers": dict(Counter(r["tier"] for r in rows)),
        "policy_tiers": dict(Counter(r["policy_tier"] for r in rows)),
    }


# -- drift -----------------------------------------------------------------------------------------


def psi(reference: Sequence[str], current: Sequence[str]) -> float:
    """Population stability index of two samples of bin names."""
    ref, cur = Counter(reference), Counter(current)
    total_r, total_c = max(1, len(reference)), max(1, len(current))
    out = 0.0
    for b in set(ref) | set(cur):
        r = max(ref[b] / total_r, 1e-4)
        c = max(cur[b] / total_c, 1e-4)
        out += (c - r) * math.log(c / r)
    return round(out, 4)


def _binner(spec_type: str, declared: bool, ref_values: list[Any]) -> tuple[str, Any]:
    if spec_type == "number":
        nums = sorted(float(v) for v in ref_values if v is not None)
        edges = sorted({nums[int(len(nums) * k / 10)] for k in range(1, 10)}) if nums else []

        def number_bin(v: Any) -> str:
            if v is None:
                return "(missing)"
            return f"decile {sum(1 for e in edges if float(v) >= e) + 1}"

        return "deciles of the reference", number_bin
    if spec_type == "text" and not declared:
        bands = (10, 20, 40, 80)

        def text_bin(v: Any) -> str:
            if v is None:
                return "(missing)"
            n = len(str(v).split())
            for b in bands:
                if n < b:
                    return f"<{b} words"
            return "80+ words"

        return "word-count bands", text_bin
    top = {k for k, _ in Counter(str(v) for v in ref_values).most_common(20)}

    def category_bin(v: Any) -> str:
        if v is None:
            return "(missing)"
        return str(v) if str(v) in top else "(other)"

    return "categories (top 20 + other)", category_bin


def _drift(auto: Automation, rows: list[dict[str, Any]], recent: int = 500) -> dict[str, Any]:
    shadow = [r for r in rows if r["status"] == "shadow"]
    live = [r for r in rows if r["status"] != "shadow"][-recent:]
    if shadow and live:
        ref, cur, basis = shadow, live, "shadow period"
    else:
        half = len(rows) // 2
        ref, cur, basis = rows[:half], rows[half:][-recent:], "first half of the decisions"
    fields = []
    if len(ref) < 30 or len(cur) < 30:
        return {
            "reference": basis,
            "reference_n": len(ref),
            "current_n": len(cur),
            "fields": [],
            "note": "too few decisions (30 on each side needed)",
        }
    ref_items = [json.loads(r["input"]) for r in ref]
    cur_items = [json.loads(r["input"]) for r in cur]
    for name, spec in auto.input.items():
        if not spec.keep or name == auto.case_field:
            continue
        statistic, bin_of = _binner(spec.type, bool(spec.values), [i.get(name) for i in ref_items])
        value = psi([bin_of(i.get(name)) for i in ref_items], [bin_of(i.get(name)) for i in cur_items])
        flag = "drift" if value > DRIFT_FLAG else "moderate" if value > DRIFT_MODERATE else "stable"
        fields.append({"field": name, "psi": value, "binned_by": statistic, "flag": flag})
    return {"reference": basis, "reference_n": len(ref), "current_n": len(cur), "fields": fields, "note": None}


# -- segments --------------------------------------------------------------------------------------


def _segments(auto: Automation, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answered = [r for r in rows if r["label"] is not None and r["final_label"] is not None]
    out = []
    items = [json.loads(r["input"]) for r in answered]
    for name in auto.segment_fields:
        groups: dict[str, list[bool]] = defaultdict(list)
        for r, item in zip(answered, items, strict=True):
            groups[str(item.get(name))].append(r["label"] == r["final_label"])
        total_n = len(answered)
        total_ok = sum(r["label"] == r["final_label"] for r in answered)
        for value, oks in sorted(groups.items()):
            n, ok = len(oks), sum(oks)
            rest_n, rest_ok = total_n - n, total_ok - ok
            acc = ok / n if n else None
            rest = rest_ok / rest_n if rest_n else None
            z = None
            if n and rest_n:
                pooled = (ok + rest_ok) / (n + rest_n)
                se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
                z = round((ok / n - rest_ok / rest_n) / se, 2) if se > 0 else 0.0
            behind = bool(
                n >= 20 and acc is not None and rest is not None and acc <= rest - 0.10 and z is not None and z < -1.96
            )
            out.append(
                {
                    "field": name,
                    "value": value,
                    "n": n,
                    "accuracy": _rate(ok, n),
                    "rest_accuracy": None if rest is None else round(rest, 4),
                    "z": z,
                    "flag": behind,
                }
            )
    return out


# -- scorecard -------------------------------------------------------------------------------------


def _kpi_effect(ws: Workspace, auto: Automation, status: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream's KPIs on the cases the automation handled alone vs the cases started in an
    equally long period before it went live."""
    from conveyor.metrics import compute_kpis, load_metrics
    from conveyor.mining.filters import Filters

    stream = auto.stream
    since = status.get("live_since")
    if not stream or not since or not auto.case_field:
        return {"note": "needs a stream, a case_field and a live period"}
    if not ws.store.has_stream(stream):
        return {"note": f"stream {stream!r} is not in the workspace"}
    handled = sorted(
        {str(r["case_id"]) for r in rows if r["status"] == "live" and r["tier"] == "auto" and r["case_id"]}
    )
    live_rows = [r for r in rows if r["status"] == "live"]
    if not handled or not live_rows:
        return {"note": "no case handled by the automation alone yet"}
    start = datetime.fromisoformat(since)
    end = max(datetime.fromisoformat(r["created_at"]) for r in live_rows if r["tier"] == "auto" and r["case_id"])
    span = max(end - start, timedelta(days=1))
    metrics = load_metrics(ws.root, stream)
    before_f = Filters(start=start - span, end=start, window="started")
    after_f = Filters(case_ids=tuple(handled))
    before = {k["name"]: k for k in compute_kpis(ws.store, stream, metrics=metrics, filters=before_f)}
    after = {k["name"]: k for k in compute_kpis(ws.store, stream, metrics=metrics, filters=after_f)}
    n_before = cases_started(ws.store, stream, start - span, start)
    kpis = []
    for name, b in before.items():
        if b.get("kind") in _VOLUME_KPIS:  # a subset of cases says nothing about volumes
            continue
        a = after.get(name, {})
        bv, av = b.get("value"), a.get("value")
        worse = None
        if bv is not None and av is not None:
            worse = round((bv - av) if b.get("direction") == "higher" else (av - bv), 6)
        kpis.append(
            {
                "kpi": name,
                "label": b.get("label"),
                "unit": b.get("unit"),
                "direction": b.get("direction"),
                "before": bv,
                "after": av,
                "worse_by": worse,
            }
        )
    return {
        "stream": stream,
        "before": {"from": (start - span).isoformat(), "to": start.isoformat(), "cases": int(n_before)},
        "after": {"cases": len(handled), "description": "cases the automation handled alone since it went live"},
        "kpis": kpis,
        "note": None,
        "left_out": "volume KPIs (cases completed, backlog): the handled cases are a subset of the stream's",
    }


def _scorecard(auto: Automation, live: dict[str, Any], effect: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for c in auto.success_criteria:
        if c.metric is not None:
            value = (
                live["latency_ms"]["p99"]
                if c.metric == "latency_p99_ms"
                else live["volume"]
                if c.metric == "volume"
                else live[c.metric]
            )
            bound = " and ".join(
                x
                for x in (f"≥ {c.min:g}" if c.min is not None else "", f"≤ {c.max:g}" if c.max is not None else "")
                if x
            )
            met = None if value is None else (c.min is None or value >= c.min) and (c.max is None or value <= c.max)
            unit = "ms" if c.metric == "latency_p99_ms" else "cases" if c.metric == "volume" else "share"
            out.append(
                {
                    "criterion": c.label or f"{c.metric} {bound}",
                    "metric": c.metric,
                    "unit": unit,
                    "value": value,
                    "target": bound,
                    "met": met,
                }
            )
            continue
        row = next((k for k in (effect or {}).get("kpis", []) if k["kpi"] == c.kpi), None)
        worse = row["worse_by"] if row else None
        out.append(
            {
                "criterion": c.label or f"no drop in {c.kpi}" + (f" beyond {c.max_drop:g}" if c.max_drop else ""),
                "kpi": c.kpi,
                "unit": row["unit"] if row else None,
                "before": row["before"] if row else None,
                "after": row["after"] if row else None,
                "value": worse,
                "target": f"worse by ≤ {c.max_drop:g}",
                "met": None if worse is None else worse <= (c.max_drop or 0.0) + 1e-12,
            }
        )
    return out


def _weekly(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decisions per week (the Monday it starts), by tier, with overrides and answers."""
    days: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        t = datetime.fromisoformat(r["created_at"])
        d = days[(t.date() - timedelta(days=t.weekday())).isoformat()]
        d["decisions"] += 1
        d[r["tier"]] += 1
        if r["outcome"] in _CHANGED:
            d["overridden"] += 1
        if r["label"] is not None and r["final_label"] is not None:
            d["answered"] += 1
            d["correct"] += int(r["label"] == r["final_label"])
    return [
        {"day": k, **{n: v[n] for n in ("decisions", "auto", "suggest", "human", "overridden", "answered", "correct")}}
        for k, v in sorted(days.items())
    ]


def monitor(state: StateStore, root: Path, name: str, *, ws: Workspace | None = None) -> dict[str, Any]:
    """Everything the dashboard shows about one automation (``ws`` adds the KPI effect)."""
    auto = load_automation(root, name)
    status = current_status(state, auto)
    rows = _rows(state, name)
    live_rows = [r for r in rows if r["status"] == "live"]
    live = _figures(live_rows)
    queue = state.execute(
        "SELECT state, count(*) AS n, min(created_at) AS oldest, sum(CASE WHEN due_at < ? THEN 1 ELSE 0 END) AS overdue "
        "FROM queue WHERE automation = ? AND state <> 'done' GROUP BY state",
        (datetime.now().astimezone().isoformat(), name),
    )
    outbox = state.execute("SELECT state, count(*) AS n FROM outbox WHERE automation = ? GROUP BY state", (name,))
    effect = _kpi_effect(ws, auto, status, rows) if ws is not None else None
    return {
        "automation": name,
        "description": auto.description,
        "owner": auto.owner,
        "decider": auto.decider.kind,
        "stream": auto.stream,
        "trigger": auto.trigger.kind,
        "labels": auto.labels,
        "status": status,
        "policy": auto.policy.model_dump(mode="json"),
        "limits": auto.limits.model_dump(mode="json"),
        "all": _figures(rows),
        "shadow": _figures([r for r in rows if r["status"] == "shadow"]),
        "live": live,
        "queue": {
            r["state"]: {"items": int(r["n"]), "oldest": r["oldest"], "overdue": int(r["overdue"] or 0)} for r in queue
        },
        "deliveries": {r["state"]: int(r["n"]) for r in outbox},
        "drift": _drift(auto, rows),
        "segments": _segments(auto, rows),
        "scorecard": _scorecard(auto, live, effect),
        "kpi_effect": effect,
        "weekly": _weekly(rows),
    }


def summary(state: StateStore, root: Path) -> list[dict[str, Any]]:
    """One line per automation: status, volume, coverage, accuracy, override rate, open queue."""
    from conveyor.automation.definitions import list_automations

    out = []
    for auto in list_automations(root):
        rows = _rows(state, auto.name)
        f = _figures([r for r in rows if r["status"] == "live"] or rows)
        st = current_status(state, auto)
        open_items = state.execute(
            "SELECT count(*) AS n FROM queue WHERE automation = ? AND state <> 'done'", (auto.name,)
        )[0]["n"]
        out.append(
            {
                "name": auto.name,
                "description": auto.description,
                "owner": auto.owner,
                "status": st["status"],
                "reason": st["reason"],
                "decider": auto.decider.kind,
                "trigger": auto.trigger.kind,
                "stream": auto.stream,
                "decisions": len(rows),
                "coverage": f["coverage"],
                "accuracy": f["accuracy"],
                "override_rate": f["override_rate"],
                "queue_open": int(open_items),
            }
        )
    return out


# -- thresholds from a target precision -----------------------------------------------------------


def _threshold(pairs: list[tuple[float, bool]], target: float) -> dict[str, Any]:
    """The lowest confidence threshold whose proposals at or above it reach ``target`` precision."""
    best = None
    for t in sorted({c for c, _ in pairs}):
        above = [ok for c, ok in pairs if c >= t]
        precision = sum(above) / len(above)
        if precision >= target:
            best = {
                "threshold": round(t, 4),
                "precision": round(precision, 4),
                "coverage": round(len(above) / len(pairs), 4),
                "n": len(pairs),
            }
            break
    return best or {"threshold": None, "precision": None, "coverage": 0.0, "n": len(pairs)}


def _history_pairs(ws: Workspace, auto: Automation, limit: int = 20_000) -> list[tuple[str, float, str | None]]:
    from conveyor.automation.engine import _decider, check_input

    if auto.history is None:
        raise AutomationError(
            f"automation {auto.name!r} declares no history",
            hint="add history: {stream, label} to its YAML, or calibrate on the shadow period",
            field="history",
        )
    h = auto.history
    try:
        rows, fields = case_items(
            ws.store, h.stream, list(auto.input), case_field=auto.case_field, label=h.label, limit=limit
        )
    except KeyError:
        raise AutomationError(
            f"history.label: stream {h.stream!r} has no case attribute {h.label!r}", field="history.label"
        ) from None
    decider = _decider(auto, Path(ws.root))
    out = []
    for r in rows:
        raw = {
            n: (str(r[n]) if r[n] is not None and auto.input[n].type in ("text", "string") else r[n]) for n in fields
        }
        try:
            item = check_input(auto, {k: v for k, v in raw.items() if v is not None})
        except AutomationError:
            continue
        p = decider.decide(item)
        if p.label is not None:
            out.append((p.label, float(p.confidence), None if r["_label"] is None else str(r["_label"])))
    return out


def calibrate(
    state: StateStore,
    root: Path,
    name: str,
    *,
    precision: float,
    on: str = "shadow",
    ws: Workspace | None = None,
    apply: bool = False,
    actor: str = "conveyor",
) -> dict[str, Any]:
    """Thresholds that reach ``precision`` (share of automatic actions that are right), measured on
    the shadow period's answered decisions or on the history; ``apply`` writes them to the YAML."""
    if not 0 < precision <= 1:
        raise AutomationError(f"precision: {precision} must be above 0 and at most 1", field="precision")
    auto = load_automation(root, name)
    if on == "shadow":
        rows = [
            r
            for r in _rows(state, name)
            if r["status"] == "shadow" and r["label"] is not None and r["final_label"] is not None
        ]
        triples = [(r["label"], float(r["confidence"]), r["final_label"]) for r in rows]
    elif on == "history":
        if ws is None:
            raise AutomationError("calibrating on history needs the workspace's data")
        triples = _history_pairs(ws, auto)
    else:
        raise AutomationError(f"on: {on!r} is not a source", hint="valid values: shadow, history", field="on")
    if len(triples) < 20:
        raise AutomationError(
            f"only {len(triples)} answered decisions on {on}: at least 20 are needed",
            hint="keep the automation in shadow longer, or calibrate on history",
        )
    overall = _threshold([(c, lab == truth) for lab, c, truth in triples], precision)
    per_label = {}
    for label in auto.labels:
        pairs = [(c, lab == truth) for lab, c, truth in triples if lab == label]
        if len(pairs) >= 20:
            per_label[label] = _threshold(pairs, precision)
    result = {
        "automation": name,
        "on": on,
        "target_precision": precision,
        "decisions": len(triples),
        "auto_at": overall,
        "per_label": per_label,
        "applied": False,
    }
    if apply:
        if overall["threshold"] is None:
            raise AutomationError(
                f"no threshold reaches precision {precision} on {on}", hint="lower the target, or improve the decider"
            )
        policy = auto.policy.model_copy(deep=True)
        policy.auto_at = max(overall["threshold"], policy.suggest_at)
        policy.per_label = {
            lab: TierThresholds(auto_at=v["threshold"] if v["threshold"] is not None else 1.0, suggest_at=None)
            for lab, v in per_label.items()
        }
        new = auto.model_copy(update={"policy": policy})
        save_automation(root, new)
        with state.transaction():
            audit.append(
                state,
                "calibrate",
                {
                    "on": on,
                    "target_precision": precision,
                    "auto_at": policy.auto_at,
                    "per_label": {k: v.auto_at for k, v in policy.per_label.items()},
                },
                automation=name,
                actor=actor,
            )
        result["applied"] = True
    return result
