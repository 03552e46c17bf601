"""Series from a table: a workspace dataset (``main.<name>``, e.g. the demo's ``demand_daily``) or
a CSV/Parquet file, grouped by id columns and summed per period. Periods with no row count as
zero, over each series' own first to last period."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.data.quoting import literal, quote
from conveyor.data.store import Store
from conveyor.errors import ConveyorError

__all__ = ["PERIOD_DAYS", "PERIOD_NAMES", "SeriesError", "daily_stats", "dated_relation", "infer_freq", "relation"]


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


#: days per period of each frequency (a month and a quarter on average)
PERIOD_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4}
PERIOD_NAMES = {"D": "day", "W": "week", "M": "month", "Q": "quarter"}


def dated_relation(
    store: Store,
    *,
    ids: list[str],
    date_column: str,
    value: str,
    dataset: str | None = None,
    file: str | None = None,
    date_format: str | None = None,
) -> tuple[str, str]:
    """The table as a relation and its date column as a DATE expression, with its columns checked:
    a missing column, a date that is not one (without ``date_format``) or a value that is not a
    number is named with the fix."""
    rel = relation(store, dataset, file, text=(date_column,) if date_format else ())
    columns = dict(store.columns(f"SELECT * FROM {rel}"))
    for col, what in [*((c, "--id") for c in ids), (date_column, "--date"), (value, "--value")]:
        if col not in columns:
            raise SeriesError(f"{what}: no column {col!r}", hint=f"its columns: {', '.join(columns)}")
    where = file or f"dataset {dataset}"
    if date_format:
        date_sql = f"CAST(strptime(CAST({quote(date_column)} AS VARCHAR), {literal(date_format)}) AS DATE)"
    elif columns[date_column].upper().startswith(("DATE", "TIMESTAMP")):
        date_sql = f"CAST({quote(date_column)} AS DATE)"
    else:
        date_sql = f"TRY_CAST({quote(date_column)} AS DATE)"
        bad = store.rows(
            f"SELECT {quote(date_column)} FROM {rel} WHERE {date_sql} IS NULL AND {quote(date_column)} IS NOT NULL LIMIT 1"
        )
        if bad:
            raise SeriesError(
                f"{where}: column {date_column!r} has {bad[0][0]!r}, which is not a date",
                hint="give its format, e.g. --date-format '%d/%m/%y'",
            )
    bad_value = store.rows(
        f"SELECT {quote(value)} FROM {rel} WHERE TRY_CAST({quote(value)} AS DOUBLE) IS NULL "
        f"AND {quote(value)} IS NOT NULL AND CAST({quote(value)} AS VARCHAR) NOT IN ('', 'NA') LIMIT 1"
    )
    if bad_value:
        raise SeriesError(
            f"{where}: column {value!r} has {bad_value[0][0]!r}, which is not a number",
            hint="--value names the quantity",
        )
    return rel, date_sql


def infer_freq(store: Store, relation: str, date_sql: str) -> str:
    """D, W, M or Q from the median gap between the table's distinct dates."""
    row = store.rows(
        f"SELECT median(g) FROM (SELECT date_diff('day', lag(d) OVER (ORDER BY d), d) AS g "
        f"FROM (SELECT DISTINCT {date_sql} AS d FROM {relation} WHERE {date_sql} IS NOT NULL))"
    )
    gap = row[0][0] if row else None
    if gap is None:
        return "D"
    return "D" if gap < 4 else "W" if gap < 20 else "M" if gap < 60 else "Q"


def daily_stats(
    store: Store,
    *,
    ids: list[str],
    date: str,
    value: str,
    dataset: str | None = None,
    file: str | None = None,
    freq: str | None = None,
    date_format: str | None = None,
) -> list[dict[str, Any]]:
    """Per series: ``{"id": {col: value}, "freq", "periods", "days", "total", "mean", "sd", "first",
    "last"}``, the mean and standard deviation per day. They come from the sums per period (the
    table's own, guessed from the gaps between its dates, or ``freq``: D, W, M, Q; periods with no
    row are zero) as the period's mean over its days and its spread over the root of its days
    (days taken as independent): a weekly table is not seven days of which six sold nothing."""
    freq = (freq or "").upper() or None
    if freq is not None and freq not in PERIOD_NAMES:
        raise SeriesError(
            f"--freq: unknown frequency {freq!r}", hint="one of D (day), W (week), M (month), Q (quarter)"
        )
    rel, date_sql = dated_relation(
        store, ids=ids, date_column=date, value=value, dataset=dataset, file=file, date_format=date_format
    )
    freq = freq or infer_freq(store, rel, date_sql)
    unit = literal(PERIOD_NAMES[freq])
    keys = ", ".join(quote(c) for c in ids) or "1"
    sel = "".join(f"{quote(c)}, " for c in ids)
    rows = store.rows(
        f"""
        WITH p AS (SELECT {sel}date_trunc({unit}, {date_sql}) AS p, min({date_sql}) AS d0, max({date_sql}) AS d1,
                          coalesce(sum(TRY_CAST({quote(value)} AS DOUBLE)), 0) AS v
                   FROM {rel} WHERE {date_sql} IS NOT NULL GROUP BY ALL)
        SELECT {sel}min(d0), max(d1), date_diff({unit}, min(p), max(p)) + 1 AS periods, sum(v), sum(v * v)
        FROM p GROUP BY {keys} ORDER BY {keys}
        """
    )
    days = PERIOD_DAYS[freq]
    out = []
    for r in rows:
        first, last, periods, total, squares = r[len(ids) :]
        mean = total / periods
        var = (squares - periods * mean * mean) / (periods - 1) if periods > 1 else 0.0
        out.append(
            {
                "id": dict(zip(ids, r[: len(ids)], strict=True)),
                "freq": freq,
                "first": str(first),
                "last": str(last),
                "periods": int(periods),
                "days": round(periods * days),
                "total": float(total),
                "mean": mean / days,
                "sd": max(var, 0.0) ** 0.5 / days**0.5,
            }
        )
    return out
