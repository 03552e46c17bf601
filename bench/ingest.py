"""Ingest speed and peak memory: conveyor against PM4Py's readers, measured in the same run.

Each measurement runs in a fresh process (so peak RSS is that reader's own, imports included),
is repeated, and the median is reported. PM4Py runs from its own environment with its default
dependencies (pandas 3), which is how it is fastest; `make bench-env` creates it.

    make bench                      # everything, 10M generated events, 3 repeats
    .venv/bin/python bench/ingest.py --reference-python .venv-pm4py/bin/python --events 1000000 --repeat 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, OUT, PEAK, generate, machine, measure, record

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", help="python of the PM4Py environment (make bench-env)")
    parser.add_argument("--events", type=int, default=10_000_000, help="size of the generated log")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit for the capped conveyor run")
    parser.add_argument("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    csv, parquet = generate(args.events)
    assert csv is not None
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
        record_rows(rows, args)


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


def record_rows(rows: list[tuple[str, dict[str, dict[str, float]]]], args: argparse.Namespace) -> None:
    command = (
        f".venv/bin/python bench/ingest.py --reference-python {args.reference_python} "
        f"--events {args.events} --repeat {args.repeat} --memory-limit {args.memory_limit}"
    )
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {args.repeat} runs, "
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
    record("Ingest (bench/ingest.py)", lines)


if __name__ == "__main__":
    main()
