"""Definitions: invalid ones fail naming the field and the valid values; the rules decider and the
conditions behave as documented; the demo's automation is valid."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conveyor.automation import AutomationError, RulesDecider, parse_automation
from conveyor.automation.conditions import describe, matches
from conveyor.demo.automation import TICKET_TRIAGE

BASE: dict[str, Any] = {
    "name": "t",
    "owner": "me",
    "labels": ["A", "B"],
    "input": {"text": {"type": "text"}, "tier": {"values": ["gold", "silver"]}, "amount": {"type": "number"}},
}


def bad(change: dict[str, Any]) -> AutomationError:
    with pytest.raises(AutomationError) as e:
        parse_automation({**BASE, **change}, source="t.yaml")
    return e.value


def test_the_demo_automation_is_valid() -> None:
    auto = parse_automation(yaml.safe_load(TICKET_TRIAGE))
    assert auto.name == "ticket-triage"
    assert auto.stream == "ticket-to-resolution"
    assert auto.segment_fields == ["priority", "customer_tier"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"status": "running"}, "status", ["draft", "shadow", "live", "paused"]),
        ({"trigger": {"kind": "cron"}}, "trigger.kind", ["request", "events", "schedule"]),
        ({"trigger": {"kind": "events"}}, "trigger", ["needs a stream"]),
        (
            {"decider": {"rules": [{"when": {"text": "x"}, "label": "C"}]}},
            "decider.rules.0.label",
            ["'C'", "['A', 'B']"],
        ),
        (
            {"decider": {"rules": [{"when": {"text": {"near": "x"}}, "label": "A"}]}},
            "decider.rules.0.when.text",
            ["near", "contains_any"],
        ),
        (
            {"decider": {"rules": [{"when": {"colour": "x"}, "label": "A"}]}},
            "decider.rules.0.when.colour",
            ["text, tier, amount"],
        ),
        (
            {"decider": {"rules": [{"when": {"amount": {"gt": "ten"}}, "label": "A"}]}},
            "decider.rules.0.when.amount.gt",
            ["number"],
        ),
        ({"policy": {"auto_at": 0.5, "suggest_at": 0.8}}, "policy", ["must not exceed"]),
        ({"policy": {"auto_at": 1.5}}, "policy.auto_at", ["1"]),
        ({"actions": [{"kind": "webhook"}]}, "actions.0", ["needs url"]),
        ({"actions": [{"kind": "email", "url": "x"}]}, "actions.0.kind", ["emit_event", "webhook", "set_attribute"]),
        (
            {"actions": [{"kind": "emit_event", "stream": "s", "case": "{ticket}", "activity": "x"}]},
            "actions.0.case",
            ["{ticket}"],
        ),
        ({"success_criteria": [{"metric": "speed", "min": 1}]}, "success_criteria.0.metric", ["coverage", "accuracy"]),
        ({"success_criteria": [{"metric": "coverage"}]}, "success_criteria.0", ["min or max"]),
        ({"queue_sla": "soon"}, "queue_sla", ["30s, 15m, 4h or 2d"]),
        ({"name": "Bad Name"}, "name", ["lower-case"]),
        ({"owner": None}, "owner", []),
        ({"colour": "red"}, "colour", []),
        ({"case_field": "ticket"}, "case_field", ["text, tier, amount"]),
    ],
)
def test_invalid_definitions_name_the_field_and_the_fix(change: dict[str, Any], field: str, words: list[str]) -> None:
    err = bad(change)
    assert err.field == field, (err.field, err.message)
    text = f"{err.message} {err.hint or ''}"
    assert text.startswith("t.yaml: ")
    for w in words:
        assert w in text, text


def test_missing_and_unknown_keys_say_what_to_do() -> None:
    err = parse_automation_error({k: v for k, v in BASE.items() if k != "owner"})
    assert err.field == "owner"
    assert "add it" in str(err.hint)
    err = bad({"colour": "red"})
    assert "spelling" in str(err.hint)


def parse_automation_error(raw: dict[str, Any]) -> AutomationError:
    with pytest.raises(AutomationError) as e:
        parse_automation(raw)
    return e.value


def test_conditions() -> None:
    item = {"text": "Our VPN drops; invoice INV-1 attached", "tier": "Gold", "amount": 120.0, "none": None}
    assert matches(item, {"text": {"contains": "vpn"}})
    assert not matches(item, {"text": {"contains": "vp"}})  # words, not fragments
    assert matches(item, {"text": {"contains_any": ["printer", "invoice"]}})
    assert matches(item, {"tier": "gold"})  # case-insensitive equality
    assert matches(item, {"tier": {"in": ["gold", "silver"]}, "amount": {"gt": 100, "le": 120}})
    assert not matches(item, {"amount": {"lt": 100}})
    assert matches(item, {"none": {"exists": False}, "text": {"matches": r"INV-\d+"}})
    assert not matches(item, {"none": {"gt": 1}})  # a missing value fails a comparison
    assert (
        describe({"text": {"contains_any": ["printer", "invoice"]}}, item) == 'text mentions "invoice"'
    )  # the word that hit


def test_rules_decider_takes_the_first_matching_rule() -> None:
    auto = parse_automation(
        {
            **BASE,
            "decider": {
                "rules": [
                    {"when": {"text": {"contains": "vpn"}}, "label": "A", "confidence": 0.8},
                    {"when": {"tier": "gold"}, "label": "B", "confidence": 0.99, "because": "gold goes to B"},
                ],
                "default": {"label": "B", "confidence": 0.2},
            },
        }
    )
    d = RulesDecider(auto.decider)
    p = d.decide({"text": "vpn down", "tier": "gold"})
    assert (p.label, p.confidence) == ("A", 0.8)
    assert "vpn" in p.explanation
    assert d.decide({"text": "x", "tier": "gold"}).explanation == "gold goes to B"
    assert (d.decide({"text": "x", "tier": "silver"}).label, d.decide({"text": "x", "tier": "silver"}).confidence) == (
        "B",
        0.2,
    )
    assert d.version.startswith("rules-")
    assert RulesDecider(auto.decider).version == d.version
