"""The schedule trigger (idle cases, each once per idle spell), thresholds from history, and the
automatic pause telling a webhook; worked out by hand on small logs, on both backends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conveyor import service
from conveyor.automation import deliver_due, run_trigger
from conveyor.workspace import Workspace

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CHASER = """\
name: chaser
owner: ops
labels: [remind]
input:
  case_id: {type: string}
  subject: {type: text}
case_field: case_id
trigger: {kind: schedule, stream: tickets, activity: Waiting, idle_for: 1h, every: 15m}
decider:
  rules: [{when: {subject: {exists: true}}, label: remind, confidence: 0.99}]
status: shadow
"""


def _ingest(ws: Workspace, tmp_path: Path, rows: list[tuple[str, str, datetime, str, str]]) -> None:
    lines = ["case_id,activity,timestamp,case:subject,case:queue"]
    lines += [f"{c},{a},{t.isoformat()},{s},{q}" for c, a, t, s, q in rows]
    path = tmp_path / f"log{len(list(tmp_path.glob('log*.csv')))}.csv"
    path.write_text("\n".join(lines) + "\n")
    service.ingest(ws, "tickets", path=str(path))


def test_schedule_takes_idle_cases_once_per_spell(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "automations" / "chaser.yaml").write_text(CHASER)
    _ingest(
        ws,
        tmp_path,
        [
            ("A", "Open", T0 - timedelta(hours=4), "printer", "Hardware"),
            ("A", "Waiting", T0 - timedelta(hours=3), "printer", "Hardware"),  # idle 3 h: due
            ("B", "Waiting", T0 - timedelta(minutes=10), "vpn", "Network"),  # idle 10 min: not yet
            ("C", "Waiting", T0 - timedelta(hours=6), "bill", "Billing"),
            ("C", "Done", T0 - timedelta(hours=5), "bill", "Billing"),  # its last step is not Waiting
        ],
    )
    first = run_trigger(ws, ws.state, "chaser", now=T0)
    assert first["decided"] == 1
    assert [q["case_id"] for q in service.queue(ws)] == ["A"]
    assert run_trigger(ws, ws.state, "chaser", now=T0 + timedelta(minutes=5))["note"] == "not due"
    again = run_trigger(ws, ws.state, "chaser", now=T0 + timedelta(minutes=20))
    assert again["decided"] == 0  # A was taken in this idle spell; B is not idle long enough
    later = run_trigger(ws, ws.state, "chaser", now=T0 + timedelta(minutes=75))
    assert later["decided"] == 1
    assert sorted(q["case_id"] for q in service.queue(ws)) == ["A", "B"]


HISTORIC = """\
name: router
owner: ops
labels: [Network, Billing, Hardware]
input:
  case_id: {type: string}
  subject: {type: text}
case_field: case_id
decider:
  rules:
    - {when: {subject: {contains: vpn}}, label: Network, confidence: 0.95}
    - {when: {subject: {contains: slow}}, label: Network, confidence: 0.7}
  default: {label: Billing, confidence: 0.5}
history: {stream: tickets, label: queue}
status: shadow
"""


def test_thresholds_from_history(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "automations" / "router.yaml").write_text(HISTORIC)
    rows = []
    for i in range(60):  # 20 vpn (all Network), 20 slow (half Network), 20 other (all Billing)
        subject, queue = [
            ("vpn down", "Network"),
            ("slow app", "Network" if i % 2 else "Hardware"),
            ("invoice", "Billing"),
        ][i % 3]
        rows.append((f"H{i:02d}", "Open", T0 + timedelta(minutes=i), subject, queue))
    _ingest(ws, tmp_path, rows)
    cal = service.automation_calibrate(ws, "router", precision=0.9, on="history")
    assert cal["decisions"] == 60
    # from 0.5 up: 50 of 60 right (0.83); from 0.7 up: 30 of 40 (0.75); from 0.95 up: 20 of 20
    assert cal["auto_at"]["threshold"] == 0.95
    assert cal["auto_at"]["coverage"] == pytest.approx(20 / 60, abs=1e-4)
    assert cal["per_label"]["Network"]["threshold"] == 0.95
    assert cal["per_label"]["Network"]["coverage"] == pytest.approx(0.5)
    assert cal["per_label"]["Billing"]["threshold"] == 0.5


class Hook(BaseHTTPRequestHandler):
    got: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Hook.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.got = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/paused"
    srv.shutdown()
    srv.server_close()


def test_the_automatic_pause_tells_its_webhook(ws: Workspace, hook: str) -> None:
    path = ws.root / "automations" / "triage.yaml"
    path.write_text(
        path.read_text().replace("window: 20, min_items: 10}", f"window: 20, min_items: 10, notify_webhook: '{hook}'}}")
    )
    service.automation_move(ws, "triage", "go-live")
    for i in range(10):
        d = service.decide(ws, "triage", input={"ticket_id": f"T{i}", "subject": "password", "tier": "bronze"})
        service.queue_answer(ws, d["decision_id"], action="override", label="Network", reason="wrong label")
    assert service.automation(ws, "triage")["status"]["status"] == "paused"
    deliver_due(ws.state, ws)
    assert len(Hook.got) == 1
    assert Hook.got[0]["event"] == "paused"
    assert "override rate 100%" in Hook.got[0]["reason"]
