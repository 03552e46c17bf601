"""How much to keep and when to order, per item, from its daily demand: safety stock for a cycle
service level, reorder point and economic order quantity.

With mean daily demand ``d``, its standard deviation ``s`` (from a weekly or monthly table: the
period's over its days, and its spread over the root of its days; periods without demand count as zero),
lead time ``L`` days with standard deviation ``sL``, and ``z`` the normal quantile of the service
level (the chance of not running out during a replenishment):

- safety stock ``SS = z * sqrt(L * s^2 + d^2 * sL^2)``;
- reorder point ``ROP = d * L + SS`` (order when stock on hand plus on order falls to it);
- order quantity ``EOQ = sqrt(2 * D * S / H)`` with yearly demand ``D = 365 d``, cost per order
  ``S`` and holding cost per unit and year ``H``.

Demand comes from a saved forecast (its mean over the horizon; its error from the 80% intervals)
or, without one, from history (its spread standing in for the error). With ``on_hand`` given,
each item carries a recommendation an automation can act on: reorder (how much) or none.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.data.series import PERIOD_DAYS as DAYS
from conveyor.planning.staffing import PlanningError

__all__ = ["daily_from_forecast", "read_on_hand", "reorder_policy"]

#: the 80% interval's half-width in standard deviations of a normal forecast error
Z80 = 1.2815515655446004


def daily_from_forecast(saved: dict[str, Any]) -> list[dict[str, Any]]:
    """Per series of a saved forecast: the mean daily demand over its horizon and the daily
    standard deviation of its error (from the 80% intervals, periods taken as independent), in the
    shape :func:`reorder_policy` takes. Only the bottom level of a reconciled forecast (the items)."""
    per = DAYS[saved["freq"]]
    depth = max((len(s["id"]) for s in saved["series"]), default=0)
    out = []
    for s in saved["series"]:
        if len(s["id"]) != depth:
            continue
        f = s["forecast"]
        mean = sum(p["mean"] for p in f) / len(f) / per
        var = sum(((p["hi_80"] - p["lo_80"]) / (2 * Z80)) ** 2 for p in f) / len(f)
        out.append(
            {
                "id": s["id"] or {"series": s["key"]},
                "mean": mean,
                "sd": math.sqrt(var / per),
                "days": round(len(f) * per),
            }
        )
    return out


def read_on_hand(path: str) -> dict[str, float]:
    """``item -> units`` from a CSV whose last column is the stock on hand (plus on order) and
    whose other columns are the item's id columns, in the forecast's order."""
    import csv
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise PlanningError(f"--on-hand: {file}: no such file", hint="a CSV like: product,region,on_hand")
    out: dict[str, float] = {}
    with file.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if not header or len(header) < 2:
            raise PlanningError(
                f"{file}: needs a header with the item column(s) and the stock", hint="product,region,on_hand"
            )
        for n, row in enumerate(rows, start=2):
            try:
                out["/".join(row[:-1])] = float(row[-1])
            except (ValueError, IndexError):
                raise PlanningError(
                    f"{file}, row {n}, column {header[-1]!r}: {row[-1] if row else ''!r} is not a number",
                    hint="the last column is the units on hand",
                ) from None
    return out


def reorder_policy(
    series: list[dict[str, Any]],
    *,
    lead_time_days: float,
    service_level: float = 0.95,
    lead_time_sd_days: float = 0.0,
    order_cost: float = 50.0,
    holding_cost: float = 2.0,
    on_hand: dict[str, float] | None = None,
    demand: str = "history",
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
            item["recommendation"] = (
                {"action": "reorder", "quantity": max(math.ceil(eoq), math.ceil(rop - stock))}
                if stock <= rop
                else {"action": "none"}
            )
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
            "demand": demand,
        },
        "items": items,
    }
