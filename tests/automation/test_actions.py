"""Detect and Do on a real stream: the events trigger after an ingest, emitted events and case
attributes landing in the stream, webhooks to a real local HTTP server with retries, backoff, one
idempotency key and a dead letter; on both backends."""

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
from conveyor.automation import deliver_due
from conveyor.workspace import Workspace

ROUTER = """\
name: router
owner: ops
labels: [Network, Billing]
input:
  ticket_id: {{type: string}}
  subject: {{type: text}}
case_field: ticket_id
trigger: {{kind: events, stream: tickets, activity: Create}}
decider:
  rules:
    - when: {{subject: {{contains: vpn}}}}
      label: Network
      confidence: 0.95
    - when: {{subject: {{contains: invoice}}}}
      label: Billing
      confidence: 0.7
actions:
  - {{kind: emit_event, stream: tickets, case: "{{ticket_id}}", activity: "Routed to {{label}}"}}
  - {{kind: set_attribute, stream: tickets, case: "{{ticket_id}}", attribute: routed_to, value: "{{label}}"}}
  - {{kind: webhook, url: "{url}/ok/{{decision_id}}", retries: 3, backoff_s: 10}}
  - {{kind: webhook, url: "{url}/down", retries: 1, backoff_s: 10, timeout_s: 2}}
status: live
"""


class Hook(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []
    fail_first: ClassVar[dict[str, int]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Hook.calls.append((self.path, self.headers["Idempotency-Key"], body))
        left = Hook.fail_first.get(self.path, 0)
        if self.path == "/down" or left:
            Hook.fail_first[self.path] = max(0, left - 1)
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"try later")
            return
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.calls, Hook.fail_first = [], {}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path.write_text("case_id,activity,timestamp,subject\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows))
    return path


def test_ingest_triggers_decisions_whose_actions_land(ws: Workspace, hook: str, tmp_path: Path) -> None:
    first = _csv(tmp_path / "a.csv", [("T1", "Create", "2026-01-05 09:00", "old ticket about vpn")])
    service.ingest(ws, "tickets", path=str(first))  # before the automation exists: never decided
    (ws.root / "automations" / "router.yaml").write_text(ROUTER.format(url=hook))
    rows = [
        ("T2", "Create", "2026-01-06 09:00", "vpn is down"),
        ("T2", "Work", "2026-01-06 10:00", "vpn is down"),
        ("T3", "Create", "2026-01-06 09:30", "invoice wrong"),
        ("T4", "Create", "2026-01-06 09:45", "printer"),
    ]
    Hook.fail_first = {}
    out = service.ingest(ws, "tickets", path=str(_csv(tmp_path / "b.csv", rows)))
    router = next(r for r in out["automations"] if r["automation"] == "router")
    assert (router["decided"], router["skipped"]) == (3, 0), router  # one per Create event of this ingest
    decisions = {d["case_id"]: d for d in ws.state.execute("SELECT case_id, tier, label FROM decisions")}
    assert set(decisions) == {"T2", "T3", "T4"}
    assert decisions["T2"]["tier"] == "auto"
    assert decisions["T3"]["tier"] == "suggest"

    # T2 acted alone: its event and attribute are in the stream, its webhook was called once
    case = service.case(ws, "tickets", "T2")
    acts = [(e["activity"], e["resource"]) for e in case["events"]]
    assert ("Routed to Network", "automation:router") in acts
    assert case["case"]["routed_to"] == "Network"
    ok_calls = [c for c in Hook.calls if c[0].startswith("/ok/")]
    assert len(ok_calls) == 1
    assert ok_calls[0][2]["label"] == "Network"
    assert ok_calls[0][2]["ticket_id"] == "T2"
    # the automation's own events do not trigger it again
    again = service.automation_run(ws, "router")
    assert again["decided"] == 0

    # the always-failing webhook retries after its backoff, then becomes a dead letter
    down = [d for d in service.deliveries(ws, automation="router") if d["target"].endswith("/down")]
    assert [(d["state"], d["attempts"]) for d in down] == [("pending", 1)]
    later = datetime.now(UTC) + timedelta(seconds=30)
    deliver_due(ws.state, ws, now=later)
    down = [d for d in service.deliveries(ws, automation="router") if d["target"].endswith("/down")]
    assert [(d["state"], d["attempts"]) for d in down] == [("dead", 2)]
    assert "HTTP 503" in down[0]["last_error"]
    keys = [c[1] for c in Hook.calls if c[0] == "/down"]
    assert len(keys) == 2
    assert len(set(keys)) == 1
    m = service.automation_monitor(ws, "router")
    assert m["deliveries"]["dead"] == 1
    records = service.audit_recent(ws, automation="router", limit=100)
    dead = [r for r in records if r["kind"] == "dead_letter"]
    assert len(dead) == 1
    assert dead[0]["data"]["target"].endswith("/down")
    delivered = {k for r in records if r["kind"] == "delivered" for k in r["data"]["keys"]}
    assert len(delivered) == 3  # T2's event, attribute and webhook

    # a person accepts T3's suggestion: its actions go out with the final label
    t3 = next(q for q in service.queue(ws) if q["case_id"] == "T3")
    service.queue_answer(ws, t3["decision_id"], action="accept")
    assert service.case(ws, "tickets", "T3")["case"]["routed_to"] == "Billing"

    # retry the dead letter by hand: pending again (its attempts start over), audited
    assert service.delivery_retry(ws, down[0]["id"], actor="ops")["state"] == "pending"
    again = next(d for d in service.deliveries(ws, status="pending") if d["id"] == down[0]["id"])
    assert again["attempts"] == 0
    assert service.audit_recent(ws, automation="router", limit=1)[0]["kind"] == "retry"


def test_a_repeated_delivery_adds_no_second_event(ws: Workspace, hook: str, tmp_path: Path) -> None:
    (ws.root / "automations" / "router.yaml").write_text(
        ROUTER.format(url=hook).replace("  - {kind: webhook", "  # - {kind: webhook")
    )
    service.ingest(ws, "tickets", path=str(_csv(tmp_path / "a.csv", [("T9", "Create", "2026-01-05 09:00", "vpn")])))
    n = len(service.case(ws, "tickets", "T9")["events"])
    assert n == 2
    # a crash after the ingest but before the outbox said "done": the delivery runs again
    ws.state.execute("UPDATE outbox SET state = 'pending', attempts = 0 WHERE kind = 'emit_event'")
    deliver_due(ws.state, ws)
    assert len(service.case(ws, "tickets", "T9")["events"]) == 2
    assert service.quarantine(ws, "tickets")[0]["reason"].startswith("duplicate")
