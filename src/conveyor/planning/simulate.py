"""A discrete-event simulation (SimPy) of a stream, calibrated from its own log, and what-if
scenarios on it.

What the model takes from the log:

- **arrivals**: a Poisson process whose rate follows the log's hour-of-week pattern (cases
  started per hour of the week, averaged over its calendar weeks);
- **routing**: each simulated case follows the activity sequence of a case drawn from the log
  (variants in proportion to their frequency, loops and rework included);
- **times**: a simulated case takes its route and its step times (from one step to the next)
  from the log case it copies, each step's waiting multiplied by a lognormal jitter of mean 1
  (``JITTER``, its spread in log terms; the work is not jittered, so the jitter cannot shorten a
  step below its work), so no simulated case is a copy of a logged one, while a
  case that is quick (or slow) at every step in the log stays so: a smoothed bootstrap of whole
  cases. Drawing each step's time from its own distribution instead, even with the log's ranks
  copied and blended with noise, turned logs whose cases are either quick or slow throughout
  into simulated cases slow at one step (receipt's median +158%, before 2026-12-07);
- **work and resources**: each activity has a pool of people (the distinct resources seen doing it
  in an average week; with ``pools_by``, one pool per value of a case attribute such as the
  queue, each serving its own cases) who are busy for the step's work: the measured service time where the log
  has start events, else the stated handling minutes of ``metrics/STREAM.yaml`` (never more
  than the observed time to the step; steps by automations or outside parties take no one's
  time); the handling-time driver scales the work and keeps the waiting (before 2026-12-07 the
  work it removed went back into the wait: no change);
- **waiting by cause**: replaying the log against the pools (:func:`_contention`), the waiting
  before a step while all its pool's people were busy is a queue the simulated pool makes itself:
  it is taken out of the copied step time, so the as-is replays it and a staffing driver shortens
  it. The rest of a step's waiting does not depend on the pool (customers, batching, other work),
  so the as-is reproduces the log and a scenario that loads a pool past what it can do makes
  queues grow. Before 2026-12-07 all waiting was copied, so a log's own queue was queued twice
  and more people could not shorten it;
- **calendars**: work that had to queue for a pool starts only in the hours of the week when the
  log shows its activity being done (work taken at once keeps the log's own timing, which already
  falls in those hours; applying the calendar to it too would count the nights twice).

Random numbers: each replication draws arrivals, the copied cases and each case's own dice
(step jitters, work samples, automation coin flips) from separate streams, up front, so runs with
the same seed share them whatever their drivers (common random numbers: a scenario's change
against the as-is is the drivers', not the dice's); a demand driver thins those arrivals or adds
others with dice of their own.

The as-is run is the model's validation: the simulated median and 90th percentile cycle time and
throughput against the log's, with intervals over replications.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from conveyor.data.engine import Engine
from conveyor.data.quoting import quote
from conveyor.data.sql import Query
from conveyor.metrics.definitions import StreamMetrics
from conveyor.mining.filters import Filters, scope_for
from conveyor.planning.staffing import PlanningError

__all__ = ["Drivers", "SimModel", "calibrate", "interval95", "run_replications", "summarise"]

HOUR = 3600.0
WEEK = 168 * HOUR
#: the most cases a calibration reads (an evenly spaced sample beyond) and a replication simulates
MAX_CASES = 20_000
#: the spread (standard deviation of the log) of each step time's jitter: a simulated step takes
#: the copied case's time x exp(JITTER x N(0, 1) - JITTER^2 / 2), mean 1 (measured on six real
#: logs: the as-is median within 10% on all six at 0.2, five at 0.1; p90 within 10% at 0.2)
JITTER = 0.2
KPIS = ("cycle_time_median", "cycle_time_p90", "cycle_time_mean", "throughput_per_week")

CASES = Query(
    "simulate.cases",
    """WITH {scope}
    SELECT fe.case_idx, list(fe.activity ORDER BY fe.pos) AS acts,
           list(epoch(fe.ts) ORDER BY fe.pos) AS ts,
           list(epoch(coalesce(fe.start_ts, fe.ts)) ORDER BY fe.pos) AS starts,
           list(fe.resource ORDER BY fe.pos) AS resources
    FROM fe JOIN ({sample}) k USING (case_idx)
    GROUP BY fe.case_idx
    ORDER BY fe.case_idx""".replace(
        # at most MAX_CASES cases, evenly spaced in case order: the same cases on every engine (a
        # random sample's draws are the engine's own)
        "{sample}",
        f"""SELECT case_idx FROM (
            SELECT case_idx, row_number() OVER (ORDER BY case_idx) AS r, count(*) OVER () AS n FROM fc) s
            WHERE n <= {MAX_CASES} OR floor(r * {MAX_CASES}.0 / n) > floor((r - 1) * {MAX_CASES}.0 / n)""",
    ),
)
SPAN = Query(
    "simulate.span",
    """WITH {scope}
    SELECT count(*) AS cases, min(first_ts) AS first_ts, max(first_ts) AS last_arrival,
           median(duration_seconds) AS cycle_median, quantile_cont(duration_seconds, 0.9) AS cycle_p90,
           avg(duration_seconds) AS cycle_mean
    FROM fc""",
)
#: the log's own uncertainty: the cycle times' quantiles at the ranks bounding a 95% interval of
#: the median and the 90th percentile (order statistics), and their spread for the mean's
SPAN_INTERVALS = Query(
    "simulate.span_intervals",
    """WITH {scope}
    SELECT quantile_cont(duration_seconds, {m_lo}) AS median_low, quantile_cont(duration_seconds, {m_hi}) AS median_high,
           quantile_cont(duration_seconds, {q_lo}) AS p90_low, quantile_cont(duration_seconds, {q_hi}) AS p90_high,
           stddev_samp(duration_seconds) AS sd
    FROM fc""",
)
POOLS = Query(
    "simulate.pools",
    """WITH {scope}
    SELECT fe.activity, {pool_value} AS pool_value, count(DISTINCT fe.resource) AS people, count(*) AS n,
           count(DISTINCT date_trunc('week', fe.ts)) AS weeks,
           count(DISTINCT fe.resource || '|' || CAST(date_trunc('week', fe.ts) AS VARCHAR)) AS person_weeks
    FROM fe {pool_join} GROUP BY ALL""",
)
CASE_VALUES = Query(
    "simulate.case_values",
    """WITH {scope}
    SELECT fc.case_idx, {pool_value} AS pool_value FROM fc {pool_join}""",
)

#: a pool: (activity index, value of the ``pools_by`` attribute, or None for the activity's own)
Pool = tuple[int, str | None]


@dataclass
class SimModel:
    """What :func:`calibrate` mined: everything a replication needs."""

    stream: str
    activities: list[str]
    rates: np.ndarray  # cases per hour, by hour of the week (0 = Monday 00:00)
    weeks: float
    traces: list[tuple[int, ...]]
    steps: list[np.ndarray]  # per trace: its log case's seconds from each step to the next
    work: dict[int, float | np.ndarray]  # activity -> mean seconds, or measured samples
    capacity: dict[Pool, int]  # pool -> people (an activity with none: no one's time)
    calendar: dict[int, np.ndarray]  # activity -> 168 booleans
    actual: dict[str, float]
    measured_work: bool
    values: list[str | None] = field(default_factory=list)  # per trace: its case's pools_by value
    pools_by: str | None = None
    notes: list[str] = field(default_factory=list)
    #: per trace: the seconds of each step's wait during which its pool's people were all busy in
    #: the log (the queue the simulated pool replays, so staffing can shorten it); empty: none
    contention: list[np.ndarray] = field(default_factory=list)
    #: per pool: the log's seconds of waiting before its steps, and of those while all were busy
    waiting: dict[Pool, tuple[float, float]] = field(default_factory=dict)
    #: per KPI: the 95% interval of the log's own value (see :func:`_log_intervals`)
    actual_intervals: dict[str, list[float]] = field(default_factory=dict)

    def pool_name(self, pool: Pool) -> str:
        a, value = pool
        return self.activities[a] if value is None else f"{self.activities[a]} @ {value}"

    def describe(self) -> dict[str, Any]:
        return {
            "activities": len(self.activities),
            "variants_sampled": len(set(self.traces)),
            "cases_sampled": len(self.traces),
            "arrivals_per_week": round(float(self.rates.sum()), 2),
            "weeks": round(self.weeks, 2),
            "work": "measured (start to complete)" if self.measured_work else "stated handling minutes",
            "step_time_jitter": JITTER,
            "pools_by": self.pools_by,
            "pools": {
                self.pool_name(pool): {
                    "people": c,
                    "work_minutes": round(_mean_work(self.work[pool[0]]) / 60, 2),
                    "open_hours_per_week": int(self.calendar[pool[0]].sum()),
                    "all_busy_share_of_wait": round(self.all_busy_share(pool), 4),
                }
                for pool, c in sorted(self.capacity.items(), key=lambda item: (item[0][0], str(item[0][1])))
            },
            "notes": self.notes,
        }

    @cached_property
    def queue_free_steps(self) -> list[np.ndarray]:
        """Per trace: its step times less the log's queues at its pools (the simulated pools make
        their own), worked out once for every replication and scenario run on this model."""
        if not self.contention:
            return self.steps
        return [s - c for s, c in zip(self.steps, self.contention, strict=True)]

    def all_busy_share(self, pool: Pool) -> float:
        """The share of the log's waiting before the pool's steps during which all its people
        were busy: the part of the wait that more people could shorten."""
        wait, busy = self.waiting.get(pool, (0.0, 0.0))
        return busy / wait if wait > 0 else 0.0


def _mean_work(w: float | np.ndarray) -> float:
    return float(np.mean(w)) if isinstance(w, np.ndarray) else float(w)


def calibrate(
    engine: Engine,
    stream: str,
    *,
    metrics: StreamMetrics,
    filters: Filters | None = None,
    pools_by: str | None = None,
) -> SimModel:
    """Mine the simulation model of ``stream`` (see the module's docstring); ``pools_by``: a case
    attribute whose values have their own pool of people per activity (e.g. the queue)."""
    from conveyor.metrics.kpis import stream_info

    scope = scope_for(engine, stream, filters)
    if pools_by is not None:
        stream_info(engine, stream).attribute(pools_by, "--pools-by")
    pool_parts = (
        {"pool_value": f"CAST(c.{quote(pools_by)} AS VARCHAR)", "pool_join": f"JOIN {scope.s}.cases c USING (case_idx)"}
        if pools_by is not None
        else {"pool_value": "CAST(NULL AS VARCHAR)", "pool_join": ""}
    )
    span = engine.run(SPAN, params=scope.params, **scope.parts())[0]
    if not span["cases"]:
        raise PlanningError(f"stream {stream!r} has no cases to simulate (after the filters)")
    rows = engine.run(CASES, params=scope.params, **scope.parts())
    info = stream_info(engine, stream)
    costs = metrics.costs
    free = set(info.matching_resources(costs.external_resources)) | set(
        info.matching_resources(costs.automation_resources)
    )
    label = {code: name for name, code in info.activities.items()}
    codes = sorted({a for r in rows for a in r["acts"]}, key=lambda c: label.get(c, str(c)))
    names = [label.get(c, str(c)) for c in codes]
    index = {c: i for i, c in enumerate(codes)}
    traces: list[tuple[int, ...]] = []
    steps: list[np.ndarray] = []
    services: dict[int, list[float]] = {}
    staffed: dict[int, int] = {}
    measured = scope.level == "instances"
    for r in rows:
        acts = [index[a] for a in r["acts"]]
        traces.append(tuple(acts))
        ts, starts, res = r["ts"], r["starts"], r["resources"]
        steps.append(np.maximum(np.diff(np.asarray(ts, dtype=float)), 0.0))
        for i, a in enumerate(acts):
            if measured and starts[i] is not None:
                services.setdefault(a, []).append(max(0.0, float(ts[i] - starts[i])))
            if res[i] is None or res[i] not in free:
                staffed[a] = staffed.get(a, 0) + 1
    first = span["first_ts"]
    weeks = max((span["last_arrival"] - first).total_seconds() / WEEK, 1 / 7)
    rates = _hour_of_week_rates(engine, scope, weeks)
    capacity, calendar, work, notes = _pools(
        engine, scope, pool_parts, names, index, staffed, services, costs, measured
    )
    values: list[str | None] = [None] * len(rows)
    if pools_by is not None:
        by_case = {
            int(r["case_idx"]): r["pool_value"]
            for r in engine.run(CASE_VALUES, params=scope.params, **scope.parts(**pool_parts))
        }
        values = [by_case.get(int(r["case_idx"])) for r in rows]
    if len(rows) < span["cases"]:
        notes.append(f"routes and times from a sample of {len(rows):,} of {span['cases']:,} cases")
    contention, waiting = _contention(rows, traces, values, capacity, work, measured, len(rows) / span["cases"])
    actual = {
        "cycle_time_median": float(span["cycle_median"] or 0),
        "cycle_time_p90": float(span["cycle_p90"] or 0),
        "cycle_time_mean": float(span["cycle_mean"] or 0),
        "throughput_per_week": float(span["cases"]) / weeks,
        "cases": float(span["cases"]),
    }
    actual_intervals = _log_intervals(engine, scope, int(span["cases"]), weeks, actual)
    return SimModel(
        stream=stream,
        activities=names,
        rates=rates,
        weeks=weeks,
        traces=traces,
        steps=steps,
        work=work,
        capacity=capacity,
        calendar=calendar,
        values=values,
        pools_by=pools_by,
        actual=actual,
        measured_work=measured,
        notes=notes,
        contention=contention,
        waiting=waiting,
        actual_intervals=actual_intervals,
    )


def _log_intervals(
    engine: Engine, scope: Any, n: int, weeks: float, actual: dict[str, float]
) -> dict[str, list[float]]:
    """95% intervals of the log's own KPIs, as samples of the process that made them: for the
    median and the 90th percentile, the cycle times at the ranks that bound them (the binomial
    interval of the rank, distribution-free); for the mean, 1.96 standard errors; for the
    throughput, the Poisson interval of the case count. A simulated KPI inside its interval is
    as close as the log can say."""
    z = 1.96

    def ranks(p: float) -> tuple[str, str]:
        half = z * math.sqrt(p * (1 - p) / max(n, 1))
        return f"{max(p - half, 0.0):.6f}", f"{min(p + half, 1.0):.6f}"

    (m_lo, m_hi), (q_lo, q_hi) = ranks(0.5), ranks(0.9)
    r = engine.run(SPAN_INTERVALS, params=scope.params, **scope.parts(m_lo=m_lo, m_hi=m_hi, q_lo=q_lo, q_hi=q_hi))[0]
    mean_half = z * float(r["sd"] or 0) / math.sqrt(max(n, 1))
    count_half = z * math.sqrt(n)
    return {
        "cycle_time_median": [float(r["median_low"] or 0), float(r["median_high"] or 0)],
        "cycle_time_p90": [float(r["p90_low"] or 0), float(r["p90_high"] or 0)],
        "cycle_time_mean": [actual["cycle_time_mean"] - mean_half, actual["cycle_time_mean"] + mean_half],
        "throughput_per_week": [max(n - count_half, 0) / weeks, (n + count_half) / weeks],
    }


ARRIVALS = Query(
    "simulate.arrivals",
    """WITH {scope}
    SELECT (isodow(first_ts) - 1) * 24 + hour(first_ts) AS how, count(*) AS n FROM fc GROUP BY ALL""",
)
HOURS = Query(
    "simulate.hours",
    """WITH {scope}
    SELECT activity, (isodow(coalesce(start_ts, ts)) - 1) * 24 + hour(coalesce(start_ts, ts)) AS how, count(*) AS n
    FROM fe GROUP BY ALL""",
)


def _hour_of_week_rates(engine: Engine, scope: Any, weeks: float) -> np.ndarray:
    rates = np.zeros(168)
    for r in engine.run(ARRIVALS, params=scope.params, **scope.parts()):
        rates[int(r["how"])] = r["n"] / weeks
    return rates


def _pools(
    engine: Engine,
    scope: Any,
    pool_parts: dict[str, str],
    names: list[str],
    index: dict[int, int],
    staffed: dict[int, int],
    services: dict[int, list[float]],
    costs: Any,
    measured: bool,
) -> tuple[dict[Pool, int], dict[int, np.ndarray], dict[int, float | np.ndarray], list[str]]:
    capacity: dict[Pool, int] = {}
    work: dict[int, float | np.ndarray] = {}
    notes = []
    pools: dict[int, list[dict[str, Any]]] = {}
    for r in engine.run(POOLS, params=scope.params, **scope.parts(**pool_parts)):
        if r["activity"] in index:
            pools.setdefault(index[r["activity"]], []).append(r)
    hours: dict[int, np.ndarray] = {i: np.zeros(168) for i in range(len(names))}
    for r in engine.run(HOURS, params=scope.params, **scope.parts()):
        if r["activity"] in index:
            hours[index[r["activity"]]][int(r["how"])] = r["n"]
    calendar = {}
    for a, counts in hours.items():
        # open in the hours holding at least a tenth of the busiest hour's share: a few stray
        # night-time events do not make a shift
        calendar[a] = counts >= max(counts.max() * 0.1, 1) if counts.any() else np.ones(168, bool)
    without_people = []
    for a, name in enumerate(names):
        if not staffed.get(a):
            continue
        staffed_pools = [p for p in pools.get(a, []) if p["people"]]
        if not staffed_pools:
            without_people.append(name)
            continue
        for p in staffed_pools:
            # people who do it in an average week it is done in
            capacity[(a, p["pool_value"])] = max(1, math.ceil(p["person_weeks"] / max(p["weeks"], 1)))
        if measured and services.get(a):
            work[a] = np.asarray(services[a])
        else:
            work[a] = 60.0 * costs.handling_minutes_by_activity.get(name, costs.handling_minutes)
    if without_people:
        notes.append(
            f"no resources recorded for {', '.join(without_people[:5])}: no pool, so staffing cannot change those steps"
        )
    return capacity, calendar, work, notes


def _contention(
    rows: list[dict[str, Any]],
    traces: list[tuple[int, ...]],
    values: list[str | None],
    capacity: dict[Pool, int],
    work: dict[int, float | np.ndarray],
    measured: bool,
    share: float,
) -> tuple[list[np.ndarray], dict[Pool, tuple[float, float]]]:
    """Replay the log against the pools: each staffed step's work is an interval ending at its
    event (its measured start to complete, else the stated minutes, never longer than the step);
    a pool is all busy when as many of its steps' work intervals overlap as it has people (x the
    share of cases sampled). Each step's wait (from the previous event to the start of its work)
    during which its pool was all busy is a queue the simulated pool makes itself, so the
    simulation takes it out of the copied step time: the as-is replays it, and more people
    shorten it. Returns those seconds per trace step, and per pool the log's waiting and the part
    of it while all were busy."""
    pools = list(capacity)
    pool_id = {p: i for i, p in enumerate(pools)}
    at_case, at_step, which, ends, lengths, opens = [], [], [], [], [], []
    for k, (r, trace) in enumerate(zip(rows, traces, strict=True)):
        ts, starts = r["ts"], r["starts"]
        value = values[k] if values else None
        for i, a in enumerate(trace):
            if a not in work:
                continue
            pool = (a, value) if (a, value) in pool_id else (a, None)
            if pool not in pool_id:
                continue
            step = float(ts[i] - ts[i - 1]) if i else 0.0
            if measured and starts[i] is not None:
                w = max(0.0, float(ts[i] - starts[i]))
            else:  # the stated minutes (or, without a start, the measured mean), within the step
                w = min(_mean_work(work[a]), step)
            at_case.append(k)
            at_step.append(i)
            which.append(pool_id[pool])
            ends.append(float(ts[i]))
            lengths.append(max(w, 0.0))
            opens.append(float(ts[i - 1]) if i else float(ts[i]))
    contention = [np.zeros(max(len(t) - 1, 0)) for t in traces]
    waiting: dict[Pool, tuple[float, float]] = {}
    if not which:
        return contention, waiting
    pid, end, length, begin = (np.asarray(x) for x in (which, ends, lengths, opens))
    start = end - length
    window_end = np.maximum(start, begin)
    found = np.zeros(len(pid))
    for i, pool in enumerate(pools):
        mine = np.flatnonzero(pid == i)
        if not len(mine):
            continue
        # the pool's count of work in progress over time, and the all-busy seconds up to each moment
        times = np.concatenate([start[mine], end[mine]])
        delta = np.concatenate([np.ones(len(mine)), -np.ones(len(mine))])
        order = np.lexsort((delta, times))  # at the same moment, work ends before other work starts
        times, in_progress = times[order], np.cumsum(delta[order])
        full = in_progress[:-1] >= max(capacity[pool] * share, 1e-9)
        busy_until = np.concatenate([[0.0], np.cumsum(np.diff(times) * full)])
        found[mine] = np.maximum(
            np.interp(window_end[mine], times, busy_until) - np.interp(begin[mine], times, busy_until), 0.0
        )
        waiting[pool] = (float((window_end[mine] - begin[mine]).sum()), float(found[mine].sum()))
    for k, i, seconds in zip(at_case, at_step, found, strict=True):
        if i and seconds > 0:
            contention[k][i - 1] = seconds
    return contention, waiting


# -- scenarios ------------------------------------------------------------------------------------


@dataclass
class Drivers:
    """What a scenario changes: arrivals x ``demand``; per activity, people (``staff``: a number
    replaces the pool, ``"+2"``/``"-1"`` changes it; with pools by an attribute, ``"ACTIVITY @
    VALUE"`` names one pool and ``"ACTIVITY"`` changes each of its pools), work x ``handling``, and the ``automation``
    share of a step: those steps happen at once, taking no one's work and none of the time the
    log shows before them (an upper bound where part of that time is outside parties')."""

    demand: float = 1.0
    staff: dict[str, int | str] = field(default_factory=dict)
    handling: dict[str, float] = field(default_factory=dict)
    automation: dict[str, float] = field(default_factory=dict)

    def check(self, model: SimModel) -> None:
        if self.demand <= 0:
            raise PlanningError(f"demand: {self.demand:g} must be above 0 (1.2 means 20% more cases)", field="demand")
        for name in self.staff:
            activity, at, pool_value = (part.strip() for part in name.partition("@"))
            if not at or activity not in model.activities:
                continue
            if model.pools_by is None:
                raise PlanningError(
                    f"staff: {name!r} names a pool by value, but the pools are per activity",
                    field="staff",
                    hint="pools_by: ATTRIBUTE in the scenario file (or --pools-by), or staff the activity",
                )
            a = model.activities.index(activity)
            if (a, pool_value) not in model.capacity:
                known = [model.pool_name(p) for p in model.capacity if p[0] == a]
                raise PlanningError(
                    f"staff: no pool {name!r} in {model.stream}",
                    field="staff",
                    hint=f"{activity}'s pools: {', '.join(known) or 'none (no resources recorded)'}",
                )
        for what, table in (("staff", self.staff), ("handling", self.handling), ("automation", self.automation)):
            for name, value in table.items():
                activity = name.partition("@")[0].strip() if what == "staff" else name
                if name != "*" and activity not in model.activities:
                    raise PlanningError(
                        f"{what}: no activity {name!r} in {model.stream}",
                        field=what,
                        hint=f"activities: {', '.join(model.activities[:12])}",
                    )
                if what == "automation" and not 0 <= float(value) <= 1:
                    raise PlanningError(f"automation: {name}: {value} is a share between 0 and 1", field=what)
                if what == "handling" and float(value) < 0:
                    raise PlanningError(f"handling: {name}: {value} must be 0 or more (0.8: 20% faster)", field=what)
        for pool, people, name in self.staffed(model):
            if people < 1 and model.capacity.get(pool, 0) >= 1:
                # no people is not a pool without a queue: nobody would do the work
                activity = model.activities[pool[0]]
                raise PlanningError(
                    f"staff: {name}: {self.staff[name]} leaves {model.pool_name(pool)} with no one "
                    f"(it has {model.capacity[pool]}), so nobody would do its steps",
                    field="staff",
                    hint=f"keep at least 1, or take the step off people: automation: {{{activity}: 1}}",
                )

    def capacity(self, model: SimModel) -> dict[Pool, int]:
        out = dict(model.capacity)
        for pool, people, _ in self.staffed(model):
            out[pool] = max(people, 0)
        return out

    def staffed(self, model: SimModel) -> list[tuple[Pool, int, str]]:
        """(pool, people it would have, the staff entry's name) per pool a staff entry changes, the
        entries applied in turn ("*" then one pool's change adds up)."""
        out: list[tuple[Pool, int, str]] = []
        current = dict(model.capacity)
        for name, value in self.staff.items():
            activity, at, pool_value = (part.strip() for part in name.partition("@"))
            targets: list[Pool]
            if name == "*":
                targets = list(model.capacity)
            elif at:
                targets = [(model.activities.index(activity), pool_value)]
            else:
                a = model.activities.index(activity)
                targets = [p for p in model.capacity if p[0] == a] or [(a, None)]
            text = str(value).strip()
            try:
                change = int(text)
            except ValueError:
                raise PlanningError(
                    f"staff: {name}: {value!r} is not a number of people", field="staff", hint='2, "+2" or "-1"'
                ) from None
            for pool in targets:
                current[pool] = current.get(pool, 0) + change if text[:1] in "+-" else change
                out.append((pool, current[pool], name))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"demand": self.demand, "staff": self.staff, "handling": self.handling, "automation": self.automation}


def _t95(n: int) -> float:
    table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145]
    return table[n - 2] if 2 <= n <= 15 else 2.131 if n <= 20 else 1.96


