"""Where the time goes: transitions and activities ranked by their share of all waiting time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data.sql import Query
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import Bottlenecks

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["bottlenecks"]

TRANSITIONS = Query(
    "bottlenecks.transitions",
    """WITH {scope}, d AS (
        SELECT case_idx, activity, next_activity, (epoch_us(next_ts) - epoch_us(ts)) / 1e6 AS seconds
        FROM fe WHERE next_activity IS NOT NULL
    ), g AS (
        SELECT activity, next_activity, sum(seconds) AS total_seconds, count(*) AS frequency,
               median(seconds) AS median_seconds, avg(seconds) AS mean_seconds
        FROM d GROUP BY ALL
    )
    SELECT src.name AS source, dst.name AS target, g.total_seconds,
           g.total_seconds / nullif(sum(g.total_seconds) OVER (), 0) AS share,
           g.frequency, tc.cases, g.median_seconds, g.mean_seconds
    FROM g JOIN tc USING (activity, next_activity) JOIN {s}.activities src ON src.code = g.activity JOIN {s}.activities dst ON dst.code = g.next_activity
    ORDER BY g.total_seconds DESC, source, target LIMIT {limit}""",
)

ACTIVITIES = Query(
    "bottlenecks.activities",
    """WITH {scope}, d AS (
        SELECT case_idx, next_activity AS activity, (epoch_us(next_ts) - epoch_us(ts)) / 1e6 AS seconds
        FROM fe WHERE next_activity IS NOT NULL
    ), g AS (
        SELECT activity, sum(seconds) AS total_wait_seconds,
               median(seconds) AS median_wait_seconds, avg(seconds) AS mean_wait_seconds
        FROM d GROUP BY activity
    )
    SELECT a.name AS activity, g.total_wait_seconds,
           g.total_wait_seconds / nullif(sum(g.total_wait_seconds) OVER (), 0) AS share,
           nc.cases, (SELECT count(*) FROM fc) AS of_cases, g.median_wait_seconds, g.mean_wait_seconds
    FROM g JOIN nc USING (activity) JOIN {s}.activities a ON a.code = g.activity
    ORDER BY g.total_wait_seconds DESC, activity LIMIT {limit}""",
)


def bottlenecks(engine: Engine, stream: str, *, top: int = 10, filters: Filters | None = None) -> Bottlenecks:
    """The ``top`` transitions and activities by total waiting time, each with its share of all
    waiting time in the stream and the cases it touches.

    An activity's waiting time is the time from the previous event of its case until it happens;
    on a stream with lifecycle starts, from the end of the previous activity instance until this
    instance starts (the work itself, start to complete, is service time, not waiting).
    """
    scope = scope_for(engine, stream, filters)
    parts = scope.parts(limit=str(int(top)))
    return {
        "transitions": engine.run(TRANSITIONS, params=scope.params, **parts),
        "activities": engine.run(ACTIVITIES, params=scope.params, **parts),
    }
