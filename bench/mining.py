"""Process analyses: conveyor against PM4Py, in the same run, with the same numbers out.

For each log, both tools load it and compute the four analyses that PM4Py users run first:
process map (directly-follows counts), performance map (times on the edges), variants and case
durations. Each tool runs in a fresh process of its own environment (PM4Py with its default
dependencies, pandas 3: `make bench-env`). Reported: load time, analysis time, end to end, peak
memory, and whether edge count, total frequency, variants, cases and the sum of case durations
agree. ``--huge`` adds 100M generated events, which PM4Py (~740 MB per million events) cannot
hold on this machine, so only conveyor runs it.

    make bench-mining
    .venv/bin/python bench/mining.py --reference-python .venv-pm4py/bin/python --sizes 1000000 --repeat 1
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
t0 = time.perf_counter()
from conveyor.data.store import Store
from conveyor.data.ingest import ingest
from conveyor.mining import durations, process_map, variants
path, db, limit = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.exists(db):
    os.remove(db)
store = Store(db, memory_limit=limit)
ingest(store, path, stream="bench")
t1 = time.perf_counter()
m = process_map(store, "bench")
v = variants(store, "bench")
d = durations(store, "bench")
t2 = time.perf_counter()
total = store.scalar('SELECT sum(duration_seconds) FROM "stream_bench".cases')
print(json.dumps({"load_s": t1 - t0, "analyses_s": t2 - t1, "total_s": t2 - t0, "peak_mb": peak_mb(),
                  "events": sum(n["events"] for n in m["nodes"]), "edges": len(m["edges"]),
                  "frequency": sum(e["frequency"] for e in m["edges"]), "variants": len(v), "cases": d["cases"],
                  "duration_sum": round(total)}))
"""
)

REFERENCE = (
    PEAK
    + """
import json, sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import pandas as pd
import pm4py
path = sys.argv[1]
if path.endswith((".xes", ".xes.gz")):
    from pm4py.util import constants
    df = pm4py.read_xes(path, variant=constants.DEFAULT_XES_PARSER, return_legacy_log_object=False)
else:
    df = pd.read_csv(path)
    df = pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")
t1 = time.perf_counter()
dfg, starts, ends = pm4py.discover_dfg(df)
perf, _, _ = pm4py.discover_performance_dfg(df)
var = pm4py.get_variants(df)
durs = pm4py.get_all_case_durations(df)
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "analyses_s": t2 - t1, "total_s": t2 - t0, "peak_mb": peak_mb(),
                  "events": len(df), "edges": len(dfg), "frequency": int(sum(dfg.values())), "variants": len(var),
                  "cases": len(durs), "duration_sum": round(sum(durs))}))
"""
)

HEADER = "| input | tool | events | load | 4 analyses | end to end | peak RSS | conveyor against PM4Py | same numbers |"
CHECKED = ("events", "edges", "frequency", "variants", "cases", "duration_sum")


def row(label: str, name: str, r: dict[str, float], base: dict[str, float] | None) -> str:
    if "error" in r:
        return f"| {label} | {name} | error: {r['error']} | | | | | |"
    ratio = same = ""
    if base and "error" not in base and name == "conveyor":
        ratio = (
            f"analyses {base['analyses_s'] / r['analyses_s']:.0f}x, end to end {base['total_s'] / r['total_s']:.1f}x, "
            f"memory {r['peak_mb'] / base['peak_mb']:.2f}x"
        )
        # durations are summed in whole seconds by each tool: allow a rounding difference per case
        same = (
            "yes"
            if all(r[k] == base[k] for k in CHECKED if k != "duration_sum")
            and abs(r["duration_sum"] - base["duration_sum"]) <= r["cases"]
            else "NO"
        )
    return (
        f"| {label} | {name} | {int(r['events']):,} | {r['load_s']:.2f} s | {r['analyses_s']:.3f} s | "
        f"{r['total_s']:.2f} s | {r['peak_mb']:,.0f} MB | {ratio} | {same} |"
    )


