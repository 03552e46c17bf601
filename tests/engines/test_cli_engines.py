"""`conveyor --engine spark ...` prints what `conveyor ...` prints on DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.conftest import need

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_same_json_on_both_engines(tmp_path: Path) -> None:
    need("pyspark", "the Spark engine needs the spark extra (make test installs it)")
    ws = tmp_path / "ws"
    assert run("init", str(ws)).returncode == 0
    log = tmp_path / "log.csv"
    log.write_text(
        "case_id,activity,timestamp,resource,case:tier\n"
        + "".join(
            f"c{i},{a},2024-01-{1 + i % 9:02d}T{h:02d}:00:00Z,r{(i + h) % 3},{'gold' if i % 2 else 'silver'}\n"
            for i in range(40)
            for h, a in enumerate(["Open", "Work", "Review", "Work", "Close"][: 3 + i % 3])
        )
    )
    proc = run("--engine", "spark", "ingest", str(log), "--stream", "t-1", "--json", "-w", str(ws))
    assert proc.returncode == 0, proc.stderr
    assert (ws / "spark" / "stream_t_h1" / "events").is_dir()  # published as Parquet
    # every Spark command starts a JVM (~10 s): one filtered map, byte for byte (filters on both
    # engines are the parity suite's work, in-process)
    args = ["map", "t-1", "--where", "tier=gold", "--json", "-w", str(ws)]
    duck, spark = run(*args), run("--engine", "spark", *args)
    assert duck.returncode == 0, duck.stderr
    assert spark.returncode == 0, spark.stderr
    assert spark.stdout == duck.stdout
    # a stream built by Spark itself from a plain table (here: the one conveyor exports)
    table = tmp_path / "t.parquet"
    assert run("export", "t-1", "--out", str(table), "-w", str(ws)).returncode == 0
    built = run("spark-ingest", str(table), "--stream", "t-copy", "--json", "-w", str(ws))
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout) == {
        "stream": "t-copy",
        "events_loaded": 159,
        "cases": 40,
        "quarantined": 0,
        "already_ingested": False,
    }
    # (that a layout Spark built answers like ingest's is tests/engines/test_spark_layout.py's work)
    missing = run("--engine", "spark", "map", "nope", "-w", str(ws))
    assert missing.returncode == 1
    assert "conveyor publish" in missing.stderr
