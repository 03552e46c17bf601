"""The real `conveyor` console script, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    full_env.update(env or {})
    return subprocess.run(
        [CONVEYOR, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=300, check=False
    )


def test_outside_a_workspace_is_a_clear_error(tmp_path: Path) -> None:
    proc = run("streams", cwd=tmp_path)
    assert proc.returncode == 1
    assert "is not a conveyor workspace" in proc.stderr
    assert "conveyor init" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_init_ingest_streams_quarantine_export(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws)).returncode == 0
    assert "timezone" in (ws / "conveyor.toml").read_text()
    log = tmp_path / "orders.csv"
    log.write_text(
        "Case ID,Activity,Complete Timestamp\n"
        "o1,Create,2024/01/02 09:00:00.000\no1,Ship,2024/01/03 10:00:00.000\n"
        "o2,Create,yesterday\n"
    )
    proc = run("ingest", str(log), "--stream", "o2c", "--json", env={"CONVEYOR_WORKSPACE": str(ws)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "stream": "o2c",
        "events_loaded": 2,
        "cases": 1,
        "quarantined": 1,
        "already_ingested": False,
    }

    streams = json.loads(run("streams", "--json", "-w", str(ws)).stdout)
    assert [(s["name"], s["events"], s["cases"], s["activities"], s["quarantined"]) for s in streams] == [
        ("o2c", 2, 1, 2, 1)
    ]
    assert streams[0]["first"].startswith("2024-01-02T09:00:00")

    rejected = json.loads(run("quarantine", "o2c", "--json", "-w", str(ws)).stdout)
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in rejected] == [
        (4, "Complete Timestamp", "yesterday", "unparseable timestamp")
    ]
    out = tmp_path / "o2c.xes"
    proc = run("export", "o2c", "--out", str(out), "-w", str(ws))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().count("<event>") == 2

    again = run("ingest", str(log), "--stream", "o2c", "-w", str(ws))
    assert "already ingested" in again.stdout


def test_strict_exits_non_zero(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws))
    log = tmp_path / "bad.csv"
    log.write_text("case_id,activity,timestamp\na,x,2024-01-01\n,y,2024-01-02\n")
    proc = run("ingest", str(log), "--strict", "-w", str(ws))
    assert proc.returncode == 1
    assert "row 3" in proc.stderr
    assert "missing case id" in proc.stderr
    assert json.loads(run("streams", "--json", "-w", str(ws)).stdout) == []


def test_unknown_stream(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws))
    proc = run("quarantine", "nope", "-w", str(ws))
    assert proc.returncode == 1
    assert "no stream named 'nope'" in proc.stderr


@pytest.mark.realdata
def test_ingest_real_xes(tmp_path: Path, logs: Path) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws))
    proc = run("ingest", str(logs / "running-example.xes"), "--json", "-w", str(ws))
    assert json.loads(proc.stdout) == {
        "stream": "running-example",
        "events_loaded": 42,
        "cases": 6,
        "quarantined": 0,
        "already_ingested": False,
    }
