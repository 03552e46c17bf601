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
    """``sql`` (DuckDB dialect) written for ``dialect`` ("spark", "postgres", ...)."""
    if dialect == "duckdb":
        return sql
    import sqlglot

    return ";\n".join(e.sql(dialect=dialect) for e in sqlglot.parse(sql, read="duckdb") if e is not None)
