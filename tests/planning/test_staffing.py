"""Staffing: the textbook Erlang C answers, exactness at large loads against exact rational
arithmetic, Erlang A against a simulation of callers who give up, clear errors, and the plan
mined from a hand-made stream."""

from __future__ import annotations

import heapq
import json
import random
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from conveyor import service
from conveyor.planning import PlanningError, erlang_a, erlang_c, staff
from conveyor.workspace import init_workspace, open_workspace

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def test_textbook_answers() -> None:
    base = {"arrivals_per_hour": 1000, "handle_seconds": 120, "service_level": 0.8, "answer_seconds": 20}
    r = staff(**base)
    assert r["agents"] == 38
    assert r["service_level"] == pytest.approx(0.847, abs=5e-4)
    assert staff(**base, max_occupancy=0.85)["agents"] == 40
    assert staff(**base, max_occupancy=0.85, shrinkage=0.3)["agents_with_shrinkage"] == 58
    # the textbook's 10 Erlangs: 100 calls in 30 minutes of 180 s, 80% in 20 s
    r = staff(arrivals_per_hour=200, handle_seconds=180, service_level=0.8, answer_seconds=20)
    assert r["agents"] == 14
    assert r["probability_of_waiting"] == pytest.approx(0.174, abs=5e-4)
    assert r["service_level"] == pytest.approx(0.889, abs=1e-3)
    assert r["occupancy"] == pytest.approx(10 / 14, abs=1e-6)


def _exact_erlang_c(n: int, load: Fraction) -> Fraction:
    term, total = Fraction(1), Fraction(1)
    for k in range(1, n):
        term = term * load / k
        total += term
    last = term * load / n * Fraction(n) / (n - load)
    return last / (total + last)


def test_large_loads_stay_exact_and_fast() -> None:
    started = time.perf_counter()
    r = staff(arrivals_per_hour=10_000, handle_seconds=120, service_level=0.8, answer_seconds=20)
    assert time.perf_counter() - started < 1.0  # a bound against blow-ups, not a benchmark
    load = Fraction(10_000 * 120, 3600)
    exact = float(_exact_erlang_c(r["agents"], load))
    assert r["probability_of_waiting"] == pytest.approx(exact, rel=1e-5)
    below = erlang_c(r["agents"] - 1, float(load), handle_seconds=120, answer_seconds=20)
    assert below["service_level"] < 0.8 <= r["service_level"]


def _simulate(n: int, lam: float, handle: float, patience: float, answer: float, customers: int) -> dict[str, float]:
    """M/M/n+M, first come first served: callers in arrival order take the first free agent
    unless their patience runs out first (then they leave and take nobody's time)."""
    rng = random.Random(7)
    free = [0.0] * n
    t, waited, gave_up, answered_in_time = 0.0, 0, 0, 0
    for _ in range(customers):
        t += rng.expovariate(lam)
        start = max(t, free[0])
        if start > t:
            waited += 1
        if start - t > rng.expovariate(1 / patience):
            gave_up += 1
            continue
        if start - t <= answer:
            answered_in_time += 1
        heapq.heapreplace(free, start + rng.expovariate(1 / handle))
    return {
        "probability_of_waiting": waited / customers,
        "abandonment": gave_up / customers,
        "service_level": answered_in_time / customers,
    }


