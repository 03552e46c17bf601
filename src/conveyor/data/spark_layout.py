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
from conveyor.data.schema import CASE_PREFIX, resolve_mapping
from conveyor.data.spark import SparkStore, spark_schema
from conveyor.data.sql import transpile
from conveyor.data.store import quote
from conveyor.data.summaries import SUMMARY_TABLES, unfiltered_scope

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
        v = F.col(f"`{col}`").cast("string")
        return F.when(F.trim(v) == "", None).otherwise(v)

    ts_type = dict(df.dtypes)[mapping.timestamp]
    ts_col = F.col(f"`{mapping.timestamp}`")
    ts = (
        ts_col.cast("timestamp")
        if ts_type.startswith("timestamp")
        else F.expr(f"try_to_timestamp(`{mapping.timestamp}`)")
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
            *[F.col(f"`{c}`").alias(c.removeprefix(CASE_PREFIX)) for c in case_attrs],
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
        F.expr("transform(array_sort(collect_list(named_struct('k', pos, 'v', activity))), e -> e.v)").alias("trace"),
    )
    groups = traces.groupBy("trace").agg(F.count(F.lit(1)).alias("cases"), F.min("case_idx").alias("first_case"))
    ranked = groups.orderBy(F.col("cases").desc(), F.col("first_case")).rdd.zipWithIndex()
    variants = ranked.map(lambda r: (r[1], r[0]["trace"], r[0]["cases"])).toDF(
        "variant_id long, activities array<int>, cases long"
    )
    name_array = F.array(*[F.lit(n) for n in names]) if names else F.array().cast("array<string>")
    variants = variants.select(
        F.col("variant_id").cast("int"),
        "activities",
        F.transform("activities", lambda x: F.element_at(name_array, x + 1)).alias("names"),
        "cases",
        F.size("activities").cast("int").alias("length"),
    )
    variants.write.mode("overwrite").parquet(f"{base}/variants")
    variants = spark.read.parquet(f"{base}/variants")

    attr_names = [c.removeprefix(CASE_PREFIX) for c in case_attrs]
    if attr_names:
        firsts = good.groupBy("case_id").agg(*[F.min_by(F.col(f"`{a}`"), F.col("seq")).alias(a) for a in attr_names])
    cases = (
        traces.join(case_index, "case_idx")
        .join(variants.select("variant_id", F.col("activities").alias("trace")), "trace")
        .select(
            "case_idx",
            "case_id",
            "first_ts",
            "last_ts",
            "n_events",
            ((F.unix_micros("last_ts") - F.unix_micros("first_ts")) / 1e6).alias("duration_seconds"),
            "variant_id",
        )
    )
    if attr_names:
        cases = cases.join(firsts, "case_id", "left").select(
            "case_idx",
            "case_id",
            "first_ts",
            "last_ts",
            "n_events",
            "duration_seconds",
            "variant_id",
            *[f"`{a}`" for a in attr_names],
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
    for table, query in SUMMARY_TABLES.items():
        result = spark.sql(transpile(query.render(scope=unfiltered_scope(schema), s=q), "spark")).cache()
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
