"""Ingest speed and peak memory: conveyor against PM4Py's readers, measured in the same run.

Each measurement runs in a fresh process (so peak RSS is that reader's own, imports included),
is repeated, and the median is reported. PM4Py runs from its own environment with its default
dependencies (pandas 3), which is how it is fastest; `make bench-env` creates it.

    make bench                      # everything, 10M generated events, 3 repeats
    .venv/bin/python bench/ingest.py --reference-python .venv-pm4py/bin/python --events 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
DATA = HERE.parent.parent / "shared" / "data" / "logs"
RESULTS = HERE / "RESULTS.md"

# Peak resident memory of this process: VmHWM starts afresh at exec (ru_maxrss would carry over
# the parent's peak into the child on Linux).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
"""

CONVEYOR = (
    PEAK
    + """
import json, os, sys, time
t = time.perf_counter()
from conveyor.data.store import Store
from conveyor.data.ingest import ingest
path, db, limit = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.exists(db):
    os.remove(db)
with Store(db, memory_limit=limit) as store:
    r = ingest(store, path, stream="bench")
print(json.dumps({"events": r.events_loaded, "seconds": time.perf_counter() - t, "peak_mb": peak_mb()}))
"""
)

# PM4Py's own load: read the file, then format_dataframe (it sorts by case, time and index).
REFERENCE = (
    PEAK
    + """
import json, sys, time, warnings
warnings.simplefilter("ignore")
t = time.perf_counter()
kind, path = sys.argv[1], sys.argv[2]
if kind == "rustxes":
    import rustxes
    df, _ = rustxes.import_xes(path)
    n = df.height
else:
    import pandas as pd
    import pm4py
    if kind == "xes":
        # PM4Py's own default parser, as without its optional Rust backends
        from pm4py.util import constants
        df = pm4py.read_xes(path, variant=constants.DEFAULT_XES_PARSER, return_legacy_log_object=False)
    else:
        df = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
        df = pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")
    n = len(df)
print(json.dumps({"events": n, "seconds": time.perf_counter() - t, "peak_mb": peak_mb()}))
"""
)


def generate(events: int) -> tuple[Path, Path]:
    """A realistic order-to-cash log of about ``events`` events, as CSV and Parquet (cached)."""
    csv, parquet = OUT / f"o2c_{events}.csv", OUT / f"o2c_{events}.parquet"
    if csv.exists() and parquet.exists():
        return csv, parquet
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from conveyor.demo.company import generate_stream

    OUT.mkdir(exist_ok=True)
    cases = max(1, round(events / 10.45))  # the order-to-cash flow averages ~10.45 events a case
    tables = [
        t.select(["case_id", "activity", "timestamp", "resource", "case:region", "case:order_value"])
        for t in generate_stream("order-to-cash", cases, seed=11)
    ]
    table = pa.concat_tables(tables)
    pq.write_table(table, parquet)
    pcsv.write_csv(table, csv)
    print(f"generated {table.num_rows:,} events into {csv.name} and {parquet.name}", file=sys.stderr)
    return csv, parquet


def measure(cmd: list[str], repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}  # type: ignore[dict-item]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {
        "events": runs[0]["events"],
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", help="python of the PM4Py environment (make bench-env)")
    parser.add_argument("--events", type=int, default=10_000_000, help="size of the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit for the capped conveyor run")
    parser.add_argument("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    csv, parquet = generate(args.events)
    inputs = [
        ("bpic2012.xes.gz", DATA / "bpic2012.xes.gz", "xes"),
        (csv.name, csv, "csv"),
        (parquet.name, parquet, "parquet"),
    ]
    db = str(OUT / "bench.duckdb")
    rows = []
    for label, path, kind in inputs:
        if not path.exists():
            print(f"skipping {label}: {path} is absent", file=sys.stderr)
            continue
        results: dict[str, dict[str, float]] = {}
        results["conveyor"] = measure([sys.executable, "-c", CONVEYOR, str(path), db, ""], args.repeat)
        results[f"conveyor ({args.memory_limit} limit)"] = measure(
            [sys.executable, "-c", CONVEYOR, str(path), db, args.memory_limit], args.repeat
        )
        if args.reference_python:
            results["pm4py"] = measure([args.reference_python, "-c", REFERENCE, kind, str(path)], args.repeat)
            if kind == "xes":
                results["rustxes"] = measure(
                    [args.reference_python, "-c", REFERENCE, "rustxes", str(path)], args.repeat
                )
        rows.append((label, results))
        print_table([(label, results)])

    if not args.no_record:
        record(rows, args)


def fmt_row(label: str, name: str, r: dict[str, float], base: dict[str, float] | None) -> str:
    if "error" in r:
        return f"| {label} | {name} | error: {r['error']} | | | |"
    eps = r["events"] / r["seconds"] if r["seconds"] else 0
    ratio = ""
    if base and "error" not in base and name.startswith("conveyor"):
        ratio = f"{base['seconds'] / r['seconds']:.2f}x faster, {r['peak_mb'] / base['peak_mb']:.2f}x memory"
    return f"| {label} | {name} | {r['events']:,} | {r['seconds']:.2f} s ({eps / 1e6:.2f} M ev/s) | {r['peak_mb']:,.0f} MB | {ratio} |"


def print_table(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> None:
    for label, results in rows:
        base = results.get("pm4py")
        for name, r in results.items():
            print(fmt_row(label, name, r, base))
        sys.stdout.flush()


def record(rows: list[tuple[str, dict[str, dict[str, float]]]], args: argparse.Namespace) -> None:
    command = (
        f".venv/bin/python bench/ingest.py --reference-python {args.reference_python} "
        f"--events {args.events} --repeat {args.repeat} --memory-limit {args.memory_limit}"
    )
    lines = [
        "## Ingest (bench/ingest.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on the 2-core, 24 GB machine; medians of {args.repeat} runs, "
        "each in a fresh process (imports included). Reproduce with:",
        "",
        f"    make bench-env && {command}",
        "",
        "| input | reader | events | time | peak RSS | against PM4Py |",
        "|---|---|---|---|---|---|",
    ]
    for label, results in rows:
        base = results.get("pm4py")
        lines += [fmt_row(label, name, r, base) for name, r in results.items()]
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find("## Ingest (bench/ingest.py)")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
