"""The analysis commands, run as a user would, on the demo company."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.cli.test_cli import run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("demo") / "ws"
    proc = run("demo", str(ws), "--cases", "400", "--json")
    assert proc.returncode == 0, proc.stderr
    return ws


def cli_json(ws: Path, *args: str) -> object:
    proc = run(*args, "--json", "-w", str(ws))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_map_json_shape_and_svg(demo: Path, tmp_path: Path) -> None:
    svg = tmp_path / "map.svg"
    m = cli_json(demo, "map", "order-to-cash", "--svg", str(svg))
    assert isinstance(m, dict)
    assert set(m) == {"nodes", "edges", "start_activities", "end_activities"}
    assert set(m["nodes"][0]) == {"activity", "events", "cases"}
    assert set(m["edges"][0]) == {
        "source",
        "target",
        "frequency",
        "cases",
        "mean_seconds",
        "median_seconds",
        "p90_seconds",
        "total_seconds",
    }
    assert m["start_activities"] == {"Create Order": 400}
    root = ElementTree.fromstring(svg.read_text())  # well-formed XML
    labels = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Check Credit", "Quality Check", "Repack Goods"} <= labels


def test_variants_durations_json(demo: Path) -> None:
    v = cli_json(demo, "variants", "order-to-cash", "--top", "3")
    assert isinstance(v, list)
    assert len(v) == 4
    assert v[-1]["activities"] == ["other"]
    assert set(v[0]) >= {"activities", "cases", "share", "median_seconds", "mean_seconds"}
    assert sum(x["cases"] for x in v) == 400
    d = cli_json(demo, "durations", "order-to-cash")
    assert isinstance(d, dict)
    assert d["cases"] == 400
    assert d["median_seconds"] <= d["p90_seconds"]
    assert sum(b["cases"] for b in d["histogram"]) == 400


def test_analyses_find_the_planted_problems(demo: Path) -> None:
    b = cli_json(demo, "bottlenecks", "ticket-to-resolution", "--where", "queue=Billing")
    assert isinstance(b, dict)
    assert b["activities"][0]["activity"] in {"Start Work", "Close Ticket", "Customer Replied", "Reopen Ticket"}
    r = cli_json(demo, "rework", "order-to-cash")
    assert isinstance(r, dict)
    top = r["activities"][0]
    assert top["activity"] == "Quality Check"
    assert 0.08 < top["rework_rate"] < 0.35
    assert r["summary"]["extra_median_seconds"] > 0
    h = cli_json(demo, "handoffs", "order-to-cash", "--top", "5")
    assert isinstance(h, dict)
    assert len(h["handoffs"]) == 5
    assert abs(sum(w["share"] for w in h["workload"]) - 1) < 1e-9


def test_conformance_and_filters_from_the_shell(demo: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - type: at_most_once\n    activity: Quality Check\n"
        "  - type: within\n    first: Create Order\n    then: Ship Goods\n    max: 5d\n"
    )
    c = cli_json(demo, "conformance", "order-to-cash", "--rules", str(rules))
    assert isinstance(c, dict)
    assert c["rules"][0]["violating_cases"] > 0
    north = cli_json(demo, "durations", "order-to-cash", "--where", "region=North")
    south = cli_json(demo, "durations", "order-to-cash", "--where", "region=South")
    assert isinstance(north, dict)
    assert isinstance(south, dict)
    assert north["cases"] + south["cases"] < 400
    bad = run("map", "order-to-cash", "--where", "colour=red", "-w", str(demo))
    assert bad.returncode == 1
    assert "no case attribute 'colour'" in bad.stderr
    assert "region" in bad.stderr
