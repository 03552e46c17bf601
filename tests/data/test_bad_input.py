"""Bad input never crashes and never silently drops: one test per class of bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from conveyor.data import quarantine_rows
from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from conveyor.errors import MappingError, QuarantineError, SourceError

HEADER = "case_id,activity,timestamp,resource\n"
GOOD = [
    "c1,Register,2024-03-01 09:00:00,ann\n",
    "c1,Check,2024-03-01 10:00:00,bob\n",
    "c2,Register,2024-03-02 09:00:00,ann\n",
]


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def only_reject(store: Store, stream: str) -> dict[str, object]:
    rows = quarantine_rows(store, stream)
    assert len(rows) == 1, rows
    return rows[0]


def test_missing_case_id(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [*GOOD, ",Check,2024-03-02 10:00:00,bob\n"])
    result = ingest(store, path, stream="s")
    assert (result.events_loaded, result.quarantined) == (3, 1)
    bad = only_reject(store, "s")
    assert bad["row"] == 5  # line 5 of the file (header is line 1)
    assert bad["column"] == "case_id"
    assert bad["reason"] == "missing case id"
    assert bad["file"] == str(path)
    assert '"activity":"Check"' in str(bad["record"])  # the whole row is kept


def test_missing_activity(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [*GOOD, "c2,   ,2024-03-02 10:00:00,bob\n"])
    ingest(store, path, stream="s")
    bad = only_reject(store, "s")
    assert (bad["row"], bad["column"], bad["reason"]) == (5, "activity", "missing activity")


def test_unparseable_timestamp(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [GOOD[0], "c1,Check,2024-02-31 25:00,bob\n", *GOOD[1:]])
    result = ingest(store, path, stream="s")
    bad = only_reject(store, "s")
    assert (bad["row"], bad["column"], bad["value"]) == (3, "timestamp", "2024-02-31 25:00")
    assert bad["reason"] == "unparseable timestamp"
    assert result.reasons == {"unparseable timestamp": 1}


def test_malformed_line_is_quarantined_with_its_line(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [GOOD[0], "c1,Check,2024-03-01 10:00:00,bob,EXTRA\n", *GOOD[1:]])
    result = ingest(store, path, stream="s")
    assert result.events_loaded == 3
    bad = only_reject(store, "s")
    assert bad["row"] == 3
    assert "EXTRA" in str(bad["value"])
    assert str(bad["reason"]).startswith("malformed line")
    # rows after the bad line keep their true line numbers
    path2 = write(tmp_path, "b.csv", [GOOD[0], "x,y,z,w,EXTRA\n", GOOD[1], ",Lost,2024-03-01 11:00:00,bob\n"])
    ingest(store, path2, stream="t")
    rows = quarantine_rows(store, "t")
    assert sorted(r["row"] for r in rows) == [3, 5]


def test_duplicate_of_stored_event(store: Store, tmp_path: Path) -> None:
    ingest(store, write(tmp_path, "day1.csv", GOOD[:2]), stream="s")
    result = ingest(store, write(tmp_path, "day2.csv", GOOD[1:]), stream="s")  # overlaps by one event
    assert (result.events_loaded, result.quarantined) == (1, 1)
    bad = only_reject(store, "s")
    assert str(bad["reason"]).startswith("duplicate of an event already in the stream")
    assert store.stream("s").events == 3


def test_dedupe_within_file(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [*GOOD, GOOD[1]])
    assert ingest(store, path, stream="kept").events_loaded == 4  # default: repeats are events
    result = ingest(store, path, stream="deduped", dedupe=True)
    assert (result.events_loaded, result.quarantined) == (3, 1)
    assert only_reject(store, "deduped")["reason"] == "duplicate of row 3"


def test_same_file_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", GOOD)
    ingest(store, path, stream="s")
    again = ingest(store, path, stream="s")
    assert again.already_ingested
    assert again.events_loaded == 0
    assert store.stream("s").events == 3
    assert quarantine_rows(store, "s") == []


def test_strict_loads_nothing_and_names_the_row(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [*GOOD, "c3,Check,not a date,bob\n"])
    with pytest.raises(QuarantineError) as info:
        ingest(store, path, stream="s", strict=True)
    message = str(info.value)
    assert "row 5" in message
    assert "'timestamp'" in message
    assert "'not a date'" in message
    assert info.value.first["value"] == "not a date"
    assert not store.has_stream("s")


def test_truncated_gzip(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "log.csv.gz"
    data = gzip.compress((HEADER + "".join(GOOD) * 2000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"log\.csv\.gz: .*(ends early|damaged)"):
        ingest(store, path, stream="s")


def test_truncated_xes_gz(store: Store, tmp_path: Path) -> None:
    xes = "<log>" + "<trace><string key='concept:name' value='c'/></trace>" * 5000 + "</log>"
    data = gzip.compress(xes.encode())
    path = tmp_path / "log.xes.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="truncated"):
        ingest(store, path, stream="s")


def test_binary_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(SourceError, match=r"photo\.csv: looks binary"):
        ingest(store, path, stream="s")


def test_xml_that_is_not_xes(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "feed.xes"
    path.write_text("<?xml version='1.0'?><rss><channel/></rss>")
    with pytest.raises(SourceError, match=r"not XES: the root element is <rss>"):
        ingest(store, path, stream="s")


def test_malformed_xml(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.xes"
    path.write_text("<log><trace><event></trace></log>")
    with pytest.raises(SourceError, match="not well-formed XML at line 1"):
        ingest(store, path, stream="s")


def test_entity_expansion_is_refused(store: Store, tmp_path: Path) -> None:
    lol = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    doc = f"<?xml version='1.0'?><!DOCTYPE log [{''.join(lol)}]><log><trace><string key='concept:name' value='&lol9;'/></trace></log>"
    path = tmp_path / "bomb.xes"
    path.write_text(doc)
    with pytest.raises(SourceError, match="entity declarations are refused"):
        ingest(store, path, stream="s")


def test_external_entity_is_refused(store: Store, tmp_path: Path) -> None:
    doc = "<?xml version='1.0'?><!DOCTYPE log [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><log>&x;</log>"
    path = tmp_path / "xxe.xes"
    path.write_text(doc)
    with pytest.raises(SourceError, match="entity"):
        ingest(store, path, stream="s")


def test_unmapped_columns_name_the_flags(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("ticket,step,when\n1,open,2024-01-01\n")
    with pytest.raises(MappingError) as info:
        ingest(store, path, stream="s")
    assert "ticket, step, when" in str(info.value)
    assert "--case-id" in str(info.value.hint)
    result = ingest(store, path, stream="s", case_id="ticket", activity="step", timestamp="when")
    assert result.events_loaded == 1


def test_wrong_flag_column(store: Store, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="column 'nope' given by --resource is not in the file"):
        ingest(store, write(tmp_path, "a.csv", GOOD), stream="s", resource="nope")


def test_missing_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        ingest(store, tmp_path / "nope.csv", stream="s")


def test_timestamp_format_flag_and_day_first_detection(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("case_id,activity,timestamp\na,x,03/04/2024 10:00\na,y,13/04/2024 09:30\n")
    result = ingest(store, path, stream="eu")
    assert result.timestamp_format == "%d/%m/%Y %H:%M"
    assert str(store.scalar('SELECT min(ts) FROM "stream_eu".events'))[:10] == "2024-04-03"
    us = tmp_path / "us.csv"
    us.write_text("case_id,activity,timestamp\na,x,04/03/2024 10:00\n")
    ingest(store, us, stream="us", timestamp_format="%m/%d/%Y %H:%M")
    assert str(store.scalar('SELECT min(ts) FROM "stream_us".events'))[:10] == "2024-04-03"


def test_epoch_numbers_written_as_text(store: Store, tmp_path: Path) -> None:
    """A CSV of seconds (or milliseconds) since 1970 reads as time, the unit told by the numbers'
    size, and a value that is no number is quarantined; a compact date (20240131) stays a date.
    Before 2026-12-08 a CSV's numbers were text to the timestamp reader: every row was quarantined."""
    seconds = tmp_path / "s.csv"
    seconds.write_text("case_id,activity,timestamp\na,x,1767225600\na,y,1767226200\n")
    result = ingest(store, seconds, stream="s")
    assert (result.events_loaded, result.timestamp_format) == (2, "Unix seconds")
    got = [str(r[0]) for r in store.rows('SELECT ts FROM "stream_s".events ORDER BY seq')]
    assert got == ["2026-01-01 00:00:00+00:00", "2026-01-01 00:10:00+00:00"]
    millis = tmp_path / "ms.csv"
    millis.write_text("case_id,activity,timestamp\na,x,1767225600123\na,y,soon\na,z,1767226200456\n")
    result = ingest(store, millis, stream="ms")
    assert (result.events_loaded, result.quarantined) == (2, 1)
    assert str(store.scalar('SELECT max(ts) FROM "stream_ms".events')) == "2026-01-01 00:10:00.456000+00:00"
    bad = only_reject(store, "ms")
    assert (bad["row"], bad["value"], bad["reason"]) == (3, "soon", "unparseable timestamp")
    compact = tmp_path / "d.csv"
    compact.write_text("case_id,activity,timestamp\na,x,20240131\na,y,20240201\n")
    assert ingest(store, compact, stream="d").timestamp_format == "%Y%m%d"


