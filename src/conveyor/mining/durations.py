"""Throughput times of cases, and what each activity does: events, cases, resources, service time."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from conveyor.data.sql import Query
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import ActivityStats, Durations

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["BUCKETS", "activity_stats", "durations"]

#: Histogram buckets an operations team reads at a glance: (label, upper bound in seconds).
BUCKETS: list[tuple[str, float]] = [
    ("< 1 hour", 3600),
    ("1-4 hours", 4 * 3600),
    ("4-24 hours", 86400),
    ("1-2 days", 2 * 86400),
    ("2-4 days", 4 * 86400),
    ("4-7 days", 7 * 86400),
    ("1-2 weeks", 14 * 86400),
    ("2-4 weeks", 28 * 86400),
    ("1-3 months", 91 * 86400),
    ("3-6 months", 182 * 86400),
    ("> 6 months", float("inf")),
]

SUMMARY = Query(
    "durations.summary",
    """WITH {scope}
    SELECT cases, mean_seconds, q[1] AS median_seconds, q[2] AS p90_seconds, min_seconds, max_seconds,
           stddev_seconds, q[3] AS p25_seconds, q[4] AS p75_seconds, q[5] AS p95_seconds, q[6] AS p99_seconds,
           {bucket_names}
    FROM (
        SELECT count(*) AS cases, avg(duration_seconds) AS mean_seconds, min(duration_seconds) AS min_seconds,
               max(duration_seconds) AS max_seconds, stddev_samp(duration_seconds) AS stddev_seconds,
               -- one sort for every quantile (a quantile each would sort the durations each time)
               quantile_cont(duration_seconds, [0.5, 0.9, 0.25, 0.75, 0.95, 0.99]) AS q,
               {buckets}
        FROM fc
    ) s""",
)

_BASE = """base AS (
        SELECT b.activity, b.events, ac.cases, b.resources
        FROM (SELECT activity, count(*) AS events, count(DISTINCT resource) AS resources FROM fe GROUP BY activity) b
        JOIN ac USING (activity)
    ), waits AS (
        SELECT next_activity AS activity, avg((epoch_us(next_ts) - epoch_us(ts)) / 1e6) AS mean_wait_seconds,
               median((epoch_us(next_ts) - epoch_us(ts)) / 1e6) AS median_wait_seconds
        FROM fe WHERE next_activity IS NOT NULL GROUP BY next_activity
    )"""
_SELECT = """SELECT a.name AS activity, b.events, b.cases, b.resources, w.mean_wait_seconds, w.median_wait_seconds,
           sv.pairs AS service_pairs, sv.mean_service_seconds, sv.median_service_seconds
    FROM base b JOIN {s}.activities a ON a.code = b.activity
    LEFT JOIN waits w ON w.activity = b.activity LEFT JOIN service sv ON sv.activity = b.activity
    ORDER BY b.events DESC, a.name"""

# Event level: the n-th start of an activity in a case paired with its n-th complete.
ACTIVITIES = Query(
    "durations.activities",
    f"""WITH {{scope}}, {_BASE}, lc AS (
        SELECT case_idx, activity, ts, lower(lifecycle) AS lifecycle,
               row_number() OVER (PARTITION BY case_idx, activity, lower(lifecycle) ORDER BY pos) AS k
        FROM fe WHERE lower(lifecycle) IN ('start', 'complete')
    ), service AS (
        SELECT s.activity, count(*) AS pairs, avg((epoch_us(c.ts) - epoch_us(s.ts)) / 1e6) AS mean_service_seconds,
               median((epoch_us(c.ts) - epoch_us(s.ts)) / 1e6) AS median_service_seconds
        FROM lc s JOIN lc c ON c.case_idx = s.case_idx AND c.activity = s.activity AND c.k = s.k
        WHERE s.lifecycle = 'start' AND c.lifecycle = 'complete'
        GROUP BY s.activity
    )
    {_SELECT}""",
)

# A stream without lifecycle starts has no service time to pair: skip the pairing's scan.
PLAIN_ACTIVITIES = Query(
    "durations.plain_activities",
    f"""WITH {{scope}}, {_BASE}, service AS (
        SELECT activity, CAST(NULL AS BIGINT) AS pairs, CAST(NULL AS DOUBLE) AS mean_service_seconds,
               CAST(NULL AS DOUBLE) AS median_service_seconds
        FROM ac WHERE false
    )
    {_SELECT}""",
)

# Activity instances: service time is each instance's start to end; waiting is the previous
# instance's end to this one's start.
INSTANCE_ACTIVITIES = Query(
    "durations.instance_activities",
    f"""WITH {{scope}}, {_BASE}, service AS (
        SELECT activity, count(*) AS pairs, avg((epoch_us(ts) - epoch_us(start_ts)) / 1e6) AS mean_service_seconds,
               median((epoch_us(ts) - epoch_us(start_ts)) / 1e6) AS median_service_seconds
        FROM fe WHERE start_ts IS NOT NULL GROUP BY activity
    )
    {_SELECT}""",
)


def durations(engine: Engine, stream: str, *, filters: Filters | None = None) -> Durations:
    """Case throughput times (first to last event) in seconds: count, mean, median, p90 and more,
    and a histogram over :data:`BUCKETS`.
    """
    scope = scope_for(engine, stream, filters)
    lower = 0.0
    cols = []
    for i, (_, upper) in enumerate(BUCKETS):
        cond = f"duration_seconds >= {lower!r}" + (
            "" if upper == float("inf") else f" AND duration_seconds < {upper!r}"
        )
        cols.append(f"count(*) FILTER (WHERE {cond}) AS b{i}")
        lower = upper
    names = ", ".join(f"b{i}" for i in range(len(BUCKETS)))
    row = engine.run(SUMMARY, params=scope.params, **scope.parts(buckets=", ".join(cols), bucket_names=names))[0]
    histogram = [{"bucket": label, "cases": row.pop(f"b{i}")} for i, (label, _) in enumerate(BUCKETS)]
    return cast(Durations, {**row, "histogram": histogram})


def activity_stats(engine: Engine, stream: str, *, filters: Filters | None = None) -> list[ActivityStats]:
    """Per activity: events (activity instances where the stream has them), cases, distinct
    resources, waiting time before it, and service time: from each instance's start to its end,
    or at event level where lifecycle start/complete pairs exist (the n-th start paired with the
    n-th complete).
    """
    scope = scope_for(engine, stream, filters)
    if scope.level == "instances":
        query = INSTANCE_ACTIVITIES
    elif engine.has_table(scope.schema, "instances"):  # lifecycle starts, counted as events (--events)
        query = ACTIVITIES
    else:
        query = PLAIN_ACTIVITIES
    return cast(list[ActivityStats], engine.run(query, params=scope.params, **scope.parts()))
