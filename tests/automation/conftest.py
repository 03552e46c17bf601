"""The operational store on both backends: SQLite in the workspace, and the real PostgreSQL server
of ``tests/conftest.py`` (one fresh database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.workspace import Workspace, init_workspace, open_workspace
from tests.conftest import fresh_database

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
