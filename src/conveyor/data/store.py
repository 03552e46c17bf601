"""The store: the one place conveyor talks to DuckDB.

A workspace holds one DuckDB file. Its ``main`` schema keeps the catalog (streams, ingests,
datasets); each stream lives in a schema of its own, ``stream_<name>``, with the tables described
in ARCHITECTURE.md: ``events``, ``cases``, ``activities``, ``resources``, ``variants`` and
``quarantine``. Everything else in conveyor receives a :class:`Store` and never opens DuckDB.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from conveyor.data.quoting import quote
from conveyor.data.sql import Query, transpile
from conveyor.errors import ConveyorError, EmptyStreamError, StreamNotFoundError, WorkspaceError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DEFAULT_MEMORY_LIMIT", "Store", "StreamInfo", "quote", "stream_schema", "validate_stream_name"]

SCHEMA_VERSION = 2
#: DuckDB's own default takes 80% of RAM; two processes on one workspace (a server and a command)
#: would then take more than the machine has. Work beyond the limit spills to disk.
DEFAULT_MEMORY_LIMIT = "40%"
log = logging.getLogger("conveyor.store")
_STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

_CATALOG = """
CREATE TABLE IF NOT EXISTS main.conveyor_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS main.streams (
    name VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    events BIGINT NOT NULL DEFAULT 0,
    cases BIGINT NOT NULL DEFAULT 0,
    activities INTEGER NOT NULL DEFAULT 0,
    first_ts TIMESTAMPTZ,
    last_ts TIMESTAMPTZ,
    quarantined BIGINT NOT NULL DEFAULT 0
);
CREATE SEQUENCE IF NOT EXISTS main.ingest_ids START 1;
CREATE TABLE IF NOT EXISTS main.ingests (
    id INTEGER PRIMARY KEY,
    stream VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    sha256 VARCHAR,
    rows BIGINT NOT NULL,
    loaded BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL,
    mapping JSON
);
CREATE TABLE IF NOT EXISTS main.datasets (
    name VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
"""


def validate_stream_name(name: str) -> str:
    """Return ``name`` if it is a valid stream name, else raise a clear error."""
    if not _STREAM_NAME.match(name):
        raise ConveyorError(
            f"stream name {name!r} is not allowed",
            hint="use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit (e.g. order-to-cash)",
        )
    return name


def stream_schema(name: str) -> str:
    """The DuckDB schema that holds a stream's tables."""
    return f"stream_{validate_stream_name(name)}"


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One row of `conveyor streams`."""

    name: str
    events: int
    cases: int
    activities: int
    first: datetime | None
    last: datetime | None
    quarantined: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "events": self.events,
            "cases": self.cases,
            "activities": self.activities,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "quarantined": self.quarantined,
        }


class Store:
    """A workspace's DuckDB database.

    ``Store(":memory:")`` gives a throw-away store for tests and notebooks; ``Store(path)`` opens
    (and creates) a file. Use it as a context manager, or call :meth:`close`.

    >>> with Store(":memory:") as store:
    ...     store.stream_names()
    []
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        threads: int = 0,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        read_only: bool = False,
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            raise WorkspaceError(
                f"cannot open the store {self.path}: {exc}",
                path=self.path,
                hint="another conveyor process may hold it open; wait for it or close it",
            ) from exc
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"{self.path} is not a conveyor store: {exc}",
                path=self.path,
                hint="point --workspace at a folder made by `conveyor init`",
            ) from exc
        self._lock = threading.RLock()
        self._con.execute("SET TimeZone = 'UTC'")
        # Nothing relies on the order rows are inserted in (the CSV reader sets it for itself);
        # dropping it lets DuckDB stream big CREATE TABLE AS statements with less memory.
        self._con.execute("SET preserve_insertion_order = false")
        if not read_only:
            self._con.execute(_CATALOG)
            self._con.execute(
                "INSERT OR IGNORE INTO main.conveyor_meta VALUES ('schema_version', ?)",
                [str(SCHEMA_VERSION)],
            )

    def cursor(self) -> Store:
        """Another connection to the same open database, for another thread (the web server
        gives each request one): queries on it run alongside this one's, and a long write here
        (an ingest) does not block reads there (each sees the last committed state)."""
        other = object.__new__(Store)
        other.path, other.read_only = self.path, self.read_only
        other._con = self._con.cursor()
        other._lock = threading.RLock()
        other._con.execute("SET TimeZone = 'UTC'")
        return other

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    #: The SQL dialect of the engine behind this store; queries are transpiled to it.
    dialect = "duckdb"

    def run(self, query: Query, *, params: Mapping[str, object] | None = None, **parts: str) -> list[dict[str, Any]]:
        """Run a registered :class:`~conveyor.data.sql.Query` (``$name`` parameters bound from
        ``params``) and return rows as dicts."""
        started = time.perf_counter()
        rows = self.records(transpile(query.render(**parts), self.dialect), params)
        log.debug("%.3fs query %s", time.perf_counter() - started, query.name)
        return rows

    def records(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """Run a plain query (DuckDB dialect, ``$name`` parameters) and return rows as dicts."""
        with self._lock:
            cur = self._con.execute(sql, dict(params)) if params else self._con.execute(sql)
            names = [d[0] for d in cur.description or []]
            rows = cur.fetchall()
        return [dict(zip(names, r, strict=True)) for r in rows]

    def has_table(self, schema: str, table: str) -> bool:
        """Whether the schema holds the table (e.g. a stream's ``instances``)."""
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            )
        )

    # -- execution (for conveyor.data modules) ---------------------------------------------
    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> None:
        """Run one or more statements; any result is consumed (DuckDB 2 requires it)."""
        started = time.perf_counter()
        with self._lock:
            cur = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            cur.fetchall()
        log.debug("%.3fs %s", time.perf_counter() - started, " ".join(sql.split())[:120])

    def rows(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        """Run a query (``?`` or ``$name`` parameters) and return all rows as tuples."""
        started = time.perf_counter()
        with self._lock:
            cur = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
            result = cur.fetchall()
        log.debug("%.3fs %s", time.perf_counter() - started, " ".join(sql.split())[:120])
        return result

    def scalar(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> Any:
        """The first column of the first row of a (small) query, or None."""
        result = self.rows(sql, params)
        return result[0][0] if result else None

    def arrow(self, sql: str, params: Sequence[object] | None = None) -> pa.Table:
        """Run a query and return an Arrow table."""
        with self._lock:
            rel = self._con.sql(sql, params=params) if params is not None else self._con.sql(sql)
            return rel.to_arrow_table()

    def batches(self, sql: str, *, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream a query's result as Arrow record batches (bounded memory)."""
        with self._lock:
            reader = self._con.sql(sql).to_arrow_reader(batch_size)
        if reader is not None:
            yield from reader

    def register(self, name: str, table: object) -> None:
        """Make a Python object (Arrow table, pandas or polars frame) queryable as ``name``."""
        self._con.register(name, table)

    def unregister(self, name: str) -> None:
        self._con.unregister(name)

    def columns(self, relation: str) -> list[tuple[str, str]]:
        """Names and DuckDB types of a table, view or query's columns."""
        return [(r[0], r[1]) for r in self.rows(f"DESCRIBE {relation}")]

    def progress(self) -> float:
        """Fraction done of the query running now (-1 when unknown); safe from another thread."""
        try:
            return float(self._con.query_progress())
        except duckdb.Error:
            return -1.0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together, or none do."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    # -- catalog -----------------------------------------------------------------------------
    def stream_names(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT name FROM main.streams ORDER BY name")]

    def has_stream(self, name: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM main.streams WHERE name = ?", [name]))

    def require_stream(self, name: str, *, events: bool = True) -> str:
        """Return the stream's schema, or raise :class:`StreamNotFoundError` (and, with ``events``,
        :class:`EmptyStreamError` when its ingests loaded nothing, so it has no layout)."""
        if not self.has_stream(name):
            raise StreamNotFoundError(name, known=self.stream_names())
        schema = stream_schema(name)
        if events and not self.has_table(schema, "cases"):
            raise EmptyStreamError(name)
        return schema

    def streams(self) -> list[StreamInfo]:
        """Every stream with its summary figures (kept up to date by ingest)."""
        rows = self.rows(
            "SELECT name, events, cases, activities, first_ts, last_ts, quarantined FROM main.streams ORDER BY name"
        )
        return [StreamInfo(*r) for r in rows]

    def stream(self, name: str) -> StreamInfo:
        self.require_stream(name, events=False)  # its figures say 0 events when all were quarantined
        return next(s for s in self.streams() if s.name == name)

    def drop_stream(self, name: str) -> None:
        schema = self.require_stream(name, events=False)
        with self.transaction():
            self.execute(f"DROP SCHEMA {quote(schema)} CASCADE")
            self.execute("DELETE FROM main.streams WHERE name = ?", [name])
            self.execute("DELETE FROM main.ingests WHERE stream = ?", [name])

    def write_dataset(self, name: str, table: object, *, description: str) -> int:
        """Store a non-event table (e.g. daily demand) as ``main.<name>``, replacing it."""
        validate_stream_name(name.replace("_", "-"))
        self.register("_dataset_in", table)
        try:
            with self.transaction():
                self.execute(f"CREATE OR REPLACE TABLE main.{quote(name)} AS SELECT * FROM _dataset_in")
                rows = int(self.scalar(f"SELECT count(*) FROM main.{quote(name)}"))
                self.execute(
                    "INSERT OR REPLACE INTO main.datasets VALUES (?, ?, ?, now())",
                    [name, description, rows],
                )
        finally:
            self.unregister("_dataset_in")
        return rows

    def datasets(self) -> list[tuple[str, str, int]]:
        return [
            (r[0], r[1], r[2]) for r in self.rows("SELECT name, description, rows FROM main.datasets ORDER BY name")
        ]
