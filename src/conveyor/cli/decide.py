"""Trained deciders on the command line: `conveyor triage train|eval|models|show|similar`.

(No ``from __future__ import annotations``: Typer must see real annotation objects.)
"""

import json as jsonlib
from typing import Annotated, Any

import typer

from conveyor.cli._common import (
    JsonOpt,
    QuietOpt,
    WorkspaceOpt,
    call_service,
    console,
    print_json,
    progress_reporter,
)
from conveyor.cli.app import app

triage_app = typer.Typer(
    help="Ticket triage models trained on your own tickets: train, eval, models, show, similar.",
    no_args_is_help=True,
)
app.add_typer(triage_app, name="triage")

FileOpt = Annotated[str | None, typer.Option("--file", help="A CSV or Parquet file of tickets.")]
StreamOpt = Annotated[str | None, typer.Option("--stream", help="A stream: one row per case, its attributes.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="The model's name (default: the label column).")]


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _item(text: str) -> dict[str, Any]:
    try:
        data = jsonlib.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"ITEM is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter('ITEM must be a JSON object, e.g. \'{"title": "vpn down"}\'')
    return data


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _quality(console_: Any, m: dict[str, Any], title: str) -> None:
    from rich.table import Table

    table = Table("", "accuracy", "macro-F1", "cov@80%", "cov@90%", "cov@95%", title=title)
    for name, r in [("this model", m), ("plain baseline", m.get("baseline"))]:
        if not r:
            continue
        cov = r.get("coverage_at_precision", {})
        table.add_row(
            name,
            _pct(r.get("accuracy")),
            f"{r.get('macro_f1', 0):.3f}",
            _pct(cov.get("0.8")),
            _pct(cov.get("0.9")),
            _pct(cov.get("0.95")),
        )
    console_.print(table)


@triage_app.command("train")
def triage_train(
    text: Annotated[str, typer.Option(help="The text column(s), comma-separated (e.g. title,body).")],
    label: Annotated[str, typer.Option(help="The column to learn (queue, category, ...).")],
    file: FileOpt = None,
    stream: StreamOpt = None,
    categorical: Annotated[
        str | None, typer.Option(help="Categorical columns known at triage time, comma-separated (priority,channel).")
    ] = None,
    outcome: Annotated[
        str | None, typer.Option(help="Columns shown with similar past tickets (resolution, ...), comma-separated.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="The ticket id column (default: the row number).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="With --stream: learn from cases started before this time (ISO 8601).")
    ] = None,
    name: NameOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a triage model (class-balanced linear model on word and character n-grams, with a
    confidence model for auto-routing) and keep it as a new version in the workspace. Prints its
    held-out quality beside a plain baseline's on the same split."""
    with progress_reporter(not quiet and not json) as progress:
        card = call_service(
            workspace,
            "triage_train",
            text=_split(text),
            label=label,
            file=file,
            stream=stream,
            categorical=_split(categorical),
            outcome=_split(outcome) or None,
            id_column=id_column,
            name=name,
            until=until,
            write=True,
            progress=progress,
        )
    if json:
        print_json(card)
        return
    m, t = card["metrics"], card["metrics"]["training"]
    console.print(
        f"[bold]{card['name']}[/] v{card['version']}: {t['labelled']:,} labelled rows, {t['labels']} labels, "
        f"held out {t['test_rows']:,}; trained in {t['seconds']:.0f} s"
    )
    _quality(console, m, "held-out quality")
    if t["rare_labels"]:
        console.print(f"[dim]labels with one example (learned, not evaluated): {', '.join(t['rare_labels'][:10])}[/]")
    if t["unlabelled_dropped"]:
        console.print(f"[dim]{t['unlabelled_dropped']:,} rows without a label were left out[/]")
    console.print(
        "[dim]coverage at 90%: the share it can route alone at 90% precision. "
        f"Use it: `decider: {{kind: triage, options: {{model: {card['name']}}}}}` in an automation.[/]"
    )


@triage_app.command("eval")
def triage_eval(
    file: FileOpt = None,
    stream: StreamOpt = None,
    name: Annotated[str, typer.Option("--name", help="The model to evaluate.")] = "",
    version: Annotated[int | None, typer.Option(help="A version (default: the newest).")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """A model's quality on labelled tickets: accuracy, macro-F1, coverage at 80/90/95% precision,
    per label, the precision-coverage curve."""
    if not name:
        models = call_service(workspace, "triage_models")["models"]
        if len(models) != 1:
            raise typer.BadParameter(
                f"name the model with --name ({', '.join(m['name'] for m in models) or 'none trained yet'})"
            )
        name = models[0]["name"]
    result = call_service(workspace, "triage_eval", name, file=file, stream=stream, version=version)
    if json:
        print_json(result)
        return
    from rich.table import Table

    console.print(f"[bold]{name}[/] v{result['version']} on {result['source']} ({result['rows']:,} rows)")
    _quality(console, result, "quality")
    curve = Table("coverage", "precision", "confidence at least", title="precision-coverage curve")
    for p in result["curve"][1::2]:
        curve.add_row(_pct(p["coverage"]), _pct(p["precision"]), f"{p['threshold']:.2f}")
    console.print(curve)
    labels = Table("label", "support", "precision", "recall", "F1", title="per label (largest first)")
    for r in result["per_label"][:15]:
        labels.add_row(r["label"], str(r["support"]), _pct(r["precision"]), _pct(r["recall"]), f"{r['f1']:.2f}")
    console.print(labels)
    if result["unseen_labels"]:
        console.print(f"[yellow]labels the model never saw: {', '.join(result['unseen_labels'][:10])}[/]")


@triage_app.command("models")
def triage_models(workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """Trained models: who trained them, on what and when, their held-out quality."""
    data = call_service(workspace, "triage_models")
    if json:
        print_json(data)
        return
    from rich.table import Table

    table = Table("model", "kind", "versions", "trained", "by", "data", "labels", "quality (held out)")
    for m in data["models"]:
        q = m["metrics"]
        if m.get("kind") == "risk":
            quality = f"AUC {q['auc']:.2f}, top 10% {_pct(q['precision_top_10'])}" if q.get("auc") else "-"
            labels = f"deadline {m['deadline']}"
        else:
            quality = (
                f"accuracy {_pct(q.get('accuracy'))}, macro-F1 {q.get('macro_f1') or 0:.3f}, "
                f"cov@90% {_pct((q.get('coverage_at_precision') or {}).get('0.9'))}"
            )
            labels = str(len(m["labels"]))
        table.add_row(
            m["name"],
            m.get("kind", "triage"),
            str(len(m["versions"])),
            m["trained_at"][:16],
            m["trained_by"],
            m["data"]["source"],
            labels,
            quality,
        )
    console.print(table if data["models"] else "no models yet: `conveyor triage train --file F --text T --label L`")


@triage_app.command("similar")
def triage_similar(
    name: Annotated[str, typer.Argument(help="The model whose history to search.")],
    item: Annotated[str, typer.Argument(help='The ticket as JSON, e.g. \'{"title": "vpn down", "body": "..."}\'.')],
    k: Annotated[int, typer.Option(help="How many past tickets.")] = 5,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """The model's proposal for a ticket and the past tickets most like it, with how they ended."""
    data = _item(item)
    result = call_service(workspace, "similar_cases", name, item=data, k=k)
    if json:
        print_json(result)
        return
    console.print(f"[bold]{result['label']}[/] (confidence {result['confidence']:.2f}): {result['explanation']}")
    for s in result["similar"]:
        console.print(
            f"  {s['id']}  {s.get('similarity', 0):.2f}  "
            + "  ".join(f"{k}={v}" for k, v in s.items() if k not in ("id", "similarity", "text"))
            + f"  [dim]{s['text'][:80]}[/]"
        )


@app.command()
def risk(
    stream: Annotated[str, typer.Argument(help="The stream whose open cases to score.")],
    deadline: Annotated[
        str | None, typer.Option(help="A timestamp case attribute holding each case's deadline (e.g. sla_deadline).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Or a target from each case's start: 8h, 3d, 2w.")] = None,
    end_activity: Annotated[
        list[str] | None, typer.Option(help="An activity that closes a case (repeat; default: inferred).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Look at the log as it stood at this time (ISO 8601); default: its last event.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many open cases to list.")] = 20,
    save: Annotated[
        str | None, typer.Option(help="Keep the model as a version named this (for a decider and the models page).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Score with a saved model instead of training one (fast).")] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Open cases by their chance of breaching the deadline, with the expected remaining time,
    and how well that worked on a time split of the past (AUC, precision among the riskiest 10%)."""
    options: dict[str, Any] = {
        "deadline": deadline,
        "target": target,
        "end_activity": end_activity,
        "as_of": as_of,
        "limit": limit,
    }
    if save is not None:
        result = call_service(workspace, "risk_save", stream, save=save, **options)
    else:
        result = call_service(workspace, "risk", stream, model=model, **options)
    if json:
        print_json(result)
        return
    from rich.table import Table

    ev = result["evaluation"] or {}
    if result.get("model"):
        verb = "saved as" if save is not None else "scored by"
        console.print(f"[dim]{verb} model {result['model']} v{result['version']}[/]")
    console.print(
        f"[bold]{stream}[/] as of {result['as_of'][:16]}: {result['open_cases']:,} open cases "
        f"(closed by: {', '.join(result['end_activities']) or 'every case counts as closed'}), deadline {result['deadline']}"
    )
    if "auc" in ev:
        console.print(
            f"time split at {ev['cut'][:10]}: AUC {ev['auc']:.2f} (naive {ev['naive']['auc']:.2f}), "
            f"precision among the riskiest 10% {_pct(ev['precision_top_10'])} (naive {_pct(ev['naive']['precision_top_10'])}), "
            f"breach rate {_pct(ev['breach_rate'])}, over {ev['test_predictions']:,} predictions on {ev['test_cases']:,} cases"
        )
    elif ev:
        console.print(f"[yellow]not evaluated: {ev.get('note')}[/]")
    table = Table("case", "breach", "expected remaining", "deadline", "elapsed", "last activity")
    for r in result["cases"]:
        flag = " (already past)" if r["already_breached"] else ""
        rem = "-" if r["expected_remaining_hours"] is None else f"{r['expected_remaining_hours']:.1f} h"
        table.add_row(
            r["case_id"],
            f"{r['breach_probability']:.0%}{flag}",
            rem,
            r["deadline"][:16],
            f"{r['elapsed_hours']:.1f} h",
            r["last_activity"] or "-",
        )
    console.print(table if result["cases"] else "no open cases")


@triage_app.command("draft")
def triage_draft(
    name: Annotated[str, typer.Argument(help="The model whose past cases to draw on.")],
    item: Annotated[str, typer.Argument(help="The ticket as JSON.")],
    reply: Annotated[
        str | None, typer.Option(help="The past cases' reply column (kept with --outcome at training).")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """A suggested reply: through the OpenAI-compatible endpoint in [drafting] (emails, phone
    numbers, IBANs and listed names redacted first, restored after), else the closest resolved
    case's reply."""
    data = _item(item)
    result = call_service(workspace, "draft", name, item=data, reply=reply)
    if json:
        print_json(result)
        return
    if result["draft"] is None:
        console.print(f"[yellow]{result['note']}[/]")
        return
    how = "from the drafting endpoint" if result["source"] == "endpoint" else f"the reply to {result.get('case')}"
    console.print(f"[dim]{how}[/]\n{result['draft']}")


invoices_app = typer.Typer(
    help="Invoice checks for procure-to-pay: three-way match, duplicate invoices, unusual amounts.",
    no_args_is_help=True,
)
app.add_typer(invoices_app, name="invoices")


@invoices_app.command("check")
def invoices_check(
    orders: Annotated[
        str, typer.Option(help="Purchase order lines (po_number, vendor, quantity, unit_price): a file or dataset.")
    ] = "purchase_orders",
    receipts: Annotated[str, typer.Option(help="Goods receipts (po_number, quantity): a file or dataset.")] = (
        "goods_receipts"
    ),
    invoices: Annotated[
        str,
        typer.Option(help="Invoices (invoice_number, vendor, invoice_date, amount; po_number, quantity, unit_price)."),
    ] = "invoices",
    stream: Annotated[
        str | None,
        typer.Option(help="Instead of documents: check the order of a stream's steps (a log with activities only)."),
    ] = None,
    price_tolerance: Annotated[float, typer.Option(help="Relative price difference that passes (0.02 = ±2%).")] = 0.02,
    quantity_tolerance: Annotated[float, typer.Option(help="Relative quantity invoiced beyond received.")] = 0.0,
    duplicate_days: Annotated[int, typer.Option(help="Days apart two invoices can be and still be the same.")] = 30,
    everything: Annotated[bool, typer.Option("--all", help="List released invoices too.")] = False,
    limit: Annotated[int, typer.Option(help="How many invoices to list.")] = 30,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Decide each invoice: release (every check passed), hold (the price or quantity does not match
    the order and the goods received, nothing received yet, or a duplicate), or person (no order,
    a possible duplicate, an unusual amount). Each flag says why and names its documents."""
    tol = {"price": price_tolerance, "quantity": quantity_tolerance, "duplicate_days": duplicate_days}
    result = call_service(
        workspace,
        "invoice_check",
        orders=orders,
        receipts=receipts,
        invoices=invoices,
        stream=stream,
        tolerances=None if stream else tol,
        everything=everything,
        limit=limit,
    )
    if json:
        print_json(result)
        return
    from rich.table import Table

    s = result["summary"]
    what = "cases" if stream else "invoices"
    total = s.get("cases", s.get("invoices"))
    held = f", {s['amount_held']:,.2f} held" if "amount_held" in s else ""
    console.print(
        f"[bold]{total:,} {what}[/]: {s['release']:,} release, [red]{s['hold']:,} hold[/]{held}, "
        f"[yellow]{s['person']:,} to a person[/]"
    )
    if s["by_check"]:
        console.print("flags: " + ", ".join(f"{k} {v:,}" for k, v in s["by_check"].items()))
    key = "cases" if stream else "invoices"
    table = Table("case" if stream else "invoice", "decision", *([] if stream else ["amount"]), "why")
    for r in result[key]:
        why = "; ".join(f["reason"] for f in r["flags"]) or "every check passed"
        if stream:
            table.add_row(r["case_id"], r["decision"], why)
            continue
        amount = "-" if r["amount"] is None else f"{r['amount']:,.2f}"
        table.add_row(f"{r['invoice_number']} ({r['vendor']})", r["decision"], amount, why)
    if result[key]:
        console.print(table)
    if result["matching"] > result["shown"]:
        console.print(f"[dim]{result['shown']} of {result['matching']:,} shown; --limit or --json for more[/]")
