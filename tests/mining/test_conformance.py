"""Conformance rules find exactly the cases that break them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import RuleError, check_conformance, load_rules

# ok: the happy path; late: ships 5 days after ordering; skip: ships without a credit check;
# twice: checked twice; odd: starts with Ship and ends with Check
LOG = {
    "ok": [("Order", 0), ("Check", 1), ("Ship", 2)],
    "late": [("Order", 0), ("Check", 1), ("Ship", 120)],
    "skip": [("Order", 0), ("Ship", 3)],
    "twice": [("Order", 0), ("Check", 1), ("Check", 2), ("Ship", 3)],
    "odd": [("Ship", 0), ("Order", 1), ("Check", 2)],
}

RULES = """
rules:
  - type: happy_path
    activities: [Order, Check, Ship]
  - type: allowed_transitions
    transitions: [[Order, Check], [Check, Ship], [Check, Check]]
  - name: credit checked before shipping
    type: precedence
    before: Check
    after: Ship
  - type: at_most_once
    activity: Check
  - type: within
    first: Order
    then: Ship
    max: 2d
  - type: start
    activities: [Order]
  - type: end
    activities: [Ship]
"""


@pytest.fixture
def store() -> Store:
    s = Store()
    rows = [(case, act, h) for case, evs in LOG.items() for act, h in evs]
    table = pa.table(
        {
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "timestamp": pa.array(
                [1_704_067_200_000_000 + r[2] * 3_600_000_000 for r in rows], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    ingest(s, table, stream="o2c")
    return s


def test_each_rule_finds_its_cases(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    report = check_conformance(store, "o2c", load_rules(path))
    found = {r["rule"]: sorted(r["examples"]) for r in report["rules"]}
    assert found == {
        1: ["odd", "skip", "twice"],  # "late" follows the path, only slowly
        2: ["odd", "skip"],
        3: ["odd", "skip"],  # odd ships before any check
        4: ["twice"],
        5: ["late", "odd"],  # odd never ships after ordering
        6: ["odd"],
        7: ["odd"],
    }
    assert report["rules"][2]["name"] == "credit checked before shipping"
    assert report["conforming_cases"] == 1
    assert report["cases"] == 5
    late = report["rules"][4]
    assert late["violating_cases"] == 2
    assert late["median_seconds_conforming"] < late["median_seconds_violating"]


def test_unknown_activities_are_reported(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - type: at_most_once\n    activity: Chekc\n")
    report = check_conformance(store, "o2c", load_rules(path))
    assert report["unknown_activities"] == ["Chekc"]
    assert report["rules"][0]["violating_cases"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: []\n", "expected a top-level 'rules:' list"),
        ("rules:\n  - type: sometimes\n", "rule 1"),
        ("rules:\n  - type: within\n    first: A\n    then: B\n    max: soon\n", "rule 1"),
        ("rules:\n  - type: precedence\n    before: A\n", "field 'after'"),
        ("rules: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_rules_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=message.replace("[", r"\[")):
        load_rules(path)
