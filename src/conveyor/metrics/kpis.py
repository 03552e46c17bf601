"""KPIs from declared definitions: value, target, status, a trend per period, anomalies, segments.

Case KPIs (cycle time, on-time, first-time-right, rework, exceptions, cost) count each case once,
in the period its value is known (when it ends, or reaches the ``to``/``end`` activity); the
automation share counts steps in the period they happen; throughput counts cases ending in a
period (the KPI's value is the mean per full period); backlog is the cases open at each period's
end (started, not yet at their last event; the value is the mean over the periods). On streams
with lifecycle starts, steps are activity instances.

    from conveyor.metrics import compute_kpis
    compute_kpis(store, "helpdesk", by="priority", period="month")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from conveyor.data.quoting import quote
from conveyor.data.sql import Query
from conveyor.metrics.anomalies import detect
from conveyor.metrics.definitions import (
    CASE_END,
    CASE_START,
    AutomationCoverage,
    CostPerCase,
    Costs,
    CycleTime,
    ExceptionRate,
    FirstTimeRight,
    KpiDef,
    MetricsError,
    OnTimeRate,
    ReworkRate,
    StreamMetrics,
    Throughput,
)
from conveyor.metrics.units import show
from conveyor.mining.filters import Filters, Scope, scope_for

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["Period", "StreamInfo", "compute_kpis", "stream_info"]

Period = Literal["week", "month"]
UNITS = {
    "cycle_time": "seconds",
    "on_time_rate": "share",
    "first_time_right": "share",
    "rework_rate": "share",
    "exception_rate": "share",
    "automation_coverage": "share",
    "backlog": "cases",
}
_STAT = {"median": "median(v)", "mean": "avg(v)", "p90": "quantile_cont(v, 0.9)"}
#: How much worse than target still counts as "at_risk" rather than "off_track" (relative).
AT_RISK = 0.10

KPI_GROUPS = Query(
    "kpis.groups",
    """WITH {scope}, {values}
    SELECT seg, date_trunc('{period}', anchor) AS period, {agg} AS value, count(*) AS n,
           GROUPING(seg) AS g_seg, GROUPING(date_trunc('{period}', anchor)) AS g_period
    FROM cv GROUP BY GROUPING SETS ((), (date_trunc('{period}', anchor)), (seg), (seg, date_trunc('{period}', anchor)))""",
)

BACKLOG = Query(
    "kpis.backlog",
    """WITH {scope}, ends AS (
        SELECT {seg} AS seg, date_trunc('{period}', fc.first_ts) AS started, date_trunc('{period}', fc.last_ts) AS ended
        FROM fc {seg_join}
    )
    SELECT seg, period, sum(opened) AS opened, sum(closed) AS closed FROM (
        SELECT seg, started AS period, count(*) AS opened, 0 AS closed FROM ends GROUP BY ALL
        UNION ALL
        SELECT seg, ended AS period, 0 AS opened, count(*) AS closed FROM ends GROUP BY ALL
    ) x GROUP BY ALL ORDER BY period""",
)

# A period is judged ("full") only where the data sees every kind of case: from one median
# cycle time after the first case started (before that, only the quick cases have ended) to the
# last case start (after it, only the slow cases are still running).
SPAN = Query(
    "kpis.span",
    """WITH {scope} SELECT min(first_ts) AS first_ts, max(first_ts) AS last_ts,
       median(duration_seconds) AS median_seconds FROM fc""",
)
#: Anomalies older than this many full periods are history: kept in ``anomalies``, not alerted.
RECENT = 8


@dataclass
class StreamInfo:
    """The names a definition may use, with their codes: validation and query building."""

    stream: str
    activities: dict[str, int]
    resources: dict[str, int]
    attributes: dict[str, str]  # case attribute -> type

    def activity(self, name: str, where: str) -> int:
        if name not in self.activities:
            raise MetricsError(
                f"{where}: stream {self.stream!r} has no activity {name!r}",
                hint=f"its activities are: {', '.join(sorted(self.activities))} (or {CASE_START!r}/{CASE_END!r})",
            )
        return self.activities[name]

    def attribute(self, name: str, where: str) -> str:
        if name not in self.attributes:
            raise MetricsError(
                f"{where}: stream {self.stream!r} has no case attribute {name!r}",
                hint=f"its case attributes are: {', '.join(self.attributes) or 'none'}",
            )
        return name

    def matching_resources(self, pattern: str) -> list[int]:
        rx = re.compile(pattern)
        return [code for name, code in self.resources.items() if rx.search(name)]


def stream_info(engine: Engine, stream: str) -> StreamInfo:
    from conveyor.data.layout import CORE_CASE_COLUMNS

    s = quote(engine.require_stream(stream))
    acts = {r["name"]: int(r["code"]) for r in engine.records(f"SELECT name, code FROM {s}.activities")}
    res = {str(r["name"]): int(r["code"]) for r in engine.records(f"SELECT name, code FROM {s}.resources")}
    attrs = {c: t for c, t in engine.columns(f"{s}.cases") if c not in CORE_CASE_COLUMNS}
    return StreamInfo(stream, acts, res, attrs)


def validate_against(metrics: StreamMetrics, info: StreamInfo, engine: Engine) -> None:
    """Every activity, attribute and SLA value a definition names exists in the stream."""
    for k in metrics.all_kpis():
        where = f"KPI {k.name!r}"
        for a in k.activities_used():
            info.activity(a, where)
        for attr in k.attributes_used():
            info.attribute(attr, where)
        if isinstance(k, OnTimeRate) and k.sla_by:
            s = quote(engine.require_stream(info.stream))
            seen = {
                str(r["v"])
                for r in engine.records(f"SELECT DISTINCT CAST({quote(k.sla_by)} AS VARCHAR) AS v FROM {s}.cases")
            }
            unknown = [v for v in k.sla if v not in seen]
            if unknown:
                raise MetricsError(
                    f"{where}: {k.sla_by} has no value {unknown[0]!r} in stream {info.stream!r}",
                    hint=f"its values are: {', '.join(sorted(v for v in seen if v != 'None'))}",
                )
    for a in [
        *metrics.costs.activity_costs,
        *metrics.costs.handling_minutes_by_activity,
        *metrics.costs.external_waits,
    ]:
        info.activity(a, "costs")


def _service_seconds(costs: Costs, info: StreamInfo) -> str:
    """Seconds of work in one step: measured (instance start to end) or the stated handling time."""
    default = costs.handling_minutes * 60
    cases = "".join(
        f" WHEN {info.activities[a]} THEN {m * 60!r}" for a, m in costs.handling_minutes_by_activity.items()
    )
    fallback = f"CASE fe.activity{cases} ELSE {default!r} END" if cases else repr(default)
    return f"coalesce((epoch_us(fe.ts) - epoch_us(fe.start_ts)) / 1e6, {fallback})"


def step_cost_sql(costs: Costs, info: StreamInfo) -> str:
    """The money one step in ``fe`` costs: its fixed activity cost plus its work at the resource's rate."""
    fixed = "".join(f" WHEN {info.activities[a]} THEN {c!r}" for a, c in costs.activity_costs.items())
    rates = "".join(
        f" WHEN {info.resources[r]} THEN {rate!r}" for r, rate in costs.hourly_rates.items() if r in info.resources
    )
    free = sorted(
        set(info.matching_resources(costs.external_resources))
        | set(info.matching_resources(costs.automation_resources))
    )
    # people outside the company and automations cost no staff time
    rates += "".join(
        f" WHEN {code} THEN 0e0" for code in free if code not in {info.resources.get(r) for r in costs.hourly_rates}
    )
    rate = f"CASE fe.resource{rates} ELSE {costs.hourly_rate!r} END" if rates else repr(costs.hourly_rate)
    fixed_sql = f"CASE fe.activity{fixed} ELSE 0e0 END" if fixed else "0e0"
    return f"({fixed_sql} + {rate} * {_service_seconds(costs, info)} / 3600.0)"


