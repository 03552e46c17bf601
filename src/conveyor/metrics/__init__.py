"""Measure against targets: KPIs from declared definitions, anomalies, automation opportunities.

from conveyor.metrics import compute_kpis, load_metrics, opportunities
compute_kpis(store, "order-to-cash", metrics=load_metrics(root, "order-to-cash"), by="region")

The definitions (pydantic models) and the KPI queries load on first use: a command that only
needs ``conveyor.metrics.units`` (every table's number formatting) does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_exports

#: The modules holding query definitions (the portability test imports them all).
QUERY_MODULES = ["conveyor.metrics.kpis", "conveyor.metrics.opportunities", "conveyor.metrics.workload"]

__all__ = [
    "QUERY_MODULES",
    "Costs",
    "MetricsError",
    "StreamMetrics",
    "compute_kpis",
    "default_kpis",
    "load_metrics",
    "parse_metrics",
]

_LAZY = {
    **dict.fromkeys(
        ("Costs", "MetricsError", "StreamMetrics", "default_kpis", "load_metrics", "parse_metrics"),
        "conveyor.metrics.definitions",
    ),
    "compute_kpis": "conveyor.metrics.kpis",
}

if TYPE_CHECKING:
    from conveyor.metrics.definitions import (
        Costs,
        MetricsError,
        StreamMetrics,
        default_kpis,
        load_metrics,
        parse_metrics,
    )
    from conveyor.metrics.kpis import compute_kpis

__getattr__ = lazy_exports(__name__, _LAZY)
