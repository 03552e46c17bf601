"""Map and measure: process maps, variants, times, bottlenecks, rework, handoffs, conformance.

Every analysis takes the store, a stream name and optional :class:`Filters`, and runs in the
store's engine over the precomputed layout; nothing pulls all events into Python.

>>> from conveyor.mining import process_map, Filters
>>> process_map(store, "helpdesk", filters=Filters(min_duration=86400))   # doctest: +SKIP
"""

from conveyor.mining.bottlenecks import bottlenecks
from conveyor.mining.conformance import RuleError, check_conformance, load_rules
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
