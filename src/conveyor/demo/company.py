"""The demo company: Northwind Supply, a mid-sized distributor, with problems worth finding.

Planted on purpose, so later analyses have something true to find:

- order-to-cash: credit checks wait ~1.5 days (the bottleneck); 18% of packed orders fail quality
  control and are repacked (a rework loop); shipments by road to the North region run late;
  a fifth of invoices need a payment reminder.
- ticket-to-resolution: the Billing queue has two agents for a fifth of the tickets and waits
  ~10x longer before work starts (a slow queue: its two agents have time enough for its load, so
  the wait is how tickets are picked up, not the headcount); Network tickets are reassigned often;
  priorities carry SLAs.
- procure-to-pay: 12% of orders change price after approval, which breaks the three-way match
  and blocks payment until resolved.
- demand: daily units per product, region and channel with trend, weekly and yearly seasonality,
  a December peak and promotions.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from conveyor.demo.simulate import Flow, simulate
from conveyor.demo.text import ticket_texts

__all__ = ["DAYS", "START_US", "STREAMS", "StreamSpec", "generate_demand", "generate_stream"]

START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
DAYS = 365
_H = 3_600_000_000

Moves = dict[str, dict[str | None, float]]
Waits = dict[str, float]

REGIONS = ["North", "South", "East", "West"]
CHANNELS = ["web", "phone", "partner"]
PRODUCTS = ["pallet-rack", "forklift-battery", "shrink-wrap", "safety-gloves", "barcode-scanner", "label-printer"]


def _people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:02d}" for i in range(1, n + 1)]


def _o2c_flow() -> Flow:
    moves: Moves = {
        "Create Order": {"Check Credit": 0.93, "Change Order": 0.07},
        "Change Order": {"Check Credit": 1.0},
        "Check Credit": {"Approve Order": 0.96, "Reject Order": 0.04},
        "Reject Order": {None: 1.0},
        "Approve Order": {"Pick Items": 1.0},
        "Pick Items": {"Pack Goods": 1.0},
        "Pack Goods": {"Quality Check": 1.0},
        "Quality Check": {"Ship Goods": 0.82, "Repack Goods": 0.18},
        "Repack Goods": {"Quality Check": 1.0},
        "Ship Goods": {"Deliver Goods": 1.0},
        "Deliver Goods": {"Create Invoice": 1.0},
        "Create Invoice": {"Receive Payment": 0.8, "Send Reminder": 0.2},
        "Send Reminder": {"Receive Payment": 0.85, "Send Reminder": 0.15},
        "Receive Payment": {None: 1.0},
    }
    waits: Waits = {
        "Change Order": 3,
        "Check Credit": 36,
        "Approve Order": 2,
        "Reject Order": 4,
        "Pick Items": 6,
        "Pack Goods": 3,
        "Quality Check": 1.5,
        "Repack Goods": 5,
        "Ship Goods": 8,
        "Deliver Goods": 40,
        "Create Invoice": 4,
        "Send Reminder": 24 * 14,
        "Receive Payment": 24 * 20,
    }
    slow_north: Waits = {**waits, "Deliver Goods": 110}
    resources = {
        "Create Order": _people("sales", 6),
        "Change Order": _people("sales", 6),
        "Check Credit": _people("credit", 2),
        "Approve Order": _people("sales-lead", 2),
        "Reject Order": _people("credit", 2),
        "Pick Items": _people("warehouse", 8),
        "Pack Goods": _people("warehouse", 8),
        "Quality Check": _people("qc", 3),
        "Repack Goods": _people("warehouse", 8),
        "Ship Goods": ["carrier-road", "carrier-express"],
        "Deliver Goods": ["carrier-road", "carrier-express"],
        "Create Invoice": _people("billing", 3),
        "Send Reminder": _people("billing", 3),
        "Receive Payment": ["bank"],
    }
    acts = list(moves)
    return Flow(acts, "Create Order", [moves, moves], [waits, slow_north], resources)


def _ticket_flow() -> tuple[Flow, list[str]]:
    queues = ["Service Desk", "Network", "Billing", "Applications", "Hardware"]
    base: Moves = {
        "Create Ticket": {"Classify Ticket": 1.0},
        "Classify Ticket": {"Assign to Queue": 1.0},
        "Assign to Queue": {"Start Work": 0.78, "Reassign Ticket": 0.22},
        "Reassign Ticket": {"Start Work": 0.8, "Reassign Ticket": 0.2},
        "Start Work": {"Propose Solution": 0.7, "Request Customer Info": 0.3},
        "Request Customer Info": {"Customer Replied": 0.9, "Close Ticket": 0.1},
        "Customer Replied": {"Propose Solution": 1.0},
        "Propose Solution": {"Resolve Ticket": 1.0},
        "Resolve Ticket": {"Close Ticket": 0.9, "Reopen Ticket": 0.1},
        "Reopen Ticket": {"Start Work": 1.0},
        "Close Ticket": {None: 1.0},
    }
    waits: Waits = {
        "Classify Ticket": 0.3,
        "Assign to Queue": 0.5,
        "Reassign Ticket": 2,
        "Start Work": 3,
        "Request Customer Info": 1,
        "Customer Replied": 20,
        "Propose Solution": 4,
        "Resolve Ticket": 1,
        "Reopen Ticket": 30,
        "Close Ticket": 24,
    }
    moves: list[Moves] = []
    wait_list: list[Waits] = []
    for q in queues:
        m = {k: dict(v) for k, v in base.items()}
        w = dict(waits)
        if q == "Network":
            m["Assign to Queue"] = {"Start Work": 0.5, "Reassign Ticket": 0.5}
        if q == "Billing":  # two agents for a fifth of the load, slow to pick tickets up
            w["Start Work"] = 30
            w["Reopen Ticket"] = 20
        moves.append(m)
        wait_list.append(w)
    agents = {q: _people(q.lower().replace(" ", "-"), 2 if q == "Billing" else 6) for q in queues}
    all_agents = [a for q in queues for a in agents[q]]
    resources = {
        "Create Ticket": ["portal", "email", "phone"],
        "Classify Ticket": _people("dispatcher", 3),
        "Assign to Queue": _people("dispatcher", 3),
        "Reassign Ticket": _people("dispatcher", 3),
        "Start Work": all_agents,
        "Request Customer Info": all_agents,
        "Customer Replied": ["customer"],
        "Propose Solution": all_agents,
        "Resolve Ticket": all_agents,
        "Reopen Ticket": ["customer"],
        "Close Ticket": ["system"],
    }
    # the agents' work: each queue's tickets by that queue's own agents
    own = {
        a: [agents[q] for q in queues]
        for a in ("Start Work", "Request Customer Info", "Propose Solution", "Resolve Ticket")
    }
    return Flow(list(base), "Create Ticket", moves, wait_list, resources, class_resources=own), queues


def _p2p_flow() -> Flow:
    ok: Moves = {
        "Create Requisition": {"Approve Requisition": 0.95, "Reject Requisition": 0.05},
        "Reject Requisition": {None: 1.0},
        "Approve Requisition": {"Create Purchase Order": 1.0},
        "Create Purchase Order": {"Receive Goods": 1.0},
        "Change Price": {"Receive Goods": 1.0},
        "Receive Goods": {"Receive Invoice": 1.0},
        "Receive Invoice": {"Three-Way Match": 1.0},
        "Three-Way Match": {"Pay Invoice": 0.97, "Block Payment": 0.03},
        "Block Payment": {"Resolve Block": 1.0},
        "Resolve Block": {"Pay Invoice": 1.0},
        "Pay Invoice": {None: 1.0},
    }
    changed = {k: dict(v) for k, v in ok.items()}
    changed["Create Purchase Order"] = {"Change Price": 1.0}
    changed["Three-Way Match"] = {"Block Payment": 0.85, "Pay Invoice": 0.15}
    waits: Waits = {
        "Approve Requisition": 16,
        "Reject Requisition": 16,
        "Create Purchase Order": 8,
        "Change Price": 48,
        "Receive Goods": 24 * 6,
        "Receive Invoice": 24 * 2,
        "Three-Way Match": 6,
        "Block Payment": 1,
        "Resolve Block": 24 * 6,
        "Pay Invoice": 24 * 10,
    }
    resources = {
        "Create Requisition": _people("requester", 10),
        "Approve Requisition": _people("manager", 4),
        "Reject Requisition": _people("manager", 4),
        "Create Purchase Order": _people("buyer", 3),
        "Change Price": _people("buyer", 3),
        "Receive Goods": _people("warehouse", 8),
        "Receive Invoice": _people("ap-clerk", 3),
        "Three-Way Match": ["matching-engine"],
        "Block Payment": ["matching-engine"],
        "Resolve Block": _people("ap-clerk", 3),
        "Pay Invoice": ["bank"],
    }
    return Flow(list(ok), "Create Requisition", [ok, changed], [waits, waits], resources)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    description: str
    cases_per_order: float


STREAMS = [
    StreamSpec("order-to-cash", "customer orders from entry to payment", 1.0),
    StreamSpec("ticket-to-resolution", "support tickets from creation to closure", 0.75),
    StreamSpec("procure-to-pay", "purchases from requisition to supplier payment", 0.4),
]


def _arrivals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Case start times over one year: busier on weekdays and in Q4, quiet at night."""
    day = rng.choice(DAYS, size=n, p=_day_weights())
    hour = np.clip(rng.normal(11.5, 2.8, size=n), 0, 23.99)
    return START_US + day.astype(np.int64) * 24 * _H + (hour * _H).astype(np.int64)