def _codes(info: StreamInfo, names: list[str], where: str) -> str:
    return ", ".join(str(info.activity(a, where)) for a in names) or "NULL"


def _case_values(k: KpiDef, info: StreamInfo, costs: Costs) -> tuple[str, str]:
    """The ``cv`` relation (case_idx, anchor, v) of a case KPI, and its aggregate over ``v``."""
    where = f"KPI {k.name!r}"
    if isinstance(k, CycleTime):
        frm = "fc.first_ts" if k.from_ == CASE_START else "mf.from_ts"
        mf = (
            ""
            if k.from_ == CASE_START
            else (
                f"mf AS (SELECT case_idx, min(coalesce(start_ts, ts)) AS from_ts FROM fe "
                f"WHERE activity = {info.activity(k.from_, where)} GROUP BY case_idx), "
            )
        )
        join = "" if k.from_ == CASE_START else " JOIN mf USING (case_idx)"
        if k.to == CASE_END:
            to, mt = "fc.last_ts", ""
        else:
            src = "fc.first_ts" if k.from_ == CASE_START else "mf.from_ts"
            mt = (
                f"mt AS (SELECT fe.case_idx, min(fe.ts) AS to_ts FROM fe JOIN fc USING (case_idx){join} "
                f"WHERE fe.activity = {info.activity(k.to, where)} AND fe.ts >= {src} GROUP BY fe.case_idx), "
            )
            to, join = "mt.to_ts", join + " JOIN mt USING (case_idx)"
        return (
            f"{mf}{mt}cv0 AS (SELECT fc.case_idx, {to} AS anchor, (epoch_us({to}) - epoch_us({frm})) / 1e6 AS v "
            f"FROM fc{join})",
            _STAT[k.stat],
        )
    if isinstance(k, OnTimeRate):
        return _on_time(k, info, where), "avg(v)"
    if isinstance(k, FirstTimeRight | ReworkRate):
        only = f" WHERE activity IN ({_codes(info, k.activities, where)})" if k.activities else ""
        good, bad = ("1e0", "0e0") if isinstance(k, FirstTimeRight) else ("0e0", "1e0")
        return (
            f"rep AS (SELECT case_idx, max(n) AS most FROM (SELECT case_idx, activity, count(*) AS n FROM fe{only} "
            f"GROUP BY case_idx, activity) x GROUP BY case_idx), "
            f"cv0 AS (SELECT fc.case_idx, fc.last_ts AS anchor, CASE WHEN coalesce(rep.most, 1) <= 1 THEN {good} "
            f"ELSE {bad} END AS v FROM fc LEFT JOIN rep USING (case_idx))",
            "avg(v)",
        )
    if isinstance(k, ExceptionRate):
        return (
            f"hit AS (SELECT DISTINCT case_idx FROM fe WHERE activity IN ({_codes(info, k.activities, where)})), "
            "cv0 AS (SELECT fc.case_idx, fc.last_ts AS anchor, CASE WHEN hit.case_idx IS NULL THEN 0e0 ELSE 1e0 END "
            "AS v FROM fc LEFT JOIN hit USING (case_idx))",
            "avg(v)",
        )
    if isinstance(k, CostPerCase):
        return (
            f"cost AS (SELECT case_idx, sum({step_cost_sql(costs, info)}) AS c FROM fe GROUP BY case_idx), "
            "cv0 AS (SELECT fc.case_idx, fc.last_ts AS anchor, coalesce(cost.c, 0e0) AS v "
            "FROM fc LEFT JOIN cost USING (case_idx))",
            "avg(v)",
        )
    if isinstance(k, AutomationCoverage):
        codes = ", ".join(map(str, info.matching_resources(k.resources or costs.automation_resources))) or "NULL"
        return (
            f"cv0 AS (SELECT fe.case_idx, fe.ts AS anchor, CASE WHEN fe.resource IN ({codes}) THEN 1e0 ELSE 0e0 END "
            "AS v FROM fe)",
            "avg(v)",
        )
    assert isinstance(k, Throughput)
    return "cv0 AS (SELECT case_idx, last_ts AS anchor, 1e0 AS v FROM fc)", "count(*)"


