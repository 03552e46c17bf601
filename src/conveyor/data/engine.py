"""What an analysis needs from an engine: the seam between conveyor.mining and the stores.

:class:`~conveyor.data.store.Store` (embedded DuckDB) and :class:`~conveyor.data.spark.SparkStore`
(Apache Spark over Parquet) both provide it; analyses are written against this and never know
which engine runs them. :data:`ENGINES` is the one list of engines by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from conveyor.data.sql import Query

__all__ = ["ENGINES", "Engine", "engine_class"]

#: Engine name -> "module:Class" (imported on use: PySpark is an optional extra).
ENGINES: dict[str, str] = {
    "duckdb": "conveyor.data.store:Store",
    "spark": "conveyor.data.spark:SparkStore",
}


@runtime_checkable
class Engine(Protocol):
    """Runs DuckDB-dialect SQL (transpiled as needed) over a workspace's streams.

    Values travel as ``$name`` parameters bound from ``params``; placeholders in a
    :class:`~conveyor.data.sql.Query` (``{scope}``, ``{s}``) take identifiers only.
    """

    dialect: str

    def run(self, query: Query, *, params: Mapping[str, object] | None = None, **parts: str) -> list[dict[str, Any]]:
        """A registered query with its identifier placeholders filled; rows as dicts."""
        ...

    def records(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """A plain query; rows as dicts."""
        ...

    def rows(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        """A plain query; rows as tuples."""
        ...

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """Names and types of a table's columns."""
        ...

    def require_stream(self, name: str) -> str:
        """The stream's schema name, or :class:`~conveyor.errors.StreamNotFoundError`."""
        ...

    def has_table(self, schema: str, table: str) -> bool:
        """Whether a stream's schema holds the table (``instances`` exists only for lifecycle logs)."""
        ...

    def stream_names(self) -> list[str]:
        """Every stream the engine can analyse."""
        ...


def engine_class(name: str) -> type[Any]:
    """The class behind an engine name (imports it)."""
    import importlib

    from conveyor.errors import ConfigError

    if name not in ENGINES:
        raise ConfigError(f"{name!r} is not an engine conveyor has", hint=f"use one of: {', '.join(ENGINES)}")
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]
