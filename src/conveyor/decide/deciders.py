"""Trained models and invoice checks as automation deciders: ``kind: triage`` (below),
``kind: sla_risk`` (:class:`RiskDecider`) and ``kind: invoice_check`` (:class:`InvoiceDecider`)
in an automation's YAML.

    decider:
      kind: triage
      options: {model: ticket-triage}      # version: 3 pins one; else the newest
      timeout_ms: 2000

The item's fields are read by the names the model was trained on (its text and categorical
columns). A label the automation does not list, or an item with nothing to read, gives no
label and confidence 0: a person decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.automation.deciders import Context, Decider, Proposal, register_decider
from conveyor.automation.definitions import Automation, AutomationError, DeciderSpec
from conveyor.decide import DecideError, registry
from conveyor.decide.triage import TriageModel, explain

__all__ = ["InvoiceDecider", "RiskDecider", "TriageDecider"]


class TriageDecider:
    """A trained triage model behind the decider seam; the newest version unless pinned."""

    def __init__(self, root: Path, model: str, *, version: int | None, labels: list[str], similar: int = 3) -> None:
        self.root, self.model, self.pinned, self.labels, self.k = root, model, version, labels, similar
        self._model: TriageModel
        _ = self.version  # fail now (a clear error at build time), not on the first item

    @property
    def version(self) -> str:
        """The version that decides next: the engine reads it before each decision, so a newly
        trained version takes over from the next item, and the audit names the one that decided."""
        self._model, card = registry.load(self.root, self.model, self.pinned)
        return f"{self.model}-v{card['version']}"

    def decide(self, item: Mapping[str, Any]) -> Proposal:
        model = self._model
        pred = model.predict([item], explain=5)[0]
        if pred.label is None:
            return Proposal(None, 0.0, "nothing to read: the item's text fields are empty")
        similar = model.similar(item, k=self.k)
        why = explain(pred, similar, model.label)
        if self.labels and pred.label not in self.labels:
            return Proposal(
                None, 0.0, f"the model proposed {pred.label!r}, which this automation does not list; {why}", similar
            )
        return Proposal(pred.label, pred.confidence, why, similar)


def _triage(spec: DeciderSpec, auto: Automation, root: Path) -> Decider:
    name = spec.options.get("model")
    if not name:
        raise AutomationError(
            "decider.options.model: a triage decider names its model",
            hint="e.g. options: {model: ticket-triage}",
            field="decider.options.model",
        )
    try:
        kind = registry.card(root, str(name), spec.options.get("version")).get("kind", "triage")
        if kind != "triage":
            raise DecideError(
                f"model {name!r} is a {kind} model, not a triage model",
                hint="kind: sla_risk reads risk models" if kind == "risk" else None,
            )
        return TriageDecider(  # type: ignore[return-value]  # version is a property (the newest model)
            root,
            str(name),
            version=spec.options.get("version"),
            labels=list(auto.labels),
            similar=int(spec.options.get("similar", 3)),
        )
    except DecideError as exc:
        raise AutomationError(
            f"decider.options.model: {exc.message}", hint=exc.hint, field="decider.options.model"
        ) from None


register_decider("triage", _triage)


class InvoiceDecider:
    """``kind: invoice_check``: the invoice checks (:mod:`conveyor.decide.invoices`) on document
    files, looked up by the item's order number. ``hold`` when any invoice of the order fails a
    check that stops payment; ``release`` when every check passed; a person otherwise (no label).

        decider:
          kind: invoice_check
          options:
            orders: sources/purchase_orders.parquet     # relative to the workspace
            receipts: sources/goods_receipts.parquet
            invoices: sources/invoices.parquet
            match: po_number                            # the item's field (default: case_field)
            tolerances: {price: 0.02}

    The files are read again when they change."""

    def __init__(self, root: Path, options: Mapping[str, Any], match: str, labels: list[str]) -> None:
        from conveyor.decide.invoices import Tolerances

        self.root, self.match, self.labels = root, match, labels
        self.paths = {}
        for kind in ("orders", "receipts", "invoices"):
            if not options.get(kind):
                raise DecideError(f"an invoice_check decider names its {kind} file", hint=f"options: {{{kind}: FILE}}")
            path = Path(str(options[kind]))
            self.paths[kind] = path if path.is_absolute() else root / path
        self.tolerances = Tolerances.parse(options.get("tolerances"))
        self._stamp: tuple[float, ...] | None = None
        self._by_po: dict[str, list[dict[str, Any]]] = {}
        self._load()

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        from conveyor.data.store import Store
        from conveyor.decide.invoices import check_documents
        from conveyor.decide.rows import read_table

        missing = [str(p) for p in self.paths.values() if not p.is_file()]
        if missing:
            raise DecideError(
                f"no file {', '.join(missing)}", hint="the invoice_check decider's options name its files"
            )
        stamp = tuple(p.stat().st_mtime for p in self.paths.values())
        if stamp != self._stamp:
            with Store(":memory:") as store:
                tables = [read_table(store, str(p))[0] for p in self.paths.values()]
            result = check_documents(
                *tables,
                tolerances=self.tolerances,
                sources=tuple(str(p) for p in self.paths.values()),  # type: ignore[arg-type]
            )
            by_po: dict[str, list[dict[str, Any]]] = {}
            for inv in result["invoices"]:
                by_po.setdefault(str(inv["po_number"]), []).append(inv)
            self._by_po, self._stamp = by_po, stamp
        return self._by_po

    @property
    def version(self) -> str:
        return f"invoice-check-{int(max(self._stamp or (0,)))}"

    def decide(self, item: Mapping[str, Any]) -> Proposal:
        po = item.get(self.match)
        invoices = self._load().get(str(po), []) if po is not None else []
        if not invoices:
            return Proposal(None, 0.0, f"no invoice for order {po!r} in {self.paths['invoices'].name}: a person looks")
        flags = [f for inv in invoices for f in inv["flags"]]
        similar = [
            {"invoice": inv["invoice_number"], "amount": inv["amount"], "decision": inv["decision"]} for inv in invoices
        ]
        if any(inv["decision"] == "hold" for inv in invoices):
            label, confidence = "hold", 0.97
        elif flags:
            return Proposal(None, 0.0, "; ".join(f["reason"] for f in flags), similar)
        else:
            label, confidence = "release", 0.99
        numbers = ", ".join(inv["invoice_number"] for inv in invoices)
        why = "; ".join(f["reason"] for f in flags) or (
            f"invoice {numbers} matches order {po} and the goods received, and duplicates no other invoice"
        )
        if self.labels and label not in self.labels:
            return Proposal(None, 0.0, f"the checks say {label}, which this automation does not list; {why}", similar)
        return Proposal(label, confidence, why, similar)


def _invoice_check(spec: DeciderSpec, auto: Automation, root: Path) -> Decider:
    match = spec.options.get("match") or auto.case_field
    if not match:
        raise AutomationError(
            "decider.options.match: name the item's field holding the order number (or set case_field)",
            field="decider.options.match",
        )
    try:
        return InvoiceDecider(root, spec.options, str(match), list(auto.labels))  # type: ignore[return-value]
    except DecideError as exc:
        raise AutomationError(f"decider.options: {exc.message}", hint=exc.hint, field="decider.options") from None


register_decider("invoice_check", _invoice_check)


class RiskDecider:
    """``kind: sla_risk``: a saved SLA risk model (``conveyor risk STREAM --save NAME``) judges the
    item's case from its events so far, at the time of the decision (a replayed event's time, else
    now; never before the case's last event).

        decider:
          kind: sla_risk
          options: {model: ticket-sla, at_risk: escalate, on_track: leave}   # labels; these defaults:
                                                                            # at_risk, on_track

    The item's ``case_field`` names the case. Breach probability p of at least ``threshold``
    (default 0.5) gives the at-risk label with confidence p, below it the on-track label with
    1 - p; a closed case gets on-track with confidence 1 (nothing left to act on)."""

    def __init__(self, root: Path, options: Mapping[str, Any], case_field: str, labels: list[str]) -> None:
        from conveyor.decide.risk import RiskModel, risk_model

        self.root, self.name, self.pinned = root, str(options["model"]), options.get("version")
        self.case_field = case_field
        self.at_risk = str(options.get("at_risk", "at_risk"))
        self.on_track = str(options.get("on_track", "on_track"))
        self.threshold = float(options.get("threshold", 0.5))
        missing = [x for x in (self.at_risk, self.on_track) if labels and x not in labels]
        if missing:
            raise DecideError(
                f"label {missing[0]!r} is not one of the automation's labels ({', '.join(labels)})",
                hint="options at_risk and on_track name the labels to give",
            )
        self._model: RiskModel
        self._model, _ = risk_model(root, self.name, self.pinned)
        _ = self.version

    @property
    def version(self) -> str:
        from conveyor.decide.risk import risk_model

        self._model, card = risk_model(self.root, self.name, self.pinned)
        return f"{self.name}-v{card['version']}"

    def decide(self, item: Mapping[str, Any]) -> Proposal:
        return Proposal(None, 0.0, "an SLA risk decider reads the case's events: it needs the workspace's store")

    def decide_with(self, item: Mapping[str, Any], context: Context) -> Proposal:
        if context.store is None:
            return self.decide(item)
        case_id = item.get(self.case_field)
        if case_id is None:
            return Proposal(None, 0.0, f"the item has no {self.case_field!r}: which case is it?")
        model = self._model
        r = model.case(context.store, str(case_id), as_of=context.at.timestamp())
        if r is None:
            return Proposal(None, 0.0, f"stream {model.stream!r} has no case {case_id!r}")
        if r["closed"]:
            met = "missed" if r["breached"] else "met"
            return Proposal(self.on_track, 1.0, f"case {case_id} closed {r['ended'][:16]}: it {met} its deadline")
        p = r.get("breach_probability")
        if p is None:
            return Proposal(None, 0.0, f"case {case_id}: {r.get('note', 'no deadline')}")
        rem = r["expected_remaining_hours"]
        left = r["hours_to_deadline"]
        why = (
            f"{p:.0%} chance of missing its deadline ({r['deadline'][:16]}, "
            + (f"{-left:.1f} h ago" if left < 0 else f"{left:.1f} h left")
            + f"): {r['elapsed_hours']:.1f} h since it opened, last step {r['last_activity'] or '-'}"
            + (f", about {rem:.1f} h of work expected still" if rem is not None else "")
        )
        if p >= self.threshold:
            return Proposal(self.at_risk, p, why)
        return Proposal(self.on_track, 1.0 - p, why)


def _sla_risk(spec: DeciderSpec, auto: Automation, root: Path) -> Decider:
    if not spec.options.get("model"):
        raise AutomationError(
            "decider.options.model: an sla_risk decider names its risk model",
            hint="save one with `conveyor risk STREAM --target 3d --save NAME`",
            field="decider.options.model",
        )
    if not auto.case_field:
        raise AutomationError(
            "case_field: an sla_risk decider needs the item's case (set case_field)", field="case_field"
        )
    try:
        return RiskDecider(root, spec.options, auto.case_field, list(auto.labels))  # type: ignore[return-value]
    except DecideError as exc:
        raise AutomationError(f"decider.options: {exc.message}", hint=exc.hint, field="decider.options") from None


register_decider("sla_risk", _sla_risk)
