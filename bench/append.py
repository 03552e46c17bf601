"""Live appends: 1,000 events into a stream of 10M, as automations and webhooks will deliver them.

Ingests a generated order-to-cash log (``--events``, default 10M) into a fresh workspace, then
appends batches of ``--batch`` events (default 1,000): half continue existing open cases, half
start new ones. Each append is timed in-process (``ingest()`` from an Arrow table: validation,
quarantine checks, layout of the touched cases, catalog) and through the CLI from a Parquet file
(start-up included). The whole-stream map an append drops is rebuilt by the next read; that read
is timed too. A full re-ingest of the stream is the comparison: what every append cost before.

    .venv/bin/python bench/append.py --events 10000000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, generate, machine, record

ROOT = Path(__file__).resolve().parents[1]


def batch(store: object, n: int, k: int) -> object:
    """``n`` events: half on existing cases (after their last event), half on new cases."""
    import pyarrow as pa

    half = n // 2
    existing = store.rows(  # type: ignore[attr-defined]
        f'SELECT case_id, last_ts FROM "stream_o2c".cases USING SAMPLE {half} ROWS (reservoir, {k})'
    )
    cases, acts, times = [], [], []
    for case_id, last in existing:
        cases.append(case_id)
        acts.append("Send Reminder")
        times.append(last + timedelta(hours=1))
    base = existing[0][1]
    for i in range(n - half):
        cases.append(f"live-{k}-{i // 2}")
        acts.append("Create Order" if i % 2 == 0 else "Check Credit")
        times.append(base + timedelta(minutes=i))
    return pa.table({"case_id": cases, "activity": acts, "timestamp": times, "resource": ["bot"] * n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()

    import pyarrow.parquet as pq

    from conveyor.data.ingest import ingest
    from conveyor.data.store import Store
    from conveyor.mining import process_map

    _, parquet = generate(a.events, csv=False)
    ws = OUT / f"append_{a.events}"
    shutil.rmtree(ws, ignore_errors=True)
    conveyor = str(ROOT / ".venv" / "bin" / "conveyor")
    subprocess.run([conveyor, "init", str(ws)], check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([conveyor, "ingest", str(parquet), "--stream", "o2c", "-w", str(ws), "-q"], check=True)
    full = time.perf_counter() - t0
    store = Store(ws / "conveyor.duckdb")
    events = store.stream("o2c").events
    in_process, reads = [], []
    for k in range(a.repeat):
        table = batch(store, a.batch, k)
        t0 = time.perf_counter()
        result = ingest(store, table, stream="o2c")
        in_process.append(time.perf_counter() - t0)
        assert result.events_loaded == a.batch, result
        t0 = time.perf_counter()
        process_map(store, "o2c")
        reads.append(time.perf_counter() - t0)
    files = []
    for k in range(a.repeat):
        path = OUT / f"append_batch_{k}.parquet"
        pq.write_table(batch(store, a.batch, 100 + k), path)  # type: ignore[arg-type]
        files.append(path)
    store.close()
    cli = []
    for path in files:
        t0 = time.perf_counter()
        subprocess.run([conveyor, "ingest", str(path), "--stream", "o2c", "-w", str(ws), "-q"], check=True)
        cli.append(time.perf_counter() - t0)
    med = statistics.median
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {a.repeat} appends of "
        f"{a.batch:,} events (half continue existing cases, half open new ones) into a stream of "
        f"{events:,} events. Reproduce with:",
        "",
        f"    .venv/bin/python bench/append.py --events {a.events}",
        "",
        "| what | time |",
        "|---|---|",
        f"| append {a.batch:,} events, in-process (`ingest()` of an Arrow table) | {med(in_process):.3f} s |",
        f"| append {a.batch:,} events from a Parquet file, `conveyor ingest` from the shell | {med(cli):.3f} s |",
        f"| the next whole-stream map (rebuilds the precomputed map the append dropped) | {med(reads):.3f} s |",
        f"| before: every append rebuilt the layout, like ingesting the {events:,} events again | {full:.1f} s |",
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("Appends (bench/append.py)", lines)


if __name__ == "__main__":
    main()
