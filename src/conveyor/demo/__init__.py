"""The demo company: a seeded, reproducible workspace with real operational problems planted.

from conveyor.demo import run_demo
summary = run_demo("/tmp/northwind", cases=500)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.demo.company import STREAMS, generate_demand, generate_stream

__all__ = ["DEFAULT_CASES", "O2C_RULES", "PLANTED", "analyse", "run_demo", "write_demo_sources"]

DEFAULT_CASES = 2_000

#: What the demo company gets wrong, per stream: later analyses should find these.
PLANTED = {
    "order-to-cash": [
        "credit checks wait about 1.5 days: the bottleneck",
        "18% of packed orders fail quality control and are repacked: a rework loop",
        "deliveries to the North region run late",
        "a fifth of invoices need a payment reminder",
    ],
    "ticket-to-resolution": [
        "the Billing queue (2 agents for a fifth of the tickets) starts work ~10x later than the others: it misses "
        "its service level, though its load needs no more people than it has (the wait is not for want of people)",
        "half of Network tickets are reassigned at least once",
        "priority SLAs (P1 4h ... P4 72h) are breached where queues are slow",
    ],
    "procure-to-pay": [
        "12% of purchase orders change price after approval",
        "price changes break the three-way match and block payment for about a week",
        "supplier invoices: 2.5% arrive twice (renumbered or with a typo), a few decimal slips, "
        "invoices with no order (some far above the vendor's usual)",
    ],
    "demand_daily": ["trend, weekly and yearly seasonality, a December peak and promotions"],
}


#: Conformance rules the demo writes to ``rules/order-to-cash.yaml`` and checks.
O2C_RULES = """\
# Order-to-cash policy for the demo company; `conveyor conformance order-to-cash --rules THIS`.
rules:
  - name: credit is checked before goods are picked
    type: precedence
    before: Check Credit
    after: Pick Items
  - name: one quality check per order
    type: at_most_once
    activity: Quality Check
  - name: shipped within 4 days of the order
    type: within
    first: Create Order
    then: Ship Goods
    max: 4d
  - name: orders end paid or rejected
    type: end
    activities: [Receive Payment, Reject Order]
"""


def analyse(store: Any, root: Path) -> dict[str, Any]:
    """The headline analyses of every demo stream, with SVG maps and the conformance check."""
    from conveyor.mining import bottlenecks, check_conformance, durations, load_rules, process_map, rework, variants
    from conveyor.mining.svg import render_svg

    (root / "maps").mkdir(exist_ok=True)
    (root / "rules").mkdir(exist_ok=True)
    (root / "metrics").mkdir(exist_ok=True)
    from conveyor.demo.metrics import DEMO_METRICS

    for name, text in DEMO_METRICS.items():
        (root / "metrics" / f"{name}.yaml").write_text(text, encoding="utf-8")
    out: dict[str, Any] = {}
    for spec in STREAMS:
        name = spec.name
        pmap = process_map(store, name)
        svg = root / "maps" / f"{name}.svg"
        svg.write_text(
            render_svg(pmap, color="performance", title=f"{name}: mean time between steps"), encoding="utf-8"
        )
        d = durations(store, name)
        top_variant = variants(store, name, top=1)[0]
        b = bottlenecks(store, name, top=3)
        r = rework(store, name)
        out[name] = {
            "median_seconds": d["median_seconds"],
            "p90_seconds": d["p90_seconds"],
            "top_variant_share": top_variant["share"],
            "slowest_transitions": b["transitions"],
            "waited_for": b["activities"],
            "rework": {**r["summary"], "top": r["activities"][0]},
            "map_svg": str(svg),
        }
    # The slow queue shows as the wait before work starts, queue by queue.
    from conveyor.mining import Filters, activity_stats

    queues = [r[0] for r in store.rows('SELECT DISTINCT queue FROM "stream_ticket-to-resolution".cases ORDER BY 1')]
    waits = {}
    for q in queues:
        stats = activity_stats(store, "ticket-to-resolution", filters=Filters(attributes={"queue": (q,)}))
        waits[q] = next((a["median_wait_seconds"] for a in stats if a["activity"] == "Start Work"), None)
    out["ticket-to-resolution"]["start_work_wait_by_queue"] = waits
    rules_path = root / "rules" / "order-to-cash.yaml"
    rules_path.write_text(O2C_RULES, encoding="utf-8")
    out["order-to-cash"]["conformance"] = check_conformance(store, "order-to-cash", load_rules(rules_path))
    return out


def write_demo_sources(
    folder: Path, *, cases: int, seed: int, progress: Callable[[str, float], None] | None = None
) -> dict[str, Path]:
    """Generate each demo stream into ``folder/<stream>.parquet`` (bounded memory)."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for i, spec in enumerate(STREAMS):
        n = max(1, round(cases * spec.cases_per_order))
        path = folder / f"{spec.name}.parquet"
        writer = None
        try:
            for j, table in enumerate(generate_stream(spec.name, n, seed=seed)):
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                if progress is not None:
                    progress(f"simulating {spec.name}", (i + min(1.0, (j + 1) * 250_000 / n)) / len(STREAMS))
        finally:
            if writer is not None:
                writer.close()
        paths[spec.name] = path
    _hold_back(paths["ticket-to-resolution"])
    return paths


