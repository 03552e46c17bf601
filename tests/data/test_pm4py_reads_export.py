"""XES written by conveyor is read by PM4Py (test-only reference) with the same events."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.data import export_stream
from conveyor.data.ingest import ingest
from conveyor.data.store import Store
from tests.conftest import need


@pytest.mark.realdata
def test_pm4py_reads_our_xes(store: Store, logs: Path, tmp_path: Path) -> None:
    pm4py = need("pm4py", "PM4Py reading our XES is the check (a dev dependency)")
    ingest(store, logs / "receipt.csv", stream="receipt")
    out = tmp_path / "receipt.xes"
    export_stream(store, "receipt", out)
    df = pm4py.read_xes(str(out), return_legacy_log_object=False)
    assert len(df) == 8_577
    assert df["case:concept:name"].nunique() == 1_434
    assert "case:channel" in df.columns
    ours = store.rows(
        'SELECT a.name, count(*) FROM "stream_receipt".events e JOIN "stream_receipt".activities a '
        "ON a.code = e.activity GROUP BY 1 ORDER BY 1"
    )
    theirs = sorted(df["concept:name"].value_counts().items())
    assert ours == [(k, int(v)) for k, v in theirs]
