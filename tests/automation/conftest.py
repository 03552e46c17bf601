"""The operational store on both backends: SQLite in the workspace, and a real PostgreSQL server
started here from Debian's ``postgresql`` package (its own cluster in a temporary folder, a Unix
socket only, one fresh database per test)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.workspace import Workspace, init_workspace, open_workspace
from tests.conftest import skip_or_fail

TRIAGE = """\
name: triage
owner: support-lead
labels: [Network, Billing, Service Desk]
input:
  ticket_id: {type: string}
  subject: {type: text}
  tier: {type: string, values: [gold, silver, bronze]}
  amount: {type: number, required: false}
case_field: ticket_id
decider:
  rules:
    - when: {subject: {contains_any: [vpn, wi-fi]}}
      label: Network
      confidence: 0.95
    - when: {subject: {contains: invoice}}
      label: Billing
      confidence: 0.7
    - when: {subject: {contains: password}}
      label: Service Desk
      confidence: 0.4
policy:
  auto_at: 0.9
  suggest_at: 0.6
  per_label: {Billing: {auto_at: 0.65}}
  hard_rules:
    - name: gold customers
      when: {tier: gold}
    - name: large amounts
      when: {amount: {gt: 10000}}
limits: {max_override_rate: 0.3, max_error_rate: 0.2, window: 20, min_items: 10}
status: shadow
"""


def _as_postgres() -> list[str]:
    """How to run PostgreSQL's programs: as ourselves, or (as root, which initdb refuses) as ``postgres``."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A running PostgreSQL server for this test session; its admin URL (socket only)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        skip_or_fail("PostgreSQL is not installed (`make install` installs Debian's postgresql)")
    bindir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, sock = folder / "data", folder
    run = _as_postgres()
    subprocess.run([*run, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True)
    opts = f"-k {sock} -c listen_addresses='' -c max_connections=100"
    subprocess.run([*run, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql:///postgres?host={sock}&user=postgres"
    finally:
        subprocess.run([*run, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return admin_url.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on SQLite and on PostgreSQL (through ``$CONVEYOR_STATE_URL``)."""
    if request.param == "postgres":
        url = fresh_database(request.getfixturevalue("postgres"))
        monkeypatch.setenv("CONVEYOR_STATE_URL", url)
    return str(request.param)


@pytest.fixture
def ws(tmp_path: Path, backend: str) -> Iterator[Workspace]:
    """A workspace with the ``triage`` automation, its state on the backend under test."""
    root = init_workspace(tmp_path / "ws")
    (root / "automations").mkdir()
    (root / "automations" / "triage.yaml").write_text(TRIAGE, encoding="utf-8")
    with open_workspace(root) as w:
        yield w
