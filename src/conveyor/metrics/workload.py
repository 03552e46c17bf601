"""The workload a stream brings: cases arriving per hour of the week, and the staff work each case
takes (measured instance times where the log has starts, else the stated handling minutes of
``metrics/STREAM.yaml``; steps done by people outside the company or by automations count no
staff time). What the staffing plan turns into agents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.data.engine import Engine
from conveyor.data.quoting import quote
from conveyor.data.sql import Query
from conveyor.metrics.definitions import StreamMetrics
from conveyor.metrics.kpis import SPAN, _service_seconds, stream_info
from conveyor.mining.filters import Filters, scope_for

__all__ = ["answered", "daily_arrivals", "workload"]

PATTERN = Query(
    "workload.pattern",
    """WITH {scope}, {values}
    SELECT seg AS segment, isodow(anchor) AS dow, hour(anchor) AS hour, count(*) AS arrivals, avg(v) AS work_seconds
    FROM cv GROUP BY seg, isodow(anchor), hour(anchor)""",
)

DAILY = Query(
    "workload.daily",
    """WITH {scope}, {values}
    SELECT seg AS segment, CAST(anchor AS DATE) AS day, count(*) AS arrivals FROM cv GROUP BY ALL ORDER BY ALL""",
)

SHARE = Query(
    "workload.share",
    """WITH {scope}, {values}
    SELECT seg AS segment, count(*) AS cases, avg(v) AS mean_v, median(v) AS median_v FROM cv GROUP BY seg""",
)
PEOPLE = Query(
    "workload.people",
    """WITH {scope}, {values}
    SELECT seg AS segment, count(DISTINCT v) AS people, count(DISTINCT date_trunc('week', anchor)) AS weeks,
           count(DISTINCT CAST(date_trunc('week', anchor) AS VARCHAR) || '|' || CAST(v AS VARCHAR)) AS person_weeks
    FROM cv GROUP BY seg""",
)


def answered(
    engine: Engine,
    stream: str,
    *,
    activity: str,
    answer_seconds: float,
    by: str | None = None,
    filters: Filters | None = None,
) -> dict[str, dict[str, Any]]:
    """Per segment, what the log shows of the service the queue gives: the share of cases whose
    first ``activity`` (its start where the log has starts) came within ``answer_seconds`` of the
    case's arrival, the median wait for it, the people seen doing it (in all, and in an average
    week they worked), and abandonment: the cases that ended without it (``abandoned_share``;
    cases that arrived within the segment's 95th percentile wait for it, at least
    ``answer_seconds``, of the extract's end are left out: they may yet be answered) and the
    callers' mean patience, exponential patience's estimate from censored waits: every case's
    time in the queue (to its answer, or to its last event when it left unanswered) over the
    cases that left (``patience_seconds``; none when no case left)."""
    info = stream_info(engine, stream)
    code = info.activity(activity, "--answer-activity")
    if by is not None:
        info.attribute(by, "--by")
    scope = scope_for(engine, stream, filters)
    seg = f"CAST(c.{quote(by)} AS VARCHAR)" if by else "'all'"
    join = f"JOIN {scope.s}.cases c USING (case_idx)" if by else ""
    first = (
        f"a AS (SELECT case_idx, min(coalesce(start_ts, ts)) AS t FROM fe WHERE activity = {code} GROUP BY case_idx)"
    )
    wait = "epoch(a.t) - epoch(fc.first_ts)"
    out: dict[str, dict[str, Any]] = {}
    for column, v in (
        ("answered_within_target", f"CASE WHEN {wait} <= {float(answer_seconds)} THEN 1.0 ELSE 0.0 END"),
        ("median_wait_seconds", wait),
    ):
        values = f"{first}, cv AS (SELECT fc.first_ts AS anchor, {v} AS v, {seg} AS seg FROM fc {join} JOIN a USING (case_idx))"
        for r in engine.run(SHARE, params=scope.params, **scope.parts(values=values)):
            entry = out.setdefault(str(r["segment"]), {"answer_activity": activity, "cases_answered": int(r["cases"])})
            entry[column] = round(float(r["mean_v"] if column == "answered_within_target" else r["median_v"]), 4)
    # abandonment: a case left when it ended without the activity; its wait is censored at its
    # answer when it got one. Cases that arrived within the segment's 95th percentile wait for
    # the activity (at least answer_seconds) of the extract's end may still be waiting: left out.
    recent = (
        f"w AS (SELECT {seg} AS seg, fc.first_ts, fc.last_ts, a.t FROM fc {join} LEFT JOIN a USING (case_idx)), "
        "m AS (SELECT seg, quantile_cont(epoch(t) - epoch(first_ts), 0.95) AS p95 FROM w WHERE t IS NOT NULL "
        "GROUP BY seg), e AS (SELECT max(epoch(last_ts)) AS end_s FROM fc)"
    )
    settled = f"epoch(w.first_ts) <= e.end_s - greatest({float(answer_seconds)}, coalesce(m.p95, 0))"
    queue = "epoch(coalesce(w.t, w.last_ts)) - epoch(w.first_ts)"
    left: dict[str, tuple[int, float]] = {}
    for column, v in (("abandoned_share", "CASE WHEN w.t IS NULL THEN 1.0 ELSE 0.0 END"), ("queue", queue)):
        values = (
            f"{first}, {recent}, cv AS (SELECT w.first_ts AS anchor, {v} AS v, w.seg AS seg FROM w "
            f"LEFT JOIN m USING (seg) CROSS JOIN e WHERE {settled})"
        )
        for r in engine.run(SHARE, params=scope.params, **scope.parts(values=values)):
            name, cases, mean = str(r["segment"]), int(r["cases"]), float(r["mean_v"])
            if column == "abandoned_share":
                left[name] = (cases, mean)
                continue
            entry = out.setdefault(name, {"answer_activity": activity})
            share = left.get(name, (cases, 0.0))[1]
            entry["cases_settled"] = cases
            entry["abandoned_share"] = round(share, 4)
            # no time waited by anyone (single-event cases that left): no patience to speak of
            entry["patience_seconds"] = round(mean / share, 1) if share > 0 and mean > 0 else None
    values = (
        f"cv AS (SELECT coalesce(fe.start_ts, fe.ts) AS anchor, fe.resource AS v, {seg} AS seg FROM fe {join} "
        f"WHERE fe.activity = {code} AND fe.resource IS NOT NULL)"
    )
    for r in engine.run(PEOPLE, params=scope.params, **scope.parts(values=values)):
        entry = out.setdefault(str(r["segment"]), {"answer_activity": activity})
        entry["people_seen"] = int(r["people"])
        entry["people_per_week"] = round(r["person_weeks"] / max(r["weeks"], 1), 2)
    return out


def daily_arrivals(
    engine: Engine, stream: str, *, by: str | None = None, filters: Filters | None = None
) -> list[tuple[Any, ...]]:
    """``(segment, day, cases started)`` rows: the stream's case arrivals per day, per value of
    ``by`` (a case attribute) or overall (segment ``None``)."""
    info = stream_info(engine, stream)
    if by is not None:
        info.attribute(by, "--by")
    scope = scope_for(engine, stream, filters)
    seg = f"CAST(c.{quote(by)} AS VARCHAR)" if by else "CAST(NULL AS VARCHAR)"
    join = f"JOIN {scope.s}.cases c USING (case_idx)" if by else ""
    values = f"cv AS (SELECT fc.first_ts AS anchor, 1.0 AS v, {seg} AS seg FROM fc {join})"
    rows = engine.run(DAILY, params=scope.params, **scope.parts(values=values))
    return [(r["segment"], r["day"], r["arrivals"]) for r in rows]


def workload(
    engine: Engine, stream: str, *, metrics: StreamMetrics, by: str | None = None, filters: Filters | None = None
) -> dict[str, Any]:
    """``{"weeks", "segments": {segment: {"arrivals": {(dow, hour): per week}, "work_seconds": ...}}}``:
    arrivals per hour of the week (ISO weekday 1-7, hour 0-23) averaged over the calendar weeks
    the arrivals span (Monday to Sunday, the first's to the last's), and the mean staff work per case, per value of ``by`` (a case attribute) or overall."""
    info = stream_info(engine, stream)
    if by is not None:
        info.attribute(by, "--by")
    scope = scope_for(engine, stream, filters)
    costs = metrics.costs
    free = sorted(
        set(info.matching_resources(costs.external_resources))
        | set(info.matching_resources(costs.automation_resources))
    )
    staff = f"(fe.resource IS NULL OR fe.resource NOT IN ({', '.join(map(str, free))}))" if free else "TRUE"
    seg = f"CAST(c.{quote(by)} AS VARCHAR)" if by else "'all'"
    join = f"JOIN {scope.s}.cases c USING (case_idx)" if by else ""
    values = (
        f"w AS (SELECT fe.case_idx, sum({_service_seconds(costs, info)}) AS seconds FROM fe WHERE {staff} "
        f"GROUP BY fe.case_idx), cv AS (SELECT fc.first_ts AS anchor, coalesce(w.seconds, 0) AS v, {seg} AS seg "
        f"FROM fc {join} LEFT JOIN w USING (case_idx))"
    )
    span = engine.run(SPAN, params=scope.params, **scope.parts())[0]
    if span["first_ts"] is None:
        return {"weeks": 0.0, "segments": {}}
    first, last = span["first_ts"].date(), span["last_ts"].date()
    # the calendar weeks (Monday to Sunday) from the first arrival's to the last's, inclusive
    weeks = float(((last - timedelta(days=last.weekday())) - (first - timedelta(days=first.weekday()))).days // 7 + 1)
    rows = engine.run(PATTERN, params=scope.params, **scope.parts(values=values))
    out: dict[str, Any] = {}
    for r in rows:
        segment = out.setdefault(str(r["segment"]), {"arrivals": {}, "cases": 0, "work": 0.0})
        segment["arrivals"][(int(r["dow"]), int(r["hour"]))] = r["arrivals"] / weeks
        segment["cases"] += int(r["arrivals"])
        segment["work"] += float(r["work_seconds"] or 0) * int(r["arrivals"])
    for segment in out.values():
        segment["work_seconds"] = segment.pop("work") / segment["cases"] if segment["cases"] else 0.0
    return {"weeks": round(weeks, 2), "segments": out}
