"""Invoice checks for procure-to-pay: three-way match, duplicate invoices, unusual amounts.

Each invoice gets a decision and the flags behind it, every flag with its reason and the documents
it rests on:

- ``release``: every check passed: pay it.
- ``hold``: a check failed that a payment must wait for (the price or quantity does not match the
  order or the goods received, nothing was received yet, or it duplicates an invoice already in).
- ``person``: something a person should look at (no order to match, a possible duplicate whose
  number only looks alike, an amount unusual for the vendor, a value that cannot be read).

Two inputs are supported. :func:`check_documents` takes the documents themselves (purchase order
lines, goods receipts, invoices; files or workspace datasets). :func:`check_log` takes an event log
with only activities and timestamps (as ``bpic2019``) and checks the order of its steps: invoices
booked before the goods arrived, price changes after the order, payments with no invoice.

Duplicates are found per vendor among invoices with amounts within ``duplicate_amount`` and dates
within ``duplicate_days``: the same number once case, spaces, punctuation and leading zeros are
set aside is a duplicate (hold); a number that only looks alike (one typo apart, two digits
swapped counting as one, or RapidFuzz's ratio at least ``similar_number`` on what follows the
prefix both share) is a possible duplicate (person). The later
invoice is the one flagged; the earlier is named as its document.

Unusual amounts: an invoice whose amount is more than ``unusual_z`` robust standard deviations
(median and median absolute deviation of the log amounts) from the vendor's usual, when the
vendor has at least ``min_history`` invoices.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from conveyor.decide import DecideError

__all__ = [
    "HOLD_CHECKS",
    "INVOICE_COLUMNS",
    "ORDER_COLUMNS",
    "RECEIPT_COLUMNS",
    "LogActivities",
    "Tolerances",
    "check_documents",
    "check_log",
    "normalize_number",
]


@dataclass(frozen=True)
class Tolerances:
    price: float = 0.02
    """relative: an invoiced unit price within ±2% of the order's passes"""
    quantity: float = 0.0
    """relative: how much more than received may be invoiced"""
    duplicate_days: int = 30
    duplicate_amount: float = 0.01
    """relative difference of amounts still taken as the same amount"""
    similar_number: float = 85.0
    """RapidFuzz ratio (0-100) of two normalized invoice numbers that look alike"""
    unusual_z: float = 3.5
    min_history: int = 8

    @classmethod
    def parse(cls, values: Mapping[str, Any] | None) -> Tolerances:
        """From ``{"price": 0.05, ...}``; an unknown name or a negative value is a clear error."""
        known = {f: type(getattr(cls(), f)) for f in cls.__dataclass_fields__}
        out: dict[str, Any] = {}
        for name, value in (values or {}).items():
            if name not in known:
                raise DecideError(f"no tolerance {name!r}", hint=f"tolerances: {', '.join(known)}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise DecideError(f"tolerance {name}: {value!r} is not a number") from None
            if number < 0 or math.isnan(number):
                raise DecideError(f"tolerance {name}: {value!r} must be zero or more")
            out[name] = known[name](number)
        return cls(**out)


#: (required, optional) columns of each document table; names are matched ignoring case, spaces
#: and dashes.
ORDER_COLUMNS = (("po_number", "vendor", "quantity", "unit_price"), ("po_line",))
RECEIPT_COLUMNS = (("po_number", "quantity"), ("po_line", "receipt_id", "received_at"))
INVOICE_COLUMNS = (
    ("invoice_number", "vendor", "invoice_date", "amount"),
    ("invoice_id", "po_number", "po_line", "quantity", "unit_price"),
)

#: Checks whose failure holds the payment; the others send the invoice to a person.
HOLD_CHECKS = ("duplicate", "price_mismatch", "quantity_mismatch", "not_received")
#: The order flags are listed in: the strongest reason first.
_ORDER = (*HOLD_CHECKS, "possible_duplicate", "no_order", "unusual_amount", "paid_without_invoice", "unreadable")


def normalize_number(number: str) -> str:
    """An invoice number with case, spaces, punctuation and leading zeros of digit runs set aside:
    ``"inv 0042/A"`` and ``"INV-42A"`` are the same number."""
    text = re.sub(r"(?<![0-9])0+(?=[0-9])", "", number.upper())
    return re.sub(r"[^0-9A-Z]", "", text)


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _columns(
    rows: Sequence[Mapping[str, Any]], spec: tuple[tuple[str, ...], tuple[str, ...]], source: str
) -> dict[str, str]:
    """Map our column names to the table's; a clear error naming what is missing."""
    found = list(rows[0]) if rows else []
    by_key = {_key(c): c for c in found}
    required, optional = spec
    missing = [c for c in required if c not in by_key]
    if missing:
        raise DecideError(
            f"{source}: no column {', '.join(missing)} (it has {', '.join(found) or 'no rows'})",
            hint=f"name the columns {', '.join(required)} (optional: {', '.join(optional)}); case, spaces and "
            "dashes do not matter",
        )
    return {c: by_key[c] for c in (*required, *optional) if c in by_key}


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(",", "") if "." in str(value) else str(value).strip().replace(",", ".")
    return float(text)


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value).strip()).date()


