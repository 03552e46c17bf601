"""The analysis layout of a stream, kept up to date as events arrive, so analyses are cheap group-bys.

From a relation of new decoded events (case_id, activity, ts, resource, lifecycle, seq, fp,
ingest_id and attribute columns) and one of their case attributes, bring the stream's schema up
to date:

- ``activities(code, name)`` and ``resources(code, name)``: dictionaries; a new name gets the
  next free code, so codes never change once given;
- ``events``: with ``pos`` (0-based position in its case, by time then source order), integer
  ``activity``/``resource`` codes and the successor's ``next_activity``/``next_ts``;
- ``instances`` (only for streams with ``start`` lifecycle events): one row per activity
  instance, see :data:`INSTANCES`;
- ``cases``: one row per case with first/last timestamp, event count, duration, variant ids and
  the case attributes;
- ``variants`` and ``instance_variants``: ``variant_id``, activity codes and names, case count.

A variant's id is derived from its activity names (:data:`VARIANT_ID`), so it stays the same
across appends, re-ingests and engines. Only the cases the new events touch are recomputed:
their old rows are replaced, every other row stays where it is. The first load of a stream is the
same computation with every case touched.
"""

from __future__ import annotations

from conveyor.data.quoting import quote
from conveyor.data.sql import Query
from conveyor.data.store import Store

__all__ = [
    "CORE_CASE_COLUMNS",
    "CORE_EVENT_COLUMNS",
    "INSTANCES",
    "VARIANT_ID",
    "attribute_columns",
    "attribute_types",
    "build_layout",
    "decoded_events_sql",
]

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
    "start_ts",
)
#: Columns of ``cases`` that conveyor owns.
CORE_CASE_COLUMNS = (
    "case_idx",
    "case_id",
    "first_ts",
    "last_ts",
    "n_events",
    "duration_seconds",
    "variant_id",
    "instance_variant_id",
)

#: A variant's id from its activity names (``names``, a list): the first 12 hex digits of the MD5
#: of the names joined by the unit separator. The same sequence gets the same id on every engine.
VARIANT_ID = "substr(md5(array_to_string(names, chr(31))), 1, 12)"

#: Activity instances from lifecycle events (``{ev}``: case_idx, pos, activity, ts, resource,
#: lifecycle). A ``complete`` event (or one with no lifecycle) ends an instance; it is paired with
#: the earliest unpaired ``start`` of the same activity before it in the case, first in first out.
#: A complete with no such start is an instance without a start. Other transitions (schedule,
#: assign, suspend, resume, abort...) and starts that never complete form no instance; they stay
#: in ``events``. Instances are ordered by start (their end where they have no start), then end.
#: ``next_ts`` is when the next instance starts, or this one's end where the next started before
#: this one ended (overlapping work waits no time), so ``next_ts - ts`` is the waiting time.
#:
#: The pairing is a running count: with s_j the starts seen by the j-th complete, the number of
#: pairs made by then is m_j = min(s_j, m_{j-1} + 1) = j + min(0, min_{i<=j}(s_i - i)); the j-th
#: complete is paired (with start number m_j) when m_j grows.
INSTANCES = Query(
    "layout.instances",
    """WITH lc AS (
        SELECT case_idx, pos, activity, ts, resource, lower(coalesce(lifecycle, 'complete')) AS t
        FROM {ev} WHERE lifecycle IS NULL OR lower(lifecycle) IN ('start', 'complete')
    ), counted AS (
        SELECT *,
               sum(CASE WHEN t = 'start' THEN 1 ELSE 0 END) OVER w AS s,
               sum(CASE WHEN t = 'complete' THEN 1 ELSE 0 END) OVER w AS j
        FROM lc WINDOW w AS (PARTITION BY case_idx, activity ORDER BY pos ROWS UNBOUNDED PRECEDING)
    ), ends AS (
        SELECT *, j + least(0, min(s - j) OVER (PARTITION BY case_idx, activity ORDER BY pos
                                                ROWS UNBOUNDED PRECEDING)) AS m
        FROM counted WHERE t = 'complete'
    ), paired AS (
        SELECT *, m > coalesce(lag(m) OVER (PARTITION BY case_idx, activity ORDER BY pos), 0) AS has_start
        FROM ends
    ), starts AS (
        SELECT case_idx, activity, s AS k, ts AS start_ts, resource AS start_resource FROM counted WHERE t = 'start'
    ), inst AS (
        SELECT p.case_idx, p.activity, st.start_ts, p.ts, coalesce(p.resource, st.start_resource) AS resource,
               p.pos AS end_pos
        FROM paired p LEFT JOIN starts st
          ON p.has_start AND st.case_idx = p.case_idx AND st.activity = p.activity AND st.k = p.m
    )
    SELECT case_idx, CAST(row_number() OVER w - 1 AS INTEGER) AS pos, activity, start_ts, ts,
           lead(activity) OVER w AS next_activity,
           greatest(lead(coalesce(start_ts, ts)) OVER w, ts) AS next_ts,
           resource, lead(resource) OVER w AS next_resource, end_pos
    FROM inst
    WINDOW w AS (PARTITION BY case_idx ORDER BY coalesce(start_ts, ts), ts, end_pos)""",
)


