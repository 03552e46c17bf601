"""The slow paths at scale: bottlenecks, rework and filtered maps on 100M events, conveyor alone.

PM4Py needs ~740 MB per million events and cannot hold 100M on this machine, so conveyor runs
alone: it ingests a generated order-to-cash log (Parquet) into a fresh workspace under the
default memory limit (``store.memory_limit``, 40% of RAM; pass ``--memory-limit`` to compare),
then times each analysis in the same process, unfiltered and under a case-attribute filter
(``region=North``) and a six-month window. Aim (issue 8): each under 10 s on this machine.

    .venv/bin/python bench/scale.py --events 100000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, generate, machine, record


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory limit (default: conveyor's, 40%%)")
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()

    from conveyor.data.ingest import ingest
    from conveyor.data.store import DEFAULT_MEMORY_LIMIT, Store
    from conveyor.mining import Filters, bottlenecks, durations, process_map, rework, variants

    limit = a.memory_limit if a.memory_limit is not None else DEFAULT_MEMORY_LIMIT
    _, parquet = generate(a.events, csv=False)
    db = OUT / f"scale_{a.events}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(OUT / "scale_tmp", ignore_errors=True)
    store = Store(db, memory_limit=limit)
    t0 = time.perf_counter()
    result = ingest(store, parquet, stream="o2c")
    load = time.perf_counter() - t0
    first = store.scalar('SELECT min(first_ts) FROM "stream_o2c".cases')
    window = Filters(start=datetime(first.year, 4, 1, tzinfo=UTC), end=datetime(first.year, 10, 1, tzinfo=UTC))
    north = Filters(attributes={"region": ("North",)})
    rows = []
    for label, fn in (
        ("map (precomputed at ingest)", lambda: process_map(store, "o2c")),
        ("map, region=North", lambda: process_map(store, "o2c", filters=north)),
        ("map, six-month window", lambda: process_map(store, "o2c", filters=window)),
        ("variants", lambda: variants(store, "o2c")),
        ("durations", lambda: durations(store, "o2c")),
        ("bottlenecks", lambda: bottlenecks(store, "o2c")),
        ("bottlenecks, region=North", lambda: bottlenecks(store, "o2c", filters=north)),
        ("rework", lambda: rework(store, "o2c")),
        ("rework, region=North", lambda: rework(store, "o2c", filters=north)),
    ):
        t0 = time.perf_counter()
        fn()
        seconds = time.perf_counter() - t0
        rows.append(f"| {label} | {seconds:.2f} s | {'yes' if seconds < 10 else 'no'} |")
        print(rows[-1], flush=True)
    store.close()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: conveyor alone on {result.events_loaded:,} generated "
        f"events ({result.cases:,} cases), one process, memory limit {limit!r}. Ingest (Parquet, everything the "
        f"layout needs): {load:.0f} s ({result.events_loaded / load / 1e6:.2f} M events/s); peak RSS "
        f"{peak_mb():,.0f} MB. Reproduce with:",
        "",
        f"    .venv/bin/python bench/scale.py --events {a.events}"
        + (f" --memory-limit {a.memory_limit}" if a.memory_limit is not None else ""),
        "",
        "| analysis | time | under 10 s |",
        "|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    db.unlink(missing_ok=True)
    if not a.no_record:
        record("The slow paths at 100M events (bench/scale.py)", lines)


if __name__ == "__main__":
    main()
