"""Every shared log ingests with exactly the case and event counts its README states."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store

EXPECTED = {
    "running-example.xes": (6, 42),
    "roadtraffic100traces.xes": (100, 390),
    "receipt.csv": (1_434, 8_577),
    "08_receipt.xes.gz": (1_434, 8_577),
    "06_bpic2013_closed.xes.gz": (1_487, 6_660),
    "helpdesk.csv": (4_580, 21_348),
    "sepsis.csv": (1_050, 15_214),
    "bpic2020_request_for_payment.xes.gz": (6_760, 36_072),
    "bpic2019_one_trace_per_variant.xes.gz": (11_973, 338_247),
    "bpic2012.xes.gz": (13_087, 262_200),
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", list(EXPECTED))
def test_counts_match_readme(store: Store, logs: Path, name: str) -> None:
    cases, events = EXPECTED[name]
    result = ingest(store, logs / name, stream="log")
    info = store.stream("log")
    assert (info.cases, info.events) == (cases, events)
    assert result.events_loaded == events
    assert result.quarantined == 0
    # the layout's invariants hold on real data
    assert store.scalar('SELECT sum(n_events) FROM "stream_log".cases') == events
    assert store.scalar('SELECT sum(cases) FROM "stream_log".variants') == cases
    assert store.scalar('SELECT count(next_activity) FROM "stream_log".events') == events - cases


@pytest.mark.realdata
def test_receipt_csv_and_xes_give_the_same_events(store: Store, logs: Path) -> None:
    ingest(store, logs / "receipt.csv", stream="csv")
    ingest(store, logs / "08_receipt.xes.gz", stream="xes")
    q = (
        'SELECT c.case_id, a.name, e.ts, r.name, e.lifecycle FROM "stream_{s}".events e '
        'JOIN "stream_{s}".cases c USING (case_idx) JOIN "stream_{s}".activities a ON a.code = e.activity '
        'LEFT JOIN "stream_{s}".resources r ON r.code = e.resource ORDER BY ALL'
    )
    csv_rows = store.rows(q.format(s="csv"))
    xes_rows = store.rows(q.format(s="xes"))
    assert len(csv_rows) == 8_577
    assert csv_rows == xes_rows


@pytest.mark.realdata
def test_ties_keep_source_order(store: Store, logs: Path) -> None:
    """Events with the same case and timestamp keep the order of the file (as PM4Py does)."""
    ingest(store, logs / "helpdesk.csv", stream="hd")
    out_of_order = store.scalar(
        "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (PARTITION BY case_idx ORDER BY pos) AS prev, ts, "
        'lag(ts) OVER (PARTITION BY case_idx ORDER BY pos) AS prev_ts FROM "stream_hd".events) '
        "WHERE ts = prev_ts AND seq < prev"
    )
    ties = store.scalar(
        "SELECT count(*) FROM (SELECT ts, lag(ts) OVER (PARTITION BY case_idx ORDER BY pos) AS p "
        'FROM "stream_hd".events) WHERE ts = p'
    )
    assert ties > 0  # the log has ties, so the check means something
    assert out_of_order == 0


@pytest.mark.realdata
def test_attributes_are_kept_and_typed(store: Store, logs: Path) -> None:
    ingest(store, logs / "sepsis.csv", stream="sepsis")
    types = dict(store.columns('"stream_sepsis".events'))
    assert types["leucocytes"] == "DOUBLE"  # 'NA' read as missing, numbers as numbers
    assert types["infectionsuspected"] == "BOOLEAN"
    assert store.scalar('SELECT count(leucocytes) FROM "stream_sepsis".events') > 3_000
    ingest(store, logs / "08_receipt.xes.gz", stream="receipt")
    case_types = dict(store.columns('"stream_receipt".cases'))
    assert case_types["channel"] == "VARCHAR"
    assert case_types["deadline"] == "TIMESTAMP WITH TIME ZONE"


@pytest.mark.realdata
def test_named_columns_become_case_attributes(store: Store, logs: Path) -> None:
    """The helpdesk CSV repeats each case's workgroup on every row, without the case: prefix;
    --case-attribute keeps it per case (its first row's value), so --by and --where can use it."""
    from conveyor.errors import MappingError

    ingest(store, logs / "helpdesk.csv", stream="helpdesk", case_attributes=["workgroup", "service_type"])
    case_cols = dict(store.columns('"stream_helpdesk".cases'))
    event_cols = dict(store.columns('"stream_helpdesk".events'))
    assert {"workgroup", "service_type"} <= set(case_cols)
    assert "workgroup" not in event_cols
    assert "seriousness" in event_cols
    got = dict(store.rows('SELECT workgroup, count(*) FROM "stream_helpdesk".cases GROUP BY 1'))
    # each case's value on its first row in the file, counted straight from the CSV
    first = store.rows(
        f"""SELECT workgroup, count(*) FROM (
                SELECT "Case ID", first(workgroup ORDER BY rn) AS workgroup
                FROM (SELECT *, row_number() OVER () AS rn FROM read_csv_auto('{logs / "helpdesk.csv"}'))
                GROUP BY 1)
            GROUP BY 1"""
    )
    assert got == dict(first)
    assert sum(got.values()) == 4_580
    for name, says in (("nope", "not in the file"), ("Activity", "the activity")):
        with pytest.raises(MappingError, match=f"column '{name}' given by --case-attribute is {says}"):
            ingest(store, logs / "helpdesk.csv", stream="other", case_attributes=[name])
