"""Filters usable with every analysis, turned into the relations analyses read.

Every analysis query starts ``WITH {scope}``: the scope defines ``fe`` (what is counted, in scope:
case_idx, pos, activity, ts, next_activity, next_ts, resource, next_resource, lifecycle, start_ts),
``fc`` (the cases in scope: case_idx, first_ts, last_ts, n_events, duration_seconds, variant_id)
and ``fv`` (the variants). On a stream with lifecycle starts, ``fe`` holds activity instances
(``ts`` their end, ``start_ts`` their start, ``next_ts`` when the next one starts) unless
``Filters.events`` asks for events. Case filters keep or drop whole cases; with ``event_level``
the time window trims events instead, and positions, successors, durations and variants are
recomputed from what is left. Values the user gave are bound parameters (``Scope.params``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from conveyor.data.layout import CORE_CASE_COLUMNS
from conveyor.data.quoting import quote
from conveyor.data.summaries import CASE_FIELDS, Level, case_counts, default_level, scope_relations, unfiltered_scope
from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.data.engine import Engine

__all__ = [
    "FILTER_OPTIONS",
    "FilterError",
    "Filters",
    "Scope",
    "filter_options",
    "filters_from_options",
    "parse_duration",
    "scope_for",
]

WindowMode = Literal["contained", "intersecting", "started", "completed"]


class FilterError(ConveyorError, ValueError):
    """A filter names something the stream does not have, or has a bad value."""


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
    ``min_duration``/``max_duration`` bound the case duration in seconds. ``events`` analyses
    lifecycle events one by one even where the stream has activity instances (PM4Py's default).
    ``case_ids`` keeps only the named cases (e.g. those an automation handled).
    """

    start: datetime | None = None
    end: datetime | None = None
    window: WindowMode = "contained"
    event_level: bool = False
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    variants: tuple[str, ...] = ()
    start_activities: tuple[str, ...] = ()
    end_activities: tuple[str, ...] = ()
    min_duration: float | None = None
    max_duration: float | None = None
    events: bool = False
    case_ids: tuple[str, ...] = ()

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
    """The filtered relations for one stream: ``cte`` goes after ``WITH`` and defines ``fe`` (the
    events, or activity instances, in scope), ``fc`` (the cases in scope) and ``fv`` (the
    variants of the level); ``params`` are the values it binds (``$f0``, ``$f1``...)."""

    schema: str
    cte: str
    event_level: bool
    level: Level = "events"
    params: dict[str, object] = field(default_factory=dict)

    @property
    def s(self) -> str:
        return quote(self.schema)

    def parts(self, **more: str) -> dict[str, str]:
        """The placeholders a query definition takes: ``scope``, ``s`` and any others."""
        return {"scope": self.cte, "s": self.s, **more}


_CORE_CASE = set(CORE_CASE_COLUMNS)


