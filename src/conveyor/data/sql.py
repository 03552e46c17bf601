"""Query definitions: written once in DuckDB's dialect, transpiled with SQLGlot for other engines.

A :class:`Query` is a named SQL text with ``{placeholders}`` for identifiers the store fills in
(the stream's schema, the filtered-events CTE) and ``$name`` parameters for values. On DuckDB the
text runs as written (importing SQLGlot costs ~0.3 s, too much for a command that should answer in
half a second); on any other engine the store parses it with SQLGlot and writes it in that
engine's dialect. ``tests/data/test_sql.py`` checks every registered query transpiles to Spark
and Postgres, so definitions stay portable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["REGISTRY", "Query", "transpile"]

#: Every query defined in the package, by name, for the portability test.
REGISTRY: dict[str, Query] = {}


@dataclass(frozen=True)
class Query:
    """A named query in DuckDB's dialect."""

    name: str
    sql: str

    def __post_init__(self) -> None:
        REGISTRY[self.name] = self

    def render(self, **parts: str) -> str:
        """The SQL with identifier placeholders filled (values go in as parameters)."""
        return self.sql.format(**parts)


@lru_cache(maxsize=256)
def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB dialect) written for ``dialect`` ("spark", "postgres", ...).

    SQLGlot writes the syntax; where the dialects differ in *meaning*, :func:`_spark_forms`
    rewrites the tree first, so the results are the same on both engines.
    """
    if dialect == "duckdb":
        return sql
    import sqlglot

    trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    if dialect == "spark":
        trees = [_spark_forms(t) for t in trees]
    return ";\n".join(t.sql(dialect=dialect) for t in trees)


def _spark_forms(tree: Any) -> Any:
    """Rewrite DuckDB constructs whose Spark translation would change the result.

    - ``list(x ORDER BY k)``: Spark's collect_list has no order; sort (k, x) pairs, keep x.
    - ``arr[i]``: DuckDB lists are 1-based (negative counts from the end); Spark's ``[]`` is
      0-based, so use ``element_at``, which is 1-based and takes negatives too.
    - ``epoch_us(ts)``: ``unix_micros``.
    - ``median``/``quantile_cont``: Spark's ``percentile`` (exact, interpolated like DuckDB's).
    - ``epoch(ts)``: seconds with their fraction, as DuckDB gives them (SQLGlot's
      ``unix_timestamp`` drops the fraction).
    - ``isodow(ts)``: Monday 1 to Sunday 7 from Spark's ``dayofweek`` (Sunday 1 to Saturday 7);
      SQLGlot's form gives Sunday 2 and Saturday 1.
    """
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            value = node.this.this
            keys = [o.this for o in node.this.expressions]
            fields: list[exp.Expression] = []
            for i, key in enumerate(keys):
                fields += [exp.Literal.string(f"k{i}"), key.copy()]
            fields += [exp.Literal.string("v"), value.copy()]
            pairs = exp.Anonymous(
                this="collect_list", expressions=[exp.Anonymous(this="named_struct", expressions=fields)]
            )
            ordered = exp.Anonymous(this="array_sort", expressions=[pairs])
            return exp.Anonymous(
                this="transform",
                expressions=[
                    ordered,
                    exp.Lambda(this=exp.column("v", table="e"), expressions=[exp.to_identifier("e")]),
                ],
            )
        if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
            index = node.expressions[0].copy()
            # SQLGlot's parser already moved literal indexes to 0-based; element_at counts from 1
            literal = index.this if isinstance(index, exp.Neg) else index
            if isinstance(literal, exp.Literal) and not literal.is_string:
                value = int(index.sql()) + 1 if isinstance(index, exp.Literal) else -int(literal.this) + 1
                index = exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
            return exp.Anonymous(this="element_at", expressions=[node.this.copy(), index])
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
            return exp.Anonymous(this="unix_micros", expressions=[e.copy() for e in node.expressions])
        if isinstance(node, exp.TimeToUnix):
            micros = exp.Anonymous(this="unix_micros", expressions=[node.this.copy()])
            return exp.Div(
                this=exp.Cast(this=micros, to=exp.DataType.build("double")), expression=exp.Literal.number(1_000_000)
            )
        if isinstance(node, exp.DayOfWeekIso):
            sunday_first = exp.Anonymous(this="dayofweek", expressions=[node.this.copy()])
            shifted = exp.Mod(
                this=exp.Paren(this=exp.Add(this=sunday_first, expression=exp.Literal.number(5))),
                expression=exp.Literal.number(7),
            )
            return exp.Paren(this=exp.Add(this=shifted, expression=exp.Literal.number(1)))
        if isinstance(node, exp.Median):
            return exp.Anonymous(this="percentile", expressions=[node.this.copy(), exp.Literal.number(0.5)])
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Anonymous(this="percentile", expressions=[node.this.copy(), node.expression.copy()])
        return node

    # A replaced node's children are copies the same pass does not visit: repeat to a fixed point.
    for _ in range(8):
        before = tree.sql()
        tree = tree.transform(rewrite)
        if tree.sql() == before:
            break
    return tree
