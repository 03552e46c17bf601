"""The service functions the CLI, the API and the pages all call: one per thing a user asks for.

Each takes an open :class:`~conveyor.workspace.Workspace` and plain arguments and returns plain
data (the JSON the CLI prints and the API answers). No rendering here and no SQL: the packages
below do the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.metrics.kpis import Period
    from conveyor.mining.filters import Filters
    from conveyor.workspace import Workspace

__all__ = ["kpis", "opportunities", "streams"]


def streams(ws: Workspace) -> list[dict[str, Any]]:
    """Every stream with its size and time span (``conveyor streams --json``)."""
    return [s.as_dict() for s in ws.store.streams()]


def kpis(
    ws: Workspace,
    stream: str,
    *,
    by: str | None = None,
    period: Period = "week",
    filters: Filters | None = None,
    names: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The stream's KPIs from ``metrics/STREAM.yaml`` (or the defaults) against their targets."""
    from conveyor.metrics import compute_kpis, load_metrics

    metrics = load_metrics(ws.root, stream)
    return compute_kpis(ws.engine, stream, metrics=metrics, by=by, period=period, filters=filters, names=names)


def opportunities(ws: Workspace, stream: str, *, filters: Filters | None = None, top: int | None = None) -> dict[str, Any]:
    """Steps ranked by what automating or assisting them would save a year."""
    from conveyor.metrics import load_metrics
    from conveyor.metrics.opportunities import rank_opportunities

    return rank_opportunities(ws.engine, stream, costs=load_metrics(ws.root, stream).costs, filters=filters, top=top)