def _hold_back(path: Path) -> None:
    """Make the support log end where a live one would: at the last ticket's arrival. Steps
    after that have not happened yet, so the tickets still being worked on are open (the SLA
    risk model has something to score)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.num_rows == 0:
        return
    firsts = table.group_by("case_id").aggregate([("timestamp", "min")])
    cut = pc.max(firsts["timestamp_min"])
    pq.write_table(table.filter(pc.less_equal(table["timestamp"], cut)), path)


def run_demo(
    target: str | Path,
    *,
    cases: int | None = None,
    seed: int = 7,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Create (or refresh) the demo workspace in ``target`` and return its summary."""
    from conveyor.data.ingest import ingest
    from conveyor.workspace import init_workspace, open_workspace

    n = DEFAULT_CASES if cases is None else cases
    if n < 1:
        from conveyor.errors import ConveyorError

        raise ConveyorError(f"--cases must be at least 1, got {n}", hint="try --cases 2000")
    root = init_workspace(target)
    _reset_state(root)
    sources = write_demo_sources(root / "sources", cases=n, seed=seed, progress=progress)
    results = []
    with open_workspace(root) as ws:
        for name in sources:
            if ws.store.has_stream(name):  # a refresh replaces the demo, it does not append
                ws.store.drop_stream(name)
        for name, path in sources.items():
            result = ingest(ws.store, path, stream=name, progress=progress)
            results.append(result)
        demand = generate_demand(seed=seed)
        ws.store.write_dataset("demand_daily", demand, description="daily units by product, region and channel")
        if progress is not None:
            progress("playing out the ticket-triage automation", 0.93)
        from conveyor.demo.automation import run_triage
        from conveyor.demo.metrics import DEMO_METRICS

        (root / "metrics").mkdir(exist_ok=True)  # the scorecard measures the stream's KPIs
        for name, text in DEMO_METRICS.items():
            (root / "metrics" / f"{name}.yaml").write_text(text, encoding="utf-8")
        triage = run_triage(ws, seed=seed)
        from conveyor.demo.invoices import run_invoice_check, write_documents

        if progress is not None:
            progress("checking the supplier invoices", 0.935)
        documents = write_documents(ws, sources["procure-to-pay"], seed=seed)
        invoices = run_invoice_check(ws)
        if progress is not None:
            progress("learning which tickets miss their deadline", 0.937)
        from conveyor.demo.risk import run_risk

        risk = run_risk(ws)
        from conveyor.demo.planning import run_planning

        planning = run_planning(ws, progress)
        streams = [s.as_dict() for s in ws.store.streams()]
        if progress is not None:
            progress("analysing", 0.95)
        analyses = analyse(ws.store, root)
        from conveyor.review import write_review

        review = write_review(ws, root / "review.html")
    return {
        "workspace": str(root),
        "seed": seed,
        "cases": n,
        "streams": streams,
        "ingests": [{**r.as_json(), "rows": r.rows, "seconds": round(r.seconds, 3)} for r in results],
        "datasets": [{"name": "demand_daily", "rows": demand.num_rows}]
        + [{"name": k, "rows": v} for k, v in documents.items()],
        "planted": PLANTED,
        "analyses": analyses,
        "automation": triage,
        "invoices": invoices,
        "risk": risk,
        "planning": planning,
        "review": review,
    }


def _reset_state(root: Path) -> None:
    """A refreshed demo starts its automations' history over: the embedded state file goes (with
    its tokens); a configured PostgreSQL state is left alone."""
    from conveyor.state import STATE_FILE, state_url

    if state_url(root):
        return
    for suffix in ("", "-wal", "-shm"):
        (root / (STATE_FILE + suffix)).unlink(missing_ok=True)
