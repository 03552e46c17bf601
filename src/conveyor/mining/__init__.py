"""Map and measure: process maps, variants, times, bottlenecks, rework, handoffs, conformance.

Every analysis takes the store, a stream name and optional :class:`Filters`, and runs in the
store's engine over the precomputed layout; nothing pulls all events into Python. Conformance
(which needs pydantic and YAML) loads on first use, so other commands start faster.

    from conveyor.mining import process_map, Filters
    process_map(store, "helpdesk", filters=Filters(min_duration=86400))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_exports

# Imported eagerly: these submodules share their function's name, and a lazily imported
# submodule would shadow the function on the package.
from conveyor.mining.bottlenecks import bottlenecks
from conveyor.mining.dfg import process_map
from conveyor.mining.durations import activity_stats, durations
from conveyor.mining.filters import FilterError, Filters, parse_duration
from conveyor.mining.handoffs import handoffs
from conveyor.mining.rework import rework
from conveyor.mining.variants import variants

__all__ = [
    "FilterError",
    "Filters",
    "RuleError",
    "activity_stats",
    "bottlenecks",
    "check_conformance",
    "durations",
    "handoffs",
    "load_rules",
    "parse_duration",
    "process_map",
    "rework",
    "variants",
]

_LAZY = dict.fromkeys(("RuleError", "check_conformance", "load_rules"), "conveyor.mining.conformance")

#: The modules holding query definitions (the portability test imports them all).
QUERY_MODULES = [
    "conveyor.data.layout",
    "conveyor.data.summaries",
    "conveyor.mining.bottlenecks",
    "conveyor.mining.cases",
    "conveyor.mining.conformance",
    "conveyor.mining.dfg",
    "conveyor.mining.durations",
    "conveyor.mining.handoffs",
    "conveyor.mining.rework",
    "conveyor.mining.variants",
]

if TYPE_CHECKING:
    from conveyor.mining.conformance import RuleError, check_conformance, load_rules


__getattr__ = lazy_exports(__name__, _LAZY)