def _day_weights() -> np.ndarray:
    d = np.arange(DAYS)
    weekday = (d + 2) % 7  # 2025-01-01 was a Wednesday; 0 = Monday
    w = np.where(weekday >= 5, 0.35, 1.0) * (1 + 0.35 * np.clip((d - 270) / 90, 0, 1))
    return np.asarray(w / w.sum(), dtype=np.float64)


def _table(flow: Flow, sim: dict[str, np.ndarray], case_ids: np.ndarray, attrs: dict[str, pa.Array]) -> pa.Table:
    acts = np.array(flow.activities, dtype=object)
    case_col = case_ids[sim["case"]]
    cols: dict[str, pa.Array] = {
        "case_id": pa.array(case_col, pa.string()),
        "activity": pa.array(acts[sim["activity"]], pa.string()),
        "timestamp": pa.array(sim["ts_us"], pa.timestamp("us", tz="UTC")),
        "resource": pa.array(sim["resource"], pa.string()),
    }
    for k, v in attrs.items():
        cols[f"case:{k}"] = v.take(pa.array(sim["case"]))
    return pa.table(cols)


def generate_stream(name: str, n_cases: int, *, seed: int, chunk: int = 250_000) -> Iterator[pa.Table]:
    """Yield the stream's events as Arrow tables of at most ``chunk`` cases each."""
    for start in range(0, n_cases, chunk):
        m = min(chunk, n_cases - start)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), start])
        yield _generate(name, start, m, rng)


