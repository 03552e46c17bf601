"""Planning: turn demand into capacity. This release: staffing (Erlang C and Erlang A), a staffing
plan per hour of the week mined from a stream, and reorder policies (safety stock, reorder point,
order quantity) from daily demand; forecasting and simulation follow."""

from conveyor.planning.inventory import reorder_policy
from conveyor.planning.plan import staffing_plan
from conveyor.planning.staffing import PlanningError, erlang_a, erlang_c, staff

__all__ = ["PlanningError", "erlang_a", "erlang_c", "reorder_policy", "staff", "staffing_plan"]
