"""Build a stream's layout on Spark, from any event table Spark can read.

For logs beyond one machine: the same tables ingest builds in DuckDB (dictionaries, events with
position and successor, cases, variants, case attributes, map summaries), computed by Spark and
written to the warehouse as Parquet, where :class:`~conveyor.data.spark.SparkStore` analyses them.
Codes and ids follow the DuckDB layout's rules (activities by name, cases by first appearance,
variants by case count then first case), so both engines answer alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.data.ingest import IngestResult
from conveyor.data.layout import INSTANCES, VARIANT_ID
from conveyor.data.quoting import quote, quote_spark
from conveyor.data.schema import CASE_PREFIX, resolve_mapping
from conveyor.data.spark import SparkStore, spark_schema
from conveyor.data.sql import transpile
from conveyor.data.summaries import SUMMARY_TABLES, default_level, unfiltered_scope

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["build_layout_spark"]


def _read(store: SparkStore, source: str | DataFrame) -> tuple[DataFrame, str]:
    if not isinstance(source, str):
        return source, "<dataframe>"
    spark = store.spark
    looks_like_path = "/" in source or "://" in source or source.endswith((".parquet", ".csv", ".csv.gz"))
    if not looks_like_path:
        return spark.table(source), source
    if source.endswith((".csv", ".csv.gz")):
        return spark.read.option("header", True).csv(source), source
    return spark.read.parquet(source), source


def build_layout_spark(
    store: SparkStore,
    source: str | DataFrame,
    *,
    stream: str,
    case_id: str | None = None,
    activity: str | None = None,
    timestamp: str | None = None,
    resource: str | None = None,
    lifecycle: str | None = None,
) -> IngestResult:
    """Lay out ``source`` (a Parquet/CSV path or URI, a table name, or a DataFrame) as ``stream``.

    Columns are found like ingest finds them (XES names, Disco names, plain names) unless given;
    ``case:<name>`` columns become case attributes (from each case's first row). Rows missing a
    case id, activity or parsable timestamp go to the stream's ``quarantine`` table with a reason.
    """
    import warnings

    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812  (PySpark's own convention)

    # PySpark 4.3 warns (on createDataFrame) that it was not validated with pandas 3; no pandas is used here.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

    spark = store.spark
    df, label = _read(store, source)
    mapping = resolve_mapping(
        list(df.columns),
        file=label,
        case_id=case_id,
        activity=activity,
        timestamp=timestamp,
        resource=resource,
        lifecycle=lifecycle,
    )

    def text(col: str | None) -> Any:
        if col is None:
            return F.lit(None).cast("string")
        v = F.col(quote_spark(col)).cast("string")
        return F.when(F.trim(v) == "", None).otherwise(v)

    ts_type = dict(df.dtypes)[mapping.timestamp]
    ts_col = F.col(quote_spark(mapping.timestamp))
    ts = (
        ts_col.cast("timestamp")
        if ts_type.startswith("timestamp")
        else F.expr(f"try_to_timestamp({quote_spark(mapping.timestamp)})")
    )
    case_attrs = [c for c in df.columns if c.startswith(CASE_PREFIX) and c != mapping.case_id]
    staged = (
        df.select(
            F.monotonically_increasing_id().alias("seq"),  # increases in file order: ties keep it
            text(mapping.case_id).alias("case_id"),
            text(mapping.activity).alias("activity_name"),
            ts.alias("ts"),
            ts_col.cast("string").alias("_ts_raw"),
            text(mapping.resource).alias("resource_name"),
            text(mapping.lifecycle).alias("lifecycle"),
            *[F.col(quote_spark(c)).alias(c.removeprefix(CASE_PREFIX)) for c in case_attrs],
        )
        .withColumn(
            "_reason",
            F.when(F.col("case_id").isNull(), "missing case id")
            .when(F.col("activity_name").isNull(), "missing activity")
            .when(F.col("ts").isNull() & F.col("_ts_raw").isNull(), "missing timestamp")
            .when(F.col("ts").isNull(), "unparseable timestamp"),
        )
        .cache()
    )
    schema = spark_schema(stream)
    base = f"{store.warehouse}/{schema}"
    bad = staged.where(F.col("_reason").isNotNull())
    bad.select(
        F.lit(label).alias("file"),
        (F.col("seq") + 1).alias("row"),
        F.col("_reason").alias("reason"),
        F.to_json(F.struct("case_id", "activity_name", "_ts_raw", "resource_name")).alias("record"),
    ).write.mode("overwrite").parquet(f"{base}/quarantine")
    good = staged.where(F.col("_reason").isNull()).drop("_reason", "_ts_raw")

    names = sorted(r[0] for r in good.select("activity_name").distinct().collect())
    activities = spark.createDataFrame(list(enumerate(names)), "code int, name string")
    res_names = sorted(
        r[0] for r in good.select("resource_name").where("resource_name IS NOT NULL").distinct().collect()
    )
    resources = spark.createDataFrame(list(enumerate(res_names)), "code int, name string")
    first = good.groupBy("case_id").agg(F.min("seq").alias("first_seq")).orderBy("first_seq")
    case_index = first.rdd.zipWithIndex().map(lambda r: (r[0]["case_id"], r[1])).toDF("case_id string, case_idx long")
    case_index = case_index.withColumn("case_idx", F.col("case_idx").cast("int"))

    enc = (
        good.join(case_index, "case_id")
        .join(
            F.broadcast(activities.withColumnRenamed("name", "activity_name").withColumnRenamed("code", "activity")),
            "activity_name",
        )
        .join(
            F.broadcast(resources.withColumnRenamed("name", "resource_name").withColumnRenamed("code", "resource")),
            "resource_name",
            "left",
        )
    )
    w = Window.partitionBy("case_idx").orderBy("ts", "seq")
    events = enc.select(
        "case_idx",
        (F.row_number().over(w) - 1).cast("int").alias("pos"),
        "activity",
        "ts",
        F.lead("activity").over(w).alias("next_activity"),
        F.lead("ts").over(w).alias("next_ts"),
        "resource",
        F.lead("resource").over(w).alias("next_resource"),
        "lifecycle",
        "seq",
    )
    events.write.mode("overwrite").parquet(f"{base}/events")
    events = spark.read.parquet(f"{base}/events")

    traces = events.groupBy("case_idx").agg(
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
        F.count(F.lit(1)).cast("int").alias("n_events"),
        _ordered_trace(F).alias("trace"),
    )
    name_array = F.array(*[F.lit(n) for n in names]) if names else F.array().cast("array<string>")
    variants = _variants(F, traces, name_array)
    variants.write.mode("overwrite").parquet(f"{base}/variants")
    variants = spark.read.parquet(f"{base}/variants")

    # Activity instances, by the same query definition as on DuckDB, where the log has starts.
    instance_ids = None
    if events.where(F.lower("lifecycle") == "start").limit(1).count():
        events.createOrReplaceTempView("_conveyor_events")
        instances = spark.sql(transpile(INSTANCES.render(ev="_conveyor_events"), "spark"))
        instances.write.mode("overwrite").parquet(f"{base}/instances")
        instances = spark.read.parquet(f"{base}/instances")
        itraces = traces.select("case_idx").join(
            instances.groupBy("case_idx").agg(_ordered_trace(F).alias("itrace")), "case_idx", "left"
        )
        itraces = itraces.select("case_idx", F.coalesce("itrace", F.array().cast("array<int>")).alias("trace"))
        instance_variants = _variants(F, itraces, name_array)
        instance_variants.write.mode("overwrite").parquet(f"{base}/instance_variants")
        instance_variants = spark.read.parquet(f"{base}/instance_variants")
        instance_ids = itraces.join(
            instance_variants.select(
                F.col("variant_id").alias("instance_variant_id"), F.col("activities").alias("trace")
            ),
            "trace",
        ).select("case_idx", "instance_variant_id")

    attr_names = [c.removeprefix(CASE_PREFIX) for c in case_attrs]
    if attr_names:
        firsts = good.groupBy("case_id").agg(
            *[F.min_by(F.col(quote_spark(a)), F.col("seq")).alias(a) for a in attr_names]
        )
    cases = traces.join(case_index, "case_idx").join(
        variants.select("variant_id", F.col("activities").alias("trace")), "trace"
    )
    if instance_ids is not None:
        cases = cases.join(instance_ids, "case_idx")
    else:
        cases = cases.withColumn("instance_variant_id", F.lit(None).cast("string"))
    core: list[Any] = [
        "case_idx",
        "case_id",
        "first_ts",
        "last_ts",
        "n_events",
        ((F.unix_micros("last_ts") - F.unix_micros("first_ts")) / 1e6).alias("duration_seconds"),
        "variant_id",
        "instance_variant_id",
    ]
    cases = cases.select(*core)
    if attr_names:
        cases = cases.join(firsts, "case_id", "left").select(
            *(cases.columns), *[F.col(quote_spark(a)) for a in attr_names]
        )
    cases.write.mode("overwrite").parquet(f"{base}/cases")
    activities.write.mode("overwrite").parquet(f"{base}/activities")
    resources.write.mode("overwrite").parquet(f"{base}/resources")

    # the map summaries, by the same query definitions as on DuckDB
    for table in SUMMARY_TABLES:
        spark.createDataFrame([], "x int").write.mode("overwrite").parquet(
            f"{base}/{table}"
        )  # placeholder so registration finds it
    store.refresh(stream)
    store.require_stream(stream)
    q = quote(schema)
    scope = unfiltered_scope(schema, default_level(store, schema))
    for table, query in SUMMARY_TABLES.items():
        result = spark.sql(transpile(query.render(scope=scope, s=q), "spark")).cache()
        result.count()
        result.write.mode("overwrite").parquet(f"{base}/{table}")
    store.refresh(stream)
    n_events = events.count()
    n_cases = case_index.count()
    quarantined = bad.count()
    staged.unpersist()
    return IngestResult(
        stream=stream,
        source=label,
        format="spark",
        rows=n_events + quarantined,
        events_loaded=n_events,
        cases=n_cases,
        quarantined=quarantined,
        mapping=mapping.as_dict(),
    )


def _ordered_trace(F: Any) -> Any:  # noqa: N803  (PySpark's functions module, imported lazily)
    """A case's activity codes in position order."""
    return F.expr("transform(array_sort(collect_list(named_struct('k', pos, 'v', activity))), e -> e.v)")


def _variants(F: Any, traces: DataFrame, name_array: Any) -> DataFrame:  # noqa: N803
    """The variants of ``traces`` (case_idx, trace): the same columns and stable ids as DuckDB's."""
    groups = traces.groupBy("trace").agg(F.count(F.lit(1)).alias("cases"), F.min("case_idx").alias("first_case"))
    named = groups.select(
        "trace", "cases", "first_case", F.transform("trace", lambda x: F.element_at(name_array, x + 1)).alias("names")
    )
    return named.select(
        F.expr(transpile(f"SELECT {VARIANT_ID}", "spark").removeprefix("SELECT ")).alias("variant_id"),
        F.col("trace").alias("activities"),
        "names",
        F.col("cases").cast("bigint").alias("cases"),
        F.size("trace").cast("int").alias("length"),
        "first_case",
    )
