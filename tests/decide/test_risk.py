"""SLA risk: a log whose answer is known (escalated cases breach), the time split's figures, open
cases listed by risk, clear errors, and the figures on the real helpdesk log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from conveyor import service
from conveyor.data.ingest import ingest
from conveyor.decide import DecideError
from conveyor.decide.risk import parse_duration
from conveyor.workspace import init_workspace, open_workspace
from tests.conftest import require_data

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _log(path: Path, n: int = 400, still_open: int = 6) -> Path:
    """A case every 2 hours: created, 40% escalated at once; closed after 4 h, or 20 h when
    escalated. The last ``still_open`` cases have no close yet."""
    rng = np.random.default_rng(5)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    lines = ["case,activity,ts,case:channel"]
    for i in range(n):
        start = t0 + timedelta(hours=2 * i)
        channel = ["mail", "phone"][int(rng.integers(0, 2))]
        escalated = rng.random() < 0.4
        lines.append(f"c{i},Create,{start.isoformat()},{channel}")
        if escalated:
            lines.append(f"c{i},Escalate,{(start + timedelta(minutes=1)).isoformat()},{channel}")
        if i < n - still_open:
            hours = (20 if escalated else 4) + float(rng.normal(0, 1))
            lines.append(f"c{i},Close,{(start + timedelta(hours=hours)).isoformat()},{channel}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_escalated_cases_are_the_risky_ones(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        ingest(
            ws.store, _log(tmp_path / "log.csv"), stream="support", case_id="case", activity="activity", timestamp="ts"
        )
        result = service.risk(ws, "support", target="10h")
    assert result["end_activities"] == ["Close"]  # inferred: it is always last
    ev = result["evaluation"]
    assert ev["auc"] >= 0.9, ev
    assert ev["precision_top_10"] >= 0.9
    assert 0.2 < ev["breach_rate"] < 0.8
    assert ev["naive"]["auc"] < ev["auc"]  # time used alone does not see the escalation
    assert ev["remaining_median_abs_error_hours"] < 6
    # the open cases at the log's end, riskiest first, described as of then
    assert result["open_cases"] == 6
    probs = [c["breach_probability"] for c in result["cases"]]
    assert probs == sorted(probs, reverse=True)
    assert {c["case_id"] for c in result["cases"]} == {f"c{i}" for i in range(394, 400)}
    # the same through the CLI, and the clear errors
    out = subprocess.run(
        [CONVEYOR, "risk", "support", "--target", "10h", "--json", "-w", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["open_cases"] == 6
    with open_workspace(root, read_only=True) as ws:
        with pytest.raises(DecideError, match="give the deadline"):
            service.risk(ws, "support")
        with pytest.raises(DecideError, match="no case attribute 'due'") as err:
            service.risk(ws, "support", deadline="due")
        assert "channel" in (err.value.hint or "")
        with pytest.raises(DecideError, match="no activity 'Done'"):
            service.risk(ws, "support", target="10h", end_activity=["Done"])
    with pytest.raises(DecideError, match="not a duration"):
        parse_duration("ten hours")
    assert parse_duration("90m") == 5400


@pytest.mark.realdata
def test_helpdesk_time_split(tmp_path: Path) -> None:
    """On the real helpdesk log with a 45-day target: the model ranks breaches better than the
    share of time used alone."""
    log = require_data() / "helpdesk.csv"
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        ingest(ws.store, log, stream="helpdesk")
        result = service.risk(ws, "helpdesk", target="45d")
    ev = result["evaluation"]
    assert result["end_activities"] == ["Closed"]
    assert ev["test_cases"] > 500
    assert ev["auc"] >= 0.7, ev
    assert ev["auc"] > ev["naive"]["auc"]


RISK_AUTOMATION = """\
name: sla-watch
owner: support
labels: [escalate, leave]
input:
  case: {type: string}
