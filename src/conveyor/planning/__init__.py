"""Planning: turn demand into capacity. This release: staffing (Erlang C and Erlang A) and a
per-interval staffing plan mined from a stream; forecasting, inventory and simulation follow."""

from conveyor.planning.plan import staffing_plan
from conveyor.planning.staffing import PlanningError, erlang_a, erlang_c, staff

__all__ = ["PlanningError", "erlang_a", "erlang_c", "staff", "staffing_plan"]
