"""Rework: activities done more than once in a case, and what the repeats cost in time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data.sql import Query
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import Rework

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["rework"]

PER_ACTIVITY = Query(
    "rework.activities",
    """WITH {scope}, per AS (
        SELECT case_idx, activity, count(*) AS n FROM fe GROUP BY case_idx, activity
    )
    SELECT a.name AS activity, count(*) AS cases, count(*) FILTER (WHERE n > 1) AS cases_repeated,
           count(*) FILTER (WHERE n > 1) / count(*) AS rework_rate, sum(n - 1) AS extra_events
    FROM per JOIN {s}.activities a ON a.code = per.activity
    GROUP BY a.name ORDER BY cases_repeated DESC, extra_events DESC, activity""",
)

# Whole cases kept: how often a case repeats an activity is its variant's (``vs``), so the
# per-activity figures are sums over the variants in scope instead of a group-by per case.
PER_ACTIVITY_BY_VARIANT = Query(
    "rework.activities_by_variant",
    """WITH {scope}
    SELECT a.name AS activity, CAST(sum(vc.cases) AS BIGINT) AS cases,
           CAST(coalesce(sum(vc.cases) FILTER (WHERE vs.n > 1), 0) AS BIGINT) AS cases_repeated,
           coalesce(sum(vc.cases) FILTER (WHERE vs.n > 1), 0) / sum(vc.cases) AS rework_rate,
           CAST(sum(vc.cases * (vs.n - 1)) AS BIGINT) AS extra_events
    FROM vs JOIN vc USING (variant_id) JOIN {s}.activities a ON a.code = vs.activity
    GROUP BY a.name ORDER BY cases_repeated DESC, extra_events DESC, activity""",
)

_SUMMARY = """SELECT count(*) AS cases, count(*) FILTER (WHERE has_rework) AS cases_with_rework,
           count(*) FILTER (WHERE has_rework) / nullif(count(*), 0) AS share,
           median(duration_seconds) FILTER (WHERE has_rework) AS median_seconds_with_rework,
           median(duration_seconds) FILTER (WHERE NOT has_rework) AS median_seconds_without_rework
    FROM tagged"""

CASES = Query(
    "rework.cases",
    f"""WITH {{scope}}, looped AS (
        SELECT DISTINCT case_idx FROM (SELECT case_idx, activity FROM fe GROUP BY ALL HAVING count(*) > 1) x
    ), tagged AS (
        SELECT fc.case_idx, fc.duration_seconds, l.case_idx IS NOT NULL AS has_rework
        FROM fc LEFT JOIN looped l USING (case_idx)
    )
    {_SUMMARY}""",
)

CASES_BY_VARIANT = Query(
    "rework.cases_by_variant",
    f"""WITH {{scope}}, looped AS (SELECT DISTINCT variant_id FROM vs WHERE n > 1), tagged AS (
        SELECT fc.case_idx, fc.duration_seconds, l.variant_id IS NOT NULL AS has_rework
        FROM fc LEFT JOIN looped l USING (variant_id)
    )
    {_SUMMARY}""",
)


def rework(engine: Engine, stream: str, *, filters: Filters | None = None) -> Rework:
    """Per activity: cases doing it, cases repeating it, rework rate and extra events; overall:
    cases with any loop and the median throughput with and without rework (the time it costs).
    """
    scope = scope_for(engine, stream, filters)
    parts = scope.parts()
    cases, per_activity = (CASES, PER_ACTIVITY) if scope.event_level else (CASES_BY_VARIANT, PER_ACTIVITY_BY_VARIANT)
    summary = engine.run(cases, params=scope.params, **parts)[0]
    with_, without = summary["median_seconds_with_rework"], summary["median_seconds_without_rework"]
    summary["extra_median_seconds"] = None if with_ is None or without is None else with_ - without
    return {"summary": summary, "activities": engine.run(per_activity, params=scope.params, **parts)}
