"""Do: an automation's actions, delivered from an outbox.

A decision that acts (or a person's answer to a queue item of a live automation) writes one
outbox row per action in the same transaction as the decision, so an acknowledged decision
never loses its actions. :func:`deliver_due` then carries them out:

- ``emit_event``: the event goes into its stream through the normal ingest (so the automation's
  own work is process data; the resource is ``automation:NAME``). A delivery repeated after a
  crash is quarantined as a duplicate event, never counted twice.
- ``webhook``: a JSON POST with an ``Idempotency-Key`` header (the same key on every retry);
  a timeout, a connection error or a non-2xx answer is retried after ``backoff_s * 2**(n-1)``
  seconds, and after ``retries`` retries the delivery becomes a **dead letter** (listed by
  :func:`deliveries`, shown in the dashboard, retried by hand with :func:`retry_delivery`).
- ``set_attribute``: sets a case attribute of the stream (a new attribute column if needed).

Each pass appends its outcomes to the audit chain: one record per automation listing the
idempotency keys delivered, and one per dead letter.
"""

from __future__ import annotations

import json
import string
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.automation import audit
from conveyor.automation.definitions import Action, Automation, AutomationError
from conveyor.state import StateStore

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["deliver_due", "deliveries", "enqueue_actions", "enqueue_notice", "retry_delivery"]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str | None, values: Mapping[str, Any]) -> str | None:
    if template is None:
        return None
    return string.Formatter().vformat(template, (), _Fields({k: "" if v is None else v for k, v in values.items()}))


def _payload(action: Action, values: Mapping[str, Any], at: str) -> dict[str, Any]:
    if action.kind == "emit_event":
        return {
            "stream": action.stream,
            "case": _fill(action.case, values),
            "activity": _fill(action.activity, values),
            "resource": _fill(action.resource, values) or f"automation:{values['automation']}",
            "timestamp": at,
        }
    if action.kind == "set_attribute":
        return {
            "stream": action.stream,
            "case": _fill(action.case, values),
            "attribute": action.attribute,
            "value": _fill(action.value, values),
        }
    body = dict(values)
    return {
        "url": _fill(action.url, values),
        "body": body,
        "timeout_s": action.timeout_s,
        "retries": action.retries,
        "backoff_s": action.backoff_s,
    }


def enqueue_actions(
    state: StateStore,
    auto: Automation,
    decision_id: str,
    label: str | None,
    item: Mapping[str, Any],
    *,
    at: str,
    confidence: float | None = None,
    tier: str | None = None,
) -> int:
    """Write the automation's actions for a decision into the outbox (joins the caller's
    transaction); how many. The idempotency key is ``DECISION:INDEX``: enqueuing twice adds nothing."""
    values = {**item, "label": label, "decision_id": decision_id, "automation": auto.name}
    values.setdefault("confidence", confidence)
    values.setdefault("tier", tier)
    n = 0
    with state.transaction():
        for i, action in enumerate(auto.actions):
            key = f"{decision_id}:{i}"
            state.execute(
                "INSERT INTO outbox (id, decision_id, automation, kind, payload, idem_key, state, attempts, "
                "next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (idem_key) DO NOTHING",
                (
                    key,
                    decision_id,
                    auto.name,
                    action.kind,
                    json.dumps(_payload(action, values, at), default=str),
                    key,
                    at,
                    at,
                ),
            )
            n += 1
    return n


def enqueue_notice(state: StateStore, auto: Automation, url: str, body: dict[str, Any]) -> None:
    """A webhook that tells someone what happened (e.g. an automatic pause)."""
    at = _iso(_now())
    key = f"notice:{auto.name}:{at}"
    payload = {"url": url, "body": {**body, "at": at}, "timeout_s": 5.0, "retries": 5, "backoff_s": 2.0}
    state.execute(
        "INSERT INTO outbox (id, decision_id, automation, kind, payload, idem_key, state, attempts, next_at, "
        "created_at) VALUES (?, NULL, ?, 'webhook', ?, ?, 'pending', 0, ?, ?) ON CONFLICT (idem_key) DO NOTHING",
        (key, auto.name, json.dumps(payload, default=str), key, at, at),
    )