@dataclass
class _Invoice:
    row: int
    invoice_id: str
    number: str
    vendor: str
    po_number: str | None
    po_line: str | None
    day: date | None
    amount: float | None
    quantity: float | None
    unit_price: float | None
    flags: list[dict[str, Any]] = field(default_factory=list)

    def flag(self, check: str, reason: str, documents: list[str]) -> None:
        self.flags.append({"check": check, "reason": reason, "documents": documents})


def _read_invoices(rows: Sequence[Mapping[str, Any]], source: str) -> list[_Invoice]:
    cols = _columns(rows, INVOICE_COLUMNS, source)
    out = []
    for i, row in enumerate(rows, start=1):
        get = {k: row.get(c) for k, c in cols.items()}
        number = str(get["invoice_number"] or "").strip()
        inv = _Invoice(
            row=i,
            invoice_id=str(get.get("invoice_id") or number or f"row {i}"),
            number=number,
            vendor=str(get["vendor"] or "").strip(),
            po_number=(str(get["po_number"]).strip() or None) if get.get("po_number") is not None else None,
            po_line=str(get["po_line"]).strip() if get.get("po_line") not in (None, "") else None,
            day=None,
            amount=None,
            quantity=None,
            unit_price=None,
        )
        for name, parse in (
            ("invoice_date", _date),
            ("amount", _number),
            ("quantity", _number),
            ("unit_price", _number),
        ):
            if name not in cols:
                continue
            try:
                value = parse(get[name])
            except ValueError:
                inv.flag(
                    "unreadable",
                    f"{source}, row {i}, column {cols[name]}: {get[name]!r} is not a "
                    f"{'date' if name == 'invoice_date' else 'number'}; correct it and check again",
                    [inv.invoice_id],
                )
                continue
            setattr(inv, "day" if name == "invoice_date" else name, value)
        if inv.amount is None and inv.quantity is not None and inv.unit_price is not None:
            inv.amount = round(inv.quantity * inv.unit_price, 2)
        for name, text in (("invoice_number", number), ("vendor", inv.vendor)):
            if not text:
                inv.flag("unreadable", f"{source}, row {i}: no {cols[name]}", [inv.invoice_id])
        out.append(inv)
    return out


@dataclass
class _Line:
    po_number: str
    po_line: str | None
    vendor: str
    quantity: float
    unit_price: float
    received: float = 0.0
    receipts: list[str] = field(default_factory=list)
    invoiced: float = 0.0


def _read_orders(
    orders: Sequence[Mapping[str, Any]], receipts: Sequence[Mapping[str, Any]], sources: tuple[str, str]
) -> dict[str, list[_Line]]:
    """Order lines by PO number, with what was received on each."""
    cols = _columns(orders, ORDER_COLUMNS, sources[0])
    by_po: dict[str, list[_Line]] = defaultdict(list)
    for i, row in enumerate(orders, start=1):
        try:
            qty, price = _number(row[cols["quantity"]]), _number(row[cols["unit_price"]])
        except ValueError:
            raise DecideError(
                f"{sources[0]}, row {i}: quantity {row[cols['quantity']]!r} or unit price "
                f"{row[cols['unit_price']]!r} is not a number",
                hint="correct the order line; every invoice on it is checked against these",
            ) from None
        po = str(row[cols["po_number"]]).strip()
        line = str(row[cols["po_line"]]).strip() if "po_line" in cols and row[cols["po_line"]] is not None else None
        by_po[po].append(_Line(po, line, str(row[cols["vendor"]] or ""), qty or 0.0, price or 0.0))
    rcols = _columns(receipts, RECEIPT_COLUMNS, sources[1]) if receipts else {}
    for i, row in enumerate(receipts, start=1):
        po = str(row[rcols["po_number"]]).strip()
        lines = by_po.get(po)
        if not lines:
            continue  # goods received against an order we were not given: nothing to match here
        line_no = str(row[rcols["po_line"]]).strip() if "po_line" in rcols else None
        target = next((ln for ln in lines if line_no is None or ln.po_line in (None, line_no)), lines[0])
        try:
            target.received += _number(row[rcols["quantity"]]) or 0.0
        except ValueError:
            raise DecideError(
                f"{sources[1]}, row {i}, column {rcols['quantity']}: {row[rcols['quantity']]!r} is not a number",
                hint="correct the goods receipt",
            ) from None
        rid = row.get(rcols["receipt_id"]) if "receipt_id" in rcols else None
        target.receipts.append(str(rid) if rid is not None else f"receipt row {i}")
    return by_po


