"""Oracle: on every shared log, conveyor's numbers equal PM4Py's (test-only reference)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.mining import Filters, durations, process_map, rework, variants
from tests.conftest import LOGS, need

pm4py = need("pm4py", "the oracle tests compare with PM4Py (a dev dependency)")

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

    # PM4Py's default discovery counts events one by one, whatever their lifecycle.
    events = Filters(events=True)
    ours = process_map(store, "log", filters=events)
    edges = {(e["source"], e["target"]): e for e in ours["edges"]}
    assert {k: e["frequency"] for k, e in edges.items()} == {k: int(v) for k, v in dfg.items()}
    assert ours["start_activities"] == {k: int(v) for k, v in starts.items()}
    assert ours["end_activities"] == {k: int(v) for k, v in ends.items()}
    for key, stats in perf.items():
        assert close(edges[key]["mean_seconds"], stats["mean"]), key
        assert close(edges[key]["median_seconds"], stats["median"]), key
        assert close(edges[key]["total_seconds"], stats["sum"]), key

    ours_variants = {tuple(v["activities"]): v["cases"] for v in variants(store, "log", filters=events)}
    assert ours_variants == {tuple(k): int(v) for k, v in ref_variants.items()}

    assert durations(store, "log")["cases"] == len(ref_durations)
    got = sorted(r[0] for r in store.rows('SELECT duration_seconds FROM "stream_log".cases'))
    assert all(close(a, b) for a, b in zip(got, ref_durations, strict=True))


@pytest.mark.realdata
@pytest.mark.slow
def test_instance_map_matches_pm4py_interval_log(store: Store, logs: Path) -> None:
    """bpic2012 as activity instances: PM4Py's interval log (start and complete paired by
    ``interval_lifecycle.to_interval``) gives the same map, waiting times, variants and rework."""
    from pm4py.objects.log.util import interval_lifecycle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = pm4py.read_xes(str(logs / "bpic2012.xes.gz"), return_legacy_log_object=True)
        df = pm4py.convert_to_dataframe(interval_lifecycle.to_interval(log))
        # with a start_timestamp column, PM4Py orders instances by start, then end
        dfg, starts, ends = pm4py.discover_dfg(df)
        ref_variants = pm4py.get_variants(df)
    # An edge's time is the wait from one instance's end to the next one's start. PM4Py reports it
    # signed (negative where the next instance started before this one ended); conveyor counts
    # overlapping work as no wait, so the reference here is PM4Py's pairs with the wait clipped at 0.
    ordered = df.sort_values(["case:concept:name", "start_timestamp", "time:timestamp"], kind="stable")
    after = ordered.shift(-1)
    same_case = ordered["case:concept:name"] == after["case:concept:name"]
    waits = (after["start_timestamp"] - ordered["time:timestamp"]).dt.total_seconds().clip(lower=0)
    pairs = ordered.assign(target=after["concept:name"], wait=waits)[same_case]
    perf = pairs.groupby(["concept:name", "target"])["wait"].agg(["mean", "median"])
    ingest(store, logs / "bpic2012.xes.gz", stream="log")
    ours = process_map(store, "log")
    assert sum(n["events"] for n in ours["nodes"]) == len(df)
    edges = {(e["source"], e["target"]): e for e in ours["edges"]}
    assert {k: e["frequency"] for k, e in edges.items()} == {k: int(v) for k, v in dfg.items()}
    assert ours["start_activities"] == {k: int(v) for k, v in starts.items()}
    assert ours["end_activities"] == {k: int(v) for k, v in ends.items()}
    assert len(perf) == len(edges)
    for key, stats in perf.iterrows():
        assert close(edges[key]["mean_seconds"], stats["mean"]), key
        assert close(edges[key]["median_seconds"], stats["median"]), key
    ours_variants = {tuple(v["activities"]): v["cases"] for v in variants(store, "log")}
    assert ours_variants == {tuple(k): int(v) for k, v in ref_variants.items()}
    # rework on instances: a case repeats an activity when it has two instances of it
    per_case = df.groupby(["case:concept:name", "concept:name"]).size()
    repeated = per_case[per_case > 1].reset_index()["concept:name"].value_counts()
    got = {r["activity"]: r["cases_repeated"] for r in rework(store, "log")["activities"] if r["cases_repeated"]}
    assert got == {k: int(v) for k, v in repeated.items()}
    # and the problem the event view had: an activity's start and complete are one occurrence
    completeren = next(r for r in rework(store, "log")["activities"] if r["activity"] == "W_Completeren aanvraag")
    assert completeren["rework_rate"] < 0.7
