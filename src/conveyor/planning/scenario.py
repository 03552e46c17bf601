"""What-if scenarios on a stream's simulation: drivers, a tornado over them, and playbooks checked
against a saved forecast.

A scenario file (YAML)::

    name: demand up, two more people on Start Work
    replications: 5
    pools_by: queue                    # optional: a pool per queue (case attribute) and activity
    drivers:
      demand: 1.2                      # arrivals x 1.2
      staff: {Start Work: "+2"}        # a number replaces the pool; "+2" / "-1" change it (at
                                       # least 1 stays: to take a step off people, automate it)
                                       # ("Start Work @ Billing": one queue's pool)
      handling: {Classify Ticket: 0.5} # work x 0.5 ("*": every activity)
      automation: {Route Ticket: 0.6}  # share of the step done by an automation
    sensitivity:                       # optional: low and high per driver (default: each driver
      demand: [0.8, 1.2]               # the scenario changes, and demand, at -/+20% or -/+1)
    playbooks:
      - name: add 2 people to Start Work if demand rises 10%
        when: {forecast: tickets, growth_at_least: 1.1}   # forecast mean over the last actuals
        then: {staff: {Start Work: "+2"}}

Every run uses common random numbers (the same seeds, a stream per kind of draw: see
``simulate._replication``) so differences between runs are the drivers', not the dice's;
``change_intervals`` are the 95% intervals of the changes paired by seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from conveyor.planning.simulate import KPIS, Drivers, SimModel, interval95, run_replications, summarise
from conveyor.planning.staffing import PlanningError

__all__ = ["parse_scenario", "run_scenario", "staffing_effects"]

Progress = Callable[[str, float], None]
FIELDS = ("demand", "staff", "handling", "automation")


def parse_scenario(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PlanningError(f"{path}: no such scenario file", hint="see the README's scenario section for its shape")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PlanningError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise PlanningError(f"{path}: expected a mapping with drivers:", hint="drivers: {demand: 1.2}")
    unknown = set(spec) - {"name", "replications", "pools_by", "drivers", "sensitivity", "playbooks"}
    if unknown:
        raise PlanningError(
            f"{path}: unknown key {sorted(unknown)[0]!r}",
            hint="keys: name, replications, pools_by, drivers, sensitivity, playbooks",
        )
    if "pools_by" in spec and not isinstance(spec["pools_by"], str):
        raise PlanningError(f"{path}: pools_by: expected a case attribute's name", hint="pools_by: queue")
    spec["drivers"] = _drivers(spec.get("drivers") or {}, f"{path}: drivers")
    for i, p in enumerate(spec.get("playbooks") or []):
        where = f"{path}: playbooks[{i}]"
        if not isinstance(p, dict) or "when" not in p or "then" not in p:
            raise PlanningError(
                f"{where}: needs name, when and then", hint="when: {forecast: NAME, growth_at_least: 1.2}"
            )
        when = p["when"]
        if not isinstance(when, dict) or "forecast" not in when or "growth_at_least" not in when:
            raise PlanningError(
                f"{where}.when: needs forecast and growth_at_least", hint="{forecast: tickets, growth_at_least: 1.2}"
            )
        p["then"] = _drivers(p["then"], f"{where}.then")
    return spec


def _drivers(raw: Any, where: str) -> Drivers:
    if not isinstance(raw, dict):
        raise PlanningError(f"{where}: expected a mapping", hint="{demand: 1.2, staff: {Start Work: '+2'}}")
    unknown = set(raw) - set(FIELDS)
    if unknown:
        raise PlanningError(f"{where}: unknown driver {sorted(unknown)[0]!r}", hint=f"drivers: {', '.join(FIELDS)}")
    for k in ("staff", "handling", "automation"):
        if not isinstance(raw.get(k, {}), dict):
            raise PlanningError(f"{where}.{k}: expected activity: value pairs", hint=f"{k}: {{Start Work: 1}}")
    try:
        return Drivers(
            demand=float(raw.get("demand", 1.0)),
            staff=dict(raw.get("staff") or {}),
            handling={k: float(v) for k, v in (raw.get("handling") or {}).items()},
            automation={k: float(v) for k, v in (raw.get("automation") or {}).items()},
        )
    except (TypeError, ValueError) as exc:
        raise PlanningError(f"{where}: {exc}", hint="numbers, e.g. demand: 1.2, handling: {Start Work: 0.8}") from None


def _sensitivity(spec: dict[str, Any], drivers: Drivers, model: SimModel) -> list[tuple[str, Drivers, Drivers]]:
    """(label, low, high) per driver: from ``sensitivity`` or around the scenario's own drivers."""
    out = []
    given = spec.get("sensitivity") or {}
    if given:
        for key, pair in given.items():
            if not isinstance(pair, list) or len(pair) != 2:
                raise PlanningError(f"sensitivity: {key}: expected [low, high]", hint="demand: [0.8, 1.2]")
            out.append((key, _one(key, pair[0]), _one(key, pair[1])))
        return out
    out.append(("demand", Drivers(demand=0.8), Drivers(demand=1.2)))
    for name in drivers.staff:
        # one fewer where every pool it names can spare one: a pool keeps at least one person
        fewer = Drivers(staff={name: "-1"})
        spare = all(people >= 1 for _, people, _ in fewer.staffed(model))
        out.append((f"staff:{name}", fewer if spare else Drivers(staff={name: "+0"}), Drivers(staff={name: "+1"})))
    for name in drivers.handling:
        out.append((f"handling:{name}", Drivers(handling={name: 0.8}), Drivers(handling={name: 1.2})))
    for name in drivers.automation:
        out.append(
            (
                f"automation:{name}",
                Drivers(automation={name: 0.0}),
                Drivers(automation={name: min(1.0, 2 * drivers.automation[name])}),
            )
        )
    return out


