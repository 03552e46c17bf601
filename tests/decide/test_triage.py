"""Ticket triage: the aim on real Endava tickets (held out, beside the plain baseline), small and
awkward data giving clear messages or abstentions, versions in the workspace, and the model
deciding inside a governed automation with its words and similar past tickets."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conveyor import service
from conveyor.automation import decide
from conveyor.decide import DecideError, ModelNotFoundError
from conveyor.decide.triage import coverage_at_precision, train
from conveyor.workspace import init_workspace, open_workspace
from tests.conftest import require_data

CONVEYOR = str(Path(sys.executable).parent / "conveyor")

_TEMPLATES = {
    "Network": [
        "vpn drops every few minutes in {c}",
        "wi-fi down on floor {n} in {c}",
        "cannot reach the network share",
    ],
    "Billing": ["invoice {n} charged twice", "credit note missing for invoice {n}", "payment refused by the portal"],
    "Access": ["password reset for {c} user", "new starter needs accounts in {c}", "locked out after {n} attempts"],
}


def _tickets(n: int, seed: int = 1) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    cities = ["Lyon", "Porto", "Leeds", "Graz"]
    rows = []
    labels = list(_TEMPLATES)
    for i in range(n):
        q = labels[int(rng.integers(0, 3))]
        text = _TEMPLATES[q][int(rng.integers(0, 3))].format(
            c=cities[int(rng.integers(0, 4))], n=int(rng.integers(1, 99))
        )
        rows.append({"id": f"T{i}", "title": text, "body": f"please help: {text}", "priority": "P3", "queue": q})
    return rows


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_coverage_at_precision_by_hand() -> None:
    # most confident first: right, right, wrong, right, wrong
    correct = np.array([1, 1, 0, 1, 0], dtype=float)
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert coverage_at_precision(correct, conf, 0.9) == (0.4, 0.8)  # 2 of 5 at 100%
    assert coverage_at_precision(correct, conf, 0.75) == (0.8, 0.6)  # 3 right of the top 4
    assert coverage_at_precision(np.zeros(3), conf[:3], 0.5) == (0.0, None)


def test_small_and_awkward_data(tmp_path: Path) -> None:
    rows = _tickets(60)
    rows[0]["title"] = rows[0]["body"] = ""  # an empty ticket
    rows[1].update(title="contract clause review", body="", queue="Legal")  # a label with one example
    rows[2]["queue"] = ""  # unlabelled: left out, counted
    model, metrics = train(rows, text=["title", "body"], label="queue", categorical=["priority"], id_column="id")
    t = metrics["training"]
    assert (t["labelled"], t["unlabelled_dropped"], t["empty_texts"]) == (59, 1, 1)
    assert t["rare_labels"] == ["Legal"]
    assert metrics["accuracy"] >= 0.9  # the templates tell the queues apart
    # an empty ticket abstains; a known one gets its label, its words and similar past tickets
    empty, vpn = model.predict([{"title": "", "body": None}, {"title": "vpn drops in Lyon", "body": ""}], explain=3)
    assert (empty.label, empty.confidence) == (None, 0.0)
    assert vpn.label == "Network"
    assert "vpn" in " ".join(vpn.words)
    similar = model.similar({"title": "vpn drops in Lyon"}, k=2)
    assert [s["queue"] for s in similar] == ["Network", "Network"]
    assert similar[0]["id"].startswith("T")
    # unseen labels at evaluation time are named, not a crash
    from conveyor.decide.triage import evaluate

    later = [
        *_tickets(20, seed=2),
        {"id": "X", "title": "contract review", "body": "", "priority": "P3", "queue": "Legal2"},
    ]
    result = evaluate(model, later)
    assert result["unseen_labels"] == ["Legal2"]
    assert set(result["coverage_at_precision"]) == {"0.8", "0.9", "0.95"}
    # too little, one label, a missing column: clear messages
    with pytest.raises(DecideError, match="at least 20"):
        train(rows[:10], text=["title"], label="queue")
    same = [{**r, "queue": "Network"} for r in rows]
    with pytest.raises(DecideError, match="nothing to tell apart"):
        train(same, text=["title"], label="queue")
    with pytest.raises(DecideError, match="no column 'subject'") as err:
        train(rows, text=["subject"], label="queue")
    assert "title" in (err.value.hint or "")
    blank = [{**r, "title": "", "body": ""} for r in rows]
    with pytest.raises(DecideError, match="no words"):
        train(blank, text=["title", "body"], label="queue")


TRIAGE_AUTOMATION = """\
name: route
owner: support
labels: [Network, Billing]
input:
  id: {type: string}
  title: {type: text}
  body: {type: text, required: false}
  priority: {type: string, required: false}