def _fmt(x: float) -> str:
    return f"{x:,.2f}" if x != int(x) else f"{int(x):,}"


def _three_way(inv: _Invoice, by_po: Mapping[str, list[_Line]], tol: Tolerances) -> None:
    if inv.po_number is None or inv.po_number not in by_po:
        said = (
            f"names order {inv.po_number}, which is not among the purchase orders"
            if inv.po_number
            else "names no purchase order"
        )
        inv.flag("no_order", f"invoice {inv.number} {said}: a person matches it", [inv.invoice_id])
        return
    lines = by_po[inv.po_number]
    line = next((ln for ln in lines if ln.po_line == inv.po_line), None) if inv.po_line else None
    if line is None and len(lines) == 1:
        line = lines[0]
    docs = [inv.invoice_id, inv.po_number]
    if line is None:  # several lines and the invoice names none: compare amounts for the whole order
        received_value = sum(ln.received * ln.unit_price for ln in lines)
        receipts = [r for ln in lines for r in ln.receipts]
        if not receipts:
            inv.flag("not_received", f"nothing received yet on order {inv.po_number}: hold until it is", docs)
        elif inv.amount is not None and inv.amount > received_value * (1 + tol.price) + 0.005:
            inv.flag(
                "price_mismatch",
                f"invoiced {_fmt(inv.amount)} for order {inv.po_number}, whose received goods are worth "
                f"{_fmt(received_value)} at the ordered prices (tolerance {tol.price:.0%})",
                docs + receipts,
            )
        return
    price = inv.unit_price
    if price is None and inv.amount is not None and inv.quantity:
        price = inv.amount / inv.quantity
    quantity = inv.quantity
    if quantity is None and inv.amount is not None and line.unit_price:
        quantity = inv.amount / line.unit_price
    if price is not None and line.unit_price and abs(price - line.unit_price) > tol.price * line.unit_price + 1e-9:
        change = price / line.unit_price - 1
        inv.flag(
            "price_mismatch",
            f"invoiced at {_fmt(price)} a unit; order {inv.po_number} says {_fmt(line.unit_price)} "
            f"({change:+.1%}, tolerance ±{tol.price:.0%})",
            docs,
        )
    if not line.receipts:
        inv.flag("not_received", f"nothing received yet on order {inv.po_number}: hold until it is", docs)
        return
    if quantity is not None:
        line.invoiced += quantity
        if line.invoiced > line.received * (1 + tol.quantity) + 1e-9:
            earlier = line.invoiced - quantity
            inv.flag(
                "quantity_mismatch",
                f"invoiced {_fmt(quantity)} units"
                + (f" (after {_fmt(earlier)} invoiced before)" if earlier else "")
                + f"; {_fmt(line.received)} received on order {inv.po_number}",
                docs + line.receipts,
            )


