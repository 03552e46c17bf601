"""Items for automations, read from a stream: the events a trigger decides on, idle cases, a
history's answers. Each item is a dict of the named fields, from the event's own attribute of that
name where it has one, else the case's; ``case_field`` takes the case id. ``_case`` and ``_ts``
carry the case id and the event's time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conveyor.data.layout import CORE_CASE_COLUMNS, CORE_EVENT_COLUMNS, attribute_columns
from conveyor.data.quoting import quote
from conveyor.data.store import Store, stream_schema

__all__ = ["case_items", "cases_started", "event_items", "idle_case_items", "last_ingest", "last_ingest_before"]

#: Events an automation emitted itself (their resource): they never trigger automations.
_OWN = "automation:%"


def last_ingest(store: Store, stream: str) -> int:
    """The newest ingest that brought events into ``stream`` (0 if none)."""
    s = quote(store.require_stream(stream))
    return int(store.scalar(f"SELECT coalesce(max(ingest_id), 0) FROM {s}.events"))


def last_ingest_before(store: Store, stream: str, since: str) -> int:
    """The last ingest into ``stream`` that began before ``since`` (ISO time); -1 if none."""
    found = store.scalar(
        "SELECT max(id) FROM main.ingests WHERE stream = ? AND started_at < ?::TIMESTAMPTZ", [stream, since]
    )
    return -1 if found is None else int(found)


def _select(store: Store, schema: str, names: Sequence[str], case_field: str | None) -> tuple[str, list[str]]:
    on_event = set(attribute_columns(store, schema, "events", CORE_EVENT_COLUMNS))
    on_case = set(attribute_columns(store, schema, "cases", CORE_CASE_COLUMNS))
    cols, found = [], []
    for name in names:
        if name == case_field:
            cols.append(f"c.case_id AS {quote(name)}")
        elif name in on_event:
            cols.append(f"e.{quote(name)}")
        elif name in on_case:
            cols.append(f"c.{quote(name)}")
        else:
            continue
        found.append(name)
    return ", ".join(["c.case_id AS _case", "e.ts AS _ts", *cols]), found


def _rows(store: Store, sql: str, params: list[Any], found: list[str]) -> list[dict[str, Any]]:
    names = ["_case", "_ts", *found]
    return [dict(zip(names, r, strict=True)) for r in store.rows(sql, params)]


def event_items(
    store: Store,
    stream: str,
    names: Sequence[str],
    *,
    case_field: str | None,
    top: int,
    seen_ingest: int,
    seen_until: str | None = None,
    activity: str | None = None,
    until: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Events of ingests up to ``top`` not seen yet, in time order, and the fields found. Seen: those
    of ingests up to ``seen_ingest`` (only up to time ``seen_until`` when given). Only ``activity``
    (if given), only up to ``until`` (if given), never the automations' own events."""
    schema = store.require_stream(stream)
    s = quote(schema)
    select, found = _select(store, schema, names, case_field)
    where = ["e.ingest_id <= ?"]
    params: list[Any] = [top]
    if seen_until:
        where.append("(e.ingest_id > ? OR e.ts > ?::TIMESTAMPTZ)")
        params += [seen_ingest, seen_until]
    else:
        where.append("e.ingest_id > ?")
        params.append(seen_ingest)
    if activity:
        where.append(f"e.activity = (SELECT code FROM {s}.activities WHERE name = ?)")
        params.append(activity)
    where.append(f"(e.resource IS NULL OR e.resource NOT IN (SELECT code FROM {s}.resources WHERE name LIKE ?))")
    params.append(_OWN)
    if until is not None:
        where.append("e.ts <= ?")
        params.append(until)
    sql = (
        f"SELECT {select} FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"WHERE {' AND '.join(where)} ORDER BY e.ts, c.case_id"
    )
    return _rows(store, sql, params, found), found


def idle_case_items(
    store: Store,
    stream: str,
    names: Sequence[str],
    *,
    case_field: str | None,
    idle_since: datetime,
    last_after: datetime | None = None,
    activity: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Cases whose last event (``activity``, if given) happened at or before ``idle_since`` (and
    after ``last_after``, if given), with the fields of that last event; and the fields found."""
    schema = store.require_stream(stream)
    s = quote(schema)
    select, found = _select(store, schema, names, case_field)
    where = ["e.pos = c.n_events - 1", "c.last_ts <= ?"]
    params: list[Any] = [idle_since]
    if activity:
        where.append(f"e.activity = (SELECT code FROM {s}.activities WHERE name = ?)")
        params.append(activity)
    if last_after is not None:
        where.append("c.last_ts > ?")
        params.append(last_after)
    sql = (
        f"SELECT {select} FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"WHERE {' AND '.join(where)} ORDER BY c.case_id"
    )
    return _rows(store, sql, params, found), found


def case_items(
    store: Store, stream: str, names: Sequence[str], *, case_field: str | None, label: str, limit: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Up to ``limit`` cases with the named case attributes and the ``label`` attribute (as
    ``_label``); the fields found. Raises KeyError naming ``label`` when the stream lacks it."""
    schema = stream_schema(stream)
    store.require_stream(stream)
    have = set(attribute_columns(store, schema, "cases", CORE_CASE_COLUMNS))
    if label not in have:
        raise KeyError(label)
    s = quote(schema)
    found = [n for n in names if n in have or n == case_field]
    cols = ", ".join("c.case_id" if n == case_field else f"c.{quote(n)}" for n in found)
    rows = store.rows(
        f"SELECT c.case_id, {cols + ', ' if cols else ''}c.{quote(label)} FROM {s}.cases c ORDER BY c.case_id LIMIT ?",
        [limit],
    )
    out = []
    for r in rows:
        item = dict(zip(found, r[1:-1], strict=True))
        item["_case"], item["_label"] = r[0], r[-1]
        out.append(item)
    return out, found


def cases_started(store: Store, stream: str, start: datetime, end: datetime) -> int:
    """How many cases of ``stream`` began in [start, end)."""
    s = quote(store.require_stream(stream))
    return int(store.scalar(f"SELECT count(*) FROM {s}.cases WHERE first_ts >= ? AND first_ts < ?", [start, end]))
