"""The line-based XES fast path and the streaming expat reader agree on every file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.data.ingest import ingest
from conveyor.data.store import Store

QUERY = (
    'SELECT c.case_id, a.name, e.ts, r.name, e.lifecycle, e.seq FROM "stream_{s}".events e '
    'JOIN "stream_{s}".cases c USING (case_idx) JOIN "stream_{s}".activities a ON a.code = e.activity '
    'LEFT JOIN "stream_{s}".resources r ON r.code = e.resource ORDER BY c.case_id, e.pos'
)


def both(store: Store, path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    ingest(store, path, stream="fast")
    ingest(store, path, stream="slow", xes_reader="stream")
    for table in ("cases", "events"):
        fast_cols = store.columns(f'"stream_fast".{table}')
        slow_cols = store.columns(f'"stream_slow".{table}')
        assert fast_cols == slow_cols
    attrs = [c for c, _ in store.columns('"stream_fast".cases') if c not in {"case_idx"}]
    sel = ", ".join(f'"{c}"' for c in attrs)
    assert store.rows(f'SELECT {sel} FROM "stream_fast".cases ORDER BY case_id') == store.rows(
        f'SELECT {sel} FROM "stream_slow".cases ORDER BY case_id'
    )
    return store.rows(QUERY.format(s="fast")), store.rows(QUERY.format(s="slow"))


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "running-example.xes",
        "roadtraffic100traces.xes",
        "08_receipt.xes.gz",
        "06_bpic2013_closed.xes.gz",
        "bpic2020_request_for_payment.xes.gz",
    ],
)
def test_readers_agree_on_real_logs(store: Store, logs: Path, name: str) -> None:
    fast, slow = both(store, logs / name)
    assert fast == slow
    assert len(fast) > 0


TRICKY = """<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
\t<global scope="event">
\t\t<string key="concept:name" value="__INVALID__"/>
\t</global>
\t<string key="source" value="log level, not a case attribute"/>
\t<trace>
\t\t<string key="concept:name" value="c &amp; 1"/>
\t\t<int key="amount" value="12"/>
\t\t<event>
\t\t\t<string key="concept:name" value="A &lt;first&gt;"/>
\t\t\t<date key="time:timestamp" value="2024-01-01T10:00:00.000+01:00"/>
\t\t\t<string key="note" value="outer">
\t\t\t\t<string key="note" value="nested must not win"/>
\t\t\t</string>
\t\t\t<float key="cost" value="1.5"/>
\t\t</event>
\t\t<event>
\t\t\t<string key="concept:name" value="B"/>
\t\t\t<date key="time:timestamp" value="2024-01-01T10:00:00.000+01:00"/>
\t\t\t<boolean key="ok" value="true"/>
\t\t</event>
\t</trace>
</log>
"""


@pytest.mark.parametrize(
    "variant",
    [
        "as-is",
        "one-line",  # several elements on a line: the fallback
        "single-quotes",
        "char-ref",
    ],
)
def test_readers_agree_on_tricky_files(store: Store, tmp_path: Path, variant: str) -> None:
    text = TRICKY
    if variant == "one-line":
        text = "".join(line.strip() for line in TRICKY.splitlines())
    elif variant == "single-quotes":
        text = TRICKY.replace('value="B"', "value='B'")
    elif variant == "char-ref":
        text = TRICKY.replace('value="B"', 'value="B&#10;"')
    path = tmp_path / "t.xes"
    path.write_text(text)
    fast, slow = both(store, path)
    assert fast == slow
    assert fast[0][:2] == ("c & 1", "A <first>")
    note = store.scalar('SELECT note FROM "stream_fast".events WHERE pos = 0')
    assert note == "outer"
    assert store.scalar('SELECT amount FROM "stream_fast".cases') == 12
    assert "source" not in {c for c, _ in store.columns('"stream_fast".cases')}


@pytest.mark.parametrize(
    ("variant", "fast"), [("as-is", True), ("one-line", False), ("single-quotes", False), ("char-ref", False)]
)
def test_fast_path_takes_only_what_it_can_read(store: Store, tmp_path: Path, variant: str, fast: bool) -> None:
    from conveyor.data.xes_lines import stage_xes_lines

    text = {
        "as-is": TRICKY,
        "one-line": "".join(line.strip() for line in TRICKY.splitlines()),
        "single-quotes": TRICKY.replace('value="B"', "value='B'"),
        "char-ref": TRICKY.replace('value="B"', 'value="B&#10;"'),
    }[variant]
    path = tmp_path / "t.xes"
    path.write_text(text)
    taken = stage_xes_lines(store, str(path), "_probe")
    assert (taken is not None) == fast
    if taken is not None:
        assert taken[0] == 2
