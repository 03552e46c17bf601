"""Detect -> Decide -> Do: one decision, the status moves, the review queue's answers, the
automatic pause.

A decision is recorded with its audit record (and its queue item or its actions) in one
transaction before it is answered, so an acknowledged decision survives a crash. A decider that
raises or runs past its timeout sends the item to a person with the error recorded.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conveyor.automation import audit
from conveyor.automation.conditions import describe, matches
from conveyor.automation.deciders import Context, Decider, Proposal, build_decider
from conveyor.automation.definitions import Automation, AutomationError, load_automation, seconds
from conveyor.state import StateStore

__all__ = [
    "TIERS",
    "assign_tier",
    "check_input",
    "current_status",
    "decide",
    "record_outcome",
    "resolve",
    "set_status",
]

TIERS = ("auto", "suggest", "human")
#: status now -> the moves it allows (command -> new status).
_MOVES: dict[str, dict[str, str | None]] = {
    "draft": {"shadow": "shadow"},
    "shadow": {"go-live": "live", "pause": "paused"},
    "live": {"pause": "paused", "shadow": "shadow"},
    "paused": {"resume": None, "shadow": "shadow", "go-live": "live"},
}
SYSTEM = "conveyor"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


# -- status ---------------------------------------------------------------------------------------


def current_status(state: StateStore, auto: Automation) -> dict[str, Any]:
    """``{status, reason, changed_at, changed_by, live_since, shadow_since}`` (the file's status
    until the first move)."""
    rows = state.execute("SELECT * FROM automation_status WHERE name = ?", (auto.name,))
    if rows:
        return rows[0]
    return {
        "name": auto.name,
        "status": auto.status,
        "reason": "as declared",
        "changed_at": None,
        "changed_by": None,
        "live_since": None,
        "shadow_since": None,
    }


def set_status(
    state: StateStore, auto: Automation, move: str, *, actor: str, reason: str | None = None, at: str | None = None
) -> dict[str, Any]:
    """Apply ``move`` (shadow, go-live, pause, resume); audited. Errors name the moves allowed."""
    with state.transaction():
        now = current_status(state, auto)
        allowed = _MOVES[now["status"]]
        if move not in allowed:
            verbs = ", ".join(f"`conveyor automation {m} {auto.name}`" for m in allowed)
            raise AutomationError(
                f"automation {auto.name!r} is {now['status']}: it cannot {move}", hint=f"from here: {verbs}"
            )
        if move == "pause" and not reason:
            raise AutomationError("a pause needs a reason (--reason)", field="reason")
        new = allowed[move] or ("live" if now["live_since"] else "shadow")
        at = at or _iso(_now())
        live_since = now["live_since"] or (at if new == "live" else None)
        shadow_since = now["shadow_since"] or (at if new == "shadow" else None)
        state.execute(
            "INSERT INTO automation_status (name, status, reason, changed_at, changed_by, live_since, shadow_since) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET status = excluded.status, "
            "reason = excluded.reason, changed_at = excluded.changed_at, changed_by = excluded.changed_by, "
            "live_since = excluded.live_since, shadow_since = excluded.shadow_since",
            (auto.name, new, reason, at, actor, live_since, shadow_since),
        )
        audit.append(
            state,
            "status",
            {"from": now["status"], "to": new, "reason": reason},
            automation=auto.name,
            actor=actor,
            at=at,
        )
    return current_status(state, auto)


# -- one decision ---------------------------------------------------------------------------------


def check_input(auto: Automation, item: Any) -> dict[str, Any]:
    """The item with its declared fields typed; AutomationError naming the field otherwise."""
    if not isinstance(item, Mapping):
        raise AutomationError("input: must be an object of field values", field="input")
    unknown = [k for k in item if k not in auto.input]
    if unknown:
        raise AutomationError(
            f"input.{unknown[0]}: not a field of {auto.name!r}",
            hint=f"fields: {', '.join(auto.input)}",
            field=f"input.{unknown[0]}",
        )
    out: dict[str, Any] = {}
    for name, spec in auto.input.items():
        value = item.get(name)
        where = f"input.{name}"
        if value is None or value == "":
            if spec.required:
                raise AutomationError(f"{where}: required", hint=f"give {name} ({spec.type})", field=where)
            out[name] = None
            continue
        if spec.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise AutomationError(f"{where}: must be a number, got {value!r}", field=where)
        elif spec.type == "boolean":
            if not isinstance(value, bool):
                raise AutomationError(f"{where}: must be true or false, got {value!r}", field=where)
        elif not isinstance(value, str):
            raise AutomationError(f"{where}: must be text, got {value!r}", field=where)
        if spec.values is not None and str(value) not in spec.values:
            raise AutomationError(
                f"{where}: {value!r} is not allowed", hint=f"valid values: {', '.join(spec.values)}", field=where
            )
        out[name] = value
    return out


def assign_tier(auto: Automation, proposal: Proposal, item: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The policy's tier for a proposal, with the reasons a person should see."""
    pol = auto.policy
    for hard in pol.hard_rules:
        if matches(item, hard.when):
            return "human", [f"hard rule {hard.name!r}: {describe(hard.when, item)}"]
    if proposal.label is None:
        return "human", ["no proposal"]
    per = pol.per_label.get(proposal.label)
    auto_at = per.auto_at if per and per.auto_at is not None else pol.auto_at
    suggest_at = per.suggest_at if per and per.suggest_at is not None else pol.suggest_at
    c = proposal.confidence
    if c >= auto_at:
        return "auto", [f"confidence {c:.2f} ≥ {auto_at:.2f}"]
    if c >= suggest_at:
        return "suggest", [f"confidence {c:.2f} below {auto_at:.2f} (acting alone); ≥ {suggest_at:.2f}"]
    return "human", [f"confidence {c:.2f} below {suggest_at:.2f}"]


