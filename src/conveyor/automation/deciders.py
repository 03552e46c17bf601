"""The decider seam: anything with one method that takes an item and returns a label, a
confidence and an explanation (and, where it can, similar past cases).

    class MyDecider:
        version = "2026-11-01"
        def decide(self, item): return Proposal("Billing", 0.93, "mentions an invoice")

A decider that reads more than the item (e.g. the case's events so far) defines
``decide_with(item, context)`` instead: the :class:`Context` carries the workspace's store and
the time the decision is for (a replayed event's time; else now).

A decider may say ``inline = True`` when it is quick and does no I/O: it then runs in the
caller's thread (no timeout can stop it) instead of on a worker thread. This module ships the
``rules`` decider. Other kinds register a factory with
:func:`register_decider` (the trained deciders do), or are named in the YAML as
``kind: python`` with ``object: "package.module:factory"``. A factory takes the decider's spec,
the automation and the workspace folder, and returns the decider.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from conveyor.automation.conditions import describe, matches
from conveyor.automation.definitions import Automation, AutomationError, DeciderSpec

__all__ = ["DECIDERS", "Context", "Decider", "Proposal", "RulesDecider", "build_decider", "register_decider"]


@dataclass
class Proposal:
    """What a decider proposes for one item."""

    label: str | None
    confidence: float
    explanation: str
    similar: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a decider may read besides the item: the workspace's store (None where the caller has
    none) and the moment the decision is for."""

    store: Any
    at: datetime


@runtime_checkable
class Decider(Protocol):
    version: str

    def decide(self, item: Mapping[str, Any]) -> Proposal: ...


Factory = Callable[[DeciderSpec, Automation, Path], Decider]
DECIDERS: dict[str, Factory] = {}


def register_decider(kind: str, factory: Factory) -> None:
    """Make ``kind: NAME`` in an automation's decider build deciders with ``factory``."""
    DECIDERS[kind] = factory


class RulesDecider:
    """The first rule whose condition holds gives the label, its confidence and why; else the
    default (if any); else no label and confidence 0 (a person decides)."""

    inline = True  # a few condition checks: run in place, not on a worker thread (see engine)

    def __init__(self, spec: DeciderSpec) -> None:
        self.spec = spec
        digest = hashlib.sha256(json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        self.version = spec.version or f"rules-{digest[:8]}"

    def decide(self, item: Mapping[str, Any]) -> Proposal:
        for i, rule in enumerate(self.spec.rules):
            if matches(item, rule.when):
                why = rule.because or f"rule {i + 1}: {describe(rule.when, item)}"
                return Proposal(rule.label, rule.confidence, why)
        default = self.spec.default
        if default:
            return Proposal(
                str(default["label"]),
                float(default.get("confidence", 0.5)),
                str(default.get("because", "no rule matched: the default")),
            )
        return Proposal(None, 0.0, "no rule matched")


def _rules(spec: DeciderSpec, auto: Automation, root: Path) -> Decider:
    return RulesDecider(spec)


def _python(spec: DeciderSpec, auto: Automation, root: Path) -> Decider:
    if not spec.object or ":" not in spec.object:
        raise AutomationError(
            "decider.object: a python decider names its factory as 'package.module:factory'", field="decider.object"
        )
    module, _, attr = spec.object.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise AutomationError(
            f"decider.object: cannot load {spec.object!r}: {exc}",
            hint="the module must be importable by the server and the CLI",
            field="decider.object",
        ) from None
    decider = factory(spec, auto, root)
    if not isinstance(decider, Decider):
        raise AutomationError(
            f"decider.object: {spec.object!r} returned {type(decider).__name__}, which has no decide() and version",
            field="decider.object",
        )
    return decider


#: kinds shipped in other conveyor packages, imported on first use (scikit-learn loads only then)
_PLUGINS = {
    "triage": "conveyor.decide.deciders",
    "invoice_check": "conveyor.decide.deciders",
    "sla_risk": "conveyor.decide.deciders",
}

register_decider("rules", _rules)
register_decider("python", _python)


def build_decider(auto: Automation, root: Path) -> Decider:
    """The automation's decider (``kind`` looked up in :data:`DECIDERS`)."""
    if auto.decider.kind not in DECIDERS and auto.decider.kind in _PLUGINS:
        importlib.import_module(_PLUGINS[auto.decider.kind])  # registers itself
    factory = DECIDERS.get(auto.decider.kind)
    if factory is None:
        raise AutomationError(
            f"decider.kind: unknown decider {auto.decider.kind!r}",
            hint=f"valid values: {', '.join(sorted(set(DECIDERS) | set(_PLUGINS)))}",
            field="decider.kind",
        )
    return factory(auto.decider, auto, root)
