"""The demo company's planted problems come out on top of the opportunity ranking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor import service
from conveyor.demo import run_demo
from conveyor.workspace import open_workspace
from tests.conftest import demo_streams


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("demo") / "northwind"
    run_demo(root, cases=2000, seed=7)
    with open_workspace(root, read_only=True) as ws:
        return {
            s: service.opportunities(ws, s)["rows"] for s in ("order-to-cash", "ticket-to-resolution", "procure-to-pay")
        }


def _top(rows: list[dict[str, Any]], n: int) -> list[str]:
    return [r["step"] for r in rows[:n]]


def test_rows_say_what_they_save(ranked: dict[str, Any]) -> None:
    for rows in ranked.values():
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        savings = [r["savings_per_year"] for r in rows]
        assert savings == sorted(savings, reverse=True)
        for r in rows:
            assert r["recommendation"] in ("automate", "augment", "human")
            assert r["reasons"], r
            assert all(s.endswith(".") for s in r["reasons"]), r
            assert r["volume_per_year"] > 0


def test_credit_check_waiting_tops_order_to_cash(ranked: dict[str, Any]) -> None:
    top = _top(ranked["order-to-cash"], 2)
    assert set(top) == {"Check Credit", "Create Order → Check Credit"}, top
    wait = next(r for r in ranked["order-to-cash"] if r["step"] == "Create Order → Check Credit")
    assert wait["recommendation"] == "automate"
    assert wait["waiting_hours_per_year"] > 50_000  # ~1,900 orders a year waiting ~1.5 days


def test_the_repack_loop_is_the_rework_to_fix(ranked: dict[str, Any]) -> None:
    rework = [r for r in ranked["order-to-cash"] if r["kind"] == "rework"]
    assert rework[0]["step"] in ("Quality Check", "Repack Goods"), [r["step"] for r in rework]
    assert rework[0]["rank"] <= 10


def test_billing_queue_is_the_wait_to_fix_in_tickets(ranked: dict[str, Any]) -> None:
    rows = ranked["ticket-to-resolution"]
    waits = [r for r in rows if r["kind"] == "hand-over"]
    first = waits[0]
    assert first["step"] == "Assign to Queue → Start Work"
    assert first["rank"] <= 3, _top(rows, 5)
    assert any("queue is Billing" in s for s in first["reasons"]), first["reasons"]


def test_payment_blocks_top_procure_to_pay(ranked: dict[str, Any]) -> None:
    top = ranked["procure-to-pay"][:3]
    assert {r["step"] for r in top} <= {
        "Resolve Block",
        "Block Payment",
        "Change Price",
        "Block Payment → Resolve Block",
    }
    block = next(r for r in ranked["procure-to-pay"] if r["step"] == "Block Payment")
    assert block["recommendation"] == "automate"  # reaching it is predictable...
    assert any("price_changed" in s for s in block["reasons"])  # ...from the price change


def test_workspace_costs_change_the_money(tmp_path: Path, ranked: dict[str, Any]) -> None:
    root = tmp_path / "small"
    demo_streams(root, cases=300, seed=3)
    with open_workspace(root, read_only=True) as ws:
        before = service.opportunities(ws, "procure-to-pay")
    text = (root / "metrics" / "procure-to-pay.yaml").read_text(encoding="utf-8")
    (root / "metrics" / "procure-to-pay.yaml").write_text(
        text.replace("hourly_rate: 42", "hourly_rate: 84"), encoding="utf-8"
    )
    with open_workspace(root, read_only=True) as ws:
        after = service.opportunities(ws, "procure-to-pay")
    work = {r["step"]: r for r in before["rows"] if r["kind"] == "step" and r["hours_per_year"] > 0}
    doubled = {r["step"]: r for r in after["rows"] if r["step"] in work}
    for step, r in work.items():
        assert doubled[step]["savings_per_year"] == pytest.approx(2 * r["savings_per_year"], abs=0.02), step
    assert "84 EUR per person-hour" in after["assumptions"][0]