def test_a_stream_whose_rows_were_all_quarantined(tmp_path: Path) -> None:
    """Its rows are in quarantine to inspect; an analysis says the stream holds no events (it
    was an internal error: no layout tables) and the review leaves it out."""
    import subprocess

    from conveyor.workspace import init_workspace
    from tests.conftest import CONVEYOR

    root = init_workspace(tmp_path / "ws")
    bad = write(tmp_path, "bad.csv", ["c1,Check,yesterday,bob\n"])
    good = write(tmp_path, "good.csv", GOOD)
    for path in (bad, good):
        subprocess.run([*CONVEYOR, "ingest", str(path), "-q", "-w", str(root)], check=True, capture_output=True)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CONVEYOR, *args, "-w", str(root)], capture_output=True, text=True, check=False)

    out = run("durations", "bad")
    assert out.returncode == 1
    assert "stream 'bad' holds no events yet: every row ingested into it was quarantined" in out.stderr
    assert "conveyor quarantine bad" in out.stderr
    assert "internal error" not in out.stderr
    assert '"value": "yesterday"' in run("quarantine", "bad", "--json").stdout
    review = run("review", "-o", str(tmp_path / "r.html"))
    assert review.returncode == 0, review.stderr


def test_timezone_for_naive_timestamps(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "ams.csv"
    path.write_text("case_id,activity,timestamp\na,x,2024-06-01 10:00:00\nb,x,2024-06-01T10:00:00+00:00\n")
    ingest(store, path, stream="ams", timezone="Europe/Amsterdam")
    got = [str(r[0]) for r in store.rows('SELECT ts FROM "stream_ams".events ORDER BY seq')]
    assert got == ["2024-06-01 08:00:00+00:00", "2024-06-01 10:00:00+00:00"]


def test_frames_from_pandas_polars_arrow(store: Store) -> None:
    import pandas as pd
    import polars as pl

    data = {
        "case_id": ["a", "a", "b"],
        "activity": ["x", "y", "x"],
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 09:00"], utc=True),
    }
    ingest(store, pd.DataFrame(data), stream="pd")
    ingest(store, pl.DataFrame(data), stream="pl")
    ingest(store, pa.table(data), stream="pa")
    assert [store.stream(s).events for s in ("pd", "pl", "pa")] == [3, 3, 3]


def test_progress_is_reported_in_order(store: Store, tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    ingest(store, write(tmp_path, "a.csv", GOOD), stream="s", progress=lambda label, f: seen.append((label, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert seen[0][1] == 0.0
    assert seen[-1] == ("done", 1.0)
    assert {"reading", "validating", "laying out"} <= {label for label, _ in seen}


def test_hyphenated_stream_with_malformed_lines(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", [GOOD[0], "x,y,z,w,EXTRA\n", *GOOD[1:]])
    result = ingest(store, path, stream="order-to-cash")
    assert (result.events_loaded, result.quarantined) == (3, 1)
    assert only_reject(store, "order-to-cash")["row"] == 3


def test_a_large_csv_keeps_file_order_and_line_numbers(store: Store, tmp_path: Path) -> None:
    """Rows are numbered by the order DuckDB's parallel reader delivers them (no numbering inside
    the scan): on a file many read buffers long, with a case attribute and null tokens (whose
    test once planned as a join, which reorders rows), events with equal timestamps keep the
    file's order, cases are numbered by first appearance, and bad rows name their true lines."""
    from itertools import permutations

    orders = list(permutations(["A", "B", "C"]))
    lines = ["case_id,activity,timestamp,case:tier\n"]
    bad: dict[int, str] = {}
    for i in range(400_000):
        tier = ("gold", "NA", "silver", "")[i % 4]
        for act in orders[i % 6]:
            lines.append(f"k{i:06d},{act},2024-01-01 {i % 24:02d}:00:00,{tier}\n")
        if i in (7, 211_111, 399_998):
            bad[len(lines) + 1] = "missing case id"  # the next line's number (header = line 1)
            lines.append(f",A,2024-01-01 00:00:00,{tier}\n")
    path = tmp_path / "big.csv"
    path.write_text("".join(lines))
    assert path.stat().st_size > 40_000_000  # several of DuckDB's read buffers
    result = ingest(store, path, stream="big")
    assert (result.events_loaded, result.quarantined) == (1_200_000, 3)
    assert {r["row"]: r["reason"] for r in quarantine_rows(store, "big")} == bad
    # every case's steps in the file's order, the cases numbered as they first appear
    wrong = store.scalar(
        """
        WITH t AS (SELECT c.case_idx, c.case_id, string_agg(a.name, '' ORDER BY e.pos) AS trace
                   FROM "stream_big".events e JOIN "stream_big".cases c USING (case_idx)
                   JOIN "stream_big".activities a ON a.code = e.activity GROUP BY ALL)
        SELECT count(*) FROM t
        WHERE trace <> ['ABC', 'ACB', 'BAC', 'BCA', 'CAB', 'CBA'][CAST(substr(case_id, 2) AS INTEGER) % 6 + 1]
           OR case_idx <> CAST(substr(case_id, 2) AS INTEGER)
        """
    )
    assert wrong == 0
    tiers = dict(store.rows('SELECT tier IS NULL, count(*) FROM "stream_big".cases GROUP BY ALL'))
    assert tiers == {True: 200_000, False: 200_000}  # "NA" and "" are missing values
