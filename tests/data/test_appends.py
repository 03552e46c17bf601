"""Appends: ingesting a log in chunks gives what ingesting it at once gives, touching only the
cases the new events belong to, with variant ids that do not move."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from conveyor.data.ingest import ingest
from conveyor.data.layout import decoded_events_sql
from conveyor.data.store import Store
from conveyor.mining import Filters, durations, process_map, variants
from tests.conftest import require_data, same

# Logs with and without lifecycle starts (bpic2012 has start/complete/schedule transitions).
CHUNKED_LOGS = ["running-example.xes", "sepsis.csv", "bpic2012.xes.gz"]


def source_table(name: str) -> pa.Table:
    """The log as one Arrow table in source order. Exact repeats of a row are left out: within
    one ingest they are kept as events, but a repeat arriving in a later ingest is, rightly,
    quarantined as a duplicate of a stored event, so chunking would change the count."""
    with Store() as s:
        ingest(s, require_data() / name, stream="x")
        extra = [c for c, _ in s.columns('"stream_x".cases') if c not in CASE_CORE]
        case_cols = "".join(f', c."{c}" AS "case:{c}"' for c in extra)
        sql = decoded_events_sql(s, "stream_x").replace(" FROM ", f"{case_cols} FROM ", 1)
        return s.arrow(
            f'SELECT * EXCLUDE (seq, fp, ingest_id, ts), ts AS "timestamp" FROM ({sql}) '
            "QUALIFY row_number() OVER (PARTITION BY fp, case_id, ts ORDER BY seq) = 1 ORDER BY seq"
        )


CASE_CORE = {"case_idx", "case_id", "first_ts", "last_ts", "n_events", "duration_seconds", "variant_id"}
CASE_CORE |= {"instance_variant_id"}


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the chunking must not change, in decoded form (codes may differ)."""
    events = store.records(
        "SELECT c.case_id, e.pos, a.name AS activity, e.ts, r.name AS resource, e.lifecycle, "
        "na.name AS next_activity, e.next_ts "
        'FROM "stream_t".events e JOIN "stream_t".cases c USING (case_idx) '
        'JOIN "stream_t".activities a ON a.code = e.activity LEFT JOIN "stream_t".activities na '
        'ON na.code = e.next_activity LEFT JOIN "stream_t".resources r ON r.code = e.resource '
        "ORDER BY c.case_id, e.pos"
    )
    cases = store.records('SELECT * EXCLUDE (case_idx) FROM "stream_t".cases ORDER BY case_id')
    out: dict[str, Any] = {"events": events, "cases": cases}
    for level in (None, Filters(events=True)):
        key = "events" if level else "default"
        out[f"map/{key}"] = process_map(store, "t", filters=level)
        out[f"variants/{key}"] = variants(store, "t", filters=level)
        out[f"durations/{key}"] = durations(store, "t", filters=level)
    out["catalog"] = store.stream("t").as_dict()
    return out


@pytest.fixture(scope="module")
def sources() -> dict[str, tuple[pa.Table, dict[str, Any]]]:
    require_data()
    out = {}
    for name in CHUNKED_LOGS:
        table = source_table(name)
        with Store() as whole:
            ingest(whole, table, stream="t")
            out[name] = (table, snapshot(whole))
    return out


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("name", CHUNKED_LOGS)
def test_chunks_give_what_one_ingest_gives(
    sources: dict[str, tuple[pa.Table, dict[str, Any]]], name: str, seed: int
) -> None:
    """k random cut points (seeded, so a failure repeats): the layout, both levels' maps,
    variants (ids included) and durations are those of one ingest."""
    table, expected = sources[name]
    rng = random.Random(f"{name}/{seed}")
    k = rng.randint(2, 5)
    cuts = sorted(rng.sample(range(1, table.num_rows), k - 1))
    with Store() as store:
        for lo, hi in zip([0, *cuts], [*cuts, table.num_rows], strict=True):
            result = ingest(store, table.slice(lo, hi - lo), stream="t")
            assert result.quarantined == 0
        got = snapshot(store)
    for key in expected:
        same(got[key], expected[key], f"{name} cut at {cuts}: {key}")


def rows(case: str, start_hour: int, steps: list[tuple[str, str | None]]) -> list[tuple[str, str, str, str | None]]:
    return [(case, a, f"2024-05-01T{start_hour + i:02d}:00:00Z", lc) for i, (a, lc) in enumerate(steps)]


