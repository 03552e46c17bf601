"""The same analyses on DuckDB and on Spark (local, this machine), on generated logs.

For each size: ingest the log into DuckDB (embedded), publish the layout as Parquet for Spark,
and separately build the layout natively on Spark from the raw Parquet (`conveyor spark-ingest`),
then run the same analyses on both engines: the process map (whole stream, then filtered, so
the query really runs), variants, durations, bottlenecks and rework. Spark local on 2 cores is
not where Spark shines; the point is that the same definitions run there, with the same answers,
so a cluster can take over when one machine is not enough.

    .venv/bin/python bench/spark.py --sizes 10000000,100000000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, generate, machine, record

ANALYSES = ["map", "map (filtered)", "variants", "durations", "bottlenecks", "rework"]


def run_all(engine: Any, stream: str) -> tuple[dict[str, float], dict[str, Any]]:
    from conveyor.mining import Filters, bottlenecks, durations, process_map, rework, variants

    north = Filters(attributes={"region": ("North",)})
    calls = {
        "map": lambda: process_map(engine, stream),
        "map (filtered)": lambda: process_map(engine, stream, filters=north),
        "variants": lambda: variants(engine, stream, top=10),
        "durations": lambda: durations(engine, stream),
        "bottlenecks": lambda: bottlenecks(engine, stream),
        "rework": lambda: rework(engine, stream),
    }
    times, answers = {}, {}
    for name, call in calls.items():
        started = time.perf_counter()
        answers[name] = call()
        times[name] = time.perf_counter() - started
    return times, answers


def warm_up(engine: Any, stream: str) -> None:
    """Untimed: the JVM's first queries pay for class loading and code generation, and the first
    read of each table for listing its files; none of that is what a later query waits for."""
    from conveyor.mining import process_map

    schema = engine.require_stream(stream)
    for table in ("events", "cases", "variants", "activities"):
        engine.records(f'SELECT count(*) AS n FROM "{schema}".{table}')
    process_map(engine, stream)


def agree(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(agree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(agree(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000000", help="generated log sizes, comma-separated")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument(
        "--driver-memory",
        default="8g",
        help="Spark driver heap; in local mode it is the executor too (Spark's 1g default runs out at 100M events)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--native-max", type=int, default=10**12, help="skip the Spark-native layout build above this many events"
    )
    args = parser.parse_args()

    from conveyor.data.ingest import ingest
    from conveyor.data.spark import SparkStore, publish_stream
    from conveyor.data.spark_layout import build_layout_spark
    from conveyor.data.store import Store

    # Everything DuckDB does comes first, before Spark's JVM starts: the JVM keeps the heap it
    # grew, and DuckDB's default limit (80% of RAM) plus an 8 GB heap is more than this machine has.
    sizes = [int(s) for s in args.sizes.split(",") if s]
    duck_side: dict[int, tuple[int, float, float, dict[str, float], dict[str, Any]]] = {}
    for size in sizes:
        _, parquet = generate(size, csv=False)
        db = OUT / "spark-bench.duckdb"
        db.unlink(missing_ok=True)
        Path(f"{db}.wal").unlink(missing_ok=True)
        warehouse = OUT / f"spark-warehouse-{size}"
        shutil.rmtree(warehouse, ignore_errors=True)
        with Store(db) as store:
            t = time.perf_counter()
            result = ingest(store, parquet, stream="o2c")
            ingest_s = time.perf_counter() - t
            t = time.perf_counter()
            publish_stream(store, "o2c", str(warehouse))
            publish_s = time.perf_counter() - t
            duck_times, duck = run_all(store, "o2c")
        db.unlink(missing_ok=True)
        duck_side[size] = (result.events_loaded, ingest_s, publish_s, duck_times, duck)
        print(f"{size:,}: DuckDB side done (ingest {ingest_s:.1f} s)", file=sys.stderr, flush=True)

    lines = []
    conf = {"spark.driver.memory": args.driver_memory}
    for size in sizes:
        events, ingest_s, publish_s, duck_times, duck = duck_side[size]
        _, parquet = generate(size, csv=False)
        spark = SparkStore(OUT / f"spark-warehouse-{size}", master=args.master, conf=conf)
        spark.refresh("o2c")
        warm_up(spark, "o2c")
        spark_times, answers = run_all(spark, "o2c")
        native_s: float | None = None
        native_times: dict[str, float] = {}
        native: dict[str, Any] = {}
        if size <= args.native_max:
            t = time.perf_counter()
            build_layout_spark(spark, str(parquet), stream="o2c-native")
            native_s = time.perf_counter() - t
            warm_up(spark, "o2c-native")
            native_times, native = run_all(spark, "o2c-native")
        same = "yes" if agree(duck, answers) and (not native or agree(duck, native)) else "NO"
        lines.append(
            f"| {events:,} | layout | DuckDB ingest {ingest_s:.1f} s (+ publish {publish_s:.1f} s) | "
            + (f"Spark-native build {native_s:.1f} s | |" if native_s is not None else "Spark-native build not run | |")
        )
        for name in ANALYSES:
            lines.append(
                f"| {events:,} | {name} | {duck_times[name]:.3f} s | {spark_times[name]:.2f} s | "
                + (f"{native_times[name]:.2f} s |" if name in native_times else "not run (--native-max) |")
            )
        lines.append(f"| {events:,} | same answers on both engines | {same} | | |")
        for line in lines[-(len(ANALYSES) + 2) :]:
            print(line, flush=True)
        shutil.rmtree(OUT / f"spark-warehouse-{size}", ignore_errors=True)
    if sizes:
        spark.stop()
    if args.no_record:
        return
    record(
        "DuckDB and Spark (bench/spark.py)",
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, Spark {args.master} in the "
            "same process (session start and a warm-up query per table not counted). *Spark* reads the layout DuckDB ingest published; "
            "*Spark-native* the layout Spark built itself from the raw Parquet. All DuckDB work runs first, "
            "then Spark starts, so the two never hold memory at once. Reproduce with:",
            "",
            f"    .venv/bin/python bench/spark.py --sizes {args.sizes} --master '{args.master}' "
            f"--driver-memory {args.driver_memory}"
            + (f" --native-max {args.native_max}" if args.native_max < 10**12 else ""),
            "",
            "| events | analysis | DuckDB | Spark | Spark-native |",
            "|---|---|---|---|---|",
            *lines,
        ],
    )


if __name__ == "__main__":
    main()
