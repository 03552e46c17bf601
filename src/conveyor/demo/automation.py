"""The demo's governed automation: ``ticket-triage`` routes each new ticket to a queue.

Its history is played out on the demo's tickets, in time order: a classifier is trained on the
first 30% of tickets with the queue each was resolved in (the dispatchers' routing before the
pilot); then a shadow period (the classifier decides, the dispatchers route every ticket
themselves, and their answers measure it),
thresholds calibrated from the shadow period at a target precision, then live (it routes the
tickets it is sure of, emitting "Route Ticket (automated)" into the stream; dispatchers confirm or
override the rest). The dispatchers' answers are the tickets' real queues. A handful of tickets
that arrived in the last hours wait in the review queue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from conveyor.workspace import Workspace

__all__ = ["TICKET_TRIAGE", "run_triage"]

NAME = "ticket-triage"
STREAM = "ticket-to-resolution"

#: automations/ticket-triage.yaml as the demo writes it: rules until the trained classifier exists.
TICKET_TRIAGE = """\
# Route each new support ticket to the right queue (Detect: a ticket is created; Decide: the rules
# below; Do: record the routing in the stream). `conveyor automation show ticket-triage`.
name: ticket-triage
description: Routes each new support ticket to its queue
owner: support-operations@northwind.example
labels: [Service Desk, Network, Billing, Applications, Hardware]
input:
  ticket_id: {type: string}
  subject: {type: text}
  body: {type: text}
  priority: {type: string, values: [P1, P2, P3, P4]}
  customer_tier: {type: string, values: [gold, silver, bronze]}
case_field: ticket_id
trigger: {kind: events, stream: ticket-to-resolution, activity: Create Ticket}
decider:
  kind: rules
  rules:
    - when: {subject: {contains_any: [invoice, payment, credit note, invoiced]}}
      label: Billing
      confidence: 0.97
      because: the subject is about invoices or payments
    - when: {subject: {contains_any: [vpn, wi-fi, network]}}
      label: Network
      confidence: 0.95
    - when: {subject: {contains_any: [password, new starter, accounts]}}
      label: Service Desk
      confidence: 0.93
    - when: {subject: {contains_any: [printer, laptop, scanner, battery]}}
      label: Hardware
      confidence: 0.92
    - when: {subject: {contains_any: [error, field]}}
      label: Applications
      confidence: 0.88
    - when: {subject: {contains_any: [export, how do i]}}
      label: Service Desk
      confidence: 0.75
      because: how-to questions belong to the Service Desk
    - when: {body: {contains_any: [slow, seconds to load]}}
      label: Applications
      confidence: 0.7
      because: slowness is usually the application (sometimes the network)
    - when: {subject: {contains_any: [report, export]}}
      label: Applications
      confidence: 0.62
      because: reports are usually the application's
  default: {label: Service Desk, confidence: 0.3, because: no rule matched; the Service Desk sorts it out}
policy:
  auto_at: 0.9
  suggest_at: 0.6
  hard_rules:
    - name: P1 tickets are routed by a person
      when: {priority: P1}
    - name: gold customers get a person
      when: {customer_tier: gold}
actions:
  - kind: emit_event
    stream: ticket-to-resolution
    case: "{ticket_id}"
    activity: Route Ticket (automated)
  - kind: set_attribute
    stream: ticket-to-resolution
    case: "{ticket_id}"
    attribute: routed_by
    value: "{automation}"
success_criteria:
  - {metric: coverage, min: 0.3, label: handle 30% of tickets end to end}
  - {metric: override_rate, max: 0.1, label: override rate below 10%}
  - {metric: accuracy, min: 0.9, label: right queue for 90% of tickets}
  - {kpi: sla_met, max_drop: 0.02, label: no drop in tickets resolved within SLA (2-point tolerance)}