# -- delivery --------------------------------------------------------------------------------------


def _outcome(row: dict[str, Any], error: str | None, at: str) -> tuple[str, int, str]:
    """A delivery's new state, attempts and next time after an attempt that ended with ``error``."""
    attempts = int(row["attempts"]) + 1
    if error is None:
        return "done", attempts, row["next_at"]
    payload = json.loads(row["payload"])
    retries = int(payload.get("retries", 0)) if row["kind"] == "webhook" else 5
    if attempts > retries:
        return "dead", attempts, row["next_at"]
    delay = float(payload.get("backoff_s", 1.0)) * 2 ** (attempts - 1)
    return "pending", attempts, _iso(datetime.fromisoformat(at) + timedelta(seconds=delay))


def _finish(state: StateStore, rows: list[dict[str, Any]], errors: dict[str, str | None], at: str) -> dict[str, int]:
    """Record a pass's outcomes in one transaction: successes in one statement, and one audit
    record per automation listing what was delivered and what went to the dead letters."""
    counts = {"delivered": 0, "retrying": 0, "dead": 0}
    done: list[str] = []
    finished: dict[str, dict[str, list[Any]]] = defaultdict(lambda: {"delivered": [], "dead": []})
    with state.transaction():
        for r in rows:
            err = errors.get(r["id"])
            new_state, attempts, next_at = _outcome(r, err, at)
            if new_state == "done":
                done.append(r["id"])
                finished[r["automation"]]["delivered"].append(r["idem_key"])
                counts["delivered"] += 1
                continue
            state.execute(
                "UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_error = ?, done_at = ? WHERE id = ?",
                (new_state, attempts, next_at, err, at if new_state == "dead" else None, r["id"]),
            )
            if new_state == "dead":
                payload = json.loads(r["payload"])
                finished[r["automation"]]["dead"].append(
                    {"key": r["idem_key"], "attempts": attempts, "error": err, "target": _target(r["kind"], payload)}
                )
            counts["dead" if new_state == "dead" else "retrying"] += 1
        for start in range(0, len(done), 500):
            chunk = done[start : start + 500]
            state.execute(
                f"UPDATE outbox SET state = 'done', attempts = attempts + 1, last_error = NULL, done_at = ? "
                f"WHERE id IN ({', '.join('?' for _ in chunk)})",
                (at, *chunk),
            )
        for automation, what in finished.items():
            if what["delivered"]:
                audit.append(
                    state,
                    "delivered",
                    {"keys": what["delivered"]},
                    automation=automation,
                    actor="conveyor (outbox)",
                    at=at,
                )
            for dead in what["dead"]:
                audit.append(
                    state,
                    "dead_letter",
                    dead,
                    automation=automation,
                    actor="conveyor (outbox)",
                    decision_id=dead["key"].split(":")[0],
                    at=at,
                )
    return counts


def _target(kind: str, payload: Mapping[str, Any]) -> str:
    if kind == "webhook":
        return str(payload.get("url"))
    if kind == "emit_event":
        return f"{payload['stream']}: {payload['activity']} on {payload['case']}"
    return f"{payload['stream']}: {payload['attribute']} of {payload['case']} = {payload['value']}"


