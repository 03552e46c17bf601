"""KPI definitions and cost settings: one YAML file per stream, ``metrics/STREAM.yaml`` in the workspace.

```yaml
costs:                        # every field optional; the defaults are stated in Costs
  currency: EUR
  hourly_rate: 40             # per person-hour, for anyone without a rate of their own
  hourly_rates: {credit-01: 55}
  activity_costs: {Ship Goods: 12.5}   # a fixed cost per execution (postage, fees)
  handling_minutes: 10        # work per step where the log has no start events to measure it
  handling_minutes_by_activity: {Check Credit: 20}
  delay_cost_per_case_hour: 0.25
  automation_resources: "(?i)bot|system|engine|auto|rpa"
  external_resources: "(?i)customer|bank|carrier|supplier|vendor|portal|email|phone"
  external_waits: [Receive Goods]      # waits before these steps are someone else's clock
include_defaults: true        # keep the default KPIs beside these
kpis:
  - name: order_to_ship
    kind: cycle_time          # from the first FROM to the first TO after it
    from: Create Order        # an activity, or "case start"
    to: Ship Goods            # an activity, or "case end"
    stat: median              # median | mean | p90
    target: 3d
  - {name: on_time_delivery, kind: on_time_rate, deadline: promised_delivery, end: Deliver Goods, target: 0.9}
  - {name: sla_met, kind: on_time_rate, sla_by: priority, sla: {P1: 4h, P2: 8h}, target: 95%}
  - {name: first_time_right, kind: first_time_right, target: 0.85}
  - {name: orders_per_period, kind: throughput, direction: higher}
  - {name: open_orders, kind: backlog}
  - {name: cost_per_order, kind: cost_per_case, target: 25}
  - {name: automated_share, kind: automation_coverage, target: 0.3}
  - {name: rejections, kind: exception_rate, activities: [Reject Order], target: 0.05}
```

Every KPI has a ``target`` (optional; durations as ``"3d"``, shares as ``0.9`` or ``"90%"``) and
a ``direction`` (``lower`` or ``higher`` is better; each kind has the natural default).
:func:`validate_against` checks the names against the stream and lists the valid ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from conveyor.errors import ConveyorError
from conveyor.mining.filters import parse_duration

__all__ = [
    "CASE_END",
    "CASE_START",
    "Costs",
    "KpiDef",
    "MetricsError",
    "StreamMetrics",
    "default_kpis",
    "load_metrics",
    "metrics_path",
]

CASE_START = "case start"
CASE_END = "case end"
Direction = Literal["lower", "higher"]
KINDS = (
    "cycle_time",
    "on_time_rate",
    "first_time_right",
    "rework_rate",
    "throughput",
    "backlog",
    "cost_per_case",
    "automation_coverage",
    "exception_rate",
)


class MetricsError(ConveyorError, ValueError):
    """A KPI definition file that cannot be read, or a definition naming what the stream lacks."""


def _number(value: object, *, duration: bool = False) -> float | None:
    """A target: a number, ``"90%"`` or (``duration``) ``"3d"``."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    text = str(value).strip()
    if text.endswith("%"):
        return float(text[:-1]) / 100
    if duration:
        return parse_duration(text)
    return float(text)


class Costs(BaseModel):
    """What time and work cost: read by ``cost_per_case`` and by the opportunity ranking."""

    model_config = ConfigDict(extra="forbid")
    currency: str = "EUR"
    hourly_rate: float = Field(default=40.0, ge=0)
    hourly_rates: dict[str, float] = Field(default_factory=dict)
    activity_costs: dict[str, float] = Field(default_factory=dict)
    handling_minutes: float = Field(default=10.0, ge=0)
    handling_minutes_by_activity: dict[str, float] = Field(default_factory=dict)
    delay_cost_per_case_hour: float = Field(default=0.25, ge=0)
    automation_resources: str = r"(?i)\b(bot|system|engine|auto\w*|rpa|robot)\b|-engine$"
    external_resources: str = r"(?i)customer|client|bank|carrier|courier|supplier|vendor|portal|^email$|^phone$"
    external_waits: list[str] = Field(default_factory=list)

    @field_validator("automation_resources", "external_resources")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class _Kpi(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    label: str | None = None
    target: float | None = None
    direction: Direction = "lower"

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, v: object) -> float | None:
        return _number(v)

    def activities_used(self) -> list[str]:
        return []

    def attributes_used(self) -> list[str]:
        return []


class CycleTime(_Kpi):
    kind: Literal["cycle_time"]
    from_: str = Field(CASE_START, alias="from")
    to: str = CASE_END
    stat: Literal["median", "mean", "p90"] = "median"

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, v: object) -> float | None:
        return _number(v, duration=True)

    def activities_used(self) -> list[str]:
        return [a for a in (self.from_, self.to) if a not in (CASE_START, CASE_END)]


