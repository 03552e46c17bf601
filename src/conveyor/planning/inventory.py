"""How much to keep and when to order, per item, from its daily demand: safety stock for a cycle
service level, reorder point and economic order quantity.

With mean daily demand ``d``, its standard deviation ``s`` (days without demand count as zero),
lead time ``L`` days with standard deviation ``sL``, and ``z`` the normal quantile of the service
level (the chance of not running out during a replenishment):

- safety stock ``SS = z * sqrt(L * s^2 + d^2 * sL^2)``;
- reorder point ``ROP = d * L + SS`` (order when stock on hand plus on order falls to it);
- order quantity ``EOQ = sqrt(2 * D * S / H)`` with yearly demand ``D = 365 d``, cost per order
  ``S`` and holding cost per unit and year ``H``.

The demand's history stands in for its forecast until forecasts exist (its spread is then the
forecast's error); with ``on_hand`` given, each item says whether to order now and how much.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.planning.staffing import PlanningError

__all__ = ["reorder_policy"]


def reorder_policy(
    series: list[dict[str, Any]],
    *,
    lead_time_days: float,
    service_level: float = 0.95,
    lead_time_sd_days: float = 0.0,
    order_cost: float = 50.0,
    holding_cost: float = 2.0,
    on_hand: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Per series of :func:`conveyor.data.series.daily_stats`: safety stock, reorder point, EOQ."""
    from statistics import NormalDist

    checks = [
        ("lead_time_days", lead_time_days, lead_time_days > 0),
        ("service_level", service_level, 0 < service_level < 1),
        ("lead_time_sd_days", lead_time_sd_days, lead_time_sd_days >= 0),
        ("order_cost", order_cost, order_cost > 0),
        ("holding_cost", holding_cost, holding_cost > 0),
    ]
    for name, value, ok in checks:
        if not ok:
            raise PlanningError(
                f"--{name.replace('_', '-')}: {value:g} is out of range",
                field=name,
                hint="lead time, costs above 0; service level between 0 and 1 (e.g. 0.95)",
            )
    z = NormalDist().inv_cdf(service_level)
    items = []
    for s in series:
        d, sd = s["mean"], s["sd"]
        safety = z * math.sqrt(lead_time_days * sd * sd + d * d * lead_time_sd_days**2)
        rop = d * lead_time_days + safety
        eoq = math.sqrt(2 * 365 * d * order_cost / holding_cost) if d > 0 else 0.0
        key = "/".join(str(v) for v in s["id"].values())
        item = {
            "id": s["id"],
            "key": key,
            "daily_mean": round(d, 4),
            "daily_sd": round(sd, 4),
            "days": s["days"],
            "safety_stock": math.ceil(safety),
            "reorder_point": math.ceil(rop),
            "order_quantity": math.ceil(eoq),
        }
        if on_hand is not None and key in on_hand:
            stock = on_hand[key]
            item["on_hand"] = stock
            item["order_now"] = stock <= rop
            item["days_of_cover"] = round(stock / d, 1) if d > 0 else None
        items.append(item)
    return {
        "settings": {
            "lead_time_days": lead_time_days,
            "lead_time_sd_days": lead_time_sd_days,
            "service_level": service_level,
            "z": round(z, 4),
            "order_cost": order_cost,
            "holding_cost": holding_cost,
            "demand": "history (until forecasts exist)",
        },
        "items": items,
    }
