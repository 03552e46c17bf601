"""The Spark engine: the same analyses as Spark SQL over a stream's layout kept as Parquet.

A Spark *warehouse* is a folder (or any URI Spark can write: ``hdfs://``, ``s3a://``...) with one
sub-folder per stream, ``stream_<name>/``, holding the layout tables as Parquet:
``events``, ``cases``, ``activities``, ``resources``, ``variants`` and the map summaries.
:func:`publish_stream` writes them from a DuckDB store after ingest; :class:`SparkStore` registers
them as external tables (database ``stream_<name>``) and runs the analysis queries, transpiled by
SQLGlot with the engine-specific forms in :mod:`conveyor.data.sql`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.data.quoting import quote, quote_spark, spark_string
from conveyor.data.sql import Query, transpile
from conveyor.data.store import Store, validate_stream_name
from conveyor.errors import ConveyorError, StreamNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["LAYOUT_TABLES", "SparkStore", "publish_stream", "spark_schema", "spark_session", "stream_of"]

#: The tables of a stream's layout that the analyses read.
LAYOUT_TABLES = ("events", "cases", "activities", "resources", "variants", "map_nodes", "map_edges", "map_endpoints")
#: Tables only streams with lifecycle starts have.
OPTIONAL_TABLES = ("instances", "instance_variants")


def spark_schema(stream: str) -> str:
    """The Spark database of a stream: Spark allows only letters, digits and ``_`` in names,
    so ``_`` is written ``__`` and ``-`` is written ``_h`` (unambiguous, reversible)."""
    validate_stream_name(stream)
    return "stream_" + stream.replace("_", "__").replace("-", "_h")


def stream_of(schema: str) -> str:
    """The stream name back from :func:`spark_schema`."""
    out, body, i = [], schema.removeprefix("stream_"), 0
    while i < len(body):
        if body[i] == "_" and i + 1 < len(body):
            out.append("_" if body[i + 1] == "_" else "-")
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _is_local(warehouse: str) -> bool:
    return "://" not in warehouse or warehouse.startswith("file://")


def publish_stream(store: Store, stream: str, warehouse: str | Path) -> list[str]:
    """Write ``stream``'s layout tables from the DuckDB store to ``warehouse`` as Parquet.

    Replaces what was there (an append in DuckDB rebuilds the layout, so it is written whole).
    Returns the tables written.
    """
    from conveyor.data.summaries import ensure_summaries

    schema = store.require_stream(stream)
    ensure_summaries(store, schema)
    tables = [*LAYOUT_TABLES, *(t for t in OPTIONAL_TABLES if store.has_table(schema, t))]
    base = str(warehouse).rstrip("/") + f"/{spark_schema(stream)}"
    if _is_local(base):
        root = Path(base.removeprefix("file://"))
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
    for table in tables:
        target = f"{base}/{table}"
        if _is_local(target):
            Path(target.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
            target = f"{target}/part-0.parquet"
        literal = target.replace("'", "''")
        store.execute(f"COPY (SELECT * FROM {quote(schema)}.{quote(table)}) TO '{literal}' (FORMAT parquet)")
    return tables


def spark_session(master: str = "local[2]", conf: dict[str, str] | None = None) -> SparkSession:
    """A Spark session set up for conveyor: UTC, no UI, loopback only for a local master."""
    try:
        import warnings

        with warnings.catch_warnings():
            # PySpark 4.3 warns that it has not been validated with pandas 3; conveyor does not use
            # PySpark's pandas features.
            warnings.filterwarnings(
                "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
            )
            from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConveyorError(
            "the Spark engine needs PySpark, which is not installed",
            hint="install conveyor with the spark extra (pip install 'conveyor[spark]'; `make test` does) and Java 17",
        ) from exc
    builder = (
        SparkSession.builder.master(master)
        .appName("conveyor")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.catalogImplementation", "in-memory")
        # the session catalog only names conveyor's external tables: keep its folder out of the user's way
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "conveyor-spark-catalog"))
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    )
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkStore:
    """The analysis engine over a Spark warehouse (see the module docstring).

    Pass a running ``spark`` session, or let it start one with ``master`` and ``conf``.
    """

    dialect = "spark"

    def __init__(
        self,
        warehouse: str | Path,
        *,
        spark: SparkSession | None = None,
        master: str = "local[2]",
        conf: dict[str, str] | None = None,
    ) -> None:
        self.warehouse = str(warehouse).rstrip("/")
        self._session = spark
        self._master, self._conf = master, conf
        self._registered: set[str] = set()

    @property
    def spark(self) -> SparkSession:
        """The session, started on first use (a JVM start takes seconds; an unknown stream in a
        local warehouse is reported without one)."""
        if self._session is None:
            self._session = spark_session(self._master, self._conf)
        return self._session

    def stop(self) -> None:
        """Stop the session if this store started one."""
        if self._session is not None:
            self._session.stop()
            self._session = None

    # -- catalog ---------------------------------------------------------------------------
    def stream_names(self) -> list[str]:
        if _is_local(self.warehouse):
            root = Path(self.warehouse.removeprefix("file://"))
            if not root.is_dir():
                return []
            return sorted(
                stream_of(p.name) for p in root.iterdir() if p.name.startswith("stream_") and (p / "events").exists()
            )
        return sorted(stream_of(db.name) for db in self.spark.catalog.listDatabases() if db.name.startswith("stream_"))

    def require_stream(self, name: str) -> str:
        schema = spark_schema(name)
        if schema in self._registered:
            return schema
        if (
            _is_local(self.warehouse)
            and not (Path(self.warehouse.removeprefix("file://")) / schema / "events").exists()
        ):
            err = StreamNotFoundError(name, known=self.stream_names())
            err.hint = (
                f"the Spark warehouse {self.warehouse} has no stream {name!r}: ingest with --engine spark, "
                f"or run `conveyor publish {name}`"
            )
            raise err
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {quote_spark(schema)}")
        for table in (*LAYOUT_TABLES, *OPTIONAL_TABLES):
            location = f"{self.warehouse}/{schema}/{table}"
            name = f"{quote_spark(schema)}.{quote_spark(table)}"
            self.spark.sql(f"DROP TABLE IF EXISTS {name}")
            if table in OPTIONAL_TABLES and not self._exists(location):
                continue
            self.spark.sql(f"CREATE TABLE {name} USING parquet LOCATION {spark_string(location)}")
        self._registered.add(schema)
        return schema

    def _exists(self, location: str) -> bool:
        if _is_local(location):
            return Path(location.removeprefix("file://")).exists()
        jvm: Any = self.spark.sparkContext._jvm  # the Hadoop file system API, for remote warehouses
        path = jvm.org.apache.hadoop.fs.Path(location)
        return bool(path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).exists(path))

    def has_table(self, schema: str, table: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{quote_spark(schema)}.{quote_spark(table)}"))

    def refresh(self, name: str) -> None:
        """Forget a stream's registration (after it was published again)."""
        schema = spark_schema(name)
        self._registered.discard(schema)
        self.spark.catalog.clearCache()

    # -- queries ---------------------------------------------------------------------------
    def _collect(self, sql: str, params: Mapping[str, object] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        # DuckDB's $name parameters become Spark's :name markers, bound by Spark itself
        df = self.spark.sql(transpile(sql, self.dialect), args=dict(params) if params else None)
        names = list(df.columns)
        return names, [tuple(_plain(v) for v in row) for row in df.collect()]

    def run(self, query: Query, *, params: Mapping[str, object] | None = None, **parts: str) -> list[dict[str, Any]]:
        names, rows = self._collect(query.render(**parts), params)
        return [dict(zip(names, r, strict=True)) for r in rows]

    def records(self, sql: str, params: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        names, rows = self._collect(sql, params)
        return [dict(zip(names, r, strict=True)) for r in rows]

    def rows(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        if params is not None and not isinstance(params, Mapping):
            raise ConveyorError("the Spark engine takes named parameters only", hint="write $name and pass a dict")
        return self._collect(sql, params)[1]

    def scalar(self, sql: str) -> Any:
        result = self.rows(sql)
        return result[0][0] if result else None

    def columns(self, relation: str) -> list[tuple[str, str]]:
        df = self.spark.sql(transpile(f"SELECT * FROM {relation} LIMIT 0", self.dialect))
        return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


def _plain(value: Any) -> Any:
    """Spark values as the DuckDB store returns them (lists, not Rows; floats, not Decimals)."""
    from decimal import Decimal

    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    return value
