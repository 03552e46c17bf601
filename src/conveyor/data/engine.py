"""What an analysis needs from an engine: the seam between conveyor.mining and the stores.

:class:`~conveyor.data.store.Store` (embedded DuckDB) and :class:`~conveyor.data.spark.SparkStore`
(Apache Spark over Parquet) both provide it; analyses are written against this and never know
which engine runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from conveyor.data.sql import Query

__all__ = ["Engine"]


class Engine(Protocol):
    """Runs DuckDB-dialect SQL (transpiled as needed) over a workspace's streams."""

    dialect: str

    def run(self, query: Query, **parts: str) -> list[dict[str, Any]]:
        """A registered query with its identifier placeholders filled; rows as dicts."""
        ...

    def records(self, sql: str) -> list[dict[str, Any]]:
        """A plain query; rows as dicts."""
        ...

    def rows(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """A plain query; rows as tuples."""
        ...

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """Names and types of a table's columns."""
        ...

    def require_stream(self, name: str) -> str:
        """The stream's schema name, or :class:`~conveyor.errors.StreamNotFoundError`."""
        ...