def cli_timing(args: argparse.Namespace, events: int = 1_000_000, runs: int = 5) -> list[str]:
    """`conveyor map STREAM --json` from the shell on an ingested stream: start-up included."""
    import shutil
    import statistics
    import subprocess

    _, parquet = generate(events, csv=False)
    ws = OUT / f"ws_{events}"
    shutil.rmtree(ws, ignore_errors=True)
    exe = str(Path(sys.executable).parent / "conveyor")
    subprocess.run([exe, "init", str(ws)], check=True, capture_output=True)
    subprocess.run(
        [exe, "ingest", str(parquet), "--stream", "o2c", "-q", "-w", str(ws)], check=True, capture_output=True
    )
    lines = []
    for command in (
        ["map", "o2c", "--json"],
        ["variants", "o2c", "--json"],
        ["map", "o2c", "--json", "--where", "region=North"],
    ):
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([exe, *command, "-w", str(ws)], check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        line = (
            f"| `conveyor {' '.join(command)}` | {events:,} | {statistics.median(times):.3f} s | {min(times):.3f} s |"
        )
        print(line, flush=True)
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", help="python of the PM4Py environment (make bench-env)")
    parser.add_argument("--sizes", default="1000000,10000000", help="generated log sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is kept")
    parser.add_argument("--memory-limit", default="", help="DuckDB memory limit for conveyor (default: DuckDB's)")
    parser.add_argument("--huge", type=int, default=0, help="also run conveyor alone on this many generated events")
    parser.add_argument("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--no-bpic", action="store_true", help="skip bpic2012.xes.gz")
    parser.add_argument("--no-cli", action="store_true", help="skip timing `conveyor map` from the shell")
    args = parser.parse_args()

    inputs: list[tuple[str, Path]] = []
    if (DATA / "bpic2012.xes.gz").exists() and not args.no_bpic:
        inputs.append(("bpic2012.xes.gz", DATA / "bpic2012.xes.gz"))
    for size in (int(s) for s in args.sizes.split(",") if s):
        csv, _ = generate(size)
        assert csv is not None
        inputs.append((csv.name, csv))
    db = str(OUT / "mining.duckdb")
    lines = []
    print(HEADER)
    for label, path in inputs:
        results = {"conveyor": measure([sys.executable, "-c", CONVEYOR, str(path), db, args.memory_limit], args.repeat)}
        if args.reference_python:
            results["pm4py"] = measure([args.reference_python, "-c", REFERENCE, str(path)], args.repeat)
        for name, r in results.items():
            line = row(label, name, r, results.get("pm4py"))
            print(line, flush=True)
            lines.append(line)
    cli_lines = cli_timing(args) if not args.no_cli else []
    huge_lines = []
    if args.huge:
        _, parquet = generate(args.huge, csv=False)
        r = measure([sys.executable, "-c", CONVEYOR, str(parquet), db, args.memory_limit], 1)
        line = row(parquet.name, "conveyor", r, None)
        print(line, flush=True)
        huge_lines.append(line)
    if args.no_record:
        return
    limit = f" --memory-limit {args.memory_limit}" if args.memory_limit else ""
    if lines:
        command = (
            f".venv/bin/python bench/mining.py --reference-python {args.reference_python} --sizes {args.sizes} "
            f"--repeat {args.repeat}{limit}"
        )
        record(
            "Process analyses (bench/mining.py)",
            [
                f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {args.repeat} runs, "
                "each tool in a fresh process of its own environment. *load* is reading the file (conveyor: ingest "
                "into a new DuckDB file: validated, sorted, encoded, summarized); *4 analyses* are process map, "
                "performance map, variants and case durations of the whole log, which conveyor answers from what "
                "ingest precomputed (the map is a table read; variants and durations group the cases table), while "
                "PM4Py computes them from its events: this row is what opening a stream costs, not what exploring "
                "it costs (filtered analyses computed on the fly: bench/explore.py). *same numbers* compares "
                "edges, total edge frequency, variants, cases and the sum of case durations. Reproduce with:",
                "",
                f"    make bench-env && {command}",
                "",
                HEADER,
                "|---|---|---|---|---|---|---|---|---|",
                *lines,
            ],
        )
    if cli_lines:
        record(
            "Commands from the shell (bench/mining.py)",
            [
                f"Measured {time.strftime('%Y-%m-%d')}: wall time of the real command on an ingested stream of "
                f"generated events, start-up and imports included, {5} runs each. Reproduce with:",
                "",
                "    .venv/bin/python bench/mining.py --sizes '' --no-bpic",
                "",
                "| command | events | median | best |",
                "|---|---|---|---|",
                *cli_lines,
            ],
        )
    if huge_lines:
        record(
            "Process analyses at scale (bench/mining.py --huge)",
            [
                f"Measured {time.strftime('%Y-%m-%d')}: conveyor alone (PM4Py needs ~740 MB per million events and "
                "cannot hold this on a 24 GB machine), ingesting a Parquet log made by the demo generator, then the "
                "same four analyses. Reproduce with:",
                "",
                f"    .venv/bin/python bench/mining.py --sizes '' --no-bpic --huge {args.huge}{limit}",
                "",
                HEADER,
                "|---|---|---|---|---|---|---|---|---|",
                *huge_lines,
            ],
        )


if __name__ == "__main__":
    main()
