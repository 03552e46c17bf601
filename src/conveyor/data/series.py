"""Daily series from a table: a workspace dataset (``main.<name>``, e.g. the demo's
``demand_daily``) or a CSV/Parquet file, grouped by id columns. Days with no row count as zero,
over each series' own first to last day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.data.quoting import literal, quote
from conveyor.data.store import Store
from conveyor.errors import ConveyorError

__all__ = ["SeriesError", "daily_stats", "relation"]


class SeriesError(ConveyorError, ValueError):
    """A table or column that cannot be read as daily series (names it and the fix)."""


def relation(store: Store, dataset: str | None, file: str | None, *, text: tuple[str, ...] = ()) -> str:
    """The table as a DuckDB relation; ``text``: CSV columns to read as text (a date column with
    a stated format, which the CSV sniffer might otherwise read with a format of its own)."""
    if (dataset is None) == (file is None):
        raise SeriesError("give either a dataset or a file", hint="--dataset demand_daily, or --file demand.csv")
    if dataset is not None:
        known = [name for name, _, _ in store.datasets()]
        if dataset not in known:
            raise SeriesError(
                f"no dataset {dataset!r} in this workspace", hint=f"datasets: {', '.join(known) or 'none'}"
            )
        return f"main.{quote(dataset)}"
    path = Path(str(file))
    if not path.is_file():
        raise SeriesError(f"{path}: no such file", hint="give the path of a CSV or Parquet file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"read_parquet({literal(str(path))})"
    types = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in text)
    return f"read_csv_auto({literal(str(path))}{f', types = {{{types}}}' if text else ''})"


def daily_stats(
    store: Store, *, ids: list[str], date: str, value: str, dataset: str | None = None, file: str | None = None
) -> list[dict[str, Any]]:
    """Per series: ``{"id": {col: value}, "days", "total", "mean", "sd", "first", "last"}`` of its
    daily sums (missing days are zero)."""
    rel = relation(store, dataset, file)
    columns = [c for c, _ in store.columns(f"SELECT * FROM {rel}")]
    for col, what in [*((c, "--id") for c in ids), (date, "--date"), (value, "--value")]:
        if col not in columns:
            raise SeriesError(f"{what}: no column {col!r}", hint=f"its columns: {', '.join(columns)}")
    keys = ", ".join(quote(c) for c in ids) or "1"
    sel = "".join(f"{quote(c)}, " for c in ids)
    rows = store.rows(
        f"""
        WITH d AS (SELECT {sel}CAST({quote(date)} AS DATE) AS day, sum(CAST({quote(value)} AS DOUBLE)) AS v
                   FROM {rel} GROUP BY ALL)
        SELECT {sel}min(day), max(day), date_diff('day', min(day), max(day)) + 1 AS days, sum(v), sum(v * v)
        FROM d GROUP BY {keys} ORDER BY {keys}
        """
    )
    out = []
    for r in rows:
        first, last, days, total, squares = r[len(ids) :]
        mean = total / days
        var = (squares - days * mean * mean) / (days - 1) if days > 1 else 0.0
        out.append(
            {
                "id": dict(zip(ids, r[: len(ids)], strict=True)),
                "first": str(first),
                "last": str(last),
                "days": int(days),
                "total": float(total),
                "mean": mean,
                "sd": max(var, 0.0) ** 0.5,
            }
        )
    return out