def _alike(a: str, b: str, ratio: Any) -> float:
    """How alike two numbers are once the prefix they share is set aside (``F2025/00980`` and
    ``F2025/00807`` share the year, not the number)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return float(ratio(a[n:], b[n:]))


def _duplicates(invoices: list[_Invoice], tol: Tolerances) -> None:
    from rapidfuzz import fuzz
    from rapidfuzz.distance import OSA

    by_vendor: dict[str, list[_Invoice]] = defaultdict(list)
    for inv in invoices:
        if inv.amount is not None and inv.number and inv.vendor:
            by_vendor[inv.vendor].append(inv)
    for group in by_vendor.values():
        group.sort(key=lambda v: (v.amount or 0.0, v.row))
        for i, a in enumerate(group):
            assert a.amount is not None
            for b in group[i + 1 :]:
                assert b.amount is not None
                if b.amount - a.amount > tol.duplicate_amount * max(abs(a.amount), 0.01):
                    break
                if a.day is not None and b.day is not None and abs((b.day - a.day).days) > tol.duplicate_days:
                    continue
                first, later = sorted((a, b), key=lambda v: (v.day or date.min, v.row))
                na, nb = normalize_number(first.number), normalize_number(later.number)
                same = f"{later.vendor}, {_fmt(later.amount or 0)} against {_fmt(first.amount or 0)}"
                when = f"{(later.day - first.day).days} days later" if later.day and first.day else "undated"
                if na == nb:
                    later.flag(
                        "duplicate",
                        f"invoice {later.number} repeats {first.number} ({same}, {when}): hold, do not pay twice",
                        [later.invoice_id, first.invoice_id],
                    )
                elif (typo := OSA.distance(na, nb) == 1) or _alike(na, nb, fuzz.ratio) >= tol.similar_number:
                    alike = "one typo apart" if typo else f"similarity {_alike(na, nb, fuzz.ratio):.0f}/100"
                    later.flag(
                        "possible_duplicate",
                        f"invoice {later.number} looks like {first.number} ({alike}; {same}, "
                        f"{when}): a person checks it is not the same invoice",
                        [later.invoice_id, first.invoice_id],
                    )


def _unusual(invoices: list[_Invoice], tol: Tolerances) -> None:
    import numpy as np

    by_vendor: dict[str, list[_Invoice]] = defaultdict(list)
    for inv in invoices:
        if inv.amount is not None and inv.amount > 0 and inv.vendor:
            by_vendor[inv.vendor].append(inv)
    for vendor, group in by_vendor.items():
        if len(group) < tol.min_history:
            continue
        logs = np.log([v.amount or 1.0 for v in group])
        median = float(np.median(logs))
        mad = float(np.median(np.abs(logs - median)))
        if mad == 0:
            continue
        for inv, x in zip(group, logs, strict=True):
            z = 0.6745 * (x - median) / mad
            if abs(z) > tol.unusual_z:
                usual = math.exp(median)
                inv.flag(
                    "unusual_amount",
                    f"{_fmt(inv.amount or 0)} is {inv.amount / usual:.1f}x {vendor}'s usual {_fmt(usual)} "  # type: ignore[operator]
                    f"(robust z {z:+.1f}, from {len(group)} invoices)",
                    [inv.invoice_id],
                )


def _decision(flags: list[dict[str, Any]]) -> str:
    if any(f["check"] in HOLD_CHECKS for f in flags):
        return "hold"
    return "person" if flags else "release"


def check_documents(
    orders: Sequence[Mapping[str, Any]],
    receipts: Sequence[Mapping[str, Any]],
    invoices: Sequence[Mapping[str, Any]],
    *,
    tolerances: Tolerances | None = None,
    sources: tuple[str, str, str] = ("orders", "receipts", "invoices"),
) -> dict[str, Any]:
    """Check every invoice against its order and the goods received, for duplicates and for unusual
    amounts: ``{"invoices": [...], "summary": {...}, "tolerances": {...}}``."""
    tol = tolerances or Tolerances()
    invs = _read_invoices(invoices, sources[2])
    by_po = _read_orders(orders, receipts, (sources[0], sources[1]))
    for inv in sorted(invs, key=lambda v: (v.day or date.min, v.row)):  # earlier invoices use quantities first
        _three_way(inv, by_po, tol)
    _duplicates(invs, tol)
    _unusual(invs, tol)
    out = []
    for inv in invs:
        inv.flags.sort(key=lambda f: _ORDER.index(f["check"]))
        out.append(
            {
                "invoice_id": inv.invoice_id,
                "invoice_number": inv.number,
                "vendor": inv.vendor,
                "po_number": inv.po_number,
                "invoice_date": inv.day.isoformat() if inv.day else None,
                "amount": inv.amount,
                "decision": _decision(inv.flags),
                "flags": inv.flags,
            }
        )
    return {"invoices": out, "summary": _summary(out), "tolerances": asdict(tol), "sources": list(sources)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_check: dict[str, int] = defaultdict(int)
    for r in rows:
        for check in {f["check"] for f in r["flags"]}:
            by_check[check] += 1
    decisions = {d: sum(r["decision"] == d for r in rows) for d in ("release", "hold", "person")}
    held = sum(r["amount"] or 0 for r in rows if r["decision"] == "hold")
    return {
        "invoices": len(rows),
        **decisions,
        "amount_held": round(held, 2),
        "by_check": dict(sorted(by_check.items(), key=lambda kv: -kv[1])),
    }


@dataclass(frozen=True)
class LogActivities:
    """The activity names of a procure-to-pay log's steps (defaults: SAP's, as in BPIC 2019)."""

    order: tuple[str, ...] = ("Create Purchase Order Item", "Create Purchase Order")
    receipt: tuple[str, ...] = ("Record Goods Receipt", "Receive Goods")
    invoice: tuple[str, ...] = ("Record Invoice Receipt", "Receive Invoice")
    payment: tuple[str, ...] = ("Clear Invoice", "Pay Invoice")
    price_change: tuple[str, ...] = ("Change Price",)
    cancel_invoice: tuple[str, ...] = ("Cancel Invoice Receipt",)
    cancel_receipt: tuple[str, ...] = ("Cancel Goods Receipt",)


def _case_flags(case_id: str, steps: list[tuple[str, datetime]], acts: LogActivities) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    ordered = received = invoiced = 0
    price_changed: datetime | None = None
    for name, ts in steps:
        when = ts.isoformat(timespec="minutes")
        if name in acts.order:
            ordered += 1
        elif name in acts.price_change and ordered:
            price_changed = ts
        elif name in acts.receipt:
            received += 1
        elif name in acts.cancel_receipt:
            received = max(0, received - 1)
        elif name in acts.cancel_invoice:
            invoiced = max(0, invoiced - 1)
        elif name in acts.invoice:
            invoiced += 1
            if not ordered:
                flags.append(_log_flag("no_order", f"invoice booked {when} with no order before it", case_id))
            if received == 0:
                flags.append(
                    _log_flag(
                        "not_received",
                        f"invoice booked {when} before any goods receipt: hold until the goods arrive "
                        "(a two-way-match item needs none)",
                        case_id,
                    )
                )
            elif invoiced > received:
                flags.append(
                    _log_flag(
                        "quantity_mismatch",
                        f"invoice {invoiced} booked {when} with {received} goods receipt(s): more invoices than "
                        "deliveries (a partial delivery or a duplicate invoice)",
                        case_id,
                    )
                )
            if price_changed is not None:
                flags.append(
                    _log_flag(
                        "price_mismatch",
                        f"the price changed {price_changed.isoformat(timespec='minutes')}, after the order: "
                        "the invoice is matched against a price nobody approved",
                        case_id,
                    )
                )
                price_changed = None
        elif name in acts.payment and invoiced == 0:
            flags.append(_log_flag("paid_without_invoice", f"paid {when} with no invoice booked", case_id))
    return flags


def _once(flags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flag per check: the first, saying how many more times it happened in the case."""
    out: dict[str, dict[str, Any]] = {}
    count: dict[str, int] = defaultdict(int)
    for f in flags:
        out.setdefault(f["check"], f)
        count[f["check"]] += 1
    for check, f in out.items():
        if count[check] > 1:
            f["reason"] += f" (and {count[check] - 1} more time{'s' if count[check] > 2 else ''} in this case)"
    return sorted(out.values(), key=lambda f: _ORDER.index(f["check"]))


def _log_flag(check: str, reason: str, case_id: str) -> dict[str, Any]:
    return {"check": check, "reason": reason, "documents": [case_id]}


def check_log(
    traces: Mapping[str, list[tuple[str, datetime]]], *, activities: LogActivities | None = None
) -> dict[str, Any]:
    """Check the order of procure-to-pay steps in each case (``{case_id: [(activity, time), ...]}``
    in time order), for logs that hold no document values: one row per case with an invoice."""
    acts = activities or LogActivities()
    out = []
    for case_id, steps in traces.items():
        if not any(name in acts.invoice or name in acts.payment for name, _ in steps):
            continue
        flags = _once(_case_flags(case_id, steps, acts))
        out.append({"case_id": case_id, "decision": _decision(flags), "flags": flags, "amount": None})
    summary = _summary(out)
    summary["cases"] = summary.pop("invoices")
    del summary["amount_held"]
    return {"cases": out, "summary": summary, "activities": asdict(acts)}