def scope_for(engine: Engine, stream: str, filters: Filters | None = None) -> Scope:
    """Build the ``fe``/``fc``/``fv`` definitions for ``stream`` under ``filters``, at the level of
    activity instances where the stream has them (unless ``filters.events``)."""
    schema = engine.require_stream(stream)
    s = quote(schema)
    f = filters or Filters()
    level: Level = "events" if f.events else default_level(engine, schema)
    fe_rel, _, fv_rel = scope_relations(s, level)
    params: dict[str, object] = {}

    def bind(value: object) -> str:
        name = f"f{len(params)}"
        params[name] = value
        return f"${name}"

    conds: list[str] = []
    if f.attributes:
        known = [c for c, _ in engine.columns(f"{s}.cases")]
        for attr, values in f.attributes.items():
            if attr not in known or attr in _CORE_CASE:
                attrs = [c for c in known if c not in _CORE_CASE]
                raise FilterError(
                    f"stream {stream!r} has no case attribute {attr!r}",
                    hint=f"its case attributes are: {', '.join(attrs) or 'none'}",
                )
            conds.append(f"CAST(c.{quote(attr)} AS VARCHAR) IN ({', '.join(bind(str(v)) for v in values)})")
    if f.case_ids:
        conds.append(f"c.case_id IN ({', '.join(bind(str(v)) for v in f.case_ids)})")
    if f.variants:
        ids = ", ".join(bind(str(v)) for v in f.variants)
        # an id from either level's list names the same cases' sequence, so either is accepted
        extra = f" OR c.instance_variant_id IN ({ids})" if level == "instances" else ""
        conds.append(f"(c.variant_id IN ({ids}){extra})")
    variant_col = "instance_variant_id" if level == "instances" else "variant_id"
    for names, position in ((f.start_activities, "1"), (f.end_activities, "-1")):
        if names:
            codes = _codes(engine, s, stream, names)
            conds.append(
                f"c.{variant_col} IN (SELECT variant_id FROM {fv_rel} WHERE activities[{position}] IN ({codes}))"
            )
    if f.min_duration is not None:
        conds.append(f"c.duration_seconds >= {float(f.min_duration)!r}")
    if f.max_duration is not None:
        conds.append(f"c.duration_seconds <= {float(f.max_duration)!r}")
    lo = f"CAST({bind(f.start.isoformat())} AS TIMESTAMPTZ)" if f.start else None
    hi = f"CAST({bind(f.end.isoformat())} AS TIMESTAMPTZ)" if f.end else None
    if (lo or hi) and not f.event_level:
        conds += _window_conditions(f.window, lo, hi)
    where = " AND ".join(conds)
    fv = f"fv AS (SELECT * FROM {fv_rel})"
    if not f.event_level or not (lo or hi):
        if not where:
            cte = unfiltered_scope(schema, level)
        else:
            fc_sel = ", ".join(f"c.{c.strip()}" for c in CASE_FIELDS.split(","))
            cte = (
                f"fc AS (SELECT {fc_sel}, c.{variant_col} AS variant_id FROM {s}.cases c WHERE {where}), "
                f"fe AS (SELECT {fe_rel} e WHERE e.case_idx IN (SELECT case_idx FROM fc)), {fv}, "
                f"{case_counts(by_variant=True)}"
            )
        return Scope(schema=schema, cte=cte, event_level=False, level=level, params=params)
    window = " AND ".join(x for x in (f"e.ts >= {lo}" if lo else "", f"e.ts < {hi}" if hi else "") if x)
    case_sel = f"SELECT case_idx FROM {s}.cases c" + (f" WHERE {where}" if where else "")
    cte = f"""
        fe0 AS (SELECT e.* FROM (SELECT {fe_rel}) e WHERE {window} AND e.case_idx IN ({case_sel})),
        fe AS (SELECT case_idx, CAST(row_number() OVER w - 1 AS INTEGER) AS pos, activity, ts,
                      lead(activity) OVER w AS next_activity,
                      greatest(lead(coalesce(start_ts, ts)) OVER w, ts) AS next_ts,
                      resource, lead(resource) OVER w AS next_resource, lifecycle, start_ts
               FROM fe0 WINDOW w AS (PARTITION BY case_idx ORDER BY pos)),
        fc AS (SELECT case_idx, min(ts) AS first_ts, max(ts) AS last_ts, CAST(count(*) AS INTEGER) AS n_events,
                      (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 AS duration_seconds,
                      CAST(NULL AS VARCHAR) AS variant_id
               FROM fe GROUP BY case_idx), {fv}, {case_counts(by_variant=False)}"""
    return Scope(schema=schema, cte=cte, event_level=True, level=level, params=params)