_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="decider")
#: (workspace, automation) -> the definition a decider was built for, and the decider. The
#: definition is the object load_automation caches while its file is unchanged, so comparing
#: identities is enough: an edited file brings a new object and a new decider.
_DECIDERS: dict[tuple[str, str], tuple[Automation, Decider]] = {}
_DECIDERS_LOCK = threading.Lock()


def _decider(auto: Automation, root: Path) -> Decider:
    key = (str(root), auto.name)
    with _DECIDERS_LOCK:
        found = _DECIDERS.get(key)
        if found is None or found[0] is not auto:
            found = _DECIDERS[key] = (auto, build_decider(auto, root))
        return found[1]


def _run_decider(
    decider: Decider, item: dict[str, Any], timeout_ms: int, context: Context
) -> tuple[Proposal | None, str | None]:
    """The decider's proposal, or why there is none. Deciders run on a worker thread so that one
    past its timeout can be left behind; one that says ``inline = True`` (quick, no I/O, like the
    rules decider) runs in place, sparing the hand-over to a thread on every decision. One with
    ``decide_with`` gets the context (store, time) too."""
    proposal: Any
    with_context = getattr(decider, "decide_with", None)
    call = (lambda it: with_context(it, context)) if with_context is not None else decider.decide
    try:
        if getattr(decider, "inline", False):
            proposal = call(dict(item))
        else:
            proposal = _POOL.submit(call, dict(item)).result(timeout=timeout_ms / 1000)
    except FutureTimeout:
        return None, f"the decider did not answer within {timeout_ms} ms"
    except Exception as exc:
        return None, f"the decider failed: {type(exc).__name__}: {exc}"
    if not isinstance(proposal, Proposal):
        return None, f"the decider returned {type(proposal).__name__}, not a Proposal"
    return proposal, None


