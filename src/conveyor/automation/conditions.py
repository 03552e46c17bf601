"""Conditions on an item's fields: what rules, hard rules and triggers say in YAML.

A condition maps field names to a test; every test must hold. A plain value means "equals"
(case-insensitive for text); a mapping names operators:

    {"priority": "P1"}                                   # equals
    {"body": {"contains_any": ["refund", "invoice"]}}     # any word or phrase, case-insensitive
    {"amount": {"gt": 10000}, "tier": {"in": ["gold"]}}   # numbers and sets

>>> matches({"priority": "P1", "body": "VPN drops"}, {"body": {"contains": "vpn"}})
True
>>> matches({"amount": 50}, {"amount": {"gt": 100}})
False
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = ["OPERATORS", "check_condition", "describe", "matches"]

#: Operator -> what its value must be ("value", "list", "number", "pattern", "bool").
OPERATORS: dict[str, str] = {
    "equals": "value",
    "not_equals": "value",
    "in": "list",
    "not_in": "list",
    "contains": "value",
    "contains_any": "list",
    "not_contains_any": "list",
    "matches": "pattern",
    "gt": "number",
    "ge": "number",
    "lt": "number",
    "le": "number",
    "exists": "bool",
}


def check_condition(cond: Any, where: str, fields: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with a condition as declared (empty when it is valid); ``where`` prefixes them."""
    if not isinstance(cond, Mapping) or not cond:
        return [f"{where}: a condition is a mapping of field names to tests, got {cond!r}"]
    problems = []
    for name, test in cond.items():
        if fields is not None and name not in fields:
            problems.append(f"{where}.{name}: no input field {name!r} (fields: {', '.join(fields)})")
        if not isinstance(test, Mapping):
            continue
        for op, value in test.items():
            kind = OPERATORS.get(op)
            if kind is None:
                problems.append(f"{where}.{name}: unknown operator {op!r} (operators: {', '.join(OPERATORS)})")
            elif kind == "list" and not isinstance(value, list):
                problems.append(f"{where}.{name}.{op}: needs a list, got {value!r}")
            elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
                problems.append(f"{where}.{name}.{op}: needs a number, got {value!r}")
            elif kind == "pattern":
                try:
                    re.compile(str(value))
                except re.error as exc:
                    problems.append(f"{where}.{name}.{op}: not a regular expression ({exc})")
    return problems


def _text(v: Any) -> str:
    return str(v).casefold()


@lru_cache(maxsize=4096)
def _word(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(term.casefold()) + r"(?!\w)")


def _test(value: Any, op: str, arg: Any) -> bool:  # noqa: PLR0911 (one return per operator)
    if op == "exists":
        return (value is not None and value != "") == bool(arg)
    if value is None:
        return op in ("not_equals", "not_in", "not_contains_any")
    if op in ("gt", "ge", "lt", "le"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return False
        return bool({"gt": x > arg, "ge": x >= arg, "lt": x < arg, "le": x <= arg}[op])
    if op == "equals":
        return _text(value) == _text(arg)
    if op == "not_equals":
        return _text(value) != _text(arg)
    if op in ("in", "not_in"):
        inside = _text(value) in {_text(a) for a in arg}
        return inside if op == "in" else not inside
    if op == "contains":
        return _word(str(arg)).search(_text(value)) is not None
    if op in ("contains_any", "not_contains_any"):
        text = _text(value)
        hit = any(_word(str(a)).search(text) for a in arg)
        return hit if op == "contains_any" else not hit
    return re.search(str(arg), str(value), re.IGNORECASE) is not None  # matches


def matches(item: Mapping[str, Any], cond: Mapping[str, Any]) -> bool:
    """Whether every test of ``cond`` holds for ``item``."""
    for name, test in cond.items():
        value = item.get(name)
        if isinstance(test, Mapping):
            if not all(_test(value, op, arg) for op, arg in test.items()):
                return False
        elif not _test(value, "equals", test):
            return False
    return True


def describe(cond: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> str:
    """The condition in words, e.g. ``body mentions "vpn" and priority is P1``."""
    words = {
        "equals": "is",
        "not_equals": "is not",
        "in": "is one of",
        "not_in": "is not one of",
        "contains": "mentions",
        "contains_any": "mentions",
        "not_contains_any": "mentions none of",
        "matches": "matches",
        "gt": ">",
        "ge": "≥",
        "lt": "<",
        "le": "≤",
        "exists": "is given:",
    }
    parts = []
    for name, test in cond.items():
        tests = test.items() if isinstance(test, Mapping) else [("equals", test)]
        for op, given in tests:
            arg = given
            if op == "contains_any" and item is not None:  # name the words that hit
                text = _text(item.get(name, ""))
                arg = [a for a in given if _word(str(a)).search(text)] or given
            shown = ", ".join(f'"{a}"' for a in arg) if isinstance(arg, list) else str(arg)
            parts.append(f"{name} {words[op]} {shown}")
    return " and ".join(parts)