def as_table(records: list[tuple[str, str, str, str | None]]) -> pa.Table:
    cols = ("case_id", "activity", "timestamp", "lifecycle")
    return pa.table({c: [r[i] for r in records] for i, c in enumerate(cols)})


def test_an_append_rewrites_only_the_cases_it_touches(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        first = [r for i in range(50) for r in rows(f"c{i}", 0, [("A", None), ("B", None)])]
        ingest(store, as_table(first), stream="t")
        before = dict(store.rows('SELECT rowid, case_idx FROM "stream_t".events WHERE case_idx > 0'))
        ids_before = {tuple(v["activities"]): v["variant_id"] for v in variants(store, "t")}
        ingest(store, as_table(rows("c0", 5, [("C", None)]) + rows("new", 1, [("A", None)])), stream="t")
        after = dict(store.rows('SELECT rowid, case_idx FROM "stream_t".events WHERE case_idx > 0'))
        # the untouched cases' rows are where they were, untouched
        assert {r: c for r, c in after.items() if r in before} == before
        ids_after = {tuple(v["activities"]): v["variant_id"] for v in variants(store, "t")}
        assert ids_after[("A", "B")] == ids_before[("A", "B")]
        assert {tuple(v["activities"]): v["cases"] for v in variants(store, "t")} == {
            ("A", "B"): 49,
            ("A", "B", "C"): 1,
            ("A",): 1,
        }
        assert store.stream("t").cases == 51
        # the whole-stream map was dropped by the append and is rebuilt on the next read
        m = process_map(store, "t")
        assert {(e["source"], e["target"]): e["frequency"] for e in m["edges"]} == {("A", "B"): 50, ("B", "C"): 1}
        assert store.has_table("stream_t", "map_edges")


def test_the_first_start_events_arrive_in_an_append(tmp_path: Path) -> None:
    with Store(tmp_path / "b.duckdb") as store:
        ingest(store, as_table(rows("x", 0, [("A", "complete"), ("B", "complete")])), stream="t")
        assert not store.has_table("stream_t", "instances")
        ingest(store, as_table(rows("y", 3, [("A", "start"), ("A", "complete"), ("B", "complete")])), stream="t")
        assert store.has_table("stream_t", "instances")
        v = {tuple(x["activities"]): x["cases"] for x in variants(store, "t")}
        assert v == {("A", "B"): 2}  # y's start and complete of A are one instance
        assert {tuple(x["activities"]): x["cases"] for x in variants(store, "t", filters=Filters(events=True))} == {
            ("A", "B"): 1,
            ("A", "A", "B"): 1,
        }


def test_case_attributes_survive_an_append(tmp_path: Path) -> None:
    with Store(tmp_path / "c.duckdb") as store:
        t1 = as_table(rows("x", 0, [("A", None)])).append_column("case:tier", pa.array(["gold"]))
        ingest(store, t1, stream="t")
        t2 = as_table(rows("x", 2, [("B", None)]) + rows("y", 2, [("A", None)]))
        t2 = t2.append_column("case:tier", pa.array(["silver", "bronze"])).append_column(
            "case:region", pa.array(["N", "S"])
        )
        ingest(store, t2, stream="t")
        got = store.rows('SELECT case_id, tier, region FROM "stream_t".cases ORDER BY case_id')
        # a value already stored wins; a new attribute fills in for the old case
        assert got == [("x", "gold", "N"), ("y", "bronze", "S")]


def test_numeric_timestamps_in_any_unit(tmp_path: Path) -> None:
    base = 1_700_000_000  # 2023-11-14T22:13:20Z
    with Store(tmp_path / "d.duckdb") as store:
        for unit, scale in (("s", 1), ("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)):
            t = pa.table(
                {"case_id": ["a", "a"], "activity": ["x", "y"], "timestamp": [base * scale, (base + 90) * scale]}
            )
            result = ingest(store, t, stream=f"u-{unit}")
            assert result.timestamp_format is not None
            assert result.timestamp_format.endswith(
                {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit]
            )
            first, last = store.rows(f'SELECT min(ts), max(ts) FROM "stream_u-{unit}".events')[0]
            assert first.isoformat() == "2023-11-14T22:13:20+00:00", unit
            assert (last - first).total_seconds() == 90
        # told explicitly, a small number of milliseconds is not read as seconds
        t = pa.table({"case_id": ["a"], "activity": ["x"], "timestamp": [86_400_000]})
        ingest(store, t, stream="explicit", timestamp_unit="ms")
        assert store.scalar('SELECT ts FROM "stream_explicit".events').isoformat() == "1970-01-02T00:00:00+00:00"