def decide(
    state: StateStore,
    root: Path,
    name: str,
    item: Any,
    *,
    actor: str | None,
    at: str | None = None,
    store: Any = None,
) -> dict[str, Any]:
    """Decide on one item: ``{"decision_id", "tier", "label", "confidence", "explanation", ...}``.
    ``store``: the workspace's store, for deciders that read the case's history; ``at``: the time
    the decision is recorded at (a replay's), also the time those deciders judge the case at.

    ``tier`` is what happens now: ``auto`` (the automation acts), ``suggest`` (a person confirms
    the proposal) or ``human`` (a person decides). While in shadow or paused, everything goes to
    people (``policy_tier`` says what the policy would have done).
    """
    auto = load_automation(root, name)
    clean = check_input(auto, item)
    status = current_status(state, auto)["status"]
    if status == "draft":
        raise AutomationError(
            f"automation {name!r} is a draft: it takes no decisions yet",
            hint=f"`conveyor automation shadow {name}` to start deciding without acting",
        )
    started = time.perf_counter()
    try:
        decider: Decider | None = _decider(auto, root)
        version = decider.version if decider else "?"
    except AutomationError as exc:
        decider, version = None, "unavailable"
        error: str | None = exc.message
    if decider is not None:
        context = Context(store, datetime.fromisoformat(at) if at else _now())
        proposal, error = _run_decider(decider, clean, auto.decider.timeout_ms, context)
    else:
        proposal = None
    latency = (time.perf_counter() - started) * 1000
    if proposal is None:
        proposal = Proposal(None, 0.0, error or "no decision")
        policy_tier, reasons = "human", [error or "no decision"]
    else:
        policy_tier, reasons = assign_tier(auto, proposal, clean)
    tier = policy_tier if status == "live" else "human"
    if status != "live":
        reasons = [f"{status}: people decide every item", *reasons]
    decision = {
        "decision_id": secrets.token_hex(8),
        "automation": name,
        "status": status,
        "tier": tier,
        "policy_tier": policy_tier,
        "label": proposal.label,
        "confidence": round(float(proposal.confidence), 4),
        "explanation": proposal.explanation,
        "reasons": reasons,
        "similar": proposal.similar,
        "error": error,
        "decider": auto.decider.kind,
        "decider_version": version,
        "latency_ms": round(latency, 3),
    }
    _record(state, auto, decision, clean, actor=actor, at=at or _iso(_now()))
    if error is not None and status == "live":
        check_limits(state, auto, at=at)
    return decision


def _kept(auto: Automation, item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if auto.input[k].keep}


def _record(
    state: StateStore, auto: Automation, d: dict[str, Any], item: dict[str, Any], *, actor: str | None, at: str
) -> None:
    from conveyor.automation.actions import enqueue_actions

    kept = _kept(auto, item)
    case_id = str(item[auto.case_field]) if auto.case_field and item.get(auto.case_field) is not None else None
    with state.transaction():
        state.execute(
            "INSERT INTO decisions (id, automation, status, decider, decider_version, input, case_id, label, "
            "confidence, explanation, similar_cases, policy_tier, tier, reasons, error, latency_ms, actor, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                d["decision_id"],
                auto.name,
                d["status"],
                d["decider"],
                d["decider_version"],
                json.dumps(kept, ensure_ascii=False),
                case_id,
                d["label"],
                d["confidence"],
                d["explanation"],
                json.dumps(d["similar"], ensure_ascii=False, default=str),
                d["policy_tier"],
                d["tier"],
                json.dumps(d["reasons"], ensure_ascii=False),
                d["error"],
                d["latency_ms"],
                actor,
                at,
            ),
        )
        if d["tier"] == "auto":
            enqueue_actions(state, auto, d["decision_id"], d["label"], item, at=at)
        else:
            due = datetime.fromisoformat(at) + timedelta(seconds=seconds(auto.queue_sla))
            state.execute(
                "INSERT INTO queue (decision_id, automation, state, created_at, due_at) VALUES (?, ?, 'open', ?, ?)",
                (d["decision_id"], auto.name, at, _iso(due)),
            )
        audit.append(
            state,
            "decision",
            {
                "input": kept,
                "label": d["label"],
                "confidence": d["confidence"],
                "tier": d["tier"],
                "policy_tier": d["policy_tier"],
                "status": d["status"],
                "decider": d["decider"],
                "decider_version": d["decider_version"],
                "latency_ms": d["latency_ms"],
                "error": d["error"],
            },
            automation=auto.name,
            actor=actor,
            decision_id=d["decision_id"],
            at=at,
        )


