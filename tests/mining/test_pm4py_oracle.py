"""Oracle: on every shared log, conveyor's numbers equal PM4Py's (test-only reference)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import durations, process_map, variants
from tests.conftest import LOGS

pm4py = pytest.importorskip("pm4py")

# file -> how PM4Py reads it (its own loaders, with the file's column names)
CSV = {
    "helpdesk.csv": ({"sep": ","}, "Case ID", "Activity", "Complete Timestamp"),
    # sepsis has a case named "NA"; pandas would read it as missing and PM4Py would drop the case
    "sepsis.csv": ({"sep": ";", "keep_default_na": False, "na_values": [""]}, "case_id", "activity", "timestamp"),
    "receipt.csv": ({"sep": ","}, "case:concept:name", "concept:name", "time:timestamp"),
}
XES = [
    "running-example.xes",
    "roadtraffic100traces.xes",
    "08_receipt.xes.gz",
    "06_bpic2013_closed.xes.gz",
    "bpic2020_request_for_payment.xes.gz",
    "bpic2019_one_trace_per_variant.xes.gz",
    "bpic2012.xes.gz",
]


def reference(name: str) -> Any:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in CSV:
            kw, case, act, ts = CSV[name]
            df = pd.read_csv(LOGS / name, **kw)
            df[ts] = pd.to_datetime(df[ts], utc=True, format="mixed")
            return pm4py.format_dataframe(df, case_id=case, activity_key=act, timestamp_key=ts)
        from pm4py.util import constants

        return pm4py.read_xes(str(LOGS / name), variant=constants.DEFAULT_XES_PARSER, return_legacy_log_object=False)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", [*CSV, *XES])
def test_same_numbers_as_pm4py(store: Store, logs: Path, name: str) -> None:
    df = reference(name)
    ingest(store, logs / name, stream="log")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dfg, starts, ends = pm4py.discover_dfg(df)
        perf, _, _ = pm4py.discover_performance_dfg(df)
        ref_variants = pm4py.get_variants(df)
        ref_durations = sorted(pm4py.get_all_case_durations(df))

    ours = process_map(store, "log")
    edges = {(e["source"], e["target"]): e for e in ours["edges"]}
    assert {k: e["frequency"] for k, e in edges.items()} == {k: int(v) for k, v in dfg.items()}
    assert ours["start_activities"] == {k: int(v) for k, v in starts.items()}
    assert ours["end_activities"] == {k: int(v) for k, v in ends.items()}
    for key, stats in perf.items():
        assert close(edges[key]["mean_seconds"], stats["mean"]), key
        assert close(edges[key]["median_seconds"], stats["median"]), key
        assert close(edges[key]["total_seconds"], stats["sum"]), key

    ours_variants = {tuple(v["activities"]): v["cases"] for v in variants(store, "log")}
    assert ours_variants == {tuple(k): int(v) for k, v in ref_variants.items()}

    assert durations(store, "log")["cases"] == len(ref_durations)
    got = sorted(r[0] for r in store.rows('SELECT duration_seconds FROM "stream_log".cases'))
    assert all(close(a, b) for a, b in zip(got, ref_durations, strict=True))
