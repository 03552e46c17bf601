"""Values as an operations person reads them: durations, shares, counts, money."""

from __future__ import annotations

__all__ = ["human", "pct", "show"]


def human(seconds: float | None) -> str:
    """A duration: 45s, 12m, 3.5h, 2.1d, 5.0w.

    >>> human(129600)
    '1.5d'
    """
    if seconds is None:
        return "-"
    s = float(seconds)
    sign = "-" if s < 0 else ""
    s = abs(s)
    if s < 60:
        return f"{sign}{s:.0f}s"
    if s < 3600:
        return f"{sign}{s / 60:.0f}m"
    if s < 86400:
        return f"{sign}{s / 3600:.1f}h"
    if s < 14 * 86400:
        return f"{sign}{s / 86400:.1f}d"
    return f"{sign}{s / 604800:.1f}w"


def pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def show(value: float | None, unit: str) -> str:
    """A KPI value in its unit (``seconds``, ``share``, ``cases...``, ``EUR per case``)."""
    if value is None:
        return "-"
    if unit == "seconds":
        return human(value)
    if unit == "share":
        return pct(value)
    if unit.startswith("cases"):
        return f"{value:,.1f}" if value % 1 else f"{value:,.0f}"
    return f"{value:,.2f} {unit.split(maxsplit=1)[0]}"
