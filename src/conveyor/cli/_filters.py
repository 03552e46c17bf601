"""The filter options every analysis command takes, added to each command by one decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from conveyor.errors import ConveyorError

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: list[inspect.Parameter] = [
    inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=annotation,
    )
    for name, default, annotation in [
        (
            "since",
            None,
            Annotated[
                str | None,
                typer.Option(
                    "--from", help="Time window start (ISO 8601; no offset = UTC).", rich_help_panel="Filters"
                ),
            ],
        ),
        (
            "until",
            None,
            Annotated[str | None, typer.Option("--to", help="Time window end, exclusive.", rich_help_panel="Filters")],
        ),
        (
            "window",
            "contained",
            Annotated[
                str,
                typer.Option(
                    help="How cases relate to the window: contained, intersecting, started, completed.",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "event_level",
            False,
            Annotated[
                bool,
                typer.Option(
                    "--event-level",
                    help="Trim events to the window instead of keeping or dropping whole cases.",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "where",
            None,
            Annotated[
                list[str] | None,
                typer.Option(
                    "--where",
                    help="Case attribute value, KEY=VALUE (repeat; values of one key are OR-ed).",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "variant",
            None,
            Annotated[
                list[str] | None,
                typer.Option(
                    "--variant",
                    help="Variant id to keep (repeat; ids from `conveyor variants`).",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "start_activity",
            None,
            Annotated[
                list[str] | None,
                typer.Option(
                    "--start-activity",
                    help="Keep cases starting with this activity (repeat).",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "end_activity",
            None,
            Annotated[
                list[str] | None,
                typer.Option(
                    "--end-activity", help="Keep cases ending with this activity (repeat).", rich_help_panel="Filters"
                ),
            ],
        ),
        (
            "events",
            False,
            Annotated[
                bool,
                typer.Option(
                    "--events",
                    help="Count lifecycle events one by one, not activity instances (start..complete).",
                    rich_help_panel="Filters",
                ),
            ],
        ),
        (
            "min_duration",
            None,
            Annotated[str | None, typer.Option(help="Shortest case kept, e.g. 4h, 2d, 1w.", rich_help_panel="Filters")],
        ),
        (
            "max_duration",
            None,
            Annotated[str | None, typer.Option(help="Longest case kept, e.g. 30d.", rich_help_panel="Filters")],
        ),
    ]
]
_NAMES = [p.name for p in _OPTIONS]


def _time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConveyorError(
            f"{flag} {text!r} is not a date or time", hint="use ISO 8601, e.g. 2024-03-01 or 2024-03-01T08:00+01:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_filters(**kw: Any) -> Any:
    """Filters from the command-line values (None when no filter was given)."""
    from conveyor.mining import FilterError, Filters, parse_duration

    if kw["window"] not in ("contained", "intersecting", "started", "completed"):
        raise FilterError(
            f"--window {kw['window']!r} is not a window mode", hint="use contained, intersecting, started or completed"
        )
    attributes: dict[str, tuple[str, ...]] = {}
    for item in kw["where"] or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise FilterError(f"--where {item!r} is not KEY=VALUE", hint="e.g. --where region=North")
        attributes[key] = (*attributes.get(key, ()), value)
    filters = Filters(
        start=_time(kw["since"], "--from"),
        end=_time(kw["until"], "--to"),
        window=kw["window"],
        event_level=kw["event_level"],
        attributes=attributes,
        variants=tuple(kw["variant"] or ()),
        start_activities=tuple(kw["start_activity"] or ()),
        end_activities=tuple(kw["end_activity"] or ()),
        min_duration=parse_duration(kw["min_duration"]) if kw["min_duration"] else None,
        max_duration=parse_duration(kw["max_duration"]) if kw["max_duration"] else None,
        events=kw["events"],
    )
    return None if filters.is_empty() else filters


def with_filters(fn: F) -> F:
    """Give a command the filter options; it receives them as one ``filters`` keyword (or None)."""
    sig = inspect.signature(fn)
    own = [p for p in sig.parameters.values() if p.name != "filters"]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from conveyor.cli._common import handled

        values = {name: kwargs.pop(name) for name in _NAMES}
        with handled():
            filters = build_filters(**values)
        return fn(*args, **kwargs, filters=filters)

    wrapper.__signature__ = sig.replace(parameters=[*own, *_OPTIONS])  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
