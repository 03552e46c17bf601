"""The analysis layout of a stream, built once at ingest so analyses are cheap group-bys.

From a relation of decoded events (case_id, activity, ts, resource, lifecycle, seq, fp,
ingest_id and attribute columns) and one of case attributes, build in the stream's schema:

- ``activities(code, name)`` and ``resources(code, name)``: dictionaries, codes from 0;
- ``events``: sorted by (case_idx, ts, seq), with ``pos`` (0-based position in its case),
  integer ``activity``/``resource`` codes and the successor's ``next_activity``/``next_ts``;
- ``cases``: one row per case with first/last timestamp, event count, duration, variant id and
  the case attributes;
- ``variants(variant_id, activities, names, cases, length)``: ids ordered by case count.
"""

from __future__ import annotations

from conveyor.data.store import Store, quote

__all__ = ["CORE_CASE_COLUMNS", "CORE_EVENT_COLUMNS", "build_layout", "case_attributes_sql", "decoded_events_sql"]

#: Columns of ``events`` that conveyor owns; attribute columns may not take these names.
CORE_EVENT_COLUMNS = (
    "case_idx",
    "pos",
    "activity",
    "ts",
    "next_activity",
    "next_ts",
    "resource",
    "next_resource",
    "lifecycle",
    "seq",
    "fp",
    "ingest_id",
    "case_id",
)
#: Columns of ``cases`` that conveyor owns.
CORE_CASE_COLUMNS = ("case_idx", "case_id", "first_ts", "last_ts", "n_events", "duration_seconds", "variant_id")


def attribute_columns(store: Store, schema: str, table: str, core: tuple[str, ...]) -> list[str]:
    if not store.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ):
        return []
    return [c for c, _ in store.columns(f"{quote(schema)}.{quote(table)}") if c not in core]


def decoded_events_sql(store: Store, schema: str) -> str:
    """SQL giving the stream's stored events back in decoded form (for appends and export)."""
    s = quote(schema)
    extra = attribute_columns(store, schema, "events", CORE_EVENT_COLUMNS)
    sel = "".join(f", e.{quote(c)}" for c in extra)
    return (
        f"SELECT c.case_id, a.name AS activity, e.ts, r.name AS resource, e.lifecycle, e.seq, e.fp, "
        f"e.ingest_id{sel} FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"JOIN {s}.activities a ON a.code = e.activity LEFT JOIN {s}.resources r ON r.code = e.resource"
    )


def case_attributes_sql(store: Store, schema: str) -> str | None:
    """SQL giving the stored case attributes (case_id + attribute columns), or None if none."""
    extra = attribute_columns(store, schema, "cases", CORE_CASE_COLUMNS)
    if not extra:
        return None
    cols = ", ".join(quote(c) for c in extra)
    return f"SELECT case_id, {cols} FROM {quote(schema)}.cases"


def build_layout(store: Store, schema: str, *, events_rel: str, case_attrs_rel: str | None) -> None:
    """(Re)build every derived table of the stream.

    ``events_rel`` is a relation of decoded events (case_id, activity, ts, resource, lifecycle,
    seq, fp, ingest_id, attribute columns); ``case_attrs_rel`` one row per case (case_id and
    attribute columns) or None. Events end up clustered by case, ``pos`` giving their order:
    a final global sort would cost ~2 s per 10M events and no analysis depends on it.
    """
    s = quote(schema)
    extra = [c for c, _ in store.columns(events_rel) if c not in CORE_EVENT_COLUMNS]
    extra_enc = "".join(f", e.{quote(c)}" for c in extra)
    extra_out = "".join(f", {quote(c)}" for c in extra)
    store.execute(
        f"""
        CREATE OR REPLACE TABLE {s}.activities AS
        SELECT (row_number() OVER (ORDER BY name) - 1)::INTEGER AS code, name
        FROM (SELECT DISTINCT activity AS name FROM {events_rel});
        CREATE OR REPLACE TABLE {s}.resources AS
        SELECT (row_number() OVER (ORDER BY name) - 1)::INTEGER AS code, name
        FROM (SELECT DISTINCT resource AS name FROM {events_rel} WHERE resource IS NOT NULL);
        CREATE OR REPLACE TEMP TABLE _case_index AS
        SELECT case_id, (row_number() OVER (ORDER BY min(seq)) - 1)::INTEGER AS case_idx
        FROM {events_rel} GROUP BY case_id;
        CREATE OR REPLACE TABLE {s}.events AS
        WITH enc AS (
            SELECT ci.case_idx, a.code AS activity, e.ts, r.code AS resource, e.lifecycle,
                   e.seq, e.fp, e.ingest_id{extra_enc}
            FROM {events_rel} e
            JOIN _case_index ci USING (case_id)
            JOIN {s}.activities a ON a.name = e.activity
            LEFT JOIN {s}.resources r ON r.name = e.resource
        )
        SELECT case_idx,
               (row_number() OVER w - 1)::INTEGER AS pos,
               activity, ts,
               lead(activity) OVER w AS next_activity,
               lead(ts) OVER w AS next_ts,
               resource,
               lead(resource) OVER w AS next_resource,
               lifecycle, seq, fp, ingest_id{extra_out}
        FROM enc
        WINDOW w AS (PARTITION BY case_idx ORDER BY ts, seq);
        CREATE OR REPLACE TEMP TABLE _traces AS
        SELECT case_idx, min(ts) AS first_ts, max(ts) AS last_ts, count(*)::INTEGER AS n_events,
               list(activity ORDER BY pos) AS trace
        FROM {s}.events GROUP BY case_idx;
        SET VARIABLE conveyor_activity_names = (SELECT list(name ORDER BY code) FROM {s}.activities);
        CREATE OR REPLACE TABLE {s}.variants AS
        SELECT (row_number() OVER (ORDER BY count(*) DESC, min(case_idx)) - 1)::INTEGER AS variant_id,
               trace AS activities,
               list_transform(trace, lambda x: getvariable('conveyor_activity_names')[x + 1]) AS names,
               count(*)::BIGINT AS cases, len(trace)::INTEGER AS length
        FROM _traces GROUP BY trace;
        """
    )
    attrs_join = ""
    attrs_sel = ""
    if case_attrs_rel is not None:
        attr_cols = [c for c, _ in store.columns(case_attrs_rel) if c != "case_id"]
        attrs_sel = "".join(f", ca.{quote(c)}" for c in attr_cols)
        attrs_join = f"LEFT JOIN {case_attrs_rel} ca USING (case_id)"
    store.execute(
        f"""
        CREATE OR REPLACE TABLE {s}.cases AS
        SELECT t.case_idx, ci.case_id, t.first_ts, t.last_ts, t.n_events,
               (epoch_us(t.last_ts) - epoch_us(t.first_ts)) / 1e6 AS duration_seconds,
               v.variant_id{attrs_sel}
        FROM _traces t
        JOIN _case_index ci USING (case_idx)
        JOIN {s}.variants v ON v.activities = t.trace
        {attrs_join}
        ORDER BY t.case_idx;
        DROP TABLE _traces; DROP TABLE _case_index;
        """
    )
    from conveyor.data.summaries import materialize_summaries

    materialize_summaries(store, schema)
