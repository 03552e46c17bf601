"""The cases behind a number, and one case's timeline: where a drill-down lands.

cases(store, "order-to-cash", through=("Create Order", "Check Credit"), limit=20)
case_timeline(store, "order-to-cash", "SO-00000042")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.data.sql import Query
from conveyor.errors import ConveyorError
from conveyor.mining.filters import Filters, _codes, scope_for

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = ["CaseNotFoundError", "case_timeline", "cases", "segment_values"]


class CaseNotFoundError(ConveyorError, KeyError):
    """No case with that id in the stream."""

    def __str__(self) -> str:
        return self.message


CASES = Query(
    "cases.list",
    """WITH {scope}, picked AS ({picked})
    SELECT c.case_id, fc.first_ts, fc.last_ts, fc.n_events AS events, fc.duration_seconds, fc.variant_id,
           count(*) OVER () AS total
    FROM fc JOIN {s}.cases c USING (case_idx) JOIN picked USING (case_idx)
    ORDER BY fc.duration_seconds DESC, c.case_id LIMIT {limit}""",
)

TIMELINE = Query(
    "cases.timeline",
    """SELECT e.pos, a.name AS activity, e.ts, r.name AS resource, e.lifecycle,
              (epoch_us(e.ts) - epoch_us(lag(e.ts) OVER (ORDER BY e.pos))) / 1e6 AS seconds_since_previous
    FROM {s}.events e JOIN {s}.activities a ON a.code = e.activity LEFT JOIN {s}.resources r ON r.code = e.resource
    WHERE e.case_idx = (SELECT case_idx FROM {s}.cases WHERE case_id = $case_id)
    ORDER BY e.pos""",
)

CASE_ROW = Query("cases.row", "SELECT * FROM {s}.cases WHERE case_id = $case_id")


def cases(
    engine: Engine,
    stream: str,
    *,
    filters: Filters | None = None,
    activity: str | None = None,
    through: tuple[str, str] | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Cases in scope, longest first: ``{"total", "cases": [{case_id, first_ts, last_ts, events,
    duration_seconds, variant_id}]}``; only those doing ``activity`` or passing directly from
    ``through[0]`` to ``through[1]`` when given."""
    scope = scope_for(engine, stream, filters)
    picked = "SELECT case_idx FROM fc"
    if activity is not None:
        picked = f"SELECT DISTINCT case_idx FROM fe WHERE activity = {_codes(engine, scope.s, stream, (activity,))}"
    if through is not None:
        a, b = (_codes(engine, scope.s, stream, (x,)) for x in through)
        picked = f"SELECT DISTINCT case_idx FROM fe WHERE activity = {a} AND next_activity = {b}"
    rows = engine.run(
        CASES, params=scope.params, **scope.parts(picked=picked, limit=str(max(1, min(int(limit), 10_000))))
    )
    total = int(rows[0]["total"]) if rows else 0
    for r in rows:
        del r["total"]
    return {"total": total, "cases": rows}


def case_timeline(engine: Engine, stream: str, case_id: str) -> dict[str, Any]:
    """One case: its attributes and its events in order with the time since the previous one."""
    from conveyor.data.quoting import quote

    s = quote(engine.require_stream(stream))
    row = engine.run(CASE_ROW, params={"case_id": case_id}, s=s)
    if not row:
        raise CaseNotFoundError(
            f"stream {stream!r} has no case {case_id!r}", hint="case ids are listed by the cases view"
        )
    info = {k: v for k, v in row[0].items() if k not in ("case_idx", "instance_variant_id")}
    return {"case": info, "events": engine.run(TIMELINE, params={"case_id": case_id}, s=s)}


def segment_values(engine: Engine, stream: str, *, most: int = 40) -> dict[str, list[str]]:
    """Case attributes a person can segment or filter by (at most ``most`` values) and their values."""
    from conveyor.data.layout import CORE_CASE_COLUMNS
    from conveyor.data.quoting import quote

    s = quote(engine.require_stream(stream))
    out: dict[str, list[str]] = {}
    for col, typ in engine.columns(f"{s}.cases"):
        if col in CORE_CASE_COLUMNS or "TIMESTAMP" in typ.upper() or "DOUBLE" in typ.upper():
            continue
        rows = engine.records(
            f"SELECT DISTINCT CAST({quote(col)} AS VARCHAR) AS v FROM {s}.cases WHERE {quote(col)} IS NOT NULL "
            f"ORDER BY 1 LIMIT {most + 1}"
        )
        if 2 <= len(rows) <= most:
            out[col] = [str(r["v"]) for r in rows]
    return out
