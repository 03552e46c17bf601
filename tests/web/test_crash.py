"""A server killed with SIGKILL while decisions stream in loses no acknowledged decision or audit
record, and the audit chain still verifies; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conveyor.automation.audit import verify
from conveyor.state import StateStore
from conveyor.workspace import init_workspace
from tests.automation.conftest import TRIAGE
from tests.conftest import fresh_database
from tests.web.conftest import CONVEYOR


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_loses_no_acknowledged_decision(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    root = init_workspace(tmp_path / "ws")
    (root / "automations").mkdir()
    (root / "automations" / "triage.yaml").write_text(TRIAGE.replace("status: shadow", "status: live"))
    env = {**os.environ, "CONVEYOR_WORKSPACE": str(root)}
    url = ""
    if backend == "postgres":
        url = fresh_database(request.getfixturevalue("postgres"))
        env["CONVEYOR_STATE_URL"] = url
    made = subprocess.run(
        [*CONVEYOR, "token", "create", "--role", "reviewer", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    proc = subprocess.Popen([*CONVEYOR, "serve", "--port", "0", "--json"], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines = []
    while not lines or lines[-1].strip() != "}":
        lines.append(proc.stdout.readline())
    base = json.loads("".join(lines))["url"]
    for _ in range(100):  # it announces itself just before it listens
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)

    acked: list[str] = []
    stop = threading.Event()

    def stream(worker: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                subject = ["VPN down", "invoice wrong", "password reset"][i % 3]
                item = {"ticket_id": f"W{worker}-{i}", "subject": subject, "tier": "silver"}
                try:
                    r = client.post("/api/v1/automations/triage/decide", json={"input": item})
                except httpx.HTTPError:
                    time.sleep(0.01)  # killed: the loop ends when the test says stop
                    continue
                if r.status_code == 200:
                    acked.append(r.json()["decision_id"])

    threads = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 200 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    proc.stdout.close()
    assert len(acked) >= 200

    with StateStore(root, url=url) as st:
        stored = {r["id"] for r in st.execute("SELECT id FROM decisions")}
        audited = {r["decision_id"] for r in st.execute("SELECT decision_id FROM audit WHERE kind = 'decision'")}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged decisions lost"
        assert set(acked) <= audited
        assert stored == audited  # nothing half-written: a decision and its record commit together
        queued = {r["decision_id"] for r in st.execute("SELECT decision_id FROM queue")}
        human = {r["id"] for r in st.execute("SELECT id FROM decisions WHERE tier <> 'auto'")}
        assert queued == human
        result = verify(st)
        assert result["ok"], result
        assert result["records"] >= len(acked)
