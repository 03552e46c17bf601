"""Automations as declared: ``automations/NAME.yaml`` in the workspace (or through the API).

An automation says what starts it (**trigger**), who decides (**decider**), how sure it must be
to act alone (**policy**), what it does (**actions**), who owns it, what success means
(**success_criteria**) and its **status**: draft -> shadow -> live -> paused. The file's status is
where a new automation starts; later moves (`conveyor automation shadow|go-live|pause|resume`)
are kept with the decisions in the state store and audited.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from conveyor.automation.conditions import check_condition
from conveyor.errors import ConveyorError

__all__ = [
    "DEFAULT_OVERRIDE_REASONS",
    "STATUSES",
    "Action",
    "Automation",
    "AutomationError",
    "AutomationNotFoundError",
    "Criterion",
    "DeciderSpec",
    "FieldSpec",
    "Limits",
    "Policy",
    "Trigger",
    "automation_path",
    "list_automations",
    "load_automation",
    "parse_automation",
    "save_automation",
]

STATUSES = ("draft", "shadow", "live", "paused")
DEFAULT_OVERRIDE_REASONS = [
    "wrong label",
    "missing information",
    "policy exception",
    "customer request",
    "other",
]
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")


class AutomationError(ConveyorError, ValueError):
    """An automation definition, input or request that cannot be used (names the field)."""

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class AutomationNotFoundError(ConveyorError, KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"no automation named {name!r} (automations: {', '.join(known) or 'none yet'})",
            hint="`conveyor automation list`; declare one in automations/NAME.yaml or `conveyor automation create FILE`",
        )
        self.name = name

    def __str__(self) -> str:
        return self.message


def seconds(text: str) -> float:
    """``"90s"``, ``"15m"``, ``"4h"``, ``"2d"`` in seconds."""
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 4h or 2d")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Model):
    """One input field: its type, whether it must be given, its allowed values, whether kept."""

    type: Literal["text", "string", "number", "boolean"] = "string"
    required: bool = True
    values: list[str] | None = None
    keep: bool = True
    """Whether the audit log and the queue keep this field (False: the field is dropped, e.g. personal data)."""


class Rule(_Model):
    when: dict[str, Any]
    label: str
    confidence: float = Field(default=0.9, ge=0, le=1)
    because: str | None = None


class DeciderSpec(_Model):
    """Who decides. ``rules`` ships here; other kinds are registered by packages (the trained
    deciders) or named as ``python`` with ``object: "module:factory"``."""

    kind: str = "rules"
    rules: list[Rule] = Field(default_factory=list)
    default: dict[str, Any] | None = None
    """What the rules say when none matches: {label, confidence} (else no label: a person decides)."""
    object: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    timeout_ms: int = Field(default=2000, ge=1, le=60_000)
    version: str | None = None


class TierThresholds(_Model):
    auto_at: float | None = Field(default=None, ge=0, le=1)
    suggest_at: float | None = Field(default=None, ge=0, le=1)


class HardRule(_Model):
    name: str
    when: dict[str, Any]


class Policy(_Model):
    """Act alone at confidence >= ``auto_at``; suggest to a person at >= ``suggest_at``; else a
    person decides. Hard rules send an item to a person whatever the confidence."""

    auto_at: float = Field(default=0.9, ge=0, le=1)
    suggest_at: float = Field(default=0.6, ge=0, le=1)
    per_label: dict[str, TierThresholds] = Field(default_factory=dict)
    hard_rules: list[HardRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> Policy:
        if self.suggest_at > self.auto_at:
            raise ValueError(f"suggest_at ({self.suggest_at}) must not exceed auto_at ({self.auto_at})")
        return self


class Action(_Model):
    """What an automation does with a decision (after it acts, or a person accepts)."""

    kind: Literal["emit_event", "webhook", "set_attribute"]
    stream: str | None = None
    case: str | None = None
    """emit_event/set_attribute: the case id, e.g. "{ticket_id}"."""
    activity: str | None = None
    """emit_event: the activity, e.g. "Routed to {label}"."""
    resource: str | None = None
    attribute: str | None = None
    value: str | None = None
    url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=5, ge=0, le=50)
    """webhook: attempts after the first; then the delivery goes to the dead letters."""
    backoff_s: float = Field(default=1.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _needs(self) -> Action:
        need = {
            "emit_event": ("stream", "case", "activity"),
            "webhook": ("url",),
            "set_attribute": ("stream", "case", "attribute", "value"),
        }[self.kind]
        missing = [n for n in need if getattr(self, n) in (None, "")]
        if missing:
            raise ValueError(f"a {self.kind} action needs {', '.join(missing)}")
        return self


class Trigger(_Model):
    """``request`` (API/CLI), ``events`` (new events of a stream, checked after each ingest) or
    ``schedule`` (every ``every``: open cases whose last step is ``activity``, idle ``idle_for``)."""

    kind: Literal["request", "events", "schedule"] = "request"
    stream: str | None = None
    activity: str | None = None
    where: dict[str, Any] | None = None
    every: str | None = None
    idle_for: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> Trigger:
        if self.kind != "request" and not self.stream:
            raise ValueError(f"a {self.kind} trigger needs a stream")
        if self.kind == "schedule" and not self.every:
            raise ValueError("a schedule trigger needs every (e.g. every: 15m)")
        for name in ("every", "idle_for"):
            if getattr(self, name):
                seconds(getattr(self, name))
        return self


_METRICS = ("coverage", "accuracy", "override_rate", "error_rate", "latency_p99_ms", "volume")


class Criterion(_Model):
    """A success criterion: an automation figure with a bound, or a stream KPI that must not drop."""

    metric: Literal["coverage", "accuracy", "override_rate", "error_rate", "latency_p99_ms", "volume"] | None = None
    min: float | None = None
    max: float | None = None
    kpi: str | None = None
    max_drop: float | None = Field(default=None, ge=0)
    """kpi: how much worse than before (in the KPI's unit) still passes; 0 means "no drop"."""
    label: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Criterion:
        if (self.metric is None) == (self.kpi is None):
            raise ValueError(f"a criterion names either a metric ({', '.join(_METRICS)}) or a kpi")
        if self.metric is not None and self.min is None and self.max is None:
            raise ValueError(f"criterion {self.metric}: give min or max")
        if self.kpi is not None and self.max_drop is None:
            self.max_drop = 0.0
        return self


class Limits(_Model):
    """When the automation pauses itself: a rate over the last ``window`` decisions above its limit."""

    max_error_rate: float | None = Field(default=0.05, ge=0, le=1)
    max_override_rate: float | None = Field(default=0.25, ge=0, le=1)
    window: int = Field(default=50, ge=5)
    min_items: int = Field(default=20, ge=1)
    notify_webhook: str | None = None


class History(_Model):
    """Past items with known answers, for setting thresholds: a stream's cases, labelled by a
    case attribute (the input fields are read from the case attributes of the same names)."""

    stream: str
    label: str


class Automation(_Model):
    name: str
    description: str = ""
    owner: str
    labels: list[str] = Field(min_length=1)
    input: dict[str, FieldSpec] = Field(min_length=1)
    case_field: str | None = None
    """The input field holding the stream case's id (links decisions to cases for the scorecard)."""
    trigger: Trigger = Field(default_factory=Trigger)
    decider: DeciderSpec = Field(default_factory=DeciderSpec)
    policy: Policy = Field(default_factory=Policy)
    actions: list[Action] = Field(default_factory=list)
    success_criteria: list[Criterion] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    override_reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_OVERRIDE_REASONS))
    queue_sla: str = "4h"
    segments: list[str] | None = None
    """Input fields to break accuracy down by (default: those with declared values)."""
    history: History | None = None
    status: Literal["draft", "shadow", "live", "paused"] = "draft"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("lower-case letters, digits and dashes, starting with a letter or digit")
        return v

    @field_validator("queue_sla")
    @classmethod
    def _sla(cls, v: str) -> str:
        seconds(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Automation:
        problems = self._condition_problems() + self._field_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _condition_problems(self) -> list[str]:
        problems = []
        fields = self.input
        for i, rule in enumerate(self.decider.rules):
            problems += check_condition(rule.when, f"decider.rules.{i}.when", fields)
            if rule.label not in self.labels:
                problems.append(f"decider.rules.{i}.label: {rule.label!r} is not one of labels {self.labels}")
        if self.decider.default and self.decider.default.get("label") not in self.labels:
            problems.append(f"decider.default.label: must be one of labels {self.labels}")
        for i, hard in enumerate(self.policy.hard_rules):
            problems += check_condition(hard.when, f"policy.hard_rules.{i}.when", fields)
        if self.trigger.where:
            problems += check_condition(self.trigger.where, "trigger.where", fields)
        return problems

    def _field_problems(self) -> list[str]:
        problems = []
        fields = self.input
        for label in self.policy.per_label:
            if label not in self.labels:
                problems.append(f"policy.per_label.{label}: not one of labels {self.labels}")
        if self.case_field is not None and self.case_field not in fields:
            problems.append(f"case_field: {self.case_field!r} is not an input field ({', '.join(fields)})")
        for name in self.segments or []:
            if name not in fields:
                problems.append(f"segments: {name!r} is not an input field ({', '.join(fields)})")
        known = {*fields, "label", "decision_id", "automation", "confidence", "tier"}
        for i, action in enumerate(self.actions):
            for attr in ("case", "activity", "resource", "value", "url"):
                for _, used, _, _ in string.Formatter().parse(getattr(action, attr) or ""):
                    if used and used not in known:
                        problems.append(f"actions.{i}.{attr}: {{{used}}} is not a field (use {sorted(known)})")
        return problems

    @property
    def segment_fields(self) -> list[str]:
        if self.segments is not None:
            return self.segments
        return [n for n, f in self.input.items() if f.values]

    @property
    def stream(self) -> str | None:
        """The stream the automation works on: its trigger's, else its actions', else its history's."""
        if self.trigger.stream:
            return self.trigger.stream
        for action in self.actions:
            if action.stream:
                return action.stream
        return self.history.stream if self.history else None

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


def _first_problem(exc: ValidationError, source: str) -> AutomationError:
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    hint = None
    if err["type"] == "literal_error":
        hint = f"valid values: {err.get('ctx', {}).get('expected', '')}"
    elif err["type"] == "extra_forbidden":
        hint = "remove it or check its spelling (see the README's automation reference)"
    elif err["type"] == "missing":
        hint = "add it (see the README's automation reference)"
    if not field:  # a check across fields names its field at the start of the message
        m = re.match(r"^([A-Za-z0-9_.]+): ", msg)
        if m:
            return AutomationError(f"{source}: {msg}", hint=hint, field=m.group(1))
    where = f"{field}: " if field else ""
    return AutomationError(f"{source}: {where}{msg}", hint=hint, field=field or None)


def parse_automation(raw: Any, *, source: str = "automation") -> Automation:
    """Validate a definition (a mapping from YAML or JSON); errors name the field and the fix."""
    if not isinstance(raw, dict):
        raise AutomationError(f"{source}: an automation is a mapping of settings, got {type(raw).__name__}")
    try:
        return Automation.model_validate(raw)
    except ValidationError as exc:
        raise _first_problem(exc, source) from None


def automation_path(root: Path, name: str) -> Path:
    return root / "automations" / f"{name}.yaml"


def load_automation(root: Path, name: str) -> Automation:
    path = automation_path(root, name)
    if not path.is_file():
        raise AutomationNotFoundError(name, [a.name for a in list_automations(root)])
    return _load_file(path)


_CACHE: dict[Path, tuple[float, Automation]] = {}


def _load_file(path: Path) -> Automation:
    mtime = path.stat().st_mtime
    hit = _CACHE.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AutomationError(f"{path}: not valid YAML: {exc}", hint="fix the file's indentation or quoting") from None
    auto = parse_automation(raw, source=str(path))
    if auto.name != path.stem:
        raise AutomationError(
            f"{path}: name {auto.name!r} differs from the file's name", hint=f"name it {path.stem!r}", field="name"
        )
    _CACHE[path] = (mtime, auto)
    return auto


def list_automations(root: Path) -> list[Automation]:
    folder = root / "automations"
    if not folder.is_dir():
        return []
    return [_load_file(p) for p in sorted(folder.glob("*.yaml"))]


def save_automation(root: Path, auto: Automation) -> Path:
    """Write the definition to ``automations/NAME.yaml`` (atomically)."""
    path = automation_path(root, auto.name)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(auto.model_dump(mode="json", exclude_defaults=True), sort_keys=False), "utf-8")
    tmp.replace(path)
    return path