def attribute_types(store: Store, schema: str, table: str, core: tuple[str, ...]) -> list[tuple[str, str]]:
    """The attribute columns (name, type) of one of the stream's tables."""
    if not store.has_table(schema, table):
        return []
    return [(c, t) for c, t in store.columns(f"{quote(schema)}.{quote(table)}") if c not in core]


def attribute_columns(store: Store, schema: str, table: str, core: tuple[str, ...]) -> list[str]:
    """The attribute column names of one of the stream's tables."""
    return [c for c, _ in attribute_types(store, schema, table, core)]


def decoded_events_sql(store: Store, schema: str) -> str:
    """SQL giving the stream's stored events back in decoded form (for export)."""
    s = quote(schema)
    extra = attribute_columns(store, schema, "events", CORE_EVENT_COLUMNS)
    sel = "".join(f", e.{quote(c)}" for c in extra)
    return (
        f"SELECT c.case_id, a.name AS activity, e.ts, r.name AS resource, e.lifecycle, e.seq, e.fp, "
        f"e.ingest_id{sel} FROM {s}.events e JOIN {s}.cases c USING (case_idx) "
        f"JOIN {s}.activities a ON a.code = e.activity LEFT JOIN {s}.resources r ON r.code = e.resource"
    )


def _widen(store: Store, table: str, wanted: list[tuple[str, str]]) -> dict[str, str]:
    """Give ``table`` every column of ``wanted`` (name, type), widening types where they differ
    (e.g. BIGINT and DOUBLE give DOUBLE; anything and VARCHAR gives VARCHAR). Returns the types."""
    have = dict(store.columns(table))
    for name, typ in wanted:
        if name not in have:
            store.execute(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {typ}")
            have[name] = typ
        elif have[name] != typ:
            unified = store.scalar(
                f"SELECT typeof(x) FROM (SELECT NULL::{have[name]} AS x UNION ALL BY NAME SELECT NULL::{typ} AS x)"
            )
            if unified != have[name]:
                store.execute(f"ALTER TABLE {table} ALTER {quote(name)} TYPE {unified}")
                have[name] = unified
    return have


def _grow_dictionary(store: Store, s: str, table: str, source: str) -> None:
    """Give every new name in ``source`` (a query of names) the next free code, in name order."""
    store.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {s}.{table} (code INTEGER, name VARCHAR);
        INSERT INTO {s}.{table}
        SELECT CAST((SELECT coalesce(max(code), -1) FROM {s}.{table}) + row_number() OVER (ORDER BY name) AS INTEGER),
               name
        FROM ({source} EXCEPT SELECT name FROM {s}.{table}) AS fresh(name);
        """
    )


def _replace(store: Store, target: str, select_sql: str, *, first: bool, touched: str) -> None:
    """Create ``target`` from the query, or replace the touched cases' rows in it."""
    if first:
        store.execute(f"CREATE OR REPLACE TABLE {target} AS {select_sql}")
    else:
        store.execute(f"DELETE FROM {target} WHERE case_idx IN (SELECT case_idx FROM {touched})")
        store.execute(f"INSERT INTO {target} BY NAME {select_sql}")


def build_layout(store: Store, schema: str, *, events_rel: str, case_attrs_rel: str | None) -> int:
    """Bring the stream's layout up to date with the new events in ``events_rel``; the number of
    cases they start.

    ``events_rel`` holds decoded events (case_id, activity, ts, resource, lifecycle, seq, fp,
    ingest_id, attribute columns); ``case_attrs_rel`` one row per new case id (case_id and
    attribute columns) or None. Cases the new events belong to are recomputed with their old
    events; no other case is read. Events end up clustered by case, ``pos`` giving their order.
    """
    s = quote(schema)
    first = not store.has_table(schema, "events")
    _grow_dictionary(store, s, "activities", f"SELECT DISTINCT activity FROM {events_rel}")
    _grow_dictionary(store, s, "resources", f"SELECT DISTINCT resource FROM {events_rel} WHERE resource IS NOT NULL")
    _index_cases(store, s, events_rel, first=first)

    # The touched cases' events, new and old, encoded.
    new_attrs = [(c, t) for c, t in store.columns(events_rel) if c not in CORE_EVENT_COLUMNS]
    attrs = "".join(f", e.{quote(c)}" for c, _ in new_attrs)
    encoded = f"""
        SELECT ci.case_idx, a.code AS activity, e.ts, r.code AS resource, e.lifecycle, e.seq, e.fp,
               e.ingest_id{attrs}
        FROM {events_rel} e
        JOIN _case_index ci USING (case_id)
        JOIN {s}.activities a ON a.name = e.activity
        LEFT JOIN {s}.resources r ON r.name = e.resource"""
    if first:
        columns = new_attrs
    else:
        types = _widen(store, f"{s}.events", new_attrs)
        columns = [(c, types[c]) for c in attribute_columns(store, schema, "events", CORE_EVENT_COLUMNS)]
        old = f"""SELECT case_idx, activity, ts, resource, lifecycle, seq, fp, ingest_id
                         {"".join(f", {quote(c)}" for c, _ in columns)}
                  FROM {s}.events WHERE case_idx IN (SELECT case_idx FROM _case_index WHERE existed)"""
        store.execute(f"CREATE OR REPLACE TEMP TABLE _enc AS ({old}) UNION ALL BY NAME ({encoded})")
        encoded = "SELECT * FROM _enc"
    attr_out = "".join(f", {quote(c)}" for c, _ in columns)
    events_sql = f"""
        SELECT case_idx, CAST(row_number() OVER w - 1 AS INTEGER) AS pos, activity, ts,
               lead(activity) OVER w AS next_activity, lead(ts) OVER w AS next_ts,
               resource, lead(resource) OVER w AS next_resource,
               lifecycle, seq, fp, ingest_id{attr_out}
        FROM ({encoded}) enc
        WINDOW w AS (PARTITION BY case_idx ORDER BY ts, seq)"""
    if first:
        store.execute(f"CREATE OR REPLACE TABLE {s}.events AS {events_sql}")
        touched_events = f"{s}.events"
    else:
        store.execute(f"CREATE OR REPLACE TEMP TABLE _tev AS {events_sql}")
        _replace(store, f"{s}.events", "SELECT * FROM _tev", first=False, touched="_case_index")
        touched_events = "_tev"

    new_cases = int(store.scalar("SELECT count(*) FROM _case_index WHERE NOT existed"))
    instances = _update_instances(store, schema, touched_events, first=first)
    _update_cases(store, schema, touched_events, instances, case_attrs_rel, first=first)
    _rebuild_variants(store, s, "variants", "variant_id")
    if instances:
        _rebuild_variants(store, s, "instance_variants", "instance_variant_id")
    store.execute(
        "DROP TABLE IF EXISTS _case_index; DROP TABLE IF EXISTS _enc; DROP TABLE IF EXISTS _tev; "
        "DROP TABLE IF EXISTS _tinst; DROP TABLE IF EXISTS _traces; DROP TABLE IF EXISTS _new_variants"
    )
    from conveyor.data.summaries import drop_summaries, materialize_summaries

    if first:
        materialize_summaries(store, schema)
    else:
        # The precomputed map holds exact medians, which cannot be updated in place: it is rebuilt
        # by the next read that wants it (conveyor.data.summaries.ensure_summaries).
        drop_summaries(store, schema)
    return new_cases


def _index_cases(store: Store, s: str, events_rel: str, *, first: bool) -> None:
    """``_case_index(case_id, case_idx, existed)`` for every case id among the new events: a case
    already stored keeps its index; new cases get the next ones, in order of first appearance."""
    if first:
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE _case_index AS
            SELECT case_id, CAST(row_number() OVER (ORDER BY min(seq)) - 1 AS INTEGER) AS case_idx, false AS existed
            FROM {events_rel} GROUP BY case_id"""
        )
        return
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE _case_index AS
        WITH n AS (SELECT case_id, min(seq) AS first_seq FROM {events_rel} GROUP BY case_id),
        known AS (SELECT n.case_id, n.first_seq, c.case_idx FROM n LEFT JOIN {s}.cases c USING (case_id))
        SELECT case_id, case_idx, true AS existed FROM known WHERE case_idx IS NOT NULL
        UNION ALL
        SELECT case_id,
               CAST((SELECT coalesce(max(case_idx), -1) FROM {s}.cases) + row_number() OVER (ORDER BY first_seq)
                    AS INTEGER),
               false
        FROM known WHERE case_idx IS NULL"""
    )