def test_erlang_a_matches_a_simulation_and_tends_to_erlang_c() -> None:
    lam, handle, patience, answer = 300 / 3600, 120.0, 60.0, 20.0
    model = erlang_a(10, lam, handle_seconds=handle, patience_seconds=patience, answer_seconds=answer)
    sim = _simulate(10, lam, handle, patience, answer, 200_000)
    for key in ("probability_of_waiting", "abandonment", "service_level"):
        assert model[key] == pytest.approx(sim[key], abs=0.01), key
    patient = erlang_a(12, lam, handle_seconds=handle, patience_seconds=1e9, answer_seconds=answer)
    c = erlang_c(12, 10.0, handle_seconds=handle, answer_seconds=answer)
    assert patient["service_level"] == pytest.approx(c["service_level"], abs=1e-6)
    assert patient["probability_of_waiting"] == pytest.approx(c["probability_of_waiting"], abs=1e-6)
    # giving up shortens the queue: fewer agents meet the same target
    with_patience = staff(
        arrivals_per_hour=300, handle_seconds=120, service_level=0.8, answer_seconds=20, patience_seconds=60
    )
    assert (
        with_patience["agents"]
        < staff(arrivals_per_hour=300, handle_seconds=120, service_level=0.8, answer_seconds=20)["agents"]
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"handle_seconds": 0}, "handle_seconds"),
        ({"service_level": 1.5}, "service_level"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"arrivals_per_hour": -1}, "arrivals_per_hour"),
    ],
)
def test_bad_inputs_name_the_option(change: dict[str, float], field: str) -> None:
    base = {"arrivals_per_hour": 100.0, "handle_seconds": 120.0, "service_level": 0.8, "answer_seconds": 20.0}
    with pytest.raises(PlanningError) as e:
        staff(**{**base, **change})
    assert e.value.field == field
    assert f"--{field.replace('_', '-')}" in e.value.message


