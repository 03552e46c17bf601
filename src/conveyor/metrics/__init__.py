"""Measure against targets: KPIs from declared definitions, anomalies, automation opportunities.

from conveyor.metrics import compute_kpis, load_metrics, opportunities
compute_kpis(store, "order-to-cash", metrics=load_metrics(root, "order-to-cash"), by="region")
"""

from __future__ import annotations

from conveyor.metrics.definitions import Costs, MetricsError, StreamMetrics, default_kpis, load_metrics, parse_metrics
from conveyor.metrics.kpis import compute_kpis

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
