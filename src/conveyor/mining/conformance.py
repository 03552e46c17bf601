"""Conformance: check a stream against rules written in YAML.

```yaml
rules:
  - type: happy_path            # the case's sequence is exactly this
    activities: [Create Order, Check Credit, Approve Order, Ship Goods]
  - type: allowed_transitions   # every directly-follows pair is one of these
    transitions: [[Create Order, Check Credit], [Check Credit, Approve Order]]
  - type: precedence            # every B has an A earlier in its case
    before: Check Credit
    after: Ship Goods
  - type: at_most_once
    activity: Quality Check
  - type: within                # after the first A, a B follows within the time (a missing B violates)
    first: Create Order
    then: Ship Goods
    max: 3d
  - type: start                 # the case starts with one of these
    activities: [Create Order]
  - type: end                   # the case ends with one of these
    activities: [Receive Payment, Reject Order]
```

Each rule may have a ``name``. The report gives, per rule, the violating cases (count, share,
examples) and the impact on throughput: the median duration of conforming and violating cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from conveyor.data.sql import Query
from conveyor.errors import ConveyorError
from conveyor.mining.filters import Filters, parse_duration, scope_for
from conveyor.mining.results import ConformanceReport

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["Rule", "RuleError", "check_conformance", "load_rules"]


class RuleError(ConveyorError, ValueError):
    """A rules file that cannot be read or has a bad rule."""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None

    def activities_used(self) -> list[str]:
        return []


class HappyPath(_Rule):
    type: Literal["happy_path"]
    activities: list[str] = Field(min_length=1)

    def activities_used(self) -> list[str]:
        return self.activities


class AllowedTransitions(_Rule):
    type: Literal["allowed_transitions"]
    transitions: list[tuple[str, str]] = Field(min_length=1)

    def activities_used(self) -> list[str]:
        return [a for pair in self.transitions for a in pair]


class Precedence(_Rule):
    type: Literal["precedence"]
    before: str
    after: str

    def activities_used(self) -> list[str]:
        return [self.before, self.after]


class AtMostOnce(_Rule):
    type: Literal["at_most_once"]
    activity: str

    def activities_used(self) -> list[str]:
        return [self.activity]


class Within(_Rule):
    type: Literal["within"]
    first: str
    then: str
    max: float

    @field_validator("max", mode="before")
    @classmethod
    def _duration(cls, v: object) -> float:
        return parse_duration(v)  # type: ignore[arg-type]

    def activities_used(self) -> list[str]:
        return [self.first, self.then]


class Start(_Rule):
    type: Literal["start"]
    activities: list[str] = Field(min_length=1)

    def activities_used(self) -> list[str]:
        return self.activities


class End(_Rule):
    type: Literal["end"]
    activities: list[str] = Field(min_length=1)

    def activities_used(self) -> list[str]:
        return self.activities


Rule = Annotated[
    HappyPath | AllowedTransitions | Precedence | AtMostOnce | Within | Start | End,
    Field(discriminator="type"),
]
_RULES = TypeAdapter(list[Rule])


def load_rules(path: str | Path) -> list[Any]:
    """Read and validate a rules file; errors name the rule and the field."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleError(f"{path}: no such rules file", hint="pass --rules FILE.yaml") from None
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}", hint="check the indentation and quoting") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise RuleError(f"{path}: expected a top-level 'rules:' list", hint="see `conveyor conformance --help`")
    try:
        return _RULES.validate_python(raw["rules"])
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = f"rule {int(loc[0]) + 1}" if loc and isinstance(loc[0], int) else "rules"
        field = ".".join(str(x) for x in loc[2:] if not isinstance(x, int)) if len(loc) > 2 else ""
        raise RuleError(
            f"{path}: {where}{' field ' + repr(field) if field else ''}: {err['msg']} (got {err.get('input')!r})",
            hint="rule types: happy_path, allowed_transitions, precedence, at_most_once, within, start, end",
        ) from exc


def _describe(rule: Any) -> str:
    t = rule.type
    if t == "happy_path":
        return "sequence is " + " → ".join(rule.activities)
    if t == "allowed_transitions":
        return f"only {len(rule.transitions)} allowed transitions"
    if t == "precedence":
        return f"{rule.before} before {rule.after}"
    if t == "at_most_once":
        return f"{rule.activity} at most once"
    if t == "within":
        return f"{rule.then} within {rule.max:g} s after {rule.first}"
    if t == "start":
        return "starts with " + " or ".join(rule.activities)
    return "ends with " + " or ".join(rule.activities)


IMPACT = Query(
    "conformance.impact",
    """WITH {scope}, v AS ({violations})
    SELECT count(*) AS cases, count(v.case_idx) AS violating,
           median(fc.duration_seconds) FILTER (WHERE v.case_idx IS NULL) AS median_seconds_conforming,
           median(fc.duration_seconds) FILTER (WHERE v.case_idx IS NOT NULL) AS median_seconds_violating
    FROM fc LEFT JOIN (SELECT DISTINCT case_idx FROM v) v USING (case_idx)""",
)