limits: {max_error_rate: 0.05, max_override_rate: 0.25, window: 50, min_items: 20}
override_reasons: [wrong queue, needs a specialist, customer asked, policy exception, other]
queue_sla: 4h
segments: [priority, customer_tier]
history: {stream: ticket-to-resolution, label: queue}
status: draft
"""


def _with_model(text: str) -> str:
    """The automation with the trained classifier as its decider instead of the rules."""
    head, _, rest = text.partition("decider:\n")
    _, _, tail = rest.partition("policy:\n")
    decider = (
        "decider:\n"
        "  # the classifier trained on the dispatchers' routing history (`conveyor triage models`)\n"
        f"  kind: triage\n  options: {{model: {NAME}}}\n"
    )
    return (
        head.replace("Decide: the rules\n# below", "Decide: a classifier\n# trained on past routing")
        + decider
        + "policy:\n"
        + tail
    )


def _train_model(ws: Workspace, *, until: datetime) -> dict[str, Any] | None:
    """Train the triage model on the tickets before ``until`` with the queue they were resolved in;
    its held-out figures (None when scikit-learn cannot train on them)."""
    from conveyor.decide import DecideError
    from conveyor.service import triage_train

    try:
        card = triage_train(
            ws,
            stream=STREAM,
            text=["subject", "body"],
            categorical=["priority", "customer_tier"],
            outcome=["time_to_resolve_hours", "reply"],  # the replies suggest drafts in the queue
            label="queue",
            name=NAME,
            until=until.isoformat(),
        )
    except DecideError:
        return None
    m = card["metrics"]
    return {
        "name": NAME,
        "version": card["version"],
        "trained_on": m["training"]["labelled"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "coverage_at_90": m["coverage_at_precision"]["0.9"],
    }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _truth(ws: Workspace) -> dict[str, tuple[str, datetime]]:
    rows = ws.store.rows(f'SELECT case_id, queue, first_ts FROM "stream_{STREAM}".cases ORDER BY first_ts, case_id')
    return {r[0]: (r[1], r[2]) for r in rows}


def _answer_queue(ws: Workspace, truth: dict[str, Any], rng: np.random.Generator, *, keep_open: set[str]) -> int:
    """Dispatchers answer every open item (except ``keep_open``) with the ticket's real queue."""
    from conveyor.automation import resolve

    state, n = ws.state, 0
    items = state.execute(
        "SELECT q.decision_id, q.created_at, d.status, d.label, d.case_id FROM queue q JOIN decisions d "
        "ON d.id = q.decision_id WHERE q.automation = ? AND q.state = 'open' ORDER BY q.created_at",
        (NAME,),
    )
    people = ["dispatcher-1", "dispatcher-2", "dispatcher-3"]
    for it in items:
        if it["decision_id"] in keep_open or it["case_id"] not in truth:
            continue
        right = truth[it["case_id"]][0]
        at = _iso(datetime.fromisoformat(it["created_at"]) + timedelta(minutes=float(rng.uniform(4, 90))))
        who = f"{people[int(rng.integers(0, 3))]} (demo)"
        if it["status"] == "shadow":
            resolve(state, ws.root, it["decision_id"], "answer", actor=who, label=right, at=at)
        elif it["label"] == right:
            resolve(state, ws.root, it["decision_id"], "accept", actor=who, at=at)
        else:
            reason = "wrong queue" if rng.random() < 0.8 else "needs a specialist"
            resolve(state, ws.root, it["decision_id"], "override", actor=who, label=right, reason=reason, at=at)
        n += 1
    return n


