"""The typed results of the analyses: what the CLI prints as JSON, the API returns and the report reads.

Each analysis returns one of these TypedDicts; they are plain dicts at run time, so
:func:`to_json` (the one JSON rendering) serves them all: times as ISO 8601, everything else as is.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, TypedDict

__all__ = [
    "ActivityStats",
    "Bottlenecks",
    "ConformanceReport",
    "Durations",
    "Handoffs",
    "MapEdge",
    "MapNode",
    "ProcessMap",
    "Rework",
    "Variant",
    "to_json",
]


class MapNode(TypedDict):
    activity: str
    events: int
    cases: int


class MapEdge(TypedDict):
    source: str
    target: str
    frequency: int
    cases: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    total_seconds: float | None


class ProcessMap(TypedDict):
    """Nodes (activities), directly-follows edges with the time between them, start and end counts."""

    nodes: list[MapNode]
    edges: list[MapEdge]
    start_activities: dict[str, int]
    end_activities: dict[str, int]


class Variant(TypedDict, total=False):
    activities: list[str]
    cases: int
    share: float
    median_seconds: float | None
    mean_seconds: float | None
    variant_id: str | None
    variants: int  # only on the "other" row: how many variants it groups


class Durations(TypedDict, total=False):
    cases: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    histogram: list[dict[str, Any]]


class ActivityStats(TypedDict):
    activity: str
    events: int
    cases: int
    resources: int
    mean_wait_seconds: float | None
    median_wait_seconds: float | None
    service_pairs: int | None
    mean_service_seconds: float | None
    median_service_seconds: float | None


class Bottlenecks(TypedDict):
    transitions: list[dict[str, Any]]
    activities: list[dict[str, Any]]


class Rework(TypedDict):
    summary: dict[str, Any]
    activities: list[dict[str, Any]]


class Handoffs(TypedDict):
    handoffs: list[dict[str, Any]]
    workload: list[dict[str, Any]]


class ConformanceReport(TypedDict):
    cases: int
    conforming_cases: int
    conforming_share: float
    median_seconds_conforming: float | None
    median_seconds_violating: float | None
    rules: list[dict[str, Any]]
    unknown_activities: list[str]


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_json(result: object, *, indent: int | None = 2) -> str:
    """Any analysis result as JSON text (the CLI's ``--json``, the API's body).

    >>> to_json({"cases": 3, "first": datetime(2024, 1, 1)}, indent=None)
    '{"cases": 3, "first": "2024-01-01T00:00:00"}'
    """
    return json.dumps(result, default=_default, ensure_ascii=False, indent=indent)