def _on_time(k: OnTimeRate, info: StreamInfo, where: str) -> str:
    if k.end == CASE_END:
        end, ends = "fc.last_ts", ""
        join = ""
    else:
        ends = (
            f"me AS (SELECT case_idx, min(ts) AS end_ts FROM fe WHERE activity = {info.activity(k.end, where)} "
            "GROUP BY case_idx), "
        )
        end, join = "me.end_ts", " JOIN me USING (case_idx)"
    if k.deadline:
        due = f"epoch_us(c.{quote(info.attribute(k.deadline, where))})"
    else:
        attr = quote(info.attribute(k.sla_by or "", where))
        whens = "".join(f" WHEN {_literal(v)} THEN {secs * 1e6!r}" for v, secs in k.sla.items())
        due = f"epoch_us(fc.first_ts) + CASE CAST(c.{attr} AS VARCHAR){whens} END"
    return (
        f"{ends}cv0 AS (SELECT fc.case_idx, {end} AS anchor, "
        f"CASE WHEN epoch_us({end}) <= {due} THEN 1e0 ELSE 0e0 END AS v, {due} AS due "
        f"FROM fc JOIN {{s}}.cases c USING (case_idx){join})"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _status(value: float | None, target: float | None, direction: str) -> str:
    if value is None:
        return "no_data"
    if target is None:
        return "no_target"
    better = value <= target if direction == "lower" else value >= target
    if better:
        return "on_track"
    slack = abs(target) * AT_RISK
    close = value <= target + slack if direction == "lower" else value >= target - slack
    return "at_risk" if close else "off_track"


def _period_end(start: datetime, period: Period) -> datetime:
    if period == "week":
        return start + timedelta(days=7)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def _full(start: datetime, period: Period, span: tuple[datetime, datetime]) -> bool:
    """Whether the data covers the whole period (the first and last are usually partial)."""
    return start >= span[0] and _period_end(start, period) <= span[1]


def compute_kpis(
    engine: Engine,
    stream: str,
    *,
    metrics: StreamMetrics | None = None,
    by: str | None = None,
    period: Period = "week",
    filters: Filters | None = None,
    names: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every KPI of the stream: ``name, label, kind, value, unit, target, direction, status, trend
    (period, value, n, full, anomaly), anomalies, alerts`` and, with ``by``, ``segments``."""
    if period not in ("week", "month"):
        raise MetricsError(f"period must be week or month, got {period!r}", hint="--period week or --period month")
    metrics = metrics or StreamMetrics()
    info = stream_info(engine, stream)
    validate_against(metrics, info, engine)
    if by is not None:
        info.attribute(by, "--by")
    scope = scope_for(engine, stream, filters)
    span_row = engine.run(SPAN, params=scope.params, **scope.parts())[0]
    span = None
    if span_row["first_ts"] is not None:
        begin = span_row["first_ts"] + timedelta(seconds=float(span_row["median_seconds"] or 0))
        if begin < span_row["last_ts"]:
            span = (begin, span_row["last_ts"])
    kpis = metrics.all_kpis()
    if names:
        unknown = [n for n in names if n not in {k.name for k in kpis}]
        if unknown:
            raise MetricsError(
                f"stream {stream!r} has no KPI {unknown[0]!r}", hint=f"its KPIs: {', '.join(k.name for k in kpis)}"
            )
        kpis = [k for k in kpis if k.name in names]
    return [_one(engine, scope, k, info, metrics.costs, by, period, span) for k in kpis]


def _unit(k: KpiDef, costs: Costs, period: Period) -> str:
    if k.kind == "cost_per_case":
        return f"{costs.currency} per case"
    if k.kind == "throughput":
        return f"cases per {period}"
    return UNITS[k.kind]


def _one(
    engine: Engine,
    scope: Scope,
    k: KpiDef,
    info: StreamInfo,
    costs: Costs,
    by: str | None,
    period: Period,
    span: tuple[datetime, datetime] | None,
) -> dict[str, Any]:
    seg = f"CAST(c.{quote(by)} AS VARCHAR)" if by else "CAST(NULL AS VARCHAR)"

    def seg_join(rel: str) -> str:
        """The segment attribute's case row for each row of ``rel`` (nothing without ``by``)."""
        return f"JOIN {scope.s}.cases c ON c.case_idx = {rel}.case_idx" if by else ""

    if k.kind == "backlog":
        rows = engine.run(BACKLOG, params=scope.params, **scope.parts(period=period, seg=seg, seg_join=seg_join("fc")))
        groups = _backlog_groups(rows)
    else:
        values, agg = _case_values(k, info, costs)
        values = values.replace("{s}", scope.s)
        # a negative cycle time is a case whose `to` came first: it has no value
        valid = "cv0.v >= 0" if k.kind == "cycle_time" else "cv0.v IS NOT NULL"
        cv = (
            f"{values}, cv AS (SELECT cv0.anchor, cv0.v, {seg} AS seg FROM cv0 {seg_join('cv0')} "
            f"WHERE {valid} AND cv0.anchor IS NOT NULL)"
        )
        rows = engine.run(KPI_GROUPS, params=scope.params, **scope.parts(values=cv, agg=agg, period=period))
        groups = _groups(rows)
    out: dict[str, Any] = {
        "name": k.name,
        "label": k.label or k.name.replace("_", " ").capitalize(),
        "kind": k.kind,
        "unit": _unit(k, costs, period),
        "target": k.target,
        "direction": k.direction,
        "activities": k.activities_used(),
    }
    overall = _series_result(groups.get(None, {}), k, period, span, out["unit"])
    out |= overall
    if by:
        out["by"] = by
        out["segments"] = [
            {"segment": name, **_series_result(g, k, period, span, out["unit"])}
            for name, g in sorted(groups.items(), key=lambda kv: str(kv[0]))
            if name is not None
        ]
    return out


Groups = dict[str | None, dict[str, Any]]


def _groups(rows: list[dict[str, Any]]) -> Groups:
    """Rows of the grouping sets → per segment (None: all) the total and the per-period values."""
    out: Groups = {}
    for r in rows:
        key = None if r["g_seg"] else (r["seg"] if r["seg"] is not None else "(none)")
        g = out.setdefault(key, {"total": None, "n": 0, "periods": {}})
        if r["g_period"]:
            g["total"], g["n"] = r["value"], r["n"]
        else:
            g["periods"][r["period"]] = (r["value"], r["n"])
    return out


def _backlog_groups(rows: list[dict[str, Any]]) -> Groups:
    """Open cases at each period's end from cases opened and closed per period."""
    by_seg: dict[str | None, dict[Any, tuple[int, int]]] = {}
    for r in rows:
        for key in (None, r["seg"] if r["seg"] is not None else "(none)"):
            o, c = by_seg.setdefault(key, {}).get(r["period"], (0, 0))
            by_seg[key][r["period"]] = (o + int(r["opened"]), c + int(r["closed"]))
    if all(r["seg"] is None for r in rows):
        by_seg = {None: by_seg.get(None, {})}
    out: Groups = {}
    for key, per in by_seg.items():
        open_, periods = 0, {}
        for p in sorted(per):
            o, c = per[p]
            open_ += o - c
            periods[p] = (float(open_), open_)
        out[key] = {"total": None, "n": open_, "periods": periods}
    return out


def _series_result(
    g: dict[str, Any], k: KpiDef, period: Period, span: tuple[datetime, datetime] | None, unit: str
) -> dict[str, Any]:
    periods = g.get("periods", {})
    trend: list[dict[str, Any]] = [
        {
            "period": p.date().isoformat() if isinstance(p, datetime) else str(p),
            "value": None if v is None else float(v),
            "n": int(n),
            "full": span is not None and isinstance(p, datetime) and _full(p, period, span),
        }
        for p, (v, n) in sorted(periods.items())
    ]
    full = [t for t in trend if t["full"]]
    if k.kind in ("throughput", "backlog"):
        pts = full or trend
        value = sum(t["value"] for t in pts) / len(pts) if pts else None
    else:
        value = None if g.get("total") is None else float(g["total"])
    anomalies = detect(trend, season=52 if period == "week" else 12)
    status = _status(value, k.target, k.direction)
    alerts: list[str] = []
    if status in ("off_track", "at_risk") and k.target is not None and value is not None:
        alerts.append(
            f"{'off track' if status == 'off_track' else 'at risk'}: {show(value, unit)} against a target of {show(k.target, unit)}"
        )
    last = full[-1] if full else None
    if (
        last is not None
        and k.target is not None
        and last["value"] is not None
        and _status(last["value"], k.target, k.direction) == "off_track"
    ):
        alerts.append(f"the last full {period} ({last['period']}) missed the target: {show(last['value'], unit)}")
    recent = {t["period"] for t in full[-RECENT:]}
    for a in (a for a in anomalies if a["period"] in recent):
        alerts.append(
            f"unusual {period} {a['period']}: {show(a['value'], unit)} where about {show(a['expected'], unit)} was expected"
        )
    return {
        "value": value,
        "status": status,
        "n": int(g.get("n") or 0),
        "trend": trend,
        "anomalies": anomalies,
        "alerts": alerts,
    }