def _window_conditions(window: WindowMode, lo: str | None, hi: str | None) -> list[str]:
    """Whole-case window conditions on ``c.first_ts``/``c.last_ts``."""
    first, last = "c.first_ts", "c.last_ts"
    begin, end = {
        "contained": (first, last),
        "intersecting": (last, first),
        "started": (first, first),
        "completed": (last, last),
    }[window]
    return ([f"{begin} >= {lo}"] if lo else []) + ([f"{end} < {hi}"] if hi else [])


def _codes(engine: Engine, s: str, stream: str, names: tuple[str, ...]) -> str:
    params = {f"n{i}": n for i, n in enumerate(names)}
    rows = engine.records(
        f"SELECT name, code FROM {s}.activities WHERE name IN ({', '.join('$' + k for k in params)})", params
    )
    found = {r["name"] for r in rows}
    missing = [n for n in names if n not in found]
    if missing:
        known = [r["name"] for r in engine.records(f"SELECT name FROM {s}.activities ORDER BY name")]
        raise FilterError(
            f"stream {stream!r} has no activity {missing[0]!r}",
            hint=f"its activities are: {', '.join(known)}",
        )
    return ", ".join(str(int(r["code"])) for r in rows)


#: The filter options as the CLI and the API take them (text, as typed): one parser for both.
FILTER_OPTIONS = (
    "since",
    "until",
    "window",
    "event_level",
    "where",
    "variant",
    "start_activity",
    "end_activity",
    "events",
    "min_duration",
    "max_duration",
)


def _time(text: str | None, flag: str) -> datetime | None:
    if text is None or text == "":
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"{flag} {text!r} is not a date or time", hint="use ISO 8601, e.g. 2024-03-01 or 2024-03-01T08:00+01:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def filters_from_options(
    *,
    since: str | None = None,
    until: str | None = None,
    window: str = "contained",
    event_level: bool = False,
    where: list[str] | None = None,
    variant: list[str] | None = None,
    start_activity: list[str] | None = None,
    end_activity: list[str] | None = None,
    events: bool = False,
    min_duration: str | None = None,
    max_duration: str | None = None,
) -> Filters | None:
    """Filters from option values as typed (``--from 2024-03-01``, ``--where region=North``...);
    None when nothing filters."""
    if window not in ("contained", "intersecting", "started", "completed"):
        raise FilterError(
            f"--window {window!r} is not a window mode", hint="use contained, intersecting, started or completed"
        )
    attributes: dict[str, tuple[str, ...]] = {}
    for item in where or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FilterError(f"--where {item!r} is not KEY=VALUE", hint="e.g. --where region=North")
        attributes[key] = (*attributes.get(key, ()), value)
    filters = Filters(
        start=_time(since, "--from"),
        end=_time(until, "--to"),
        window=window,  # type: ignore[arg-type]
        event_level=event_level,
        attributes=attributes,
        variants=tuple(variant or ()),
        start_activities=tuple(start_activity or ()),
        end_activities=tuple(end_activity or ()),
        min_duration=parse_duration(min_duration) if min_duration else None,
        max_duration=parse_duration(max_duration) if max_duration else None,
        events=events,
    )
    return None if filters.is_empty() else filters


def filter_options(filters: Filters | None) -> dict[str, object]:
    """The option values that rebuild ``filters`` (for sending them to the API); empty for none."""
    if filters is None or filters.is_empty():
        return {}
    f = filters
    out: dict[str, object] = {
        "since": f.start.isoformat() if f.start else None,
        "until": f.end.isoformat() if f.end else None,
        "window": f.window if f.window != "contained" else None,
        "event_level": f.event_level or None,
        "where": [f"{k}={v}" for k, vs in f.attributes.items() for v in vs] or None,
        "variant": list(f.variants) or None,
        "start_activity": list(f.start_activities) or None,
        "end_activity": list(f.end_activities) or None,
        "events": f.events or None,
        "min_duration": repr(f.min_duration) if f.min_duration is not None else None,
        "max_duration": repr(f.max_duration) if f.max_duration is not None else None,
    }
    return {k: v for k, v in out.items() if v is not None}
