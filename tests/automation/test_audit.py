"""The audit chain finds any edited, deleted, inserted, reordered or cut record, on both backends,
in the store and in an exported file; `conveyor audit verify --json` says where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor import service
from conveyor.automation.audit import read_export, record_hash, verify, verify_records
from conveyor.state import StateStore
from conveyor.workspace import Workspace

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _history(ws: Workspace) -> None:
    service.automation_move(ws, "triage", "go-live", actor="lead")
    for i in range(4):
        d = service.decide(ws, "triage", input={"ticket_id": f"T{i}", "subject": f"password {i}", "tier": "bronze"})
        service.queue_answer(ws, d["decision_id"], action="accept", actor="kim")
    assert verify(ws.state) == {"ok": True, "records": 9, "first_bad": None, "problem": None}


def _edit(st: StateStore) -> None:
    st.execute("UPDATE audit SET data = replace(data, 'Service Desk', 'Billing') WHERE seq = 3")


def _edit_and_rehash(st: StateStore) -> None:  # a careful forger recomputes the record's own hash
    rec = st.execute("SELECT * FROM audit WHERE seq = 4")[0]
    rec["actor"] = "someone else"
    st.execute("UPDATE audit SET actor = ?, hash = ? WHERE seq = 4", (rec["actor"], record_hash(rec)))


def _delete(st: StateStore) -> None:
    st.execute("DELETE FROM audit WHERE seq = 5")


def _insert(st: StateStore) -> None:  # a well-formed record slipped in at 6: the break shows at 7
    st.execute("UPDATE audit SET seq = seq + 100 WHERE seq >= 6")
    st.execute("UPDATE audit SET seq = seq - 99 WHERE seq >= 106")
    prev = st.execute("SELECT hash FROM audit WHERE seq = 5")[0]["hash"]
    rec = {
        "seq": 6,
        "at": "2026-01-01T00:00:00+00:00",
        "actor": "mallory",
        "automation": "triage",
        "kind": "accept",
        "decision_id": None,
        "data": "{}",
        "prev_hash": prev,
    }
    st.execute(
        "INSERT INTO audit (seq, at, actor, automation, kind, decision_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*rec.values(), record_hash(rec)),
    )


def _reorder(st: StateStore) -> None:
    st.execute("UPDATE audit SET seq = -1 WHERE seq = 6")
    st.execute("UPDATE audit SET seq = 6 WHERE seq = 7")
    st.execute("UPDATE audit SET seq = 7 WHERE seq = -1")


def _cut(st: StateStore) -> None:
    st.execute("DELETE FROM audit WHERE seq >= 8")


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [(_edit, 3), (_edit_and_rehash, 5), (_delete, 5), (_insert, 7), (_reorder, 6), (_cut, 8)],
    ids=["edit", "edit-and-rehash", "delete", "insert", "reorder", "cut"],
)
def test_tampering_is_found(ws: Workspace, tamper: Callable[[StateStore], None], first_bad: int) -> None:
    _history(ws)
    tamper(ws.state)
    result = verify(ws.state)
    assert result["ok"] is False
    assert result["first_bad"] == first_bad, result


def test_export_verifies_elsewhere_and_the_cli_says_where(ws: Workspace, tmp_path: Path) -> None:
    _history(ws)
    out = tmp_path / "audit.jsonl"
    assert service.audit_export(ws, out=str(out))["records"] == 9
    assert verify_records(read_export(out))["ok"]
    lines = out.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    out.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "CONVEYOR_WORKSPACE": str(ws.root)}
    proc = subprocess.run(
        [CONVEYOR, "audit", "verify", "--file", str(out), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["first_bad"] == 2
    _edit(ws.state)
    ws.close()  # the CLI opens the workspace itself
    proc = subprocess.run([CONVEYOR, "audit", "verify", "--json"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["first_bad"] == 3