EXAMPLES = Query(
    "conformance.examples",
    """WITH {scope}, v AS ({violations})
    SELECT c.case_id FROM {s}.cases c WHERE c.case_idx IN (SELECT case_idx FROM v)
    ORDER BY c.case_idx LIMIT 5""",
)


def _violations(rule: Any, code: dict[str, int]) -> str:
    """SQL selecting the case_idx of every case in scope that breaks ``rule``."""

    def c(name: str) -> str:
        return str(code.get(name, -1))  # an activity the stream lacks matches nothing

    t = rule.type
    if t == "happy_path":
        path = "[" + ", ".join(c(a) for a in rule.activities) + "]"
        return (
            "SELECT case_idx FROM (SELECT case_idx, list(activity ORDER BY pos) AS trace FROM fe GROUP BY case_idx) "
            f"WHERE trace <> {path}::INTEGER[]"
        )
    if t == "allowed_transitions":
        pairs = ", ".join(f"({c(a)}, {c(b)})" for a, b in rule.transitions)
        return (
            "SELECT DISTINCT fe.case_idx FROM fe WHERE fe.next_activity IS NOT NULL AND "
            f"(fe.activity, fe.next_activity) NOT IN (SELECT * FROM (VALUES {pairs}) AS t(a, b))"
        )
    if t == "precedence":
        return (
            "SELECT case_idx FROM fe GROUP BY case_idx "
            f"HAVING min(pos) FILTER (WHERE activity = {c(rule.after)}) IS NOT NULL AND "
            f"coalesce(min(pos) FILTER (WHERE activity = {c(rule.before)}), 2147483647) "
            f"> min(pos) FILTER (WHERE activity = {c(rule.after)})"
        )
    if t == "at_most_once":
        return f"SELECT case_idx FROM fe WHERE activity = {c(rule.activity)} GROUP BY case_idx HAVING count(*) > 1"
    if t == "within":
        return (
            "SELECT a.case_idx FROM (SELECT case_idx, min(ts) AS t0 FROM fe "
            f"WHERE activity = {c(rule.first)} GROUP BY case_idx) a "
            "WHERE NOT EXISTS (SELECT 1 FROM fe b WHERE b.case_idx = a.case_idx "
            f"AND b.activity = {c(rule.then)} AND b.ts >= a.t0 "
            f"AND (epoch_us(b.ts) - epoch_us(a.t0)) / 1e6 <= {float(rule.max)!r})"
        )
    codes = ", ".join(c(a) for a in rule.activities)
    where = "pos = 0" if t == "start" else "next_activity IS NULL"
    return f"SELECT case_idx FROM fe WHERE {where} AND activity NOT IN ({codes})"


def check_conformance(
    engine: Engine, stream: str, rules: list[Any], *, filters: Filters | None = None
) -> ConformanceReport:
    """Check every rule; per rule the violating cases and the throughput impact, and overall the
    cases that break no rule. On a stream with lifecycle starts the rules speak of activity
    instances (``at_most_once`` counts instances, not their start and complete events).
    """
    scope = scope_for(engine, stream, filters)
    code = {r["name"]: int(r["code"]) for r in engine.records(f"SELECT name, code FROM {scope.s}.activities")}
    unknown = sorted({a for rule in rules for a in rule.activities_used() if a not in code})
    parts = scope.parts()
    params = scope.params
    results = []
    sets = []
    for i, rule in enumerate(rules):
        violations = _violations(rule, code)
        sets.append(violations)
        impact = engine.run(IMPACT, params=params, **parts, violations=violations)[0]
        examples = [r["case_id"] for r in engine.run(EXAMPLES, params=params, **parts, violations=violations)]
        results.append(
            {
                "rule": i + 1,
                "name": rule.name or _describe(rule),
                "type": rule.type,
                "violating_cases": impact["violating"],
                "share": impact["violating"] / impact["cases"] if impact["cases"] else 0.0,
                "examples": examples,
                "median_seconds_conforming": impact["median_seconds_conforming"],
                "median_seconds_violating": impact["median_seconds_violating"],
            }
        )
    overall = engine.run(IMPACT, params=params, **parts, violations=" UNION ".join(f"({v})" for v in sets))[0]
    return {
        "cases": overall["cases"],
        "conforming_cases": overall["cases"] - overall["violating"],
        "conforming_share": (overall["cases"] - overall["violating"]) / overall["cases"] if overall["cases"] else 0.0,
        "median_seconds_conforming": overall["median_seconds_conforming"],
        "median_seconds_violating": overall["median_seconds_violating"],
        "rules": results,
        "unknown_activities": unknown,
    }