def _generate(name: str, start: int, m: int, rng: np.random.Generator) -> pa.Table:
    arrivals = _arrivals(rng, m)
    if name == "order-to-cash":
        flow = _o2c_flow()
        region = rng.choice(4, size=m, p=[0.3, 0.25, 0.25, 0.2])
        channel = rng.choice(3, size=m, p=[0.55, 0.25, 0.2])
        product = rng.choice(len(PRODUCTS), size=m)
        classes = (region == 0).astype(np.int64)  # North ships by road: late
        sim = simulate(flow, arrivals_us=arrivals, classes=classes, rng=rng)
        value = np.round(rng.lognormal(7.0, 0.9, size=m), 2)
        attrs = {
            "region": pa.array(np.array(REGIONS, dtype=object)[region], pa.string()),
            "channel": pa.array(np.array(CHANNELS, dtype=object)[channel], pa.string()),
            "product": pa.array(np.array(PRODUCTS, dtype=object)[product], pa.string()),
            "customer": pa.array([f"C{x:05d}" for x in rng.integers(1, 1 + max(50, m // 8), size=m)], pa.string()),
            "order_value": pa.array(value, pa.float64()),
            "promised_delivery": pa.array(arrivals + 6 * 24 * _H, pa.timestamp("us", tz="UTC")),
        }
        ids = np.array([f"SO-{start + i + 1:08d}" for i in range(m)], dtype=object)
        return _table(flow, sim, ids, attrs)
    if name == "ticket-to-resolution":
        flow, queues = _ticket_flow()
        queue = rng.choice(len(queues), size=m, p=[0.35, 0.15, 0.2, 0.2, 0.1])
        priority = rng.choice(4, size=m, p=[0.05, 0.2, 0.5, 0.25])
        tier = rng.choice(3, size=m, p=[0.15, 0.35, 0.5])
        sim = simulate(flow, arrivals_us=arrivals, classes=queue, rng=rng)
        sla_hours = np.array([4, 8, 24, 72])[priority]
        subject, body, category, reply = ticket_texts(rng, queue, queues)
        attrs = {
            "subject": pa.array(subject, pa.string()),
            "body": pa.array(body, pa.string()),
            "category": pa.array(category, pa.string()),
            "reply": pa.array(reply, pa.string()),
            "queue": pa.array(np.array(queues, dtype=object)[queue], pa.string()),
            "priority": pa.array(np.array(["P1", "P2", "P3", "P4"], dtype=object)[priority], pa.string()),
            "customer_tier": pa.array(np.array(["gold", "silver", "bronze"], dtype=object)[tier], pa.string()),
            "sla_deadline": pa.array(arrivals + sla_hours * _H, pa.timestamp("us", tz="UTC")),
        }
        ids = np.array([f"TCK-{start + i + 1:08d}" for i in range(m)], dtype=object)
        return _table(flow, sim, ids, attrs)
    if name == "procure-to-pay":
        flow = _p2p_flow()
        changed = (rng.random(m) < 0.12).astype(np.int64)
        sim = simulate(flow, arrivals_us=arrivals, classes=changed, rng=rng)
        suppliers = [f"Supplier {c}" for c in "ABCDEFGHIJKL"]
        attrs = {
            "supplier": pa.array(np.array(suppliers, dtype=object)[rng.integers(0, 12, size=m)], pa.string()),
            "spend_category": pa.array(
                np.array(["packaging", "spare parts", "IT", "facilities", "logistics"], dtype=object)[
                    rng.integers(0, 5, size=m)
                ],
                pa.string(),
            ),
            "po_amount": pa.array(np.round(rng.lognormal(8.0, 1.1, size=m), 2), pa.float64()),
            "price_changed": pa.array(changed.astype(bool), pa.bool_()),
        }
        ids = np.array([f"PO-{start + i + 1:08d}" for i in range(m)], dtype=object)
        return _table(flow, sim, ids, attrs)
    raise ValueError(f"unknown demo stream {name!r}")


def generate_demand(*, seed: int, days: int = 2 * DAYS) -> pa.Table:
    """Daily units per product, region and channel: trend, weekly and yearly seasonality, promotions."""
    rng = np.random.default_rng([seed, 99])
    d = np.arange(days)
    dates = np.datetime64("2024-01-01") + d
    weekday = (d + 0) % 7  # 2024-01-01 was a Monday
    doy = d % 365
    rows_date, rows_p, rows_r, rows_c, rows_u, rows_promo = [], [], [], [], [], []
    for pi, product in enumerate(PRODUCTS):
        for ri, region in enumerate(REGIONS):
            for ci, channel in enumerate(CHANNELS):
                level = 20 + 15 * pi % 40 + 8 * ri + (25 if ci == 0 else 8)
                trend = 1 + 0.15 * d / 365
                week = np.where(weekday >= 5, 0.45 if ci != 0 else 0.8, 1.0)
                year = 1 + 0.25 * np.sin(2 * np.pi * (doy - 80) / 365) + np.where(doy >= 334, 0.6, 0.0)
                promo = rng.random(days) < 0.03
                mean = level * trend * week * year * np.where(promo, 1.8, 1.0)
                units = rng.poisson(mean)
                rows_date.append(dates)
                rows_p.append(np.full(days, product, dtype=object))
                rows_r.append(np.full(days, region, dtype=object))
                rows_c.append(np.full(days, channel, dtype=object))
                rows_u.append(units)
                rows_promo.append(promo)
    return pa.table(
        {
            "date": pa.array(np.concatenate(rows_date)),
            "product": pa.array(np.concatenate(rows_p), pa.string()),
            "region": pa.array(np.concatenate(rows_r), pa.string()),
            "channel": pa.array(np.concatenate(rows_c), pa.string()),
            "units": pa.array(np.concatenate(rows_u), pa.int64()),
            "promotion": pa.array(np.concatenate(rows_promo), pa.bool_()),
        }
    )