def _post(row: dict[str, Any]) -> str | None:
    import httpx

    payload = json.loads(row["payload"])
    try:
        resp = httpx.post(
            payload["url"],
            json=payload["body"],
            timeout=float(payload.get("timeout_s", 5.0)),
            headers={"Idempotency-Key": row["idem_key"], "X-Conveyor-Automation": row["automation"]},
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if resp.status_code >= 300:
        return f"HTTP {resp.status_code}: {resp.text[:200]}"
    return None


def _emit(ws: Workspace, rows: list[dict[str, Any]]) -> dict[str, str | None]:
    """Ingest the events of ``rows`` (one ingest per stream); an error per row id (None: done)."""
    import pyarrow as pa

    from conveyor.data.ingest import ingest

    by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_stream[json.loads(r["payload"])["stream"]].append(r)
    out: dict[str, str | None] = {}
    for stream, group in by_stream.items():
        events = [json.loads(r["payload"]) for r in group]
        table = pa.table(
            {
                "case_id": [e["case"] for e in events],
                "activity": [e["activity"] for e in events],
                "timestamp": [e["timestamp"] for e in events],
                "resource": [e["resource"] for e in events],
            }
        )
        try:
            ingest(
                ws.store,
                table,
                stream=stream,
                case_id="case_id",
                activity="activity",
                timestamp="timestamp",
                resource="resource",
            )
            if ws.engine_name != "duckdb":
                ws.publish(stream)
        except Exception as exc:
            for r in group:
                out[r["id"]] = f"{type(exc).__name__}: {exc}"
            continue
        for r in group:
            out[r["id"]] = None
    return out


def _set_attributes(ws: Workspace, rows: list[dict[str, Any]]) -> dict[str, str | None]:
    """Set the attributes of ``rows`` (one statement per stream and attribute); an error per row."""
    from conveyor.data.ingest import set_case_attribute

    groups: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for r in rows:
        p = json.loads(r["payload"])
        groups[(p["stream"], p["attribute"])].append((r, p))
    out: dict[str, str | None] = {}
    for (stream, attribute), group in groups.items():
        try:
            missing = set(set_case_attribute(ws.store, stream, attribute, {p["case"]: p["value"] for _, p in group}))
        except Exception as exc:
            missing, error = {p["case"] for _, p in group}, f"{type(exc).__name__}: {exc}"
        else:
            error = "no such case in the stream (yet)"
        for r, p in group:
            out[r["id"]] = error if p["case"] in missing else None
    return out


def deliver_due(state: StateStore, ws: Workspace, *, limit: int = 1000, now: datetime | None = None) -> dict[str, int]:
    """Carry out the outbox rows that are due: ``{"delivered", "retrying", "dead"}`` counts."""
    at = _iso(now or _now())
    rows = state.execute(
        "SELECT * FROM outbox WHERE state = 'pending' AND next_at <= ? ORDER BY created_at, id LIMIT ?", (at, limit)
    )
    if not rows:
        return {"delivered": 0, "retrying": 0, "dead": 0}
    errors: dict[str, str | None] = {}
    emits = [r for r in rows if r["kind"] == "emit_event"]
    if emits:
        errors.update(_emit(ws, emits))
    attrs = [r for r in rows if r["kind"] == "set_attribute"]
    if attrs:
        errors.update(_set_attributes(ws, attrs))
    for r in rows:
        if r["kind"] == "webhook":
            errors[r["id"]] = _post(r)
    return _finish(state, rows, errors, _iso(_now()) if now is None else at)


def deliveries(
    state: StateStore, automation: str | None = None, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Outbox rows, newest first (``status``: pending, done or dead)."""
    where, params = [], []
    if automation:
        where.append("automation = ?")
        params.append(automation)
    if status:
        if status not in ("pending", "done", "dead"):
            raise AutomationError(
                f"status: {status!r} is not a delivery state", hint="valid values: pending, done, dead", field="status"
            )
        where.append("state = ?")
        params.append(status)
    sql = (
        "SELECT * FROM outbox"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY created_at DESC, id LIMIT ?"
    )
    rows = state.execute(sql, (*params, limit))
    for r in rows:
        payload = json.loads(r.pop("payload"))
        r["target"] = _target(r["kind"], payload)
    return rows


def retry_delivery(state: StateStore, delivery_id: str, *, actor: str) -> dict[str, Any]:
    """Send a dead letter again (its attempts start over); audited."""
    rows = state.execute("SELECT * FROM outbox WHERE id = ?", (delivery_id,))
    if not rows:
        raise AutomationError(
            f"no delivery {delivery_id!r}", hint="`conveyor automation deliveries` lists them", field="id"
        )
    row = rows[0]
    if row["state"] != "dead":
        raise AutomationError(f"delivery {delivery_id} is {row['state']}: only a dead letter can be retried")
    at = _iso(_now())
    with state.transaction():
        state.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?, done_at = NULL WHERE id = ?",
            (at, delivery_id),
        )
        audit.append(
            state,
            "retry",
            {"key": row["idem_key"]},
            automation=row["automation"],
            actor=actor,
            decision_id=row["decision_id"],
            at=at,
        )
    return {"id": delivery_id, "state": "pending"}