def _update_instances(store: Store, schema: str, touched_events: str, *, first: bool) -> str | None:
    """Recompute the touched cases' activity instances. Returns the relation holding them (every
    case's, when the stream's first start events just arrived), or None: no instances."""
    s = quote(schema)
    exists = store.has_table(schema, "instances")
    if not exists and not store.scalar(f"SELECT count(*) FROM {touched_events} WHERE lower(lifecycle) = 'start'"):
        return None
    if first or not exists:
        store.execute(f"CREATE OR REPLACE TABLE {s}.instances AS {INSTANCES.render(ev=f'{s}.events')}")
        return f"{s}.instances"
    store.execute(f"CREATE OR REPLACE TEMP TABLE _tinst AS {INSTANCES.render(ev=touched_events)}")
    _replace(store, f"{s}.instances", "SELECT * FROM _tinst", first=False, touched="_case_index")
    return "_tinst"


def _update_cases(
    store: Store,
    schema: str,
    touched_events: str,
    touched_instances: str | None,
    case_attrs_rel: str | None,
    *,
    first: bool,
) -> None:
    s = quote(schema)
    store.execute(
        f"""
        SET VARIABLE conveyor_activity_names = (SELECT list(name ORDER BY code) FROM {s}.activities);
        CREATE OR REPLACE TEMP TABLE _traces AS
        SELECT case_idx, min(ts) AS first_ts, max(ts) AS last_ts, CAST(count(*) AS INTEGER) AS n_events,
               list(activity ORDER BY pos) AS trace
        FROM {touched_events} GROUP BY case_idx;
        """
    )
    variant_sql = _variant_ids("_traces")
    instance_sel = ", NULL::VARCHAR AS instance_variant_id"
    instance_join = ""
    instances = touched_instances is not None
    if touched_instances is not None:
        # Every touched case, instances or not (a case of only starts has the empty sequence).
        _instance_traces(store, "SELECT case_idx FROM _traces", touched_instances)
        instance_sel = ", iv.variant_id AS instance_variant_id"
        instance_join = f"JOIN _itraces it USING (case_idx) JOIN ({_variant_ids('_itraces')}) iv ON iv.trace = it.trace"
    attrs_sel, attrs_join = _case_attributes(store, schema, case_attrs_rel, first=first)
    cases_sql = f"""
        SELECT t.case_idx, ci.case_id, t.first_ts, t.last_ts, t.n_events,
               (epoch_us(t.last_ts) - epoch_us(t.first_ts)) / 1e6 AS duration_seconds,
               v.variant_id{instance_sel}{attrs_sel}
        FROM _traces t
        JOIN _case_index ci USING (case_idx)
        JOIN ({variant_sql}) v ON v.trace = t.trace
        {instance_join}
        {attrs_join}
        ORDER BY t.case_idx"""
    if not first and instances and "instance_variant_id" not in dict(store.columns(f"{s}.cases")):
        store.execute(f"ALTER TABLE {s}.cases ADD COLUMN instance_variant_id VARCHAR")
    if first:
        store.execute(f"CREATE OR REPLACE TABLE {s}.cases AS {cases_sql}")
    else:
        # Computed before the touched rows go: their stored attributes are read above.
        store.execute(f"CREATE OR REPLACE TEMP TABLE _tcases AS {cases_sql}")
        _replace(store, f"{s}.cases", "SELECT * FROM _tcases", first=False, touched="_case_index")
        store.execute("DROP TABLE _tcases")
    if instances and not first and store.scalar(f"SELECT count(*) FROM {s}.cases WHERE instance_variant_id IS NULL"):
        # The stream's first start events arrived now: give every other case its instance variant.
        _instance_traces(store, f"SELECT case_idx FROM {s}.cases WHERE instance_variant_id IS NULL", f"{s}.instances")
        store.execute(
            f"""UPDATE {s}.cases c SET instance_variant_id = iv.variant_id
            FROM _itraces it JOIN ({_variant_ids("_itraces")}) iv ON iv.trace = it.trace
            WHERE c.case_idx = it.case_idx;"""
        )
    store.execute("DROP TABLE IF EXISTS _itraces")


