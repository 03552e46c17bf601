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
