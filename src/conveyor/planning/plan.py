"""A staffing plan per hour of the week, from the workload a stream brings (its arrivals per hour
and the staff work per case, see :mod:`conveyor.metrics.workload`), segment by segment (e.g. per
ticket queue), with the Erlang model of :mod:`conveyor.planning.staffing`."""

from __future__ import annotations

from typing import Any

from conveyor.data.engine import Engine
from conveyor.metrics.definitions import StreamMetrics
from conveyor.metrics.workload import answered, workload
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
    forecast: dict[str, Any] | None = None,
    answer_activity: str | None = None,
    patience_from_log: bool = False,
) -> dict[str, Any]:
    """Per segment: agents needed in each hour of the week (arrivals scaled by ``growth``), the
    peak, and the agent-hours a week; ``{"stream", "weeks", "settings", "segments": [...]}``.
    With ``forecast`` (a saved forecast of this stream's arrivals, overall or by the same
    attribute), each segment's week-hour pattern is scaled to the forecast's cases per week.
    With ``patience_from_log``, each segment whose cases the log shows leaving without
    ``answer_activity`` is planned with Erlang A on the patience mined from it (see
    :func:`conveyor.metrics.workload.answered`), the others with Erlang C."""
    if growth <= 0:
        raise PlanningError(f"--growth: {growth:g} must be above 0 (1.2 means 20% more cases)", field="growth")
    if patience_from_log and not answer_activity:
        raise PlanningError(
            "--patience-from-log needs --answer-activity: abandonment is leaving before it",
            field="patience_from_log",
            hint="--answer-activity 'Start Work' --patience-from-log",
        )
    if patience_from_log and patience_seconds is not None:
        raise PlanningError("give --patience-seconds or --patience-from-log, not both", field="patience_from_log")
    load = workload(engine, stream, metrics=metrics, by=by, filters=filters)
    factors = _forecast_growth(forecast, stream, by, load) if forecast is not None else {}
    seen = (
        answered(engine, stream, activity=answer_activity, answer_seconds=answer_seconds, by=by, filters=filters)
        if answer_activity
        else {}
    )
    segments = []
    for name, seg in sorted(load["segments"].items()):
        handle = seg["work_seconds"]
        growth_here = growth * factors.get(name, 1.0)
        patience = seen.get(name, {}).get("patience_seconds") if patience_from_log else patience_seconds
        hours: list[dict[str, Any]] = []
        for dow in range(1, 8):
            for hour in range(24):
                arrivals = seg["arrivals"].get((dow, hour), 0.0) * growth_here
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
                    patience_seconds=patience,
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
                "cases_per_week": round(seg["cases"] / max(load["weeks"], 1e-9) * growth_here, 2),
                "growth": round(growth_here, 4),
                "work_seconds_per_case": round(handle, 1),
                "peak": {"day": peak["day"], "hour": peak["hour"], "agents": peak["agents_with_shrinkage"]},
                "model": "erlang_c" if patience is None else "erlang_a",
                "patience_seconds": patience,
                "agent_hours_per_week": sum(int(h["agents_with_shrinkage"]) for h in hours),
                "workload_hours_per_week": round(
                    seg["cases"] / max(load["weeks"], 1e-9) * growth_here * handle / 3600, 1
                ),
                "hours": hours,
            }
        )
        if name in seen:
            obs = seen[name]
            segments[-1]["observed"] = obs
            # what the log shows the queue achieved against the target the plan staffs for
            segments[-1]["misses_target"] = bool(obs.get("answered_within_target", 1.0) < service_level)
            # fewer people a week on it than its busiest hour needs at once: a missed target the
            # plan's headcount answers; otherwise (the demo's Billing queue) the wait is not for want
            # of people, and adding them would not meet the target
            if "people_per_week" in obs:
                segments[-1]["short_of_people"] = bool(obs["people_per_week"] < peak["agents_with_shrinkage"])
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
            "forecast": forecast.get("name") if forecast is not None else None,
            "answer_activity": answer_activity,
            "patience_from_log": patience_from_log,
            "model": "erlang_c" if patience_seconds is None and not patience_from_log else "erlang_a",
        },
        "segments": segments,
    }


def _forecast_growth(forecast: dict[str, Any], stream: str, by: str | None, load: dict[str, Any]) -> dict[str, float]:
    """Segment -> forecast cases per week over the history's cases per week."""
    source = forecast.get("source", {})
    if source.get("stream") != stream or source.get("by") != by:
        raise PlanningError(
            f"forecast {forecast.get('name')!r} is not of {stream!r}'s arrivals"
            + (f" by {by!r}" if by else "")
            + f" (it is of {source})",
            field="forecast",
            hint=f"conveyor forecast {stream}" + (f" --by {by}" if by else "") + " --freq W --save NAME",
        )
    per_week = {"D": 7.0, "W": 1.0, "M": 12 / 52.18, "Q": 4 / 52.18}[forecast["freq"]]
    out = {}
    for s in forecast["series"]:
        name = str(next(iter(s["id"].values()))) if s["id"] else "all"
        seg = load["segments"].get(name)
        if seg is None or not seg["cases"]:
            continue
        future = sum(p["mean"] for p in s["forecast"]) / len(s["forecast"]) * per_week
        out[name] = future / (seg["cases"] / max(load["weeks"], 1e-9))
    return out
