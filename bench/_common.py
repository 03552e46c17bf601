"""What every benchmark shares: generated logs, fresh-process measurements, RESULTS.md sections."""

from __future__ import annotations

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

# Peak resident memory of the measuring process: VmHWM starts afresh at exec (ru_maxrss would
# carry the parent's peak into the child on Linux).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
"""


def machine() -> str:
    """The machine the figures come from, read off it (cores, memory, CPU)."""
    import os

    cores = os.cpu_count() or 0
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{cores} cores, {mem_gb:.0f} GB" + (f" ({cpu})" if cpu else "")


def generate(events: int, *, csv: bool = True) -> tuple[Path | None, Path]:
    """An order-to-cash log of about ``events`` events from the demo generator, as CSV and
    Parquet (cached in bench/out). Generated in a child process, written chunk by chunk."""
    csv_path, parquet = OUT / f"o2c_{events}.csv", OUT / f"o2c_{events}.parquet"
    if parquet.exists() and (csv_path.exists() or not csv):
        return (csv_path if csv else None), parquet
    OUT.mkdir(exist_ok=True)
    code = f"""
import pyarrow.csv as pcsv, pyarrow.parquet as pq
from conveyor.demo.company import generate_stream
cols = ["case_id", "activity", "timestamp", "resource", "case:region", "case:order_value"]
pw = cw = None
n = 0
for t in generate_stream("order-to-cash", max(1, round({events} / 10.45)), seed=11):
    t = t.select(cols)
    pw = pw or pq.ParquetWriter({str(parquet)!r}, t.schema)
    pw.write_table(t)
    if {csv!r}:
        cw = cw or pcsv.CSVWriter({str(csv_path)!r}, t.schema)
        cw.write_table(t)
    n += t.num_rows
pw.close()
if cw: cw.close()
print(n)
"""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    print(f"generated {int(out):,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return (csv_path if csv else None), parquet


def measure(cmd: list[str], repeat: int) -> dict[str, float]:
    """Run ``cmd`` ``repeat`` times (each prints one JSON line); the median of each figure."""
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            return {"error": lines[-1] if lines else "failed"}  # type: ignore[dict-item]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    keys = runs[0].keys()
    return {
        k: (statistics.median(r[k] for r in runs) if isinstance(runs[0][k], int | float) else runs[0][k]) for k in keys
    }


def record(section: str, lines: list[str]) -> None:
    """Replace (or add) ``## section`` in bench/RESULTS.md with ``lines``."""
    body = "\n".join([f"## {section}", "", *lines]) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find(f"## {section}")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + body + ("\n" + text[end + 1 :] if end >= 0 else "")  # a blank line before the next
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text)