case_field: id
decider: {kind: triage, options: {model: tickets}}
policy: {auto_at: 0.8, suggest_at: 0.5}
status: live
"""


def test_versions_in_the_workspace_and_the_decider(tmp_path: Path) -> None:
    data = _write(tmp_path / "tickets.csv", _tickets(200))
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        first = service.triage_train(
            ws, file=str(data), text=["title", "body"], label="queue", name="tickets", id_column="id"
        )
        second = service.triage_train(
            ws, file=str(data), text=["title", "body"], label="queue", name="tickets", id_column="id"
        )
        assert (first["version"], second["version"]) == (1, 2)
        assert second["data"] == {"source": str(data), "rows": 200}
        assert second["trained_by"]
        assert second["trained_at"]
        listed = service.triage_models(ws)["models"]
        assert [(m["name"], m["versions"]) for m in listed] == [("tickets", [1, 2])]
        with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
            service.triage_model(ws, "nope")
        (root / "automations").mkdir()
        (root / "automations" / "route.yaml").write_text(TRIAGE_AUTOMATION, encoding="utf-8")
        d = decide(ws.state, root, "route", {"id": "N1", "title": "vpn drops every few minutes in Lyon"}, actor="t")
        assert (d["label"], d["tier"], d["decider_version"]) == ("Network", "auto", "tickets-v2")
        assert "vpn" in d["explanation"]
        assert d["similar"][0]["queue"] == "Network"
        # the model knows Access, which this automation does not list: no label, a person decides
        d = decide(ws.state, root, "route", {"id": "N2", "title": "password reset for Leeds user"}, actor="t")
        assert (d["label"], d["tier"]) == (None, "human")
        assert "does not list" in d["explanation"]


@pytest.mark.slow
@pytest.mark.realdata
def test_endava_aim_held_out_beside_the_baseline(tmp_path: Path) -> None:
    """The aim: macro-F1 >= 0.45 and >= 45% of tickets routed alone at 90% precision, by one
    model, on tickets it never saw; the plain baseline ignores the rare categories."""
    source = require_data().parent / "tickets" / "endava_tickets_subset.csv"
    with source.open() as f:
        rows = list(csv.DictReader(f))
    rng = np.random.default_rng(0)
    held = rng.random(len(rows)) < 0.2
    train_file = _write(tmp_path / "train.csv", [r for r, h in zip(rows, held, strict=True) if not h])
    test_file = _write(tmp_path / "test.csv", [r for r, h in zip(rows, held, strict=True) if h])
    root = init_workspace(tmp_path / "ws")
    args = ["--text", "title,body", "--categorical", "urgency,impact,ticket_type", "--label", "category"]
    run = subprocess.run(
        [
            CONVEYOR,
            "triage",
            "train",
            "--file",
            str(train_file),
            *args,
            "--name",
            "category",
            "--json",
            "-w",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    card = json.loads(run.stdout)
    m = card["metrics"]
    assert m["macro_f1"] > m["baseline"]["macro_f1"] + 0.1  # class balance finds the rare categories
    out = subprocess.run(
        [CONVEYOR, "triage", "eval", "--file", str(test_file), "--name", "category", "--json", "-w", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert {"accuracy", "macro_f1", "coverage_at_precision", "per_label", "curve"} <= set(result)
    assert result["macro_f1"] >= 0.45, result["macro_f1"]
    assert result["coverage_at_precision"]["0.9"] >= 0.45, result["coverage_at_precision"]
    assert result["calibration_error"] < 0.08
    # the curve falls as it covers more, and what it claims at 90% holds
    curve = result["curve"]
    assert curve[0]["precision"] >= curve[-1]["precision"]
    assert curve[-1]["coverage"] == 1.0
    assert sum(r["support"] for r in result["per_label"]) == result["rows"]