def _instance_traces(store: Store, cases: str, instances: str) -> None:
    """``_itraces(case_idx, trace)``: each case's instance sequence (empty for a case of only
    starts), for the cases ``cases`` selects, from the instances in ``instances``."""
    store.execute(
        f"""CREATE OR REPLACE TEMP TABLE _itraces AS
        SELECT c.case_idx, coalesce(i.trace, []::INTEGER[]) AS trace FROM ({cases}) c
        LEFT JOIN (SELECT case_idx, list(activity ORDER BY pos) AS trace FROM {instances} GROUP BY case_idx) i
        USING (case_idx)"""
    )


def _variant_ids(traces: str) -> str:
    """The distinct traces of ``traces`` with their names and stable variant id."""
    return f"""SELECT trace, {VARIANT_ID} AS variant_id FROM (
            SELECT trace, list_transform(trace, lambda x: getvariable('conveyor_activity_names')[x + 1]) AS names
            FROM (SELECT DISTINCT trace FROM {traces}))"""


def _case_attributes(store: Store, schema: str, case_attrs_rel: str | None, *, first: bool) -> tuple[str, str]:
    """The select list and join giving the touched cases their attributes: values already stored
    win; a new case (or a new attribute) takes the value on its first row."""
    s = quote(schema)
    new = [(c, t) for c, t in store.columns(case_attrs_rel) if c != "case_id"] if case_attrs_rel else []
    if first:
        if not new:
            return "", ""
        return "".join(f", ca.{quote(c)}" for c, _ in new), f"LEFT JOIN {case_attrs_rel} ca USING (case_id)"
    types = _widen(store, f"{s}.cases", new)
    old = attribute_columns(store, schema, "cases", CORE_CASE_COLUMNS)
    if not old:
        return "", ""
    new_names = {c for c, _ in new}
    parts = []
    for c in old:
        q = quote(c)
        parts.append(f", coalesce(o.{q}, CAST(ca.{q} AS {types[c]})) AS {q}" if c in new_names else f", o.{q}")
    join = f"LEFT JOIN {s}.cases o ON o.case_idx = t.case_idx"
    if new:
        join += f" LEFT JOIN {case_attrs_rel} ca ON ca.case_id = ci.case_id"
    return "".join(parts), join


