"""One workspace, two processes: while `conveyor serve` owns the file, CLI commands still work
(through its API), and the dashboard keeps answering during a long ingest."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import require_data
from tests.web.conftest import CONVEYOR, Server, cli, cli_json

#: One server for every web test: they run on one worker, beside the Spark tests on the other.
pytestmark = pytest.mark.xdist_group("web")


def test_a_long_ingest_does_not_stop_the_dashboard(server: Server) -> None:
    logs = require_data()
    env_ws = ["-w", str(server.root)]
    ingest = subprocess.Popen(
        [*CONVEYOR, "ingest", str(logs / "bpic2012.xes.gz"), "--stream", "loans", "--json", *env_ws],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[tuple[float, int, bool]] = []  # (seconds, status, a job was running)

    def poll() -> None:
        while ingest.poll() is None:
            started = time.perf_counter()
            r = server.get("/api/v1/streams/order-to-cash/kpis?kpi=cycle_time_median")
            page = server.get("/streams/order-to-cash", follow_redirects=False)
            jobs = server.get("/api/v1/jobs").json()
            running = any(j["status"] == "running" and j["kind"] == "ingest" for j in jobs)
            answers.append((time.perf_counter() - started, min(r.status_code, page.status_code), running))
            time.sleep(0.05)

    t = threading.Thread(target=poll)
    t.start()
    out, err = ingest.communicate(timeout=600)
    t.join()
    assert ingest.returncode == 0, err
    assert '"events_loaded": 262200' in out
    during = [a for a in answers if a[2]]
    assert len(during) >= 3, answers  # the dashboard answered while the ingest ran...
    assert all(status == 200 for _, status, _ in during)
    assert max(s for s, _, _ in during) < 10, during  # ...and promptly
    # the new stream is there for everyone, and analysable through the server
    assert "loans" in [s["name"] for s in server.get("/api/v1/streams").json()]
    assert cli_json(server.root, "variants", "loans", "--top", "1")[0]["cases"] > 0  # type: ignore[index]


def test_every_cli_command_works_beside_the_server(server: Server, tmp_path: Path) -> None:
    root = server.root
    out = tmp_path / "review.html"
    review = cli_json(root, "review", "--out", str(out), "--stream", "procure-to-pay")
    assert out.is_file()
    assert review["streams"] == ["procure-to-pay"]  # type: ignore[index]
    exported = cli_json(root, "export", "procure-to-pay", "--out", str(tmp_path / "p2p.parquet"))
    sizes = {s["name"]: s["events"] for s in server.get("/api/v1/streams").json()}
    assert exported["events"] == sizes["procure-to-pay"]  # type: ignore[index]
    rules = root / "rules" / "order-to-cash.yaml"
    assert cli_json(root, "conformance", "order-to-cash", "--rules", str(rules))["cases"] == 400  # type: ignore[index]
    assert isinstance(cli_json(root, "quarantine", "order-to-cash"), list)
    assert cli_json(root, "durations", "order-to-cash")["cases"] == 400  # type: ignore[index]
    # tokens live in the workspace's SQLite state, which both processes share
    made = cli_json(root, "token", "create", "--role", "viewer", "--name", "beside")
    assert (
        server.get("/api/v1/streams", role=None, headers={"Authorization": f"Bearer {made['token']}"}).status_code
        == 200
    )  # type: ignore[index]
    cli(root, "token", "revoke", made["id"])  # type: ignore[index]
    assert (
        server.get("/api/v1/streams", role=None, headers={"Authorization": f"Bearer {made['token']}"}).status_code
        == 401
    )  # type: ignore[index]
    # what cannot go through the server says so, and how to proceed
    refused = cli(root, "publish", check=False)
    assert refused.returncode == 1
    assert "stop the server" in refused.stderr or "cannot" in refused.stderr
