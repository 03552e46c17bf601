"""Every query definition is portable: SQLGlot parses it and writes it for Spark and Postgres."""

from __future__ import annotations

import importlib

import pytest
import sqlglot

from conveyor.data.sql import REGISTRY, transpile
from conveyor.data.summaries import unfiltered_scope
from conveyor.metrics import QUERY_MODULES as METRICS_QUERY_MODULES
from conveyor.mining import QUERY_MODULES

# importing a module registers its queries (the simulation's too, whatever the tests collected first)
for _module in [*QUERY_MODULES, *METRICS_QUERY_MODULES, "conveyor.planning.simulate"]:
    importlib.import_module(_module)

PARTS = {
    "scope": unfiltered_scope("stream_s", "instances"),
    "s": "s",
    "limit": "10",
    "top": "5",
    "buckets": "count(*) FILTER (WHERE duration_seconds < 3600) AS b0",
    "bucket_names": "b0",
    "violations": "SELECT case_idx FROM fe WHERE activity = 1",
    "ev": "s.events",
    # KPIs: a case-value relation, its aggregate and the period; opportunities and drill-down
    "values": "cv AS (SELECT fc.last_ts AS anchor, 1.0 AS v, CAST(NULL AS VARCHAR) AS seg FROM fc)",
    "agg": "avg(v)",
    "period": "week",
    "seg": "CAST(NULL AS VARCHAR)",
    "seg_join": "",
    "picked": "SELECT case_idx FROM fc",
    "attr": "region",
    # the simulation's calibration: pools by a case attribute, the log's own intervals
    "pool_value": "CAST(c.queue AS VARCHAR)",
    "pool_join": "JOIN s.cases c USING (case_idx)",
    "m_lo": "0.48",
    "m_hi": "0.52",
    "q_lo": "0.88",
    "q_hi": "0.92",
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("dialect", ["spark", "postgres"])
def test_query_transpiles(name: str, dialect: str) -> None:
    sql = REGISTRY[name].render(**PARTS)
    out = transpile(sql, dialect)
    assert out.strip()
    sqlglot.parse(out, read=dialect)  # and reads back in that dialect


def test_registry_is_populated() -> None:
    assert len(REGISTRY) >= 12