def run_triage(ws: Workspace, *, seed: int = 7, open_items: int = 12) -> dict[str, Any]:
    """Play out the automation's history on the demo's tickets; its monitoring figures."""
    from conveyor.automation import (
        assign_tier,
        build_decider,
        calibrate,
        decide,
        deliver_due,
        load_automation,
        monitor,
        record_outcome,
        run_trigger,
        set_status,
    )
    from conveyor.automation.definitions import automation_path
    from conveyor.automation.triggers import mark_seen

    path = automation_path(ws.root, NAME)
    path.parent.mkdir(exist_ok=True)
    rng = np.random.default_rng([seed, 10])
    state = ws.state
    truth = _truth(ws)
    starts = sorted(ts for _, ts in truth.values())
    if len(starts) < 40:
        path.write_text(TICKET_TRIAGE, encoding="utf-8")
        return {"automation": NAME, "note": "too few tickets for the automation's history"}
    # The dispatchers' routing before the pilot trains the classifier; the pilot (shadow, then
    # live) runs on the tickets after it, which the model has not seen.
    i_train = int(len(starts) * 0.3)
    t_train = starts[i_train]
    # the shadow period: a quarter of the tickets, and at least 30 for the calibration to use
    t0, t1 = t_train, starts[min(max(int(len(starts) * 0.55), i_train + 30), int(len(starts) * 0.8))]
    model = _train_model(ws, until=t_train)
    path.write_text(TICKET_TRIAGE if model is None else _with_model(TICKET_TRIAGE), encoding="utf-8")
    tail = starts[-(open_items * 3)] if len(starts) > open_items * 6 else starts[-1]
    owner = "support-operations (demo)"
    mark_seen(ws, state, NAME, until=t0)
    with state.transaction():  # the history in a few transactions: one fsync each, not one per decision
        set_status(
            state, load_automation(ws.root, NAME), "shadow", actor=owner, reason="pilot starts in shadow", at=_iso(t0)
        )
        shadow = run_trigger(ws, state, NAME, replay=True, until=t1)
        _answer_queue(ws, truth, rng, keep_open=set())
    cal = calibrate(state, ws.root, NAME, precision=0.95, on="shadow", apply=True, actor=owner)
    with state.transaction():
        set_status(
            state,
            load_automation(ws.root, NAME),
            "go-live",
            actor=owner,
            reason="shadow accuracy reached the target",
            at=_iso(t1 + timedelta(minutes=5)),
        )
        live = run_trigger(ws, state, NAME, replay=True, until=tail)
        _answer_queue(ws, truth, rng, keep_open=set())
        # what really happened to the tickets it routed alone: the queue they were resolved in
        auto_rows = state.execute(
            "SELECT id, case_id, created_at FROM decisions WHERE automation = ? AND tier = 'auto'", (NAME,)
        )
        for r in auto_rows:
            if r["case_id"] in truth:
                record_outcome(
                    state,
                    ws.root,
                    r["id"],
                    truth[r["case_id"]][0],
                    actor="support-operations (demo)",
                    at=_iso(datetime.fromisoformat(r["created_at"]) + timedelta(days=1)),
                )
    # the last tickets: those the rules are sure of were routed when they arrived; the others
    # arrived "just now" and wait for a dispatcher
    auto = load_automation(ws.root, NAME)
    decider = build_decider(auto, ws.root)
    rows = ws.store.rows(
        f'SELECT case_id, subject, body, priority, customer_tier, first_ts FROM "stream_{STREAM}".cases '
        "WHERE first_ts > ? ORDER BY first_ts, case_id",
        [tail],
    )
    now = datetime.now(UTC)
    fresh: set[str] = set()
    with state.transaction():
        for r in reversed(rows):
            item = {"ticket_id": r[0], "subject": r[1], "body": r[2], "priority": r[3], "customer_tier": r[4]}
            tier = assign_tier(auto, decider.decide(item), item)[0]
            if tier != "auto" and len(fresh) < open_items:
                at = now - timedelta(minutes=7 + 23 * len(fresh))
                fresh.add(decide(state, ws.root, NAME, item, actor="conveyor (trigger)", at=_iso(at))["decision_id"])
            else:
                decide(state, ws.root, NAME, item, actor="conveyor (trigger)", at=_iso(r[5] + timedelta(seconds=1)))
        _answer_queue(ws, truth, rng, keep_open=fresh)
        mark_seen(ws, state, NAME)
    delivered = deliver_due(state, ws, limit=100_000)
    m = monitor(state, ws.root, NAME, ws=ws)
    return {
        "automation": NAME,
        "model": model,
        "shadow": {"decided": shadow["decided"], "accuracy": m["shadow"]["accuracy"]},
        "calibration": {
            "auto_at": cal["auto_at"],
            "per_label": {k: v["threshold"] for k, v in cal["per_label"].items()},
        },
        "live": {
            "decided": live["decided"] + len(rows),
            "coverage": m["live"]["coverage"],
            "accuracy": m["live"]["accuracy"],
            "override_rate": m["live"]["override_rate"],
        },
        "queue_open": len(fresh),
        "deliveries": delivered,
        "scorecard": [{"criterion": c["criterion"], "value": c["value"], "met": c["met"]} for c in m["scorecard"]],
    }
