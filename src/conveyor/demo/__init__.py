"""The demo company: a seeded, reproducible workspace with real operational problems planted.

>>> from conveyor.demo import run_demo
>>> summary = run_demo("/tmp/northwind", cases=500)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.demo.company import STREAMS, generate_demand, generate_stream

__all__ = ["DEFAULT_CASES", "PLANTED", "run_demo", "write_demo_sources"]

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
        "the Billing queue has 2 agents for a fifth of the tickets: an understaffed queue",
        "half of Network tickets are reassigned at least once",
        "priority SLAs (P1 4h ... P4 72h) are breached where queues are slow",
    ],
    "procure-to-pay": [
        "12% of purchase orders change price after approval",
        "price changes break the three-way match and block payment for about a week",
    ],
    "demand_daily": ["trend, weekly and yearly seasonality, a December peak and promotions"],
}


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
    return paths


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
        streams = [s.as_dict() for s in ws.store.streams()]
    return {
        "workspace": str(root),
        "seed": seed,
        "cases": n,
        "streams": streams,
        "ingests": [{**r.as_json(), "rows": r.rows, "seconds": round(r.seconds, 3)} for r in results],
        "datasets": [{"name": "demand_daily", "rows": demand.num_rows}],
        "planted": PLANTED,
    }
