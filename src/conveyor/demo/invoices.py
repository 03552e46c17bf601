"""The demo company's procure-to-pay documents, and its invoice-check automation.

From the simulated procure-to-pay stream: one purchase order line per order, a goods receipt per
delivery and an invoice per "Receive Invoice". What the stream planted shows in the documents:

- the orders whose price changed after approval and were blocked at the match are invoiced 4-15%
  above the ordered price (those that passed the match changed by under 1.5%: within tolerance);
- the other orders blocked at the match were delivered short and invoiced in full;

and, with an RNG of its own (the stream stays as it is), what accounts payable also sees:

- 2.5% of invoices arrive twice, 3-25 days apart: half with the number written differently
  (``SB-000412`` as ``sb 412``), half with a typo (two digits swapped);
- 0.5% are invoiced at ten times the unit price (a decimal slip);
- 1.5% more invoices name no order (services); a quarter of them 10-20 times the vendor's
  largest invoice.

``PLANTED`` in each generated table's metadata says which invoice is which, for the checks to be
measured against.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from conveyor.workspace import Workspace

__all__ = ["INVOICE_CHECK", "p2p_documents", "run_invoice_check"]

STREAM = "procure-to-pay"
NAME = "invoice-check"

#: automations/invoice-check.yaml as the demo writes it.
INVOICE_CHECK = """\
# Check each supplier invoice before it is paid (Detect: an invoice is received; Decide: three-way
# match, duplicates and unusual amounts on the documents; Do: release or hold the payment).
# `conveyor invoices check` lists every invoice with its flags.
name: invoice-check
description: Releases matched supplier invoices for payment and holds the others
owner: accounts-payable@northwind.example
labels: [release, hold]
input:
  po_number: {type: string}
  supplier: {type: string}
  spend_category: {type: string}
case_field: po_number
trigger: {kind: events, stream: procure-to-pay, activity: Receive Invoice}
decider:
  kind: invoice_check
  options:
    orders: sources/purchase_orders.parquet
    receipts: sources/goods_receipts.parquet
    invoices: sources/invoices.parquet
    tolerances: {price: 0.02, quantity: 0.0, duplicate_days: 30}
policy:
  auto_at: 0.95
  suggest_at: 0.5
success_criteria:
  - {metric: coverage, min: 0.8, label: release or hold 80% of invoices without a clerk}