def _one(key: str, value: Any) -> Drivers:
    kind, _, name = key.partition(":")
    if kind == "demand":
        return Drivers(demand=float(value))
    if kind in ("staff", "handling", "automation") and name:
        return _drivers({kind: {name: value}}, f"sensitivity: {key}")
    raise PlanningError(
        f"sensitivity: {key!r} is not a driver", hint="demand, staff:ACTIVITY, handling:ACTIVITY, automation:ACTIVITY"
    )


def _growth(saved: dict[str, Any], series: str | None) -> tuple[float, str]:
    """The forecast's mean per period over its horizon against the mean of the same number of
    last actuals (summed over the series, or of one ``series``)."""
    rows = saved["series"]
    if series is not None:
        rows = [s for s in rows if s["key"] == series]
        if not rows:
            raise PlanningError(f"forecast {saved.get('name')!r} has no series {series!r}")
    h = len(rows[0]["forecast"])
    if any(len(s.get("history") or []) < h for s in rows):
        raise PlanningError(
            f"forecast {saved.get('name')!r} was saved without history", hint="save it again with --save"
        )
    future = sum(p["mean"] for s in rows for p in s["forecast"]) / h
    recent = sum(p["value"] for s in rows for p in s["history"][-h:]) / h
    growth = future / recent if recent > 0 else float("inf")
    return growth, f"forecast {future:,.1f} per period over the next {h} vs {recent:,.1f} over the last {h}"


