"""The demo's planning: a forecast of its demand, a forecast of its ticket arrivals per queue,
the staffing plan for its support queues from that forecast (the Billing queue shows missing its
service level in the log, with the people its load needs: its wait is not for want of people), and
one what-if scenario with a playbook whose extra people the simulation says cannot shorten it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.workspace import Workspace

__all__ = ["SCENARIO", "run_planning"]

SCENARIO = """\
# What if tickets rise by a fifth while classifying and assigning are automated for most of them?
name: ticket surge, triage automated
replications: 3
pools_by: queue   # each queue's own agents
drivers:
  demand: 1.2
  automation: {Classify Ticket: 0.7, Assign to Queue: 0.7}
playbooks:
  - name: add 2 people to Billing's Start Work if ticket arrivals rise 10%
    when: {forecast: tickets, growth_at_least: 1.1}
    then: {staff: {"Start Work @ Billing": "+2"}}
"""


def run_planning(ws: Workspace, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    from conveyor import service

    def step(label: str, at: float) -> None:
        if progress is not None:
            progress(label, at)

    step("forecasting demand", 0.935)
    demand = service.forecast(
        ws,
        dataset="demand_daily",
        ids=["product"],
        date="date",
        value="units",
        horizon=28,
        reconcile=True,
        save="demand",
    )
    step("forecasting tickets", 0.94)
    tickets = service.forecast(ws, stream="ticket-to-resolution", by="queue", freq="D", horizon=28, save="tickets")
    step("planning the support queues", 0.943)
    plan = service.staffing_plan(
        ws,
        "ticket-to-resolution",
        by="queue",
        service_level=0.7,
        answer_seconds=8 * 3600,
        answer_activity="Start Work",
        forecast="tickets",
        save="support-queues",
    )
    step("simulating a scenario", 0.946)
    folder = ws.root / "scenarios"
    folder.mkdir(exist_ok=True)
    (folder / "ticket-surge.yaml").write_text(SCENARIO, encoding="utf-8")
    scenario = service.scenario(ws, "ticket-to-resolution", file=str(folder / "ticket-surge.yaml"), save="ticket-surge")
    return {
        "forecasts": {
            name: {
                k: f[k]
                for k in (
                    "series_count",
                    "horizon",
                    "period",
                    "mase",
                    "mase_seasonal_naive",
                    "mase_ratio",
                    "coverage_80",
                )
            }
            for name, f in (("demand", demand), ("tickets", tickets))
        },
        "misses_target": [s["segment"] for s in plan["segments"] if s.get("misses_target")],
        # missing it with the people its load needs: the wait is not for want of people
        "enough_people": [
            s["segment"] for s in plan["segments"] if s.get("misses_target") and s.get("short_of_people") is False
        ],
        "scenario": {
            "change": scenario["change"],
            "playbooks": [(p["name"], p["triggered"]) for p in scenario["playbooks"]],
            # what the playbooks' staffing would change, pool by pool
            "staffing": [e for p in scenario["playbooks"] for e in p.get("staffing") or []],
        },
    }