case_field: case
trigger: {kind: events, stream: support}
decider: {kind: sla_risk, options: {model: support-sla, at_risk: escalate, on_track: leave}}
policy: {auto_at: 0.9, suggest_at: 0.6}
status: live
"""


def test_a_saved_model_scores_and_decides(tmp_path: Path) -> None:
    """Saved once, the model scores the open cases without training again (the same answer),
    judges one case at a time behind an automation (at the time of the decision: a replayed
    event's), and is listed with the trained models; the clear errors of a wrong model."""
    from conveyor.automation import build_decider, decide, run_trigger
    from conveyor.automation.definitions import AutomationError, parse_automation

    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        ingest(
            ws.store, _log(tmp_path / "log.csv"), stream="support", case_id="case", activity="activity", timestamp="ts"
        )
        trained = service.risk_save(ws, "support", target="10h", save="support-sla")
        assert (trained["model"], trained["version"]) == ("support-sla", 1)
        scored = service.risk(ws, "support", model="support-sla")
        assert scored["cases"] == trained["cases"]  # the saved model answers as the fresh one did
        assert scored["evaluation"] == trained["evaluation"]
        (card,) = service.triage_models(ws)["models"]
        assert (card["kind"], card["stream"], card["deadline"]) == ("risk", "support", "start + 10h")
        (overview,) = service.models_overview(ws)["risks"]
        assert overview["open_cases"] == 6
        assert overview["card"]["name"] == "support-sla"

        (root / "automations").mkdir()
        (root / "automations" / "sla-watch.yaml").write_text(RISK_AUTOMATION, encoding="utf-8")
        # an open escalated case: it will breach; judged where the log ends
        risky = next(c for c in trained["cases"] if not c["already_breached"] and c["last_activity"] == "Escalate")
        d = decide(
            ws.state, root, "sla-watch", {"case": risky["case_id"]}, actor="t", at=trained["as_of"], store=ws.store
        )
        assert (d["label"], d["decider_version"]) == ("escalate", "support-sla-v1")
        assert d["confidence"] >= 0.9
        assert d["tier"] == "auto"
        assert "chance of missing its deadline" in d["explanation"]
        assert "last step Escalate" in d["explanation"]
        # judged now (the log ended months ago): already past its deadline
        d = decide(ws.state, root, "sla-watch", {"case": risky["case_id"]}, actor="t", store=ws.store)
        assert d["label"] == "escalate"
        assert "h ago" in d["explanation"]
        # a closed case: nothing to act on
        d = decide(ws.state, root, "sla-watch", {"case": "c11"}, actor="t", store=ws.store)
        assert (d["label"], d["confidence"]) == ("leave", 1.0)
        assert "closed" in d["explanation"]
        # no store (a caller without the workspace), an unknown case: a person decides
        assert decide(ws.state, root, "sla-watch", {"case": "c5"}, actor="t")["label"] is None
        d = decide(ws.state, root, "sla-watch", {"case": "c9999"}, actor="t", store=ws.store)
        assert d["label"] is None
        assert "no case 'c9999'" in d["explanation"]
        # the events trigger replays the log: each event's case judged as it stood then
        out = run_trigger(ws, ws.state, "sla-watch", replay=True, until=datetime(2026, 1, 15, tzinfo=UTC))
        assert out["decided"] > 250
        assert not out["problems"]
        rows = ws.state.execute(
            "SELECT case_id AS c, label, confidence FROM decisions "
            "WHERE automation = 'sla-watch' AND created_at < '2026-01-16' ORDER BY created_at"
        )
        by_case: dict[str, list[tuple[str, float]]] = {}
        for r in rows:
            by_case.setdefault(r["c"], []).append((r["label"], r["confidence"]))
        events = [line.split(",") for line in (tmp_path / "log.csv").read_text().splitlines()[1:]]
        escalated = {e[0] for e in events if e[1] == "Escalate" and e[0] in by_case}
        closed = {e[0] for e in events if e[1] == "Close" and e[2] < "2026-01-15"}
        assert len(escalated) > 30
        assert len(closed) > 80
        # judged at its escalation, the case will breach; once closed, nothing to act on
        assert all(by_case[c][1][0] == "escalate" for c in escalated)
        assert all(by_case[c][-1] == ("leave", 1.0) for c in closed)
        # at creation nothing says which cases breach: the on-track label, without certainty
        assert sum(by_case[c][0][0] == "leave" for c in by_case) > 0.9 * len(by_case)

        bad = parse_automation({**_yaml(RISK_AUTOMATION), "labels": ["urgent", "leave"]})
        with pytest.raises(AutomationError, match="'escalate' is not one of the automation's labels"):
            build_decider(bad, root)
        wrong = parse_automation(
            {**_yaml(RISK_AUTOMATION), "decider": {"kind": "triage", "options": {"model": "support-sla"}}}
        )
        with pytest.raises(AutomationError, match="is a risk model, not a triage model"):
            build_decider(wrong, root)
        with pytest.raises(DecideError, match="scores stream 'support', not 'other'"):
            service.risk(ws, "other", model="support-sla")


def _yaml(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)