def test_the_cli_prints_the_same_json() -> None:
    args = [
        "--arrivals-per-hour",
        "1000",
        "--handle-seconds",
        "120",
        "--service-level",
        "0.8",
        "--answer-seconds",
        "20",
    ]
    out = subprocess.run([CONVEYOR, "staffing", *args, "--json"], capture_output=True, text=True, check=True)
    expected = staff(arrivals_per_hour=1000, handle_seconds=120, service_level=0.8, answer_seconds=20)
    assert json.loads(out.stdout) == json.loads(json.dumps(expected))
    bad = subprocess.run([CONVEYOR, "staffing", "--handle-seconds", "120"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "--arrivals-per-hour" in bad.stderr


def test_a_plan_from_a_stream(tmp_path: Path) -> None:
    """Four weeks; every Monday 9-10 o'clock 30 tickets of queue A arrive, each with two steps by
    an agent (10 + 20 stated minutes) and one by the customer (no staff time); queue B gets 10 on
    Tuesdays at 14 o'clock."""
    root = init_workspace(tmp_path / "ws")
    (root / "metrics").mkdir()
    (root / "metrics" / "t.yaml").write_text(
        "costs:\n  handling_minutes: 10\n  handling_minutes_by_activity: {Work: 20}\n"
    )
    lines = ["case_id,activity,timestamp,resource,case:queue"]
    for week in range(4):
        for i in range(30):
            day = 2 + 7 * week  # Mondays in March 2026: the 2nd, 9th...
            lines += [
                f"A{week}-{i},Open,2026-03-{day:02d}T09:{i:02d}:00,agent1,A",
                f"A{week}-{i},Work,2026-03-{day:02d}T11:{i:02d}:00,agent1,A",
                f"A{week}-{i},Reply,2026-03-{day:02d}T12:{i:02d}:00,customer,A",
            ]
        for i in range(10):
            day = 3 + 7 * week
            lines += [f"B{week}-{i},Open,2026-03-{day:02d}T14:{i:02d}:00,agent2,B"]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    with open_workspace(root) as ws:
        service.ingest(ws, "t", path=str(path))
        plan = service.staffing_plan(ws, "t", by="queue", service_level=0.8, answer_seconds=600)
    assert plan["weeks"] == 4  # the calendar weeks from the first arrival's to the last's
    a, b = plan["segments"]
    assert a["segment"] == "A"
    assert a["work_seconds_per_case"] == pytest.approx((10 + 20) * 60)  # the customer's reply costs no staff time
    monday_9 = next(h for h in a["hours"] if h["day"] == "Mon" and h["hour"] == 9)
    per_week = 30.0
    assert monday_9["arrivals_per_hour"] == pytest.approx(per_week, rel=1e-3)
    assert (
        monday_9["agents"]
        == staff(arrivals_per_hour=per_week, handle_seconds=1800, service_level=0.8, answer_seconds=600)["agents"]
    )
    assert sum(1 for h in a["hours"] if h["agents"]) == 1
    assert a["peak"] == {"day": "Mon", "hour": 9, "agents": monday_9["agents"]}
    assert b["work_seconds_per_case"] == pytest.approx(600)
    assert [h["day"] for h in b["hours"] if h["agents"]] == ["Tue"]
    # what the log achieved: queue A's tickets reach Work two hours after they open, with one agent
    # a week for a Monday hour that needs many at once: a missed target for want of people
    with open_workspace(root, read_only=True) as ws:
        seen = service.staffing_plan(ws, "t", by="queue", service_level=0.8, answer_seconds=600, answer_activity="Work")
    [a] = [s for s in seen["segments"] if s["segment"] == "A"]
    assert a["misses_target"]
    assert a["observed"]["people_per_week"] == 1
    assert a["short_of_people"]


def test_patience_from_the_log(tmp_path: Path) -> None:
    """Four Mondays, 20 tickets each from 9 o'clock: 16 reach Work an hour after they open (and
    close an hour later), 4 are cancelled after three hours without it. Exponential patience from
    censored waits: (16 x 1 h + 4 x 3 h) / 4 = 7 h; a fifth gave up. --patience-from-log plans the
    queue with Erlang A on that patience. Tickets still waiting when the extract ends did not give up."""
    root = init_workspace(tmp_path / "ws")
    lines = ["case_id,activity,timestamp,resource"]
    for week in range(4):
        day = 2 + 7 * week
        for i in range(20):
            t = f"2026-03-{day:02d}T{{h:02d}}:{i:02d}:00"
            lines.append(f"T{week}-{i},Open,{t.format(h=9)},desk")
            if i < 16:
                lines += [f"T{week}-{i},Work,{t.format(h=10)},agent", f"T{week}-{i},Close,{t.format(h=11)},agent"]
            else:
                lines.append(f"T{week}-{i},Cancel,{t.format(h=12)},customer")
    # three tickets opened 39 minutes before the extract ends, not yet worked: still waiting (the
    # queue's 95th percentile wait is an hour), so not counted as giving up
    lines += [f"T-open-{i},Open,2026-03-23T11:40:0{i},desk" for i in range(3)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    with open_workspace(root) as ws:
        service.ingest(ws, "t", path=str(path))
        common: dict[str, Any] = {"service_level": 0.8, "answer_seconds": 1800, "answer_activity": "Work"}
        seen = service.staffing_plan(ws, "t", **common)
        plan = service.staffing_plan(ws, "t", patience_from_log=True, save="desk", **common)
        service.review(ws, out=str(tmp_path / "review.html"))
        with pytest.raises(PlanningError, match="--patience-from-log needs --answer-activity"):
            service.staffing_plan(ws, "t", service_level=0.8, answer_seconds=1800, patience_from_log=True)
        with pytest.raises(PlanningError, match="not both"):
            service.staffing_plan(ws, "t", patience_from_log=True, patience_seconds=60, **common)
    [s] = seen["segments"]
    assert s["observed"]["abandoned_share"] == pytest.approx(0.2)
    assert s["observed"]["patience_seconds"] == pytest.approx(7 * 3600)
    assert s["observed"]["cases_settled"] == 80
    assert (seen["settings"]["model"], s["model"], s["patience_seconds"]) == ("erlang_c", "erlang_c", None)
    [a] = plan["segments"]
    assert (plan["settings"]["model"], a["model"], a["patience_seconds"]) == ("erlang_a", "erlang_a", 7 * 3600)
    nine = next(h for h in a["hours"] if h["day"] == "Mon" and h["hour"] == 9)
    expected = staff(
        arrivals_per_hour=20,
        handle_seconds=a["work_seconds_per_case"],
        service_level=0.8,
        answer_seconds=1800,
        patience_seconds=7 * 3600,
    )
    assert nine["agents"] == expected["agents"]
    # the CLI says who gave up and what the plan made of it
    from conveyor.cli.plan import abandonment_line

    assert abandonment_line(plan) == (
        "Ended without Work (gave up): all 20.0%, mean patience 7.0h; planned with Erlang A on that patience"
    )
    # and so does the review's planning section (the dashboard's Planning page renders the same)
    html = (tmp_path / "review.html").read_text(encoding="utf-8")
    assert (
        'plan-abandonment">Ended without Work (gave up): all 20.0%, mean patience 7.0h: planned with Erlang A' in html
    )