def run_scenario(
    model: SimModel,
    spec: dict[str, Any],
    *,
    replications: int | None = None,
    forecasts: Callable[[str], dict[str, Any]] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """As-is vs the scenario (means and 95% intervals over replications), the tornado, and each
    playbook's trigger against its forecast and its effect when triggered."""
    reps = int(replications or spec.get("replications") or 5)
    drivers: Drivers = spec["drivers"]
    drivers.check(model)
    sens = _sensitivity(spec, drivers, model)
    playbooks = spec.get("playbooks") or []
    steps = 2 + 2 * len(sens) + 2 * len(playbooks)
    done = [0]

    def run(d: Drivers, label: str) -> list[dict[str, float]]:
        out = run_replications(model, replications=reps, drivers=d, seed=1)
        done[0] += 1
        if progress is not None:
            progress(label, done[0] / steps)
        return out

    as_is_runs = run(Drivers(), "simulating the as-is")
    scen_runs = run(drivers, "simulating the scenario")
    as_is, as_is_iv = summarise(as_is_runs)
    scen, scen_iv = summarise(scen_runs)
    tornado: list[dict[str, Any]] = []
    for label, low, high in sens:
        lo_runs, hi_runs = run(low, f"sensitivity: {label}"), run(high, f"sensitivity: {label}")
        lo, hi = summarise(lo_runs)[0], summarise(hi_runs)[0]
        # each side's change of the median against the as-is, paired by seed: an interval that
        # holds 0 is a bar the dice could have drawn (within_noise)
        paired = [_paired_changes(as_is_runs, side)["cycle_time_median"] for side in (lo_runs, hi_runs)]
        tornado.append(
            {
                "driver": label,
                "low": low.as_dict(),
                "high": high.as_dict(),
                "cycle_time_median": [lo["cycle_time_median"], hi["cycle_time_median"]],
                "throughput_per_week": [lo["throughput_per_week"], hi["throughput_per_week"]],
                "swing": round(abs(hi["cycle_time_median"] - lo["cycle_time_median"]), 3),
                "cycle_time_median_change_intervals": paired,
                "within_noise": [iv is None or iv[0] <= 0 <= iv[1] for iv in paired],
            }
        )
    tornado.sort(key=lambda t: -float(t["swing"]))
    books = [_playbook(model, p, run, forecasts) for p in playbooks]
    return {
        "stream": model.stream,
        "name": spec.get("name"),
        "replications": reps,
        "pools_by": model.pools_by,
        "drivers": drivers.as_dict(),
        "as_is": {k: as_is[k] for k in as_is},
        "scenario": {k: scen[k] for k in scen},
        "intervals": {"as_is": {k: as_is_iv[k] for k in KPIS}, "scenario": {k: scen_iv[k] for k in KPIS}},
        "change": {k: round(scen[k] / as_is[k] - 1, 4) if as_is[k] else None for k in KPIS},
        # each replication's change against the as-is with the same seed: 95% interval
        "change_intervals": _paired_changes(as_is_runs, scen_runs),
        "tornado": tornado,
        "playbooks": books,
        # each pool the drivers staff differently: what more (or fewer) people can change there
        "staffing": staffing_effects(model, drivers, as_is, scen),
    }


def staffing_effects(
    model: SimModel, drivers: Drivers, before: dict[str, float], after: dict[str, float]
) -> list[dict[str, Any]]:
    """Per pool whose people ``drivers`` change: the people before and after, the pool's
    utilisation in the two runs (their KPI means), the share of the log's waiting before its
    steps during which all its people were busy (the part more people can shorten), and a reading
    that says which: more people cannot shorten waiting in the log that is not for want of them,
    and the reading says so instead of leaving a zero unexplained (a queue the scenario's own
    load makes is another matter: the utilisations show it)."""
    old, new = model.capacity, drivers.capacity(model)
    out = []
    for pool in sorted(set(old) | set(new), key=lambda p: (p[0], str(p[1]))):
        b, a = old.get(pool, 0), new.get(pool, 0)
        if a == b:
            continue
        name = model.pool_name(pool)
        u0, u1 = before.get(f"utilisation:{name}"), after.get(f"utilisation:{name}")
        share = model.all_busy_share(pool)
        busy = f"{_share(u0)} busy in the as-is" if u0 is not None else "not simulated in the as-is"
        if a > b:
            cause = (
                "that waiting is not for want of people (it is the customers', other work's, or how work is "
                "picked up), so more people cannot shorten it"
                if share < 0.05
                else "more people shorten that part of it"
            )
            reading = (
                f"its people were all busy for {_share(share)} of the log's waiting before {name}: {cause}; "
                f"{busy}, {_share(u1 or 0)} with {a}"
            )
        else:
            reading = f"{busy}, {_share(u1 or 0)} with {a}"
            if (u1 or 0) >= 0.95:
                reading += ": past what it can do, so its queue grows for as long as the simulation runs"
        out.append(
            {
                "pool": name,
                "people": [b, a],
                "utilisation": [None if u0 is None else round(u0, 4), None if u1 is None else round(u1, 4)],
                "all_busy_share_of_wait": round(share, 4),
                "reading": reading,
            }
        )
    return out


def _share(x: float) -> str:
    """A share as a whole percentage, "under 1%" for a small one that is not none."""
    return "under 1%" if 0 < x < 0.005 else f"{x:.0%}"


def _paired_changes(base: list[dict[str, float]], other: list[dict[str, float]]) -> dict[str, list[float] | None]:
    """Per KPI, the 95% interval of the relative change over replications paired by seed. The
    pairs share their random numbers, so this interval is far narrower than the two runs'
    intervals side by side: a change outside zero is the drivers', not the dice's."""
    out: dict[str, list[float] | None] = {}
    for k in KPIS:
        pairs = [(o[k] / b[k] - 1) for b, o in zip(base, other, strict=True) if b[k]]
        if not pairs:
            out[k] = None
            continue
        mean, half = interval95(pairs)
        out[k] = [round(mean - half, 4), round(mean + half, 4)]
    return out


def _playbook(
    model: SimModel,
    p: dict[str, Any],
    run: Callable[[Drivers, str], list[dict[str, float]]],
    forecasts: Callable[[str], dict[str, Any]] | None,
) -> dict[str, Any]:
    when = p["when"]
    if forecasts is None:
        raise PlanningError("playbooks need the workspace's saved forecasts")
    growth, why = _growth(forecasts(str(when["forecast"])), when.get("series"))
    triggered = growth >= float(when["growth_at_least"])
    action: Drivers = p["then"]
    action.check(model)
    entry: dict[str, Any] = {
        "name": p.get("name"),
        "forecast": when["forecast"],
        "growth": round(growth, 4),
        "threshold": float(when["growth_at_least"]),
        "triggered": triggered,
        "why": why,
        "action": action.as_dict(),
    }
    # at the forecast's demand: without the action, then with it
    demand = growth if growth != float("inf") else 1.0
    without, _ = summarise(run(Drivers(demand=demand), f"playbook: {p.get('name')}"))
    with_action, _ = summarise(
        run(
            Drivers(
                demand=demand * action.demand,
                staff=action.staff,
                handling=action.handling,
                automation=action.automation,
            ),
            f"playbook: {p.get('name')}",
        )
    )
    entry["at_forecast"] = {
        "without": {k: without[k] for k in KPIS},
        "with_action": {k: with_action[k] for k in KPIS},
    }
    entry["staffing"] = staffing_effects(model, action, without, with_action)
    return entry