queue_sla: 1d
segments: [spend_category]
status: live
"""


def _number(vendor: int, seq: int) -> str:
    """Each supplier writes its invoice numbers its own way."""
    code = "ABCDEFGHIJKL"[vendor]
    styles = [f"S{code}-{seq:06d}", f"{code}{2025}/{seq:05d}", f"INV-{code}-{seq:04d}", f"{900000 + seq}"]
    return styles[vendor % len(styles)]


def _reformat(number: str, rng: np.random.Generator) -> str:
    """The same number written differently: case, separators, leading zeros."""
    import re

    text = re.sub(r"(?<![0-9])0+(?=[0-9])", "", number)
    text = text.replace("-", " ").replace("/", "")
    return text.lower() if rng.random() < 0.5 else text


def _typo(number: str, rng: np.random.Generator) -> str:
    """Two adjacent different digits swapped (else one digit changed)."""
    chars = list(number)
    spots = [
        i for i in range(len(chars) - 1) if chars[i].isdigit() and chars[i + 1].isdigit() and chars[i] != chars[i + 1]
    ]
    if spots:
        i = spots[int(rng.integers(0, len(spots)))]
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        i = max(i for i, c in enumerate(chars) if c.isdigit())
        chars[i] = str((int(chars[i]) + 1) % 10)
    return "".join(chars)


def _cases(events: pa.Table) -> list[dict[str, Any]]:
    """Per order: its attributes and when each step happened."""
    cases: dict[str, dict[str, Any]] = {}
    cols = events.select(
        ["case_id", "activity", "timestamp", "case:supplier", "case:po_amount", "case:price_changed"]
    ).to_pylist()
    for r in cols:
        c = cases.setdefault(
            r["case_id"],
            {
                "po": r["case_id"],
                "vendor": r["case:supplier"],
                "amount": r["case:po_amount"],
                "changed": r["case:price_changed"],
                "steps": {},
            },
        )
        c["steps"].setdefault(r["activity"], r["timestamp"])
    return list(cases.values())


def p2p_documents(events: pa.Table, *, seed: int) -> dict[str, pa.Table]:
    """Purchase orders, goods receipts and invoices for the demo's procure-to-pay stream; the
    invoices table has a ``planted`` column (what was planted, empty for a clean invoice)."""
    rng = np.random.default_rng([seed, 2019])
    vendors = [f"Supplier {c}" for c in "ABCDEFGHIJKL"]
    orders: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    seq = dict.fromkeys(vendors, 100)
    for c in _cases(events):
        steps = c["steps"]
        if "Create Purchase Order" not in steps:
            continue
        v = vendors.index(c["vendor"])
        blocked = "Block Payment" in steps
        qty = int(max(2, round(rng.lognormal(3.0, 0.9))))
        price = round(max(0.5, c["amount"] / qty), 2)
        orders.append(
            {
                "po_number": c["po"],
                "po_line": "10",
                "vendor": c["vendor"],
                "quantity": qty,
                "unit_price": price,
                "ordered_at": steps["Create Purchase Order"],
            }
        )
        short = blocked and not c["changed"]
        if "Receive Goods" in steps:
            got = int(qty * rng.uniform(0.5, 0.9)) if short else qty
            receipts.append(
                {
                    "receipt_id": f"GR-{len(receipts) + 1:07d}",
                    "po_number": c["po"],
                    "po_line": "10",
                    "quantity": got,
                    "received_at": steps["Receive Goods"],
                }
            )
        if "Receive Invoice" not in steps:
            continue
        factor, planted = 1.0, ""
        if c["changed"]:
            factor = 1 + (rng.uniform(0.04, 0.15) if blocked else rng.uniform(-0.015, 0.015))
            planted = "price change" if blocked else ""
        elif short:
            planted = "short delivery"
        if not planted and rng.random() < 0.005:
            factor, planted = 10.0, "decimal slip"
        seq[c["vendor"]] += int(rng.integers(1, 40))
        unit = round(price * factor, 2)
        invoices.append(
            {
                "invoice_id": f"VI-{len(invoices) + 1:07d}",
                "invoice_number": _number(v, seq[c["vendor"]]),
                "vendor": c["vendor"],
                "po_number": c["po"],
                "po_line": "10",
                "invoice_date": steps["Receive Invoice"],
                "quantity": qty,
                "unit_price": unit,
                "amount": round(qty * unit, 2),
                "planted": planted,
            }
        )
    extra: list[dict[str, Any]] = []
    for inv in invoices:
        if rng.random() < 0.025:
            typo = rng.random() < 0.5
            number = _typo(inv["invoice_number"], rng) if typo else _reformat(inv["invoice_number"], rng)
            extra.append(
                {
                    **inv,
                    "invoice_number": number,
                    "invoice_date": inv["invoice_date"] + timedelta(days=float(rng.uniform(3, 25))),
                    "planted": "duplicate (typo)" if typo else "duplicate (reformatted)",
                }
            )
    largest: dict[str, float] = {}
    for inv in invoices:
        largest[inv["vendor"]] = max(largest.get(inv["vendor"], 0.0), inv["amount"])
    for _ in range(max(2, round(len(invoices) * 0.015)) if invoices else 0):
        base = invoices[int(rng.integers(0, len(invoices)))]
        unusual = rng.random() < 0.25
        amount = round(
            largest[base["vendor"]] * float(rng.uniform(10, 20)) if unusual else float(rng.lognormal(8.0, 1.1)), 2
        )
        seq[base["vendor"]] += int(rng.integers(1, 40))
        extra.append(
            {
                "invoice_id": "",
                "invoice_number": _number(vendors.index(base["vendor"]), seq[base["vendor"]]),
                "vendor": base["vendor"],
                "po_number": None,
                "po_line": None,
                "invoice_date": base["invoice_date"] + timedelta(hours=float(rng.uniform(1, 240))),
                "quantity": None,
                "unit_price": None,
                "amount": amount,
                "planted": "no order, unusual amount" if unusual else "no order",
            }
        )
    invoices += extra
    invoices.sort(key=lambda r: r["invoice_date"])
    for i, inv in enumerate(invoices, start=1):
        inv["invoice_id"] = f"VI-{i:07d}"
    return {
        "purchase_orders": pa.Table.from_pylist(orders),
        "goods_receipts": pa.Table.from_pylist(receipts),
        "invoices": pa.Table.from_pylist(invoices),
    }


def write_documents(ws: Workspace, source: Path, *, seed: int) -> dict[str, int]:
    """The documents as workspace datasets (for `conveyor invoices check`) and as Parquet files in
    ``sources/`` (for the invoice-check automation's decider); rows per table."""
    import pyarrow.parquet as pq

    tables = p2p_documents(pq.read_table(source), seed=seed)
    if any(t.num_rows == 0 for t in tables.values()):
        return {}  # too few orders to have invoices: no documents
    what = {
        "purchase_orders": "procure-to-pay: purchase order lines",
        "goods_receipts": "procure-to-pay: goods receipts",
        "invoices": "procure-to-pay: supplier invoices (planted: what the demo planted)",
    }
    for name, table in tables.items():
        ws.store.write_dataset(name, table, description=what[name])
        pq.write_table(table, Path(ws.root) / "sources" / f"{name}.parquet")
    return {name: t.num_rows for name, t in tables.items()}


def run_invoice_check(ws: Workspace, *, days: int = 30) -> dict[str, Any]:
    """Check every invoice; write the automation and let it decide the last ``days`` of invoices
    (the others were paid before it existed): what it did, and how the checks found what was planted."""
    from conveyor.automation import monitor, run_trigger
    from conveyor.automation.definitions import automation_path
    from conveyor.automation.triggers import mark_seen
    from conveyor.service import has_invoice_documents, invoice_check

    if not has_invoice_documents(ws):
        return {}
    result = invoice_check(ws, everything=True, limit=1_000_000)
    planted_rows = ws.store.rows("SELECT invoice_id, planted FROM main.invoices")
    planted = {r[0]: r[1] for r in planted_rows}
    found: dict[str, list[int]] = {}
    false_flags = clean = 0
    for inv in result["invoices"]:
        kind = planted.get(inv["invoice_id"]) or ""
        if kind:
            hit = found.setdefault(kind, [0, 0])
            hit[1] += 1
            hit[0] += inv["decision"] != "release"
        else:
            clean += 1
            false_flags += inv["decision"] != "release"
    path = automation_path(ws.root, NAME)
    path.parent.mkdir(exist_ok=True)
    path.write_text(INVOICE_CHECK, encoding="utf-8")
    state = ws.state
    s = f'"stream_{STREAM}"'
    last = ws.store.scalar(
        f"SELECT max(e.ts) FROM {s}.events e JOIN {s}.activities a ON a.code = e.activity "
        "WHERE a.name = 'Receive Invoice'"
    )
    since = (last or datetime.now(UTC)) - timedelta(days=days)
    mark_seen(ws, state, NAME, until=since)
    with state.transaction():
        run = run_trigger(ws, state, NAME, replay=True)
    m = monitor(state, ws.root, NAME, ws=ws)
    return {
        "automation": NAME,
        "summary": result["summary"],
        "planted_found": {k: {"found": v[0], "planted": v[1]} for k, v in sorted(found.items())},
        "clean_flagged": {"flagged": false_flags, "clean": clean},
        "decided": run["decided"],
        "coverage": m["live"]["coverage"],
    }
