"""Filters usable with every analysis, turned into the two relations analyses read.

Every analysis query starts ``WITH {scope}``: the scope defines ``fe`` (the events in scope:
case_idx, pos, activity, ts, next_activity, next_ts, resource, next_resource, lifecycle) and ``fc``
(the cases in scope: case_idx, first_ts, last_ts, n_events, duration_seconds, variant_id). Case
filters keep or drop whole cases; with ``event_level`` the time window trims events instead, and
positions, successors, durations and variants are recomputed from what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from conveyor.data.store import Store, quote
from conveyor.data.summaries import CASE_COLS, EVENT_COLS, unfiltered_scope
from conveyor.errors import ConveyorError

__all__ = ["FilterError", "Filters", "Scope", "parse_duration", "scope_for", "sql_literal"]

WindowMode = Literal["contained", "intersecting", "started", "completed"]


class FilterError(ConveyorError, ValueError):
    """A filter names something the stream does not have, or has a bad value."""


def sql_literal(value: object) -> str:
    """A value as an SQL literal, escaped (values never travel as text into identifiers)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise FilterError(
                f"time {value.isoformat()} has no timezone", hint="give times with an offset, e.g. 2024-01-01T00:00Z"
            )
        return f"TIMESTAMPTZ '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``"90s"``, ``"30m"``, ``"4h"``, ``"2d"``, ``"1w"``, ``"1d12h"`` or a number of seconds.

    >>> parse_duration("1d12h")
    129600.0
    """
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)(sec|min|s|m|h|d|w)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise FilterError(
            f"{text!r} is not a duration", hint='write durations like "90s", "30m", "4h", "2d", "1w" or "1d12h"'
        )
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


@dataclass(frozen=True)
class Filters:
    """What to keep. Empty filters keep everything.

    ``start``/``end`` bound a time window (timezone-aware); ``window`` says how a case relates to
    it (``contained``: all its events inside; ``intersecting``; ``started`` or ``completed`` in
    it); ``event_level`` keeps only the events inside the window instead. ``attributes`` keeps
    cases whose case attribute has one of the values; ``variants`` keeps variant ids;
    ``start_activities``/``end_activities`` keep cases that start/end with one of them;
    ``min_duration``/``max_duration`` bound the case duration in seconds.
    """

    start: datetime | None = None
    end: datetime | None = None
    window: WindowMode = "contained"
    event_level: bool = False
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    variants: tuple[int, ...] = ()
    start_activities: tuple[str, ...] = ()
    end_activities: tuple[str, ...] = ()
    min_duration: float | None = None
    max_duration: float | None = None

    def is_empty(self) -> bool:
        return self == Filters()

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in self.__dict__.items():
            if v not in (None, (), {}, False) and not (k == "window" and v == "contained"):
                out[k] = v.isoformat() if isinstance(v, datetime) else v
        return out


@dataclass(frozen=True)
class Scope:
    """The filtered relations for one stream: ``cte`` goes after ``WITH``."""

    schema: str
    cte: str
    event_level: bool

    @property
    def s(self) -> str:
        return quote(self.schema)


def scope_for(store: Store, stream: str, filters: Filters | None = None) -> Scope:
    """Build the ``fe``/``fc`` definitions for ``stream`` under ``filters``."""
    schema = store.require_stream(stream)
    s = quote(schema)
    f = filters or Filters()
    conds: list[str] = []
    for attr, values in f.attributes.items():
        known = [c for c, _ in store.columns(f"{s}.cases")]
        if attr not in known or attr in {
            "case_idx",
            "first_ts",
            "last_ts",
            "n_events",
            "duration_seconds",
            "variant_id",
        }:
            attrs = [
                c
                for c in known
                if c not in {"case_idx", "case_id", "first_ts", "last_ts", "n_events", "duration_seconds", "variant_id"}
            ]
            raise FilterError(
                f"stream {stream!r} has no case attribute {attr!r}",
                hint=f"its case attributes are: {', '.join(attrs) or 'none'}",
            )
        conds.append(f"CAST(c.{quote(attr)} AS VARCHAR) IN ({', '.join(sql_literal(v) for v in values)})")
    if f.variants:
        conds.append(f"c.variant_id IN ({', '.join(str(int(v)) for v in f.variants)})")
    for names, position in ((f.start_activities, "1"), (f.end_activities, "-1")):
        if names:
            codes = _codes(store, s, stream, names)
            conds.append(
                f"c.variant_id IN (SELECT variant_id FROM {s}.variants WHERE activities[{position}] IN ({codes}))"
            )
    if f.min_duration is not None:
        conds.append(f"c.duration_seconds >= {float(f.min_duration)!r}")
    if f.max_duration is not None:
        conds.append(f"c.duration_seconds <= {float(f.max_duration)!r}")
    lo = sql_literal(f.start) if f.start else None
    hi = sql_literal(f.end) if f.end else None
    if (lo or hi) and not f.event_level:
        first, last = "c.first_ts", "c.last_ts"
        if f.window == "contained":
            conds += [f"{first} >= {lo}"] if lo else []
            conds += [f"{last} < {hi}"] if hi else []
        elif f.window == "intersecting":
            conds += [f"{last} >= {lo}"] if lo else []
            conds += [f"{first} < {hi}"] if hi else []
        elif f.window == "started":
            conds += [f"{first} >= {lo}"] if lo else []
            conds += [f"{first} < {hi}"] if hi else []
        else:
            conds += [f"{last} >= {lo}"] if lo else []
            conds += [f"{last} < {hi}"] if hi else []
    where = " AND ".join(conds)
    if not f.event_level or not (lo or hi):
        if not where:
            cte = unfiltered_scope(schema)
        else:
            cte = (
                f"fc AS (SELECT {', '.join('c.' + c.strip() for c in CASE_COLS.split(','))} FROM {s}.cases c WHERE {where}), "
                f"fe AS (SELECT {EVENT_COLS} FROM {s}.events e WHERE e.case_idx IN (SELECT case_idx FROM fc))"
            )
        return Scope(schema=schema, cte=cte, event_level=False)
    window = " AND ".join(x for x in (f"e.ts >= {lo}" if lo else "", f"e.ts < {hi}" if hi else "") if x)
    case_sel = f"SELECT case_idx FROM {s}.cases c" + (f" WHERE {where}" if where else "")
    cte = f"""
        fe0 AS (SELECT e.case_idx, e.pos, e.activity, e.ts, e.resource, e.lifecycle
                FROM {s}.events e WHERE {window} AND e.case_idx IN ({case_sel})),
        fe AS (SELECT case_idx, (row_number() OVER w - 1)::INTEGER AS pos, activity, ts,
                      lead(activity) OVER w AS next_activity, lead(ts) OVER w AS next_ts,
                      resource, lead(resource) OVER w AS next_resource, lifecycle
               FROM fe0 WINDOW w AS (PARTITION BY case_idx ORDER BY pos)),
        fc AS (SELECT case_idx, min(ts) AS first_ts, max(ts) AS last_ts, count(*)::INTEGER AS n_events,
                      (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 AS duration_seconds,
                      NULL::INTEGER AS variant_id
               FROM fe GROUP BY case_idx)"""
    return Scope(schema=schema, cte=cte, event_level=True)


def _codes(store: Store, s: str, stream: str, names: tuple[str, ...]) -> str:
    rows = store.rows(
        f"SELECT name, code FROM {s}.activities WHERE name IN ({', '.join(sql_literal(n) for n in names)})"
    )
    found = {r[0] for r in rows}
    missing = [n for n in names if n not in found]
    if missing:
        known = [r[0] for r in store.rows(f"SELECT name FROM {s}.activities ORDER BY name")]
        raise FilterError(
            f"stream {stream!r} has no activity {missing[0]!r}",
            hint=f"its activities are: {', '.join(known)}",
        )
    return ", ".join(str(r[1]) for r in rows)
