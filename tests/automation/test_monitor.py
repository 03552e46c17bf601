"""Monitoring figures worked out by hand: coverage, accuracy, overrides, drift (PSI), segments,
the scorecard and thresholds from a target precision."""

from __future__ import annotations

import math

import pytest

from conveyor import service
from conveyor.automation import AutomationError
from conveyor.automation.monitor import psi
from conveyor.workspace import Workspace


def test_psi_by_hand() -> None:
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 80 + ["b"] * 20
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(ref, cur) == pytest.approx(expected, abs=1e-4)
    assert psi(ref, ref) == 0.0


def _ticket(i: int, subject: str, tier: str) -> dict[str, str]:
    return {"ticket_id": f"T{i}", "subject": subject, "tier": tier}


def test_figures_segments_scorecard_and_calibration(ws: Workspace) -> None:
    path = ws.root / "automations" / "triage.yaml"
    path.write_text(
        path.read_text()
        + "success_criteria:\n  - {metric: coverage, min: 0.5}\n  - {metric: accuracy, min: 0.9}\n"
        + "segments: [tier]\n"
    )
    # shadow: 40 items; invoices are right for silver customers and wrong for bronze ones
    for i in range(40):
        tier = "silver" if i % 2 else "bronze"
        d = service.decide(ws, "triage", input=_ticket(i, "invoice question" if i < 30 else "vpn down", tier))
        truth = "Network" if i >= 30 else ("Billing" if tier == "silver" else "Service Desk")
        service.queue_answer(ws, d["decision_id"], action="answer", label=truth)
    m = service.automation_monitor(ws, "triage")
    assert m["shadow"]["volume"] == 40
    assert m["shadow"]["answered"] == 40
    assert m["shadow"]["accuracy"] == pytest.approx(25 / 40)  # 15 silver invoices + 10 vpn
    seg = {s["value"]: s for s in m["segments"]}
    assert seg["bronze"]["accuracy"] == pytest.approx(5 / 20)
    assert seg["bronze"]["flag"] is True
    assert seg["silver"]["accuracy"] == pytest.approx(20 / 20)
    assert seg["silver"]["flag"] is False

    # thresholds from a target precision on the shadow period: the vpn rule (0.95) is always
    # right, the invoice rule (0.7) only half the time
    cal = service.automation_calibrate(ws, "triage", precision=0.9, on="shadow")
    assert cal["auto_at"]["threshold"] == 0.95
    assert cal["auto_at"]["coverage"] == pytest.approx(10 / 40)
    assert cal["per_label"]["Billing"]["threshold"] is None  # 50% at best: never acts alone
    with pytest.raises(AutomationError, match="precision"):
        service.automation_calibrate(ws, "triage", precision=1.5)
    service.automation_calibrate(ws, "triage", precision=0.9, on="shadow", apply=True)
    policy = service.automation(ws, "triage")["definition"]["policy"]
    assert policy["auto_at"] == 0.95
    assert policy["per_label"]["Billing"]["auto_at"] == 1.0

    # live: vpn acts alone, invoices are suggested; scorecard measured on the live period only
    service.automation_move(ws, "triage", "go-live")
    for i in range(10):
        d = service.decide(ws, "triage", input=_ticket(100 + i, "vpn down" if i < 6 else "invoice", "silver"))
        if d["tier"] != "auto":
            service.queue_answer(ws, d["decision_id"], action="accept")
    m = service.automation_monitor(ws, "triage")
    assert m["live"]["coverage"] == pytest.approx(0.6)
    assert m["live"]["accuracy"] == 1.0
    card = {c["metric"]: c for c in m["scorecard"]}
    assert card["coverage"]["met"] is True
    assert card["accuracy"]["met"] is True
    assert m["drift"]["current_n"] == 10
    assert m["drift"]["note"].startswith("too few")