# -- people's answers -----------------------------------------------------------------------------

QUEUE_ACTIONS = ("accept", "override", "escalate", "assign", "answer")


def _decision(state: StateStore, decision_id: str) -> dict[str, Any]:
    rows = state.execute("SELECT * FROM decisions WHERE id = ?", (decision_id,))
    if not rows:
        raise AutomationError(f"no decision {decision_id!r}", hint="`conveyor queue` lists the open items", field="id")
    return rows[0]


def resolve(
    state: StateStore,
    root: Path,
    decision_id: str,
    action: str,
    *,
    actor: str,
    label: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    assignee: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """A person's answer to a queue item: accept the proposal, override it (label and reason),
    answer it (shadow: the proposal is hidden), escalate it, or assign it. Audited."""
    if action not in QUEUE_ACTIONS:
        raise AutomationError(
            f"action: {action!r} is not a queue action",
            hint=f"valid values: {', '.join(QUEUE_ACTIONS)}",
            field="action",
        )
    d = _decision(state, decision_id)
    auto = load_automation(root, d["automation"])
    at = at or _iso(_now())
    with state.transaction():
        rows = state.execute("SELECT * FROM queue WHERE decision_id = ?", (decision_id,))
        if not rows:
            raise AutomationError(
                f"decision {decision_id} was acted on automatically: it is not in the queue",
                hint="record what really happened with `conveyor automation outcome`",
            )
        item = rows[0]
        if item["state"] == "done":
            raise AutomationError(
                f"queue item {decision_id} was already answered by {item['resolved_by']} ({item['outcome']})"
            )
        if action == "assign":
            who = assignee or actor
            state.execute("UPDATE queue SET assignee = ? WHERE decision_id = ?", (who, decision_id))
            audit.append(
                state, "assign", {"assignee": who}, automation=auto.name, actor=actor, decision_id=decision_id, at=at
            )
            return {"decision_id": decision_id, "state": item["state"], "assignee": who}
        if action == "escalate":
            state.execute("UPDATE queue SET state = 'escalated', note = ? WHERE decision_id = ?", (note, decision_id))
            audit.append(
                state, "escalate", {"note": note}, automation=auto.name, actor=actor, decision_id=decision_id, at=at
            )
            return {"decision_id": decision_id, "state": "escalated", "note": note}
        final, outcome = _final(auto, d, action, label, reason, note)
        state.execute(
            "UPDATE queue SET state = 'done', resolved_at = ?, resolved_by = ?, outcome = ?, final_label = ?, "
            "reason = ?, note = ? WHERE decision_id = ?",
            (at, actor, outcome, final, reason, note, decision_id),
        )
        state.execute(
            "UPDATE decisions SET final_label = ?, final_by = ?, final_at = ?, outcome = ? WHERE id = ?",
            (final, actor, at, outcome, decision_id),
        )
        audit.append(
            state,
            action,
            {"label": final, "proposed": d["label"], "outcome": outcome, "reason": reason, "note": note},
            automation=auto.name,
            actor=actor,
            decision_id=decision_id,
            at=at,
        )
        if d["status"] in ("live", "paused"):
            from conveyor.automation.actions import enqueue_actions

            enqueue_actions(state, auto, decision_id, final, json.loads(d["input"]), at=at)
    check_limits(state, auto, at=at)  # the window's rate moves with every answer
    return {"decision_id": decision_id, "state": "done", "outcome": outcome, "label": final, "reason": reason}


def _final(
    auto: Automation, d: dict[str, Any], action: str, label: str | None, reason: str | None, note: str | None
) -> tuple[str, str]:
    if d["status"] == "shadow" and action in ("accept", "override"):
        raise AutomationError(
            "in shadow the proposal is hidden: answer the item with your own label",
            hint="action answer with a label",
            field="action",
        )
    if action == "accept":
        if d["label"] is None:
            raise AutomationError(
                "nothing to accept: the decider proposed no label",
                hint="override (or answer) with a label",
                field="label",
            )
        return d["label"], "accepted"
    if label not in auto.labels:
        raise AutomationError(
            f"label: {label!r} is not a label of {auto.name!r}",
            hint=f"valid values: {', '.join(auto.labels)}",
            field="label",
        )
    if action == "answer":
        return label, "matched" if label == d["label"] else "differed"
    if label == d["label"]:
        return label, "accepted"
    if reason not in auto.override_reasons:
        raise AutomationError(
            f"reason: an override needs a reason from the list, got {reason!r}",
            hint=f"valid values: {', '.join(auto.override_reasons)}",
            field="reason",
        )
    if reason == "other" and not note:
        raise AutomationError("note: an override for reason 'other' needs a note saying why", field="note")
    return label, "overridden"


def record_outcome(
    state: StateStore, root: Path, decision_id: str, label: str, *, actor: str, at: str | None = None
) -> dict[str, Any]:
    """What really happened to an item the automation handled (e.g. the ticket was re-routed):
    the final answer that accuracy is measured against."""
    d = _decision(state, decision_id)
    auto = load_automation(root, d["automation"])
    if label not in auto.labels:
        raise AutomationError(
            f"label: {label!r} is not a label of {auto.name!r}",
            hint=f"valid values: {', '.join(auto.labels)}",
            field="label",
        )
    if d["tier"] != "auto":
        raise AutomationError(f"decision {decision_id} went to the queue: answer it there", hint="`conveyor queue`")
    outcome = "confirmed" if label == d["label"] else "corrected"
    at = at or _iso(_now())
    with state.transaction():
        state.execute(
            "UPDATE decisions SET final_label = ?, final_by = ?, final_at = ?, outcome = ? WHERE id = ?",
            (label, actor, at, outcome, decision_id),
        )
        audit.append(
            state,
            "outcome",
            {"label": label, "proposed": d["label"], "outcome": outcome},
            automation=auto.name,
            actor=actor,
            decision_id=decision_id,
            at=at,
        )
    check_limits(state, auto, at=at)
    return {"decision_id": decision_id, "outcome": outcome, "label": label}


# -- the automatic pause ----------------------------------------------------------------------------


def window_rates(state: StateStore, auto: Automation) -> dict[str, Any]:
    """Error and override rates over the last ``limits.window`` live decisions."""
    n = auto.limits.window
    rows = state.execute(
        "SELECT error, tier, label, outcome FROM decisions WHERE automation = ? AND status = 'live' "
        "ORDER BY created_at DESC LIMIT ?",
        (auto.name, n),
    )
    errors = sum(1 for r in rows if r["error"])
    judged = [
        r
        for r in rows
        if r["label"] is not None and r["outcome"] in ("accepted", "overridden", "confirmed", "corrected")
    ]
    overridden = sum(1 for r in judged if r["outcome"] in ("overridden", "corrected"))
    return {
        "decisions": len(rows),
        "error_rate": errors / len(rows) if rows else None,
        "judged": len(judged),
        "override_rate": overridden / len(judged) if judged else None,
    }


def check_limits(state: StateStore, auto: Automation, *, at: str | None = None) -> dict[str, Any] | None:
    """Pause the automation when a rate over its window crosses its limit; the pause's record."""
    lim = auto.limits
    if current_status(state, auto)["status"] != "live":
        return None
    r = window_rates(state, auto)
    reason = None
    if lim.max_error_rate is not None and r["decisions"] >= lim.min_items and r["error_rate"] > lim.max_error_rate:
        reason = f"error rate {r['error_rate']:.0%} over the last {r['decisions']} decisions is above the limit {lim.max_error_rate:.0%}"
    elif (
        lim.max_override_rate is not None
        and r["judged"] >= lim.min_items
        and r["override_rate"] > lim.max_override_rate
    ):
        reason = f"override rate {r['override_rate']:.0%} over the last {r['judged']} reviewed decisions is above the limit {lim.max_override_rate:.0%}"
    if reason is None:
        return None
    try:
        status = set_status(state, auto, "pause", actor=f"{SYSTEM} (limit)", reason=reason, at=at)
    except AutomationError:  # someone paused it meanwhile
        return None
    if lim.notify_webhook:
        from conveyor.automation.actions import enqueue_notice

        enqueue_notice(state, auto, lim.notify_webhook, {"event": "paused", "automation": auto.name, "reason": reason})
    return status


# -- reading ------------------------------------------------------------------------------------------

_JSON_COLUMNS = ("input", "similar", "reasons")


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    if "similar_cases" in row:
        row["similar"] = row.pop("similar_cases")
    for k in _JSON_COLUMNS:
        if k in row and isinstance(row[k], str):
            row[k] = json.loads(row[k])
    return row


def queue_items(
    state: StateStore, *, automation: str | None = None, state_filter: str = "open", limit: int = 200
) -> list[dict[str, Any]]:
    """Queue items with their decisions, oldest first. ``state_filter``: open (open and escalated),
    escalated, done or all."""
    states = {
        "open": ("open", "escalated"),
        "escalated": ("escalated",),
        "done": ("done",),
        "all": ("open", "escalated", "done"),
    }
    if state_filter not in states:
        raise AutomationError(
            f"state: {state_filter!r} is not a queue state",
            hint="valid values: open, escalated, done, all",
            field="state",
        )
    chosen = states[state_filter]
    where = [f"q.state IN ({', '.join('?' for _ in chosen)})"]
    params: list[Any] = list(chosen)
    if automation:
        where.append("q.automation = ?")
        params.append(automation)
    order = "q.resolved_at DESC" if state_filter == "done" else "q.created_at"
    rows = state.execute(
        "SELECT q.decision_id, q.automation, q.state, q.assignee, q.created_at, q.due_at, q.resolved_at, "
        "q.resolved_by, q.outcome, q.final_label, q.reason, q.note, d.status, d.tier, d.policy_tier, d.label, "
        "d.confidence, d.explanation, d.similar_cases AS similar, d.reasons, d.error, d.input, d.case_id, d.decider, d.decider_version "
        f"FROM queue q JOIN decisions d ON d.id = q.decision_id WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
        (*params, limit),
    )
    now = _now()
    for r in rows:
        _decoded(r)
        r["age_seconds"] = round((now - datetime.fromisoformat(r["created_at"])).total_seconds(), 1)
        r["overdue"] = bool(r["due_at"] and r["state"] != "done" and datetime.fromisoformat(r["due_at"]) < now)
    return rows


def decision_record(state: StateStore, decision_id: str) -> dict[str, Any]:
    """One decision with its queue item, deliveries and audit records."""
    d = _decoded(_decision(state, decision_id))
    q = state.execute("SELECT * FROM queue WHERE decision_id = ?", (decision_id,))
    out = state.execute(
        "SELECT id, kind, state, attempts, last_error, created_at, done_at FROM outbox WHERE decision_id = ? ORDER BY id",
        (decision_id,),
    )
    recs = state.execute(
        "SELECT seq, at, actor, kind, data FROM audit WHERE decision_id = ? ORDER BY seq", (decision_id,)
    )
    for r in recs:
        r["data"] = json.loads(r["data"])
    return {**d, "queue": q[0] if q else None, "deliveries": out, "audit": recs}
