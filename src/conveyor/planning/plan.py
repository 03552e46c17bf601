"""A staffing plan per hour of the week, from the workload a stream brings (its arrivals per hour
and the staff work per case, see :mod:`conveyor.metrics.workload`), segment by segment (e.g. per
ticket queue), with the Erlang model of :mod:`conveyor.planning.staffing`."""

from __future__ import annotations

from typing import Any

from conveyor.data.engine import Engine
from conveyor.metrics.definitions import StreamMetrics
from conveyor.metrics.workload import workload
from conveyor.mining.filters import Filters
from conveyor.planning.staffing import PlanningError, staff

__all__ = ["DAYS", "staffing_plan"]

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def staffing_plan(
    engine: Engine,
    stream: str,
    *,
    metrics: StreamMetrics,
    service_level: float,
    answer_seconds: float,
    by: str | None = None,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    patience_seconds: float | None = None,
    growth: float = 1.0,
    filters: Filters | None = None,
) -> dict[str, Any]:
    """Per segment: agents needed in each hour of the week (arrivals scaled by ``growth``), the
    peak, and the agent-hours a week; ``{"stream", "weeks", "settings", "segments": [...]}``."""
    if growth <= 0:
        raise PlanningError(f"--growth: {growth:g} must be above 0 (1.2 means 20% more cases)", field="growth")
    load = workload(engine, stream, metrics=metrics, by=by, filters=filters)
    segments = []
    for name, seg in sorted(load["segments"].items()):
        handle = seg["work_seconds"]
        hours: list[dict[str, Any]] = []
        for dow in range(1, 8):
            for hour in range(24):
                arrivals = seg["arrivals"].get((dow, hour), 0.0) * growth
                if arrivals == 0 or handle <= 0:
                    hours.append(
                        {
                            "day": DAYS[dow - 1],
                            "hour": hour,
                            "arrivals_per_hour": 0.0,
                            "agents": 0,
                            "agents_with_shrinkage": 0,
                        }
                    )
                    continue
                s = staff(
                    arrivals_per_hour=arrivals,
                    handle_seconds=handle,
                    service_level=service_level,
                    answer_seconds=answer_seconds,
                    max_occupancy=max_occupancy,
                    shrinkage=shrinkage,
                    patience_seconds=patience_seconds,
                )
                hours.append(
                    {
                        "day": DAYS[dow - 1],
                        "hour": hour,
                        "arrivals_per_hour": round(arrivals, 3),
                        "agents": s["agents"],
                        "agents_with_shrinkage": s["agents_with_shrinkage"],
                        "service_level": s["service_level"],
                        "occupancy": s["occupancy"],
                    }
                )
        peak = max(
            hours, key=lambda h: (int(h["agents_with_shrinkage"]), float(h["arrivals_per_hour"]))
        )  # busiest on ties
        segments.append(
            {
                "segment": name,
                "cases_per_week": round(seg["cases"] / max(load["weeks"], 1e-9) * growth, 2),
                "work_seconds_per_case": round(handle, 1),
                "peak": {"day": peak["day"], "hour": peak["hour"], "agents": peak["agents_with_shrinkage"]},
                "agent_hours_per_week": sum(int(h["agents_with_shrinkage"]) for h in hours),
                "workload_hours_per_week": round(seg["cases"] / max(load["weeks"], 1e-9) * growth * handle / 3600, 1),
                "hours": hours,
            }
        )
    return {
        "stream": stream,
        "by": by,
        "weeks": load["weeks"],
        "settings": {
            "service_level": service_level,
            "answer_seconds": answer_seconds,
            "max_occupancy": max_occupancy,
            "shrinkage": shrinkage,
            "patience_seconds": patience_seconds,
            "growth": growth,
            "model": "erlang_c" if patience_seconds is None else "erlang_a",
        },
        "segments": segments,
    }
