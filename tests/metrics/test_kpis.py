"""KPIs against values worked out independently: by hand on small logs, with pandas on real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.metrics import MetricsError, StreamMetrics, compute_kpis, parse_metrics
from conveyor.metrics.anomalies import detect
from tests.conftest import need, require_data

H = 3600.0


def _kpi(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rows if r["name"] == name)


def _metrics(spec: dict[str, Any]) -> StreamMetrics:
    return StreamMetrics.model_validate(spec)


# Three orders. Times in hours after 2024-03-04 00:00 UTC (a Monday).
#   o1: Create 0 (start)/1 (complete) by ann, Check 5-7 by bot, Ship 30 by ann   due 24h  prio high
#   o2: Create 2-3 by bob, Check 4-6 by bob, Check 8-9 by bob, Ship 20 by bob    due 48h  prio low
#   o3: Create 10-11 by ann, Reject 12 (complete only) by ann                    due 48h  prio low
HAND = [
    ("o1", "Create", 0, "ann", "start"),
    ("o1", "Create", 1, "ann", "complete"),
    ("o1", "Check", 5, "bot", "start"),
    ("o1", "Check", 7, "bot", "complete"),
    ("o1", "Ship", 30, "ann", "complete"),
    ("o2", "Create", 2, "bob", "start"),
    ("o2", "Create", 3, "bob", "complete"),
    ("o2", "Check", 4, "bob", "start"),
    ("o2", "Check", 6, "bob", "complete"),
    ("o2", "Check", 8, "bob", "start"),
    ("o2", "Check", 9, "bob", "complete"),
    ("o2", "Ship", 20, "bob", "complete"),
    ("o3", "Create", 10, "ann", "start"),
    ("o3", "Create", 11, "ann", "complete"),
    ("o3", "Reject", 12, "ann", "complete"),
]
DUE = {"o1": 24, "o2": 48, "o3": 48}
PRIO = {"o1": "high", "o2": "low", "o3": "low"}
BASE_US = 1_709_510_400_000_000  # 2024-03-04T00:00:00Z


@pytest.fixture
def hand(store: Store) -> Store:
    case = [r[0] for r in HAND]
    table = pa.table(
        {
            "case_id": case,
            "activity": [r[1] for r in HAND],
            "timestamp": pa.array([BASE_US + int(r[2] * H * 1e6) for r in HAND], pa.timestamp("us", tz="UTC")),
            "resource": [r[3] for r in HAND],
            "lifecycle": [r[4] for r in HAND],
            "case:due": pa.array([BASE_US + int(DUE[c] * H * 1e6) for c in case], pa.timestamp("us", tz="UTC")),
            "case:priority": [PRIO[c] for c in case],
        }
    )
    ingest(store, table, stream="orders")
    return store


def test_hand_made_kpis(hand: Store) -> None:
    m = _metrics(
        {
            "costs": {"hourly_rate": 60, "activity_costs": {"Ship": 5}, "handling_minutes": 30},
            "kpis": [
                {
                    "name": "create_to_ship",
                    "kind": "cycle_time",
                    "from": "Create",
                    "to": "Ship",
                    "stat": "mean",
                    "target": "1d",
                },
                {"name": "on_time", "kind": "on_time_rate", "deadline": "due", "target": 0.9},
                {
                    "name": "sla",
                    "kind": "on_time_rate",
                    "sla_by": "priority",
                    "sla": {"high": "2d", "low": "5h"},
                    "target": "60%",
                },
                {"name": "ftr", "kind": "first_time_right", "target": 0.7},
                {"name": "rejected", "kind": "exception_rate", "activities": ["Reject"], "target": 0.5},
            ],
        }
    )
    rows = compute_kpis(hand, "orders", metrics=m)
    # case start to end: o1 0→30, o2 2→20, o3 10→12 (a case starts at its first event, a start)
    assert _kpi(rows, "cycle_time_median")["value"] == pytest.approx(18 * H)
    assert _kpi(rows, "cycle_time_median")["unit"] == "seconds"
    # from the first Create (its start) to the first Ship after it: o1 30 h, o2 18 h; o3 never ships
    ct = _kpi(rows, "create_to_ship")
    assert ct["value"] == pytest.approx(24 * H)
    assert ct["status"] == "on_track"  # 24 h against a target of 1d, lower is better
    # due: o1 ends 30 > 24 late; o2 ends 20 <= 48; o3 ends 12 <= 48 → 2/3
    on_time = _kpi(rows, "on_time")
    assert on_time["value"] == pytest.approx(2 / 3)
    assert on_time["status"] == "off_track"  # 0.667 is more than 10% under 0.9
    # SLA from case start: o1 high 48 h, took 30 → met; o2 low 5 h, took 18 → missed; o3 low, took 2 → met
    assert _kpi(rows, "sla")["value"] == pytest.approx(2 / 3)
    assert _kpi(rows, "sla")["status"] == "on_track"
    # instances: o2 checks twice → rework in 1 of 3 cases
    assert _kpi(rows, "rework_rate")["value"] == pytest.approx(1 / 3)
    assert _kpi(rows, "rework_rate")["unit"] == "share"
    assert _kpi(rows, "ftr")["value"] == pytest.approx(2 / 3)
    assert _kpi(rows, "ftr")["status"] == "at_risk"  # within 10% of 0.7
    assert _kpi(rows, "rejected")["value"] == pytest.approx(1 / 3)
    # automations: bot did 1 of 9 instances (o1: 3, o2: 4, o3: 2)
    assert _kpi(rows, "automation_coverage")["value"] == pytest.approx(1 / 9)
    # cost: measured service at 60/h; the bot costs nothing; completes without a start take 30 min; Ship +5
    #   o1: Create 1 h = 60, Check by bot 0, Ship 30 min = 30 + 5 → 95
    #   o2: Create 60, Check 2 h = 120, Check 1 h = 60, Ship 30 + 5 → 275
    #   o3: Create 60, Reject 30 → 90
    assert _kpi(rows, "cost_per_case")["value"] == pytest.approx((95 + 275 + 90) / 3)
    # every case ends in the same week
    assert _kpi(rows, "throughput")["trend"][0]["value"] == 3


def test_segments_split_the_value(hand: Store) -> None:
    rows = compute_kpis(hand, "orders", by="priority", names=["cycle_time_median", "rework_rate"])
    ct = {s["segment"]: s["value"] for s in _kpi(rows, "cycle_time_median")["segments"]}
    assert ct == {"high": pytest.approx(30 * H), "low": pytest.approx(10 * H)}  # median of 18 h and 2 h
    rw = {s["segment"]: s["value"] for s in _kpi(rows, "rework_rate")["segments"]}
    assert rw == {"high": 0.0, "low": 0.5}


def test_definitions_name_what_the_stream_has(hand: Store, tmp_path: Path) -> None:
    bad = _metrics({"kpis": [{"name": "x", "kind": "cycle_time", "from": "Create Order", "to": "Ship"}]})
    with pytest.raises(MetricsError, match="no activity 'Create Order'") as err:
        compute_kpis(hand, "orders", metrics=bad)
    assert "Check, Create, Reject, Ship" in (err.value.hint or "")
    bad = _metrics({"kpis": [{"name": "x", "kind": "on_time_rate", "deadline": "promised"}]})
    with pytest.raises(MetricsError, match="no case attribute 'promised'") as err:
        compute_kpis(hand, "orders", metrics=bad)
    assert "due" in (err.value.hint or "")
    bad = _metrics({"kpis": [{"name": "x", "kind": "on_time_rate", "sla_by": "priority", "sla": {"urgent": "1h"}}]})
    with pytest.raises(MetricsError, match="no value 'urgent'") as err:
        compute_kpis(hand, "orders", metrics=bad)
    assert err.value.hint == "its values are: high, low"
    f = tmp_path / "m.yaml"
    f.write_text("kpis:\n  - {name: a, kind: cycletime}\n", encoding="utf-8")
    with pytest.raises(MetricsError, match=r"KPI 1 \(a\)") as err:
        parse_metrics(f)
    assert "cycle_time" in (err.value.hint or "")
    f.write_text("kpis:\n  - {name: b, kind: on_time_rate, target: 0.9}\n", encoding="utf-8")
    with pytest.raises(MetricsError, match="either deadline"):
        parse_metrics(f)


def test_anomalies_survive_outliers_and_seasonality() -> None:
    # a weekly pattern (high on the 1st day of 7) over 8 seasons... as a daily-like series with season 7
    base = [10.0, 4, 4, 4, 4, 4, 2] * 8
    series = list(base)
    series[20] += 12  # two outliers: neither hides the other
    series[41] -= 3.5
    pts = [{"period": str(i), "value": v, "n": 50, "full": True} for i, v in enumerate(series)]
    found = {a["period"] for a in detect(pts, season=7)}
    assert found == {"20", "41"}  # the weekly peaks themselves are no anomaly
    # without the seasonal step every peak would stand out: the season is what keeps them quiet
    assert len(detect([dict(p) for p in pts], season=None)) > 2
    flat = [{"period": str(i), "value": 5.0, "n": 50, "full": True} for i in range(20)]
    assert detect(flat) == []


# --- real logs, checked with pandas -------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Any:
    logs = require_data()
    store = Store(tmp_path_factory.mktemp("kpis") / "k.duckdb")
    ingest(store, logs / "helpdesk.csv", stream="helpdesk")
    ingest(store, logs / "bpic2020_request_for_payment.xes.gz", stream="rfp")
    yield store
    store.close()


def _periods(ts: Any, period: str) -> Any:
    return ts.dt.tz_localize(None).dt.to_period("W-SUN" if period == "week" else "M").dt.start_time


def test_helpdesk_against_pandas(real: Store) -> None:
    pd = need("pandas", "the KPI check computes its expected values with pandas")
    logs = require_data()
    df = pd.read_csv(logs / "helpdesk.csv", usecols=["Case ID", "Activity", "Complete Timestamp"])
    df["ts"] = pd.to_datetime(df["Complete Timestamp"], format="%Y/%m/%d %H:%M:%S.%f").dt.tz_localize("UTC")
    g = df.groupby("Case ID")["ts"]
    first, last = g.min(), g.max()
    dur = (last - first).dt.total_seconds()
    rework = df.groupby(["Case ID", "Activity"]).size().groupby(level=0).max() > 1
    # first "Take in charge ticket", then the first "Resolve ticket" at or after it
    take = df[df.Activity == "Take in charge ticket"].groupby("Case ID")["ts"].min()
    res = df[df.Activity == "Resolve ticket"].merge(take.rename("t0"), left_on="Case ID", right_index=True)
    res = res[res.ts >= res.t0].groupby("Case ID").agg(to=("ts", "min"), t0=("t0", "first"))
    take_to_resolve = (res.to - res.t0).dt.total_seconds()
    hit_wait = df[df.Activity == "Wait"]["Case ID"].nunique() / df["Case ID"].nunique()

    m = _metrics(
        {
            "kpis": [
                {
                    "name": "take_to_resolve",
                    "kind": "cycle_time",
                    "from": "Take in charge ticket",
                    "to": "Resolve ticket",
                },
                {"name": "waits", "kind": "exception_rate", "activities": ["Wait"]},
            ]
        }
    )
    rows = compute_kpis(real, "helpdesk", metrics=m, period="month")
    assert _kpi(rows, "cycle_time_median")["value"] == pytest.approx(dur.median(), rel=1e-9)
    assert _kpi(rows, "cycle_time_p90")["value"] == pytest.approx(dur.quantile(0.9), rel=1e-9)
    assert _kpi(rows, "rework_rate")["value"] == pytest.approx(rework.mean(), rel=1e-12)
    assert _kpi(rows, "take_to_resolve")["value"] == pytest.approx(take_to_resolve.median(), rel=1e-9)
    assert _kpi(rows, "waits")["value"] == pytest.approx(hit_wait, rel=1e-12)
    # throughput: cases by the month of their last event
    done = _periods(last, "month").value_counts()
    got = {t["period"]: t["value"] for t in _kpi(rows, "throughput")["trend"]}
    assert got == {p.date().isoformat(): float(n) for p, n in done.items()}
    # backlog at each month's end: started in or before it, last event in a later month
    start_p, end_p = _periods(first, "month"), _periods(last, "month")
    backlog = _kpi(rows, "backlog")["trend"]
    for t in backlog:
        p = pd.Timestamp(t["period"])
        assert t["value"] == ((start_p <= p) & (end_p > p)).sum(), t["period"]
    # the monthly median cycle time of cases ending in each month
    by_month = dur.groupby(end_p.values).median()
    trend = {t["period"]: t["value"] for t in _kpi(rows, "cycle_time_median")["trend"]}
    assert trend == {p.date().isoformat(): pytest.approx(v, rel=1e-9) for p, v in by_month.items()}


def test_request_for_payment_against_pandas(real: Store) -> None:
    pm4py = need("pm4py", "the KPI check reads the XES log independently with PM4Py")
    logs = require_data()
    df = pm4py.read_xes(str(logs / "bpic2020_request_for_payment.xes.gz"))
    df["ts"] = df["time:timestamp"]
    cases = df.groupby("case:concept:name")
    dur = (cases["ts"].max() - cases["ts"].min()).dt.total_seconds()
    system = (df["org:resource"] == "SYSTEM").mean()
    # default costs: 10 minutes at 40/h for every step by staff; SYSTEM is an automation
    staff_steps = (df["org:resource"] != "SYSTEM").groupby(df["case:concept:name"]).sum()
    cost = (staff_steps * 10 / 60 * 40).mean()
    rework = df.groupby(["case:concept:name", "concept:name"]).size().groupby(level=0).max() > 1

    rows = compute_kpis(real, "rfp", by="creator", period="week")
    ct = _kpi(rows, "cycle_time_median")
    assert ct["value"] == pytest.approx(dur.median(), rel=1e-9)
    assert _kpi(rows, "automation_coverage")["value"] == pytest.approx(system, rel=1e-12)
    assert _kpi(rows, "cost_per_case")["value"] == pytest.approx(cost, rel=1e-9)
    assert _kpi(rows, "rework_rate")["value"] == pytest.approx(rework.mean(), rel=1e-12)
    creator = cases["case:creator"].first()
    expected = dur.groupby(creator).median()
    got = {s["segment"]: s["value"] for s in ct["segments"]}
    assert got == {k: pytest.approx(v, rel=1e-9) for k, v in expected.items()}
    assert sum(t["n"] for t in ct["trend"]) == len(dur)
