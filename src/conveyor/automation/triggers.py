"""Detect: what starts an automation besides a request.

- ``events``: new events of a stream (optionally only one ``activity``, and only items meeting
  ``where``). Each new event is one item; its fields are the case attributes of the same names
  (the ``case_field`` is the case id). The trigger keeps a mark (the last ingest it has seen), so
  each event is decided once; the first run takes the events of the ingests that began after
  the automation started deciding (left draft), unless ``replay`` asks it to decide the ones
  already there too (at the time of each event: a shadow history). An automation's own events
  (resource ``automation:NAME``) never trigger one: no loops.
- ``schedule``: every ``every``, the open cases whose last event is ``activity`` and that have
  been idle at least ``idle_for`` (each case once per idle spell).

Runs after each ingest (``conveyor ingest``, the API's ingest), and in the server's background
loop; ``conveyor automation run NAME`` runs one by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.automation.conditions import matches
from conveyor.automation.definitions import Automation, AutomationError, list_automations, load_automation, seconds
from conveyor.automation.engine import current_status, decide
from conveyor.data.items import event_items, idle_case_items, last_ingest, last_ingest_before
from conveyor.state import StateStore

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["mark_seen", "run_trigger", "run_triggers"]

_ACTOR = "conveyor (trigger)"


def _mark(state: StateStore, name: str) -> str | None:
    rows = state.execute("SELECT mark FROM trigger_marks WHERE automation = ?", (name,))
    return rows[0]["mark"] if rows else None


def _set_mark(state: StateStore, name: str, mark: str) -> None:
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    state.execute(
        "INSERT INTO trigger_marks (automation, mark, ran_at) VALUES (?, ?, ?) "
        "ON CONFLICT (automation) DO UPDATE SET mark = excluded.mark, ran_at = excluded.ran_at",
        (name, mark, at),
    )


def mark_seen(ws: Workspace, state: StateStore, name: str, *, until: datetime | None = None) -> None:
    """Count every event now in the automation's stream as seen (its trigger starts after them);
    with ``until``, only those up to that time (a replay then starts there)."""
    auto = load_automation(Path(ws.root), name)
    ts = until.astimezone(UTC).isoformat() if until is not None else ""
    _set_mark(state, name, f"{last_ingest(ws.store, str(auto.trigger.stream))}|{ts}")


def _ingests_before(ws: Workspace, state: StateStore, auto: Automation, stream: str) -> int:
    """The last ingest into ``stream`` that began before the automation started deciding (it left
    draft; for one declared shadow or live, when its file was written)."""
    st = current_status(state, auto)
    since = st["shadow_since"] or st["live_since"] or st["changed_at"]
    if since is None:
        from conveyor.automation.definitions import automation_path

        since = datetime.fromtimestamp(automation_path(Path(ws.root), auto.name).stat().st_mtime, UTC).isoformat()
    return last_ingest_before(ws.store, stream, since)


def _item(auto: Automation, row: dict[str, Any], found: list[str]) -> dict[str, Any]:
    item = {}
    for name in found:
        v = row[name]
        spec = auto.input[name]
        if v is None:
            continue
        if spec.type in ("text", "string"):
            v = str(v)
        elif spec.type == "number":
            v = float(v)
        item[name] = v
    return item


def _decide_rows(
    ws: Workspace, state: StateStore, auto: Automation, rows: list[dict[str, Any]], found: list[str], *, replay: bool
) -> dict[str, Any]:
    decided, skipped = 0, 0
    problems: list[str] = []
    for row in rows:
        item = _item(auto, row, found)
        if auto.trigger.where and not matches(item, auto.trigger.where):
            skipped += 1
            continue
        # a replayed event is decided a second after it happened
        at = (row["_ts"] + timedelta(seconds=1)).astimezone(UTC).isoformat(timespec="microseconds") if replay else None
        try:
            decide(state, ws.root, auto.name, item, actor=_ACTOR, at=at, store=ws.store)
            decided += 1
        except AutomationError as exc:
            skipped += 1
            if len(problems) < 5:
                problems.append(f"case {row['_case']}: {exc.message}")
    return {"decided": decided, "skipped": skipped, "problems": problems}


def _events(
    ws: Workspace, state: StateStore, auto: Automation, *, replay: bool, until: datetime | None
) -> dict[str, Any]:
    """Decide the events not seen yet. The mark ``TOP|TS`` says which were seen: those of ingests
    up to TOP (and, when TS is set, only those up to time TS: a replay stopped there)."""
    stream = str(auto.trigger.stream)
    top = last_ingest(ws.store, stream)
    mark = _mark(state, auto.name)
    if mark is None and not replay:  # first run: the events that came after it started deciding
        mark = f"{_ingests_before(ws, state, auto, stream)}|"
    seen_ingest, _, seen_ts = (mark or "-1|").partition("|")
    rows, found = event_items(
        ws.store,
        stream,
        list(auto.input),
        case_field=auto.case_field,
        top=top,
        seen_ingest=int(seen_ingest),
        seen_until=seen_ts or None,
        activity=auto.trigger.activity,
        until=until,
    )
    result = _decide_rows(ws, state, auto, rows, found, replay=replay)
    _set_mark(state, auto.name, f"{top}|{until.astimezone(UTC).isoformat()}" if until is not None else f"{top}|")
    return {"automation": auto.name, **result}


def _schedule(ws: Workspace, state: StateStore, auto: Automation, *, now: datetime) -> dict[str, Any]:
    trig = auto.trigger
    mark = _mark(state, auto.name)
    if mark is not None:
        ran = datetime.fromisoformat(mark)
        if now - ran < timedelta(seconds=seconds(str(trig.every))):
            return {"automation": auto.name, "decided": 0, "skipped": 0, "problems": [], "note": "not due"}
    idle = timedelta(seconds=seconds(trig.idle_for)) if trig.idle_for else timedelta(0)
    rows, found = idle_case_items(
        ws.store,
        str(trig.stream),
        list(auto.input),
        case_field=auto.case_field,
        idle_since=now - idle,
        # idle spells that began since the last run were not seen yet
        last_after=datetime.fromisoformat(mark) - idle if mark is not None else None,
        activity=trig.activity,
    )
    result = _decide_rows(ws, state, auto, rows, found, replay=False)
    _set_mark(state, auto.name, now.isoformat())
    return {"automation": auto.name, **result}


def run_trigger(
    ws: Workspace,
    state: StateStore,
    name: str,
    *,
    replay: bool = False,
    until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run one automation's trigger now: ``{"automation", "decided", "skipped", "problems"}``.
    ``replay`` decides events already in the stream at their own times (up to ``until``)."""
    auto = load_automation(Path(ws.root), name)
    status = current_status(state, auto)["status"]
    if status == "draft":
        raise AutomationError(
            f"automation {name!r} is a draft: its trigger does not run", hint=f"`conveyor automation shadow {name}`"
        )
    if auto.trigger.kind == "events":
        return _events(ws, state, auto, replay=replay, until=until)
    if auto.trigger.kind == "schedule":
        return _schedule(ws, state, auto, now=now or datetime.now(UTC))
    raise AutomationError(f"automation {name!r} is triggered by requests: `conveyor decide {name} --input JSON`")


def run_triggers(
    ws: Workspace, state: StateStore, *, kind: str | None = None, stream: str | None = None
) -> list[dict[str, Any]]:
    """Run every non-draft automation's trigger of ``kind`` (on ``stream``); their results."""
    out = []
    for auto in list_automations(Path(ws.root)):
        trig = auto.trigger
        if trig.kind == "request" or (kind and trig.kind != kind) or (stream and trig.stream != stream):
            continue
        if current_status(state, auto)["status"] == "draft":
            continue
        if not ws.store.has_stream(str(trig.stream)):
            continue
        out.append(run_trigger(ws, state, auto.name))
    return out
