"""Map and measure: process maps, variants, times, bottlenecks, rework, handoffs, conformance.

Every analysis takes the store, a stream name and optional :class:`Filters`, and runs in the
store's engine over the precomputed layout; nothing pulls all events into Python. Names load on
first use, so a command imports only the analysis it runs.

>>> from conveyor.mining import process_map, Filters
>>> process_map(store, "helpdesk", filters=Filters(min_duration=86400))   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "FilterError": "conveyor.mining.filters",
    "Filters": "conveyor.mining.filters",
    "RuleError": "conveyor.mining.conformance",
    "activity_stats": "conveyor.mining.durations",
    "bottlenecks": "conveyor.mining.bottlenecks",
    "check_conformance": "conveyor.mining.conformance",
    "durations": "conveyor.mining.durations",
    "handoffs": "conveyor.mining.handoffs",
    "load_rules": "conveyor.mining.conformance",
    "parse_duration": "conveyor.mining.filters",
    "process_map": "conveyor.mining.dfg",
    "rework": "conveyor.mining.rework",
    "variants": "conveyor.mining.variants",
}

__all__ = sorted(_LAZY)

#: The modules holding query definitions (the portability test imports them all).
QUERY_MODULES = sorted({m for m in _LAZY.values()})

if TYPE_CHECKING:
    from conveyor.mining.bottlenecks import bottlenecks
    from conveyor.mining.conformance import RuleError, check_conformance, load_rules
    from conveyor.mining.dfg import process_map
    from conveyor.mining.durations import activity_stats, durations
    from conveyor.mining.filters import FilterError, Filters, parse_duration
    from conveyor.mining.handoffs import handoffs
    from conveyor.mining.rework import rework
    from conveyor.mining.variants import variants


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'conveyor.mining' has no attribute {name!r}")
