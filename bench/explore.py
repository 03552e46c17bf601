"""What a user waits for when exploring: filtered analyses computed on the fly, from the shell.

The whole-stream map is precomputed at ingest (bench/mining.py measures that path). Here every
analysis runs under a filter, so nothing precomputed helps: a case-attribute filter
(``--where region=North``) and a six-month time window (``--from/--to``, cases contained in it).
For each, conveyor runs ``map``, ``variants`` and ``durations`` as real commands; its figure is
each command's wall time minus that of ``conveyor streams --json`` (start-up: interpreter,
imports, opening the store), summed. PM4Py, in its own environment with the log already loaded
as a DataFrame (its load is not counted), applies the same filter and computes the map, the
performance map, the variants and the case durations. Both must find the same cases, variants
and edges.

    make bench-env && .venv/bin/python bench/explore.py --reference-python .venv-pm4py/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, generate, machine, record

ROOT = Path(__file__).resolve().parents[1]
CONVEYOR = str(ROOT / ".venv" / "bin" / "conveyor")

REFERENCE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
import pm4py
path, start, end, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
df = pd.read_parquet(path)
df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
df = pm4py.format_dataframe(df, case_id="case_id", activity_key="activity", timestamp_key="timestamp")
out = {}
for name in ("where", "window"):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        if name == "where":
            f = df[df["case:region"] == "North"]
        else:
            f = pm4py.filter_time_range(df, start, end, mode="traces_contained")
        dfg, s, e = pm4py.discover_dfg(f)
        perf, _, _ = pm4py.discover_performance_dfg(f)
        var = pm4py.get_variants(f)
        durs = pm4py.get_all_case_durations(f)
        times.append(time.perf_counter() - t0)
    out[name] = {"seconds": sorted(times)[len(times) // 2], "cases": len(durs), "variants": len(var),
                 "edges": len(dfg), "frequency": int(sum(dfg.values()))}
print(json.dumps(out))
"""


def run(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([CONVEYOR, *args], capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, proc.stdout


def net(args: list[str], ws: list[str], repeat: int) -> tuple[float, float, str]:
    """The command's wall time minus start-up's: each run of the command is paired with a run of
    `conveyor streams --json` just before it (the machine is shared and noisy: a pair sees the
    same load), and the median of the differences is kept. Also the median start-up."""
    diffs, startups, out = [], [], ""
    for _ in range(repeat):
        startup, _ = run(["streams", "--json", *ws])
        seconds, out = run([*args, *ws])
        diffs.append(seconds - startup)
        startups.append(startup)
    return max(statistics.median(diffs), 0.0), statistics.median(startups), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-python", default=str(ROOT / ".venv-pm4py" / "bin" / "python"))
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    rows = []
    startup_all = []
    for size in [int(s) for s in a.sizes.split(",") if s]:
        _, parquet = generate(size, csv=False)
        ws = OUT / f"explore_{size}"
        shutil.rmtree(ws, ignore_errors=True)
        subprocess.run([CONVEYOR, "init", str(ws)], check=True, capture_output=True)
        subprocess.run([CONVEYOR, "ingest", str(parquet), "--stream", "o2c", "-w", str(ws), "-q"], check=True)
        env_ws = ["-w", str(ws)]
        info = json.loads(run(["streams", "--json", *env_ws])[1])[0]
        first = info["first"][:10]
        start = first[:5] + "04-01"
        end = first[:5] + "10-01"  # six months of a two-year log
        ref = subprocess.run(
            [a.reference_python, "-c", REFERENCE, str(parquet), f"{start} 00:00:00", f"{end} 00:00:00", str(a.repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
        reference = json.loads(ref.stdout.strip().splitlines()[-1])
        for name, flags in (
            ("where", ["--where", "region=North"]),
            ("window", ["--from", start, "--to", end]),
        ):
            parts = {}
            outs = {}
            for command in ("map", "variants", "durations"):
                seconds, startup, out = net([command, "o2c", "--json", *flags], env_ws, a.repeat)
                parts[command] = seconds
                startup_all.append(startup)
                outs[command] = json.loads(out)
            ours = sum(parts.values())
            m, v, d = outs["map"], outs["variants"], outs["durations"]
            same = (
                d["cases"] == reference[name]["cases"]
                and len(v) == reference[name]["variants"]
                and len(m["edges"]) == reference[name]["edges"]
                and sum(e["frequency"] for e in m["edges"]) == reference[name]["frequency"]
            )
            theirs = reference[name]["seconds"]
            rows.append(
                f"| {info['events']:,} | {name} ({d['cases']:,} of {info['cases']:,} cases) | "
                f"{parts['map']:.3f} + {parts['variants']:.3f} + {parts['durations']:.3f} = {ours:.3f} s | "
                f"{theirs:.3f} s | {theirs / ours:.1f}x | {'yes' if same else 'NO'} |"
            )
            print(rows[-1], file=sys.stderr)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {a.repeat} runs. conveyor: "
        "each command's wall time from the shell minus that of `conveyor streams --json` run just before it "
        f"(start-up: median {statistics.median(startup_all):.3f} s here), summed over `map`, `variants` and "
        "`durations` under the filter; PM4Py: the same filter, then map, performance map, variants "
        "and case durations on the DataFrame it already holds. *same* compares cases, variants, edges "
        "and total edge frequency. Reproduce with:",
        "",
        "    make bench-env && .venv/bin/python bench/explore.py --reference-python .venv-pm4py/bin/python",
        "",
        "| events | filter | conveyor: map + variants + durations | PM4Py | ratio | same |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("Filtered analyses on the fly, from the shell (bench/explore.py)", lines)


if __name__ == "__main__":
    main()
