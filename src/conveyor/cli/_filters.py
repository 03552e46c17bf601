"""The filter options every analysis command takes, added to each command by one decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

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


def build_filters(**kw: Any) -> Any:
    """Filters from the command-line values (None when no filter was given)."""
    from conveyor.mining.filters import filters_from_options

    return filters_from_options(**kw)


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
