"""Simulation: it reproduces a real log's as-is, a pool short of people makes queues, scenarios
and playbooks run end to end, and bad scenario files say what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.data.ingest import ingest
from conveyor.metrics.definitions import StreamMetrics
from conveyor.planning import PlanningError
from conveyor.planning.scenario import parse_scenario
from conveyor.planning.simulate import Drivers, calibrate, run_replications, summarise
from conveyor.workspace import init_workspace, open_workspace
from tests.conftest import cli, cli_json, demo_streams, require_data


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_workspace(tmp_path_factory.mktemp("sim") / "ws")
    with open_workspace(root) as ws:
        ingest(ws.store, require_data() / "helpdesk.csv", stream="helpdesk")
    return root


@pytest.mark.realdata
def test_as_is_reproduces_helpdesk_within_ten_percent(helpdesk: Path) -> None:
    result = cli_json(helpdesk, "simulate", "helpdesk", "--replications", "3")
    assert set(result["actual"]) == set(result["simulated"]) == set(result["intervals"])
    assert abs(result["error"]["cycle_time_median"]) <= 0.10
    assert abs(result["error"]["throughput_per_week"]) <= 0.10
    low, high = result["intervals"]["cycle_time_median"]
    assert low <= result["simulated"]["cycle_time_median"] <= high
    assert result["model"]["pools"]  # people per activity, from the resources
    assert result["cases_per_second"] > 0


@pytest.mark.realdata
def test_a_pool_short_of_people_queues(helpdesk: Path) -> None:
    with open_workspace(helpdesk, read_only=True) as ws:
        model = calibrate(ws.engine, "helpdesk", metrics=StreamMetrics())
    busiest, _ = max(model.capacity, key=lambda pool: len([t for t in model.traces if pool[0] in t]))
    name = model.activities[busiest]
    base, _ = summarise(run_replications(model, replications=2, seed=5))
    # one person and a hundredfold handling time (more work a week than the week has hours): the
    # queue at that step takes over the cycle time
    cut, _ = summarise(
        run_replications(model, replications=2, seed=5, drivers=Drivers(staff={name: 1}, handling={name: 100.0}))
    )
    assert cut["cycle_time_median"] > 1.5 * base["cycle_time_median"]
    more, _ = summarise(run_replications(model, replications=2, seed=5, drivers=Drivers(demand=1.5)))
    assert more["throughput_per_week"] == pytest.approx(1.5 * base["throughput_per_week"], rel=0.1)
    with pytest.raises(PlanningError, match="staff: no activity 'Nope'"):
        run_replications(model, replications=1, drivers=Drivers(staff={"Nope": 2}))


@pytest.mark.realdata
def test_scenario_with_tornado_and_playbook(helpdesk: Path, tmp_path: Path) -> None:
    cli(helpdesk, "forecast", "helpdesk", "--freq", "W", "--horizon", "4", "--save", "arrivals", "-q")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        """name: busier
replications: 2
drivers: {demand: 1.3}
playbooks:
  - name: never
    when: {forecast: arrivals, growth_at_least: 1000}
    then: {demand: 1.0}
"""
    )
    result = cli_json(helpdesk, "scenario", "helpdesk", "--file", str(spec))
    assert result["change"]["throughput_per_week"] == pytest.approx(0.3, abs=0.08)
    assert [t["driver"] for t in result["tornado"]] == ["demand"]
    (book,) = result["playbooks"]
    assert book["triggered"] is False
    assert book["growth"] > 0
    assert set(book["at_forecast"]) == {"without", "with_action"}


def test_bad_scenario_files_name_the_problem(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("drivers: {demnd: 1.2}\n")
    with pytest.raises(PlanningError, match="drivers: unknown driver 'demnd'"):
        parse_scenario(spec)
    spec.write_text("drivers: {demand: 1.2}\nplaybooks: [{name: x, when: {forecast: f}, then: {}}]\n")
    with pytest.raises(PlanningError, match=r"playbooks\[0\].when: needs forecast and growth_at_least"):
        parse_scenario(spec)
    with pytest.raises(PlanningError, match="no such scenario file"):
        parse_scenario(tmp_path / "missing.yaml")


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's streams: its ticket queues (Billing has two agents for a fifth of the tickets)."""
    root = tmp_path_factory.mktemp("queues") / "ws"
    demo_streams(root, cases=1500, seed=4)
    return root