def interval95(values: Any) -> tuple[float, float]:
    """The mean of ``values`` (one per replication) and its 95% confidence half-width."""
    v = np.asarray(values, float)
    half = _t95(len(v)) * float(v.std(ddof=1)) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return float(v.mean()), half


def run_replications(
    model: SimModel,
    *,
    replications: int = 5,
    drivers: Drivers | None = None,
    seed: int = 1,
    progress: Callable[[str, float], None] | None = None,
    label: str = "simulating",
) -> list[dict[str, float]]:
    """Run ``replications`` independent replications; each one's KPIs."""
    if replications < 1:
        raise PlanningError("--replications must be at least 1", field="replications")
    drivers = drivers or Drivers()
    drivers.check(model)
    out = []
    for r in range(replications):
        out.append(_replication(model, drivers, np.random.SeedSequence([seed, r])))
        if progress is not None:
            progress(label, (r + 1) / replications)
    return out


def summarise(runs: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The mean of each KPI over replications and its 95% confidence interval."""
    means, intervals = {}, {}
    for k in runs[0]:
        m, half = interval95([r[k] for r in runs])
        means[k] = round(m, 3)
        intervals[k] = [round(m - half, 3), round(m + half, 3)]
    return means, intervals


@dataclass
class _Cases:
    """Arriving cases and their dice, drawn up front: arrival times, the log case each copies,
    and per case one jitter, work draw and automation coin per step of its route (case ``n``'s
    at ``offsets[n]:offsets[n + 1]``)."""

    times: np.ndarray
    picks: np.ndarray
    offsets: np.ndarray
    jitters: np.ndarray
    work: np.ndarray
    automation: np.ndarray

    @classmethod
    def draw(cls, model: SimModel, rates: np.ndarray, horizon: float, seed: np.random.SeedSequence) -> _Cases:
        arrival_rng, pick_rng, jitter_rng, work_rng, automation_rng = (np.random.default_rng(s) for s in seed.spawn(5))
        times = _arrivals(rates, horizon, arrival_rng)
        picks = pick_rng.integers(0, len(model.traces), len(times))
        lengths = np.array([len(model.traces[k]) for k in picks], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        steps = int(offsets[-1])
        jitters = np.exp(JITTER * jitter_rng.standard_normal(steps) - JITTER * JITTER / 2)
        return cls(times, picks, offsets, jitters, work_rng.random(steps), automation_rng.random(steps))


def _replication(model: SimModel, drivers: Drivers, seed: np.random.SeedSequence) -> dict[str, float]:
    """One replication. Common random numbers: the log's arrival process and its cases' dice
    (the log case each copies, step jitters, work samples, automation coin flips) are drawn up
    front from streams of their own, so two runs with the same seed differ by their drivers
    alone: the same case copies the same log case with the same dice whatever the drivers change
    around it. Demand below 1 keeps each of those arrivals with that probability (its own coins);
    above 1 adds the extra arrivals, with their own dice, from streams of their own."""
    import simpy

    started = time.perf_counter()
    own_seed, thin_seed, extra_seed = seed.spawn(3)
    env = simpy.Environment()
    capacity = drivers.capacity(model)
    pools = {p: simpy.Resource(env, capacity=c) for p, c in capacity.items() if c > 0}
    handling = {model.activities.index(k): float(v) for k, v in drivers.handling.items() if k != "*"}
    all_handling = float(drivers.handling.get("*", 1.0))
    automated = {model.activities.index(k): float(v) for k, v in drivers.automation.items() if k != "*"}
    # the simulated span: the log's, or fewer weeks when that would be more cases than MAX_CASES
    weekly = float(model.rates.sum()) * drivers.demand
    weeks = min(model.weeks, MAX_CASES / max(weekly, 1e-9))
    logged = _Cases.draw(model, model.rates, weeks * WEEK, own_seed)
    kept = np.arange(len(logged.times))
    if drivers.demand < 1:
        kept = kept[np.random.default_rng(thin_seed).random(len(kept)) < drivers.demand]
    schedule = [(float(logged.times[n]), logged, int(n)) for n in kept]
    if drivers.demand > 1:
        extra = _Cases.draw(model, model.rates * (drivers.demand - 1), weeks * WEEK, extra_seed)
        schedule += [(float(t), extra, n) for n, t in enumerate(extra.times)]
    schedule.sort(key=lambda item: item[0])
    cycle: list[float] = []
    busy = dict.fromkeys(pools, 0.0)

    def base_work(a: int, u: float, limit: float) -> float:
        """The step's work at the log's pace (a measured sample, or the stated minutes no
        longer than the step); ``u`` picks the sample."""
        w = model.work.get(a)
        if w is None:
            return 0.0
        if isinstance(w, np.ndarray):
            return float(w[min(int(u * len(w)), len(w) - 1)])
        return min(float(w), limit)

    def case(cases: _Cases, n: int, at: float) -> Generator[Any, Any, None]:
        k = int(cases.picks[n])
        trace = model.traces[k]
        value = model.values[k] if model.values else None
        own = slice(int(cases.offsets[n]), int(cases.offsets[n + 1]))
        jitter, work_u, automation_u = cases.jitters[own], cases.work[own], cases.automation[own]
        yield env.timeout(at)
        start = env.now
        # the copied case's step times, less the log's queues at its pools (the simulated pools
        # make their own)
        steps = model.queue_free_steps[k]
        for i, a in enumerate(trace):
            step = float(steps[i - 1]) if i else 0.0
            if a in automated and automation_u[i] < automated[a]:
                continue  # done by the automation at once: no one's work, no wait for a person
            base = base_work(a, float(work_u[i]), step)
            # the step's wait (its time less the work at the log's pace), jittered (mean 1),
            # stays; the work scales with the handling-time driver
            work = base * handling.get(a, all_handling)
            yield env.timeout(max(step - base, 0.0) * float(jitter[i]))
            key = (a, value)
            pool = pools.get(key)
            if pool is None and value is not None:  # no pool of its own: the activity's shared one
                key = (a, None)
                pool = pools.get(key)
            if pool is None or work <= 0:
                yield env.timeout(work)
                continue
            asked = env.now
            with pool.request() as req:
                yield req
                # work that had to queue starts in the pool's hours; work taken at once keeps
                # the log's own timing (which already falls in them)
                wait = _until_open(model.calendar[a], env.now) if env.now > asked else 0.0
                if wait:
                    yield env.timeout(wait)
                yield env.timeout(work)
                busy[key] += work
        cycle.append(env.now - start)

    for t, cases, n in schedule:
        env.process(case(cases, n, t))
    env.run()
    c = np.array(cycle) if cycle else np.zeros(1)
    seconds = time.perf_counter() - started
    return {
        "cycle_time_median": float(np.median(c)),
        "cycle_time_p90": float(np.quantile(c, 0.9)),
        "cycle_time_mean": float(c.mean()),
        "throughput_per_week": len(cycle) / weeks,
        "cases": float(len(cycle)),
        # where the log's median falls in the simulated cycle times (0.5 when they agree): read
        # beside the median's error where the distribution has a gap around its median
        "share_below_actual_median": float(np.mean(c < model.actual["cycle_time_median"])),
        "cases_per_second": len(cycle) / seconds if seconds > 0 else 0.0,
        # the share of the pool's people's open hours (its activity's calendar) spent working
        **{
            f"utilisation:{model.pool_name(p)}": busy[p]
            / (capacity[p] * weeks * max(int(model.calendar[p[0]].sum()), 1) * HOUR)
            for p in pools
        },
    }


def _until_open(calendar: np.ndarray, now: float) -> float:
    """Seconds until the pool's calendar is open (0 when it is)."""
    hour = int(now // HOUR)
    for k in range(168):
        if calendar[(hour + k) % 168]:
            return 0.0 if k == 0 else (hour + k) * HOUR - now
    return 0.0


def _arrivals(rates: np.ndarray, horizon: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson arrivals with a piecewise-constant rate per hour of the week (time 0 is Monday 00:00)."""
    hours = math.ceil(horizon / HOUR)
    lam = rates[np.arange(hours) % 168]
    counts = rng.poisson(lam)
    starts = np.repeat(np.arange(hours) * HOUR, counts)
    return np.sort(starts + rng.random(len(starts)) * HOUR)
