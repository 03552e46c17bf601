"""Governed automation on the command line: automations, decisions, the review queue, the audit log.

Every command calls one service function, through the server when one owns the workspace.
(No ``from __future__ import annotations``: Typer must see real annotation objects.)
"""

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli._common import JsonOpt, WorkspaceOpt, call_service, console, handled, print_json
from conveyor.cli.app import app

automation_app = typer.Typer(
    help="Automations: list, show, create, shadow, go-live, pause (the kill switch), resume, monitor.",
    no_args_is_help=True,
)
app.add_typer(automation_app, name="automation")
NameArg = Annotated[str, typer.Argument(help="The automation's name (automations/NAME.yaml).")]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@automation_app.command("list")
def automation_list(workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """Every automation with its status, volume, coverage, accuracy, override rate and open queue."""
    from rich.table import Table

    rows = call_service(workspace, "automations")
    if json:
        print_json(rows)
        return
    table = Table("name", "status", "owner", "trigger", "decisions", "coverage", "accuracy", "overrides", "queue")
    for r in rows:
        table.add_row(
            r["name"],
            r["status"],
            r["owner"],
            r["trigger"],
            str(r["decisions"]),
            _pct(r["coverage"]),
            _pct(r["accuracy"]),
            _pct(r["override_rate"]),
            str(r["queue_open"]),
        )
    console.print(table if rows else "no automations yet: declare one in automations/NAME.yaml")


@automation_app.command("show")
def automation_show(name: NameArg, workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """The automation's definition and current status."""
    result = call_service(workspace, "automation", name)
    if json:
        print_json(result)
        return
    d, st = result["definition"], result["status"]
    console.print(f"[bold]{d['name']}[/] ({st['status']}) owned by {d['owner']}: {d['description']}")
    console.print(
        f"trigger: {d['trigger']['kind']} · decider: {d['decider']['kind']} · labels: {', '.join(d['labels'])}"
    )
    pol = d["policy"]
    console.print(
        f"policy: act alone at ≥ {pol['auto_at']}, suggest at ≥ {pol['suggest_at']}; hard rules: "
        + (", ".join(h["name"] for h in pol["hard_rules"]) or "none")
    )
    if st.get("reason"):
        console.print(
            f"[dim]last change: {st['changed_at'] or 'as declared'} by {st['changed_by'] or '-'}: {st['reason']}[/]"
        )


@automation_app.command("create")
def automation_create(
    file: Annotated[Path, typer.Argument(help="A YAML (or JSON) file with the definition.")],
    replace: Annotated[bool, typer.Option(help="Replace an automation of the same name.")] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Validate a definition and save it as automations/NAME.yaml (errors name the field)."""
    import yaml

    with handled():
        from conveyor.automation import AutomationError

        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise AutomationError(f"{file}: cannot read it: {exc}") from None
    result = call_service(workspace, "automation_create", definition=raw, replace=replace or None, write=True)
    if json:
        print_json(result)
        return
    console.print(f"saved automation [bold]{result['definition']['name']}[/] ({result['status']['status']})")


def _move(move: str, name: str, reason: str | None, workspace: str | None, json: bool) -> None:
    result = call_service(workspace, "automation_move", name, move, reason=reason)
    if json:
        print_json(result)
        return
    console.print(f"[bold]{name}[/] is now [bold]{result['status']}[/]" + (f" ({reason})" if reason else ""))


ReasonOpt = Annotated[str | None, typer.Option("--reason", "-r", help="Why (kept in the audit log).")]


@automation_app.command("shadow")
def automation_shadow(
    name: NameArg, reason: ReasonOpt = None, workspace: WorkspaceOpt = None, json: JsonOpt = False
) -> None:
    """Decide without acting: every item goes to people, and their answers measure the decider."""
    _move("shadow", name, reason, workspace, json)


@automation_app.command("go-live")
def automation_go_live(
    name: NameArg, reason: ReasonOpt = None, workspace: WorkspaceOpt = None, json: JsonOpt = False
) -> None:
    """Act on the policy's tiers: act alone, suggest to a person, or leave it to a person."""
    _move("go-live", name, reason, workspace, json)


@automation_app.command("pause")
def automation_pause(
    name: NameArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (required; kept in the audit log).")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The kill switch: every new item goes to the human queue at once (nothing in flight is lost)."""
    _move("pause", name, reason, workspace, json)


@automation_app.command("resume")
def automation_resume(
    name: NameArg, reason: ReasonOpt = None, workspace: WorkspaceOpt = None, json: JsonOpt = False
) -> None:
    """Back to where it was before the pause (live or shadow)."""
    _move("resume", name, reason, workspace, json)


@automation_app.command("monitor")
def automation_monitor(name: NameArg, workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """Volume, coverage, accuracy, overrides, latency, input drift, segments and the pilot scorecard."""
    from rich.table import Table

    m = call_service(workspace, "automation_monitor", name)
    if json:
        print_json(m)
        return
    live, st = m["live"], m["status"]
    console.print(f"[bold]{name}[/] is {st['status']}" + (f" ({st['reason']})" if st.get("reason") else ""))
    console.print(
        f"live: {live['volume']} decisions, coverage {_pct(live['coverage'])}, accuracy {_pct(live['accuracy'])} "
        f"(of {live['answered']} answered), overrides {_pct(live['override_rate'])}, errors {_pct(live['error_rate'])}, "
        f"latency p50/p99 {live['latency_ms']['p50']}/{live['latency_ms']['p99']} ms"
    )
    sh = m["shadow"]
    if sh["volume"]:
        console.print(
            f"shadow: {sh['volume']} decisions, accuracy {_pct(sh['accuracy'])} (of {sh['answered']} answered)"
        )
    if m["scorecard"]:
        table = Table("criterion", "value", "target", "met", title="pilot scorecard")
        for c in m["scorecard"]:
            met = "[dim]not measured yet[/]" if c["met"] is None else "[green]met[/]" if c["met"] else "[red]not met[/]"
            table.add_row(c["criterion"], "-" if c["value"] is None else f"{c['value']:.4g}", c["target"], met)
        console.print(table)
    for f in m["drift"]["fields"]:
        if f["flag"] != "stable":
            console.print(f"[yellow]input drift[/] in {f['field']}: PSI {f['psi']} ({f['binned_by']})")
    for s in m["segments"]:
        if s["flag"]:
            console.print(
                f"[yellow]segment behind[/]: {s['field']}={s['value']} accuracy {_pct(s['accuracy'])} vs {_pct(s['rest_accuracy'])} (n={s['n']})"
            )


@automation_app.command("calibrate")
def automation_calibrate(
    name: NameArg,
    precision: Annotated[float, typer.Option(help="Target precision of the automatic actions, e.g. 0.95.")],
    on: Annotated[
        str, typer.Option(help="shadow (answered shadow decisions) or history (the history: stream).")
    ] = "shadow",
    apply: Annotated[bool, typer.Option(help="Write the thresholds into the automation's YAML.")] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Set the act-alone thresholds (overall and per label) from a target precision."""
    result = call_service(
        workspace, "automation_calibrate", name, precision=precision, on=on, apply=apply or None, write=True
    )
    if json:
        print_json(result)
        return
    a = result["auto_at"]
    console.print(
        f"on {result['decisions']} {on} decisions: act alone at ≥ {a['threshold']} "
        f"(precision {a['precision']}, coverage {_pct(a['coverage'])})"
    )
    for label, v in result["per_label"].items():
        console.print(
            f"  {label}: ≥ {v['threshold']} (precision {v['precision']}, coverage {_pct(v['coverage'])}, n={v['n']})"
        )
    console.print("[green]applied[/]" if result["applied"] else "[dim]--apply writes them into the YAML[/]")


@automation_app.command("run")
def automation_run(
    name: NameArg,
    replay: Annotated[bool, typer.Option(help="Decide the events already in the stream, at their own times.")] = False,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run the automation's trigger now (new events of its stream, or its schedule) and deliver."""
    result = call_service(workspace, "automation_run", name, replay=replay or None, write=True)
    if json:
        print_json(result)
        return
    console.print(
        f"{name}: {result['decided']} decided, {result['skipped']} skipped; deliveries {result['deliveries']}"
    )
    for p in result.get("problems", []):
        console.print(f"[yellow]{p}[/]")


@automation_app.command("deliveries")
def automation_deliveries(
    name: Annotated[str | None, typer.Argument(help="Only this automation's.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, done or dead (the dead letters).")] = None,
    retry: Annotated[str | None, typer.Option(help="Send this dead letter (its id) again.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The automations' actions (events, webhooks, attributes): pending, done and dead letters."""
    from rich.table import Table

    if retry:
        result = call_service(workspace, "delivery_retry", retry, write=True)
        if json:
            print_json(result)
        else:
            console.print(f"delivery {retry} is pending again")
        return
    rows = call_service(workspace, "deliveries", automation=name, status=status)
    if json:
        print_json(rows)
        return
    table = Table("id", "automation", "kind", "state", "attempts", "target", "last error")
    for r in rows:
        table.add_row(
            r["id"], r["automation"], r["kind"], r["state"], str(r["attempts"]), r["target"], r["last_error"] or ""
        )
    console.print(table)


@automation_app.command("outcome")
def automation_outcome(
    decision_id: Annotated[str, typer.Argument(help="The decision's id.")],
    label: Annotated[str, typer.Option(help="What the right answer turned out to be.")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record what really happened to an item the automation handled alone (measures accuracy)."""
    result = call_service(workspace, "outcome", decision_id, label=label, write=True)
    if json:
        print_json(result)
        return
    console.print(f"decision {decision_id}: {result['outcome']} ({result['label']})")


@app.command()
def decide(
    name: NameArg,
    input: Annotated[
        str,
        typer.Option("--input", "-i", help='The item as JSON, e.g. \'{"subject": "VPN down"}\' (@FILE reads a file).'),
    ],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Decide on one item: the tier (auto, suggest, human), label, confidence and explanation."""
    with handled():
        from conveyor.automation import AutomationError

        text = Path(input[1:]).read_text(encoding="utf-8") if input.startswith("@") else input
        try:
            item = jsonlib.loads(text)
        except ValueError as exc:
            raise AutomationError(
                f"--input: not valid JSON: {exc}", hint='give an object, e.g. \'{"subject": "..."}\'', field="input"
            ) from None
    result = call_service(workspace, "decide", name, input=item, write=True)
    if json:
        print_json(result)
        return
    tier = {
        "auto": "[green]acts[/]",
        "suggest": "[yellow]suggests to a person[/]",
        "human": "[red]leaves it to a person[/]",
    }
    console.print(
        f"decision [bold]{result['decision_id']}[/]: {tier[result['tier']]}: {result['label'] or 'no label'} "
        f"(confidence {result['confidence']:.2f})"
    )
    console.print(f"because {result['explanation']}; " + "; ".join(result["reasons"]))
    if result["error"]:
        console.print(f"[red]error:[/] {result['error']}")


queue_app = typer.Typer(
    help="The review queue: list, accept, override, answer, escalate, assign.", invoke_without_command=True
)
app.add_typer(queue_app, name="queue")
IdArg = Annotated[str, typer.Argument(help="The queue item's decision id.")]


@queue_app.callback()
def queue_list(
    ctx: typer.Context,
    automation: Annotated[str | None, typer.Option(help="Only this automation's items.")] = None,
    state: Annotated[str, typer.Option(help="open (and escalated), escalated, done or all.")] = "open",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The review queue, oldest first (with no subcommand)."""
    from rich.table import Table

    if ctx.invoked_subcommand is not None:
        ctx.obj = {"workspace": workspace, "json": json}
        return
    rows = call_service(workspace, "queue", automation=automation, state=state, limit=limit)
    if json:
        print_json(rows)
        return
    table = Table("id", "automation", "state", "proposal", "conf.", "age", "due", "assignee", "item")
    for r in rows:
        item = ", ".join(f"{k}={str(v)[:40]}" for k, v in r["input"].items())
        proposal = "(hidden: shadow)" if r["status"] == "shadow" else (r["label"] or "-")
        table.add_row(
            r["decision_id"],
            r["automation"],
            r["state"],
            proposal,
            f"{r['confidence']:.2f}",
            _age(r["age_seconds"]),
            "[red]overdue[/]" if r["overdue"] else r["due_at"][:16],
            r["assignee"] or "",
            item,
        )
    console.print(table)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _answer(ctx: typer.Context, decision_id: str, action: str, **kw: Any) -> None:
    opts = ctx.obj or {}
    result = call_service(opts.get("workspace"), "queue_answer", decision_id, action=action, write=True, **kw)
    if opts.get("json"):
        print_json(result)
        return
    console.print(
        f"{decision_id}: {result.get('outcome') or result.get('state')}"
        + (f" ({result['label']})" if result.get("label") else "")
    )


@queue_app.command("accept")
def queue_accept(ctx: typer.Context, decision_id: IdArg) -> None:
    """Accept the proposal."""
    _answer(ctx, decision_id, "accept")


@queue_app.command("override")
def queue_override(
    ctx: typer.Context,
    decision_id: IdArg,
    label: Annotated[str, typer.Option(help="The right label.")],
    reason: Annotated[str, typer.Option(help="One of the automation's override reasons.")],
    note: Annotated[str | None, typer.Option(help="Free text (required for reason 'other').")] = None,
) -> None:
    """Override the proposal with another label, a reason from the list and a note."""
    _answer(ctx, decision_id, "override", label=label, reason=reason, note=note)


@queue_app.command("answer")
def queue_answer(
    ctx: typer.Context, decision_id: IdArg, label: Annotated[str, typer.Option(help="Your label.")]
) -> None:
    """Answer an item (in shadow the proposal is hidden; the answer measures the decider)."""
    _answer(ctx, decision_id, "answer", label=label)


@queue_app.command("escalate")
def queue_escalate(
    ctx: typer.Context, decision_id: IdArg, note: Annotated[str | None, typer.Option(help="Why.")] = None
) -> None:
    """Escalate the item (it stays in the queue, marked escalated)."""
    _answer(ctx, decision_id, "escalate", note=note)


@queue_app.command("assign")
def queue_assign(
    ctx: typer.Context, decision_id: IdArg, to: Annotated[str, typer.Option("--to", help="Who takes it.")]
) -> None:
    """Assign the item to a person."""
    _answer(ctx, decision_id, "assign", assignee=to)


audit_app = typer.Typer(help="The audit log: verify the hash chain, export it.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path | None, typer.Option("--file", help="Verify an exported JSON Lines file instead.")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Walk the hash chain: any edited, deleted, inserted or reordered record is found (exit 1)."""
    if file is not None:
        from conveyor.automation.audit import read_export, verify_records

        with handled():
            result = verify_records(read_export(file))
    else:
        result = call_service(workspace, "audit_verify")
    if json:
        print_json(result)
    elif result["ok"]:
        console.print(f"[green]the audit chain verifies[/]: {result['records']} records")
    else:
        console.print(f"[red]the audit chain is broken[/] at record {result['first_bad']}: {result['problem']}")
    if not result["ok"]:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSON Lines file to write.")] = Path("audit.jsonl"),
    automation: Annotated[
        str | None, typer.Option(help="Only this automation's records (the file then does not verify as a chain).")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the audit chain as JSON Lines, each record with its hashes."""
    result = call_service(workspace, "audit_export", out=str(out.resolve()), automation=automation)
    if json:
        print_json(result)
        return
    console.print(f"wrote {result['records']} audit records to [bold]{result['out']}[/]")