class OnTimeRate(_Kpi):
    kind: Literal["on_time_rate"]
    direction: Direction = "higher"
    deadline: str | None = None
    sla_by: str | None = None
    sla: dict[str, float] = Field(default_factory=dict)
    end: str = CASE_END

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, v: object) -> dict[str, float]:
        if not isinstance(v, dict):
            raise ValueError("sla must map attribute values to durations, e.g. {P1: 4h, P2: 8h}")
        return {str(k): parse_duration(x) for k, x in v.items()}

    def model_post_init(self, _: Any) -> None:
        if (self.deadline is None) == (self.sla_by is None):
            raise ValueError("give either deadline (a case attribute holding the due time) or sla_by with sla")
        if self.sla_by is not None and not self.sla:
            raise ValueError("sla_by needs sla: a duration per attribute value, e.g. {P1: 4h}")

    def activities_used(self) -> list[str]:
        return [] if self.end == CASE_END else [self.end]

    def attributes_used(self) -> list[str]:
        return [a for a in (self.deadline, self.sla_by) if a]


class FirstTimeRight(_Kpi):
    kind: Literal["first_time_right"]
    direction: Direction = "higher"
    activities: list[str] = Field(default_factory=list)

    def activities_used(self) -> list[str]:
        return list(self.activities)


class ReworkRate(_Kpi):
    kind: Literal["rework_rate"]
    activities: list[str] = Field(default_factory=list)

    def activities_used(self) -> list[str]:
        return list(self.activities)


class Throughput(_Kpi):
    kind: Literal["throughput"]
    direction: Direction = "higher"


class Backlog(_Kpi):
    kind: Literal["backlog"]


class CostPerCase(_Kpi):
    kind: Literal["cost_per_case"]


class AutomationCoverage(_Kpi):
    kind: Literal["automation_coverage"]
    direction: Direction = "higher"
    resources: str | None = None

    @field_validator("resources")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return None if v is None else Costs._regex(v)


class ExceptionRate(_Kpi):
    kind: Literal["exception_rate"]
    activities: list[str] = Field(min_length=1)

    def activities_used(self) -> list[str]:
        return list(self.activities)


KpiDef = Annotated[
    CycleTime
    | OnTimeRate
    | FirstTimeRight
    | ReworkRate
    | Throughput
    | Backlog
    | CostPerCase
    | AutomationCoverage
    | ExceptionRate,
    Field(discriminator="kind"),
]
_KPIS: TypeAdapter[list[KpiDef]] = TypeAdapter(list[KpiDef])


def _default_costs() -> Costs:
    return Costs()


class StreamMetrics(BaseModel):
    """One stream's KPI definitions and cost settings."""

    model_config = ConfigDict(extra="forbid")
    costs: Costs = Field(default_factory=_default_costs)
    include_defaults: bool = True
    kpis: list[KpiDef] = Field(default_factory=list)

    def all_kpis(self) -> list[KpiDef]:
        """The declared KPIs, after the defaults they do not replace (by name)."""
        mine = {k.name for k in self.kpis}
        defaults = [k for k in default_kpis() if k.name not in mine] if self.include_defaults else []
        return [*defaults, *self.kpis]


def default_kpis() -> list[KpiDef]:
    """What every stream gets without any YAML (no targets: nobody has set one)."""
    return _KPIS.validate_python(
        [
            {"name": "cycle_time_median", "kind": "cycle_time", "label": "Median cycle time"},
            {"name": "cycle_time_p90", "kind": "cycle_time", "stat": "p90", "label": "Cycle time, 90th percentile"},
            {"name": "rework_rate", "kind": "rework_rate", "label": "Cases with rework"},
            {"name": "throughput", "kind": "throughput", "label": "Cases completed"},
            {"name": "backlog", "kind": "backlog", "label": "Open cases (end of period)"},
            {"name": "cost_per_case", "kind": "cost_per_case", "label": "Cost per case"},
            {"name": "automation_coverage", "kind": "automation_coverage", "label": "Steps done by automations"},
        ]
    )


def metrics_path(root: Path, stream: str) -> Path:
    return root / "metrics" / f"{stream}.yaml"


def load_metrics(root: Path | None, stream: str) -> StreamMetrics:
    """The stream's definitions from ``ROOT/metrics/STREAM.yaml``, or the defaults without one."""
    if root is None or not metrics_path(root, stream).is_file():
        return StreamMetrics()
    return parse_metrics(metrics_path(root, stream))


def parse_metrics(path: Path) -> StreamMetrics:
    """Read and validate one definition file; errors name the KPI and the field."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise MetricsError(f"{path}: not valid YAML: {exc}", hint="check the indentation and quoting") from exc
    if not isinstance(raw, dict):
        raise MetricsError(f"{path}: expected a mapping with 'kpis:' and 'costs:'", hint="see the README's KPI section")
    try:
        return StreamMetrics.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = "file"
        if loc[:1] == ["kpis"] and len(loc) > 1 and isinstance(loc[1], int):
            kpis = raw.get("kpis") or []
            item = kpis[loc[1]] if loc[1] < len(kpis) else {}
            name = item.get("name") if isinstance(item, dict) else None
            where = f"KPI {loc[1] + 1}" + (f" ({name})" if name else "")
            loc = [x for x in loc[2:] if x not in KINDS]
        field = ".".join(str(x) for x in loc)
        hint = f"kinds: {', '.join(KINDS)}" if "discriminator" in err["type"] or "union_tag" in err["type"] else None
        raise MetricsError(
            f"{path}: {where}{' field ' + repr(field) if field else ''}: {err['msg']} (got {err.get('input')!r})",
            hint=hint or "see the README's KPI section for every kind and field",
        ) from exc