def _rebuild_variants(store: Store, s: str, table: str, id_column: str) -> None:
    """Count every variant's cases again (one group-by over the small ``cases`` table), keeping
    the known variants' sequences and reading a new variant's from its first case."""
    source = "instances" if table == "instance_variants" else "events"
    known = _exists(store, s, table)
    store.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _variant_counts AS
        SELECT {id_column} AS variant_id, count(*) AS cases, min(case_idx) AS first_case
        FROM {s}.cases WHERE {id_column} IS NOT NULL GROUP BY {id_column};
        CREATE OR REPLACE TEMP TABLE _new_variants AS
        WITH missing AS (
            SELECT c.variant_id, c.first_case FROM _variant_counts c
            {f"ANTI JOIN {s}.{table} v USING (variant_id)" if known else ""}
        ), seqs AS (
            SELECT m.variant_id, coalesce(list(e.activity ORDER BY e.pos) FILTER (WHERE e.activity IS NOT NULL),
                                          []::INTEGER[]) AS activities
            FROM missing m LEFT JOIN {s}.{source} e ON e.case_idx = m.first_case
            GROUP BY m.variant_id
        )
        SELECT variant_id, activities FROM seqs
        {f"UNION ALL SELECT variant_id, activities FROM {s}.{table} SEMI JOIN _variant_counts USING (variant_id)" if known else ""};
        CREATE OR REPLACE TABLE {s}.{table} AS
        SELECT n.variant_id, n.activities,
               list_transform(n.activities, lambda x: getvariable('conveyor_activity_names')[x + 1]) AS names,
               CAST(c.cases AS BIGINT) AS cases, CAST(len(n.activities) AS INTEGER) AS length,
               c.first_case
        FROM _new_variants n JOIN _variant_counts c USING (variant_id)
        ORDER BY c.cases DESC, c.first_case;
        DROP TABLE _variant_counts;
        """
    )


def _exists(store: Store, s: str, table: str) -> bool:
    return store.has_table(s[1:-1].replace('""', '"'), table)