def test_pools_by_queue(tickets: Path) -> None:
    from conveyor.metrics.definitions import load_metrics

    stream = "ticket-to-resolution"
    with open_workspace(tickets, read_only=True) as ws:
        metrics = load_metrics(ws.root, stream)
        shared = calibrate(ws.engine, stream, metrics=metrics)
        model = calibrate(ws.engine, stream, metrics=metrics, pools_by="queue")
        with pytest.raises(Exception, match="no case attribute 'nope'"):
            calibrate(ws.engine, stream, metrics=metrics, pools_by="nope")
    start = model.activities.index("Start Work")
    pools = {v: c for (a, v), c in model.capacity.items() if a == start}
    # Billing's two agents (both at work every week) against six in every other queue (fewer of
    # them at work in an average week at this load); per activity, one pool for all
    assert pools["Billing"] == 2
    assert all(c > 2 for v, c in pools.items() if v != "Billing")
    assert {v for (a, v) in shared.capacity if a == start} == {None}
    assert set(model.values) == {"Service Desk", "Network", "Billing", "Applications", "Hardware"}
    assert model.describe()["pools"]["Start Work @ Billing"]["people"] == 2

    base, _ = summarise(run_replications(model, replications=2, seed=3))
    # the understaffed queue is the busiest Start Work pool
    start_pools = {k: v for k, v in base.items() if k.startswith("utilisation:Start Work @ ")}
    assert max(start_pools, key=start_pools.__getitem__) == "utilisation:Start Work @ Billing"
    more, _ = summarise(
        run_replications(model, replications=2, seed=3, drivers=Drivers(staff={"Start Work @ Billing": "+2"}))
    )
    assert more["utilisation:Start Work @ Billing"] == pytest.approx(
        base["utilisation:Start Work @ Billing"] / 2, rel=0.15
    )
    assert more["utilisation:Start Work @ Network"] == pytest.approx(base["utilisation:Start Work @ Network"], rel=0.05)
    # "Start Work" alone changes each of its pools
    each = Drivers(staff={"Start Work": "+1"}).capacity(model)
    assert {v: each[(start, v)] for v in pools} == {v: c + 1 for v, c in pools.items()}
    with pytest.raises(PlanningError, match="no pool 'Start Work @ Nowhere'") as err:
        run_replications(model, replications=1, drivers=Drivers(staff={"Start Work @ Nowhere": 2}))
    assert "Start Work @ Billing" in (err.value.hint or "")
    with pytest.raises(PlanningError, match="pools are per activity"):
        run_replications(shared, replications=1, drivers=Drivers(staff={"Start Work @ Billing": 2}))


def test_pools_by_queue_from_the_command_line(tickets: Path, tmp_path: Path) -> None:
    result = cli_json(tickets, "simulate", "ticket-to-resolution", "--pools-by", "queue", "--replications", "1")
    assert result["model"]["pools_by"] == "queue"
    assert result["model"]["pools"]["Start Work @ Billing"]["people"] == 2
    assert "Start Work @ Billing" in result["utilisation"]
    spec = tmp_path / "billing.yaml"
    spec.write_text(
        "name: two more for Billing\nreplications: 1\npools_by: queue\n"
        'drivers: {staff: {"Start Work @ Billing": "+2"}}\n',
        encoding="utf-8",
    )
    scen = cli_json(tickets, "scenario", "ticket-to-resolution", "--file", str(spec))
    assert scen["pools_by"] == "queue"
    assert scen["scenario"]["utilisation:Start Work @ Billing"] == pytest.approx(
        scen["as_is"]["utilisation:Start Work @ Billing"] / 2, rel=0.15
    )
    assert "staff:Start Work @ Billing" in [t["driver"] for t in scen["tornado"]]
    spec.write_text('drivers: {staff: {"Start Work @ Billing": "+2"}}\n', encoding="utf-8")
    bad = cli(tickets, "scenario", "ticket-to-resolution", "--file", str(spec), check=False)
    assert bad.returncode != 0
    assert "pools are per activity" in bad.stderr
    assert "pools_by" in bad.stderr


def test_cases_quick_at_every_step_stay_quick(tmp_path: Path) -> None:
    """A log of 1,000 cases through six steps: 55% take about a minute at each step, the rest
    about a day, so a case is quick or slow throughout and the log's median is a quick case's.
    A simulated case keeps its copied case's step times (jittered, mean 1), so about half the
    simulated cases still finish before that median and the mean cycle time holds; drawing each
    step's time from its own distribution with the log's ranks blended with noise (as the
    simulation did before 2026-12-07) left 24% there."""
    import numpy as np

    from conveyor.planning import simulate

    rng = np.random.default_rng(2)
    rows = ["case_id,activity,timestamp,resource"]
    start = 1_767_225_600  # 2026-01-01
    for c in range(1_000):
        t = start + c * 1_200
        step = 60.0 if c % 20 < 11 else 86_400.0
        for a in ("Register", "Check", "Ask", "Review", "Decide", "Close"):
            rows.append(f"c{c},{a},{datetime.fromtimestamp(t, UTC):%Y-%m-%d %H:%M:%S},r{c % 3}")
            t += int(step * rng.uniform(0.5, 1.5))
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        ingest(ws.store, path, stream="quick")
        model = calibrate(ws.engine, "quick", metrics=StreamMetrics())
    assert simulate.JITTER == 0.2
    runs = run_replications(model, replications=3, seed=3)
    share = float(np.mean([r["share_below_actual_median"] for r in runs]))
    assert 0.45 <= share <= 0.55
    mean, _ = summarise(runs)
    assert mean["cycle_time_mean"] == pytest.approx(model.actual["cycle_time_mean"], rel=0.05)
    assert model.describe()["step_time_jitter"] == 0.2
