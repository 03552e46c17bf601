"""Handoffs between resources, and the workload each resource carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.data.sql import Query
from conveyor.mining.filters import Filters, scope_for
from conveyor.mining.results import Handoffs

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["handoffs"]

HANDOVERS = Query(
    "handoffs.pairs",
    """WITH {scope}, d AS (
        SELECT case_idx, resource, next_resource, (epoch_us(next_ts) - epoch_us(ts)) / 1e6 AS seconds
        FROM fe WHERE next_resource IS NOT NULL AND resource IS NOT NULL AND next_resource <> resource
    ), g AS (
        SELECT resource, next_resource, count(*) AS handoffs, count(DISTINCT case_idx) AS cases,
               median(seconds) AS median_seconds, avg(seconds) AS mean_seconds
        FROM d GROUP BY ALL
    )
    SELECT src.name AS source, dst.name AS target, g.handoffs, g.cases, g.median_seconds, g.mean_seconds
    FROM g JOIN {s}.resources src ON src.code = g.resource JOIN {s}.resources dst ON dst.code = g.next_resource
    ORDER BY g.handoffs DESC, source, target LIMIT {limit}""",
)

WORKLOAD = Query(
    "handoffs.workload",
    """WITH {scope}
    SELECT r.name AS resource, count(*) AS events, count(DISTINCT fe.case_idx) AS cases,
           count(DISTINCT fe.activity) AS activities, count(*) / sum(count(*)) OVER () AS share
    FROM fe JOIN {s}.resources r ON r.code = fe.resource
    GROUP BY r.name ORDER BY events DESC, resource""",
)


def handoffs(engine: Engine, stream: str, *, top: int = 20, filters: Filters | None = None) -> Handoffs:
    """The ``top`` resource-to-resource handovers (consecutive events of a case done by different
    resources) with the time they take, and every resource's workload.
    """
    scope = scope_for(engine, stream, filters)
    parts = scope.parts(limit=str(int(top)))
    return {
        "handoffs": engine.run(HANDOVERS, params=scope.params, **parts),
        "workload": engine.run(WORKLOAD, params=scope.params, **parts),
    }
