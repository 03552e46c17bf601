"""The demo company: reproducible, and its planted problems are really in the data."""

from __future__ import annotations

from pathlib import Path

from conveyor.demo import run_demo
from conveyor.workspace import open_workspace


def test_demo_is_reproducible_and_has_its_problems(tmp_path: Path) -> None:
    a = run_demo(tmp_path / "a", cases=600, seed=3)
    b = run_demo(tmp_path / "b", cases=600, seed=3)
    assert a["streams"] == b["streams"]
    names = {s["name"]: s for s in a["streams"]}
    assert set(names) == {"order-to-cash", "ticket-to-resolution", "procure-to-pay"}
    assert names["order-to-cash"]["cases"] == 600
    assert names["ticket-to-resolution"]["cases"] == 450
    # invoice checks: every planted problem in the procure-to-pay documents is stopped
    inv = a["invoices"]
    assert inv == b["invoices"]
    assert {"price change", "no order"} <= set(inv["planted_found"])
    assert all(v["found"] == v["planted"] for v in inv["planted_found"].values())
    assert inv["clean_flagged"]["flagged"] <= 0.02 * inv["clean_flagged"]["clean"]
    assert inv["decided"] > 0
    # SLA risk: the support log ends at the last ticket's arrival, so tickets are open to score;
    # on the time split the model ranks breaches at least as well as the time used alone
    risk = a["risk"]
    assert risk == b["risk"]
    assert risk["open_cases"] > 0
    assert risk["evaluation"]["auc"] >= max(0.8, risk["evaluation"]["naive"]["auc"])
    assert risk["riskiest"][0]["breach_probability"] >= risk["riskiest"][-1]["breach_probability"]
    with open_workspace(tmp_path / "a") as ws:
        q = ws.store.scalar
        # rework: some orders are repacked, and they are a minority
        repacked = q(
            'SELECT count(DISTINCT case_idx) FROM "stream_order-to-cash".events e '
            "JOIN \"stream_order-to-cash\".activities a ON a.code = e.activity WHERE a.name = 'Repack Goods'"
        )
        assert 0.08 * 600 < repacked < 0.3 * 600
        # bottleneck: the wait before Check Credit is the longest of the order-entry steps
        wait = dict(
            ws.store.rows(
                'SELECT a.name, median(epoch(e.next_ts) - epoch(e.ts)) FROM "stream_order-to-cash".events e '
                'JOIN "stream_order-to-cash".activities n ON n.code = e.next_activity '
                'JOIN "stream_order-to-cash".activities a ON a.code = e.next_activity GROUP BY 1'
            )
        )
        assert wait["Check Credit"] > 3 * wait["Approve Order"]
        # slow queue: Billing tickets wait far longer before work starts
        by_queue = dict(
            ws.store.rows(
                'SELECT c.queue, median(epoch(e.next_ts) - epoch(e.ts)) FROM "stream_ticket-to-resolution".events e '
                'JOIN "stream_ticket-to-resolution".cases c USING (case_idx) '
                'JOIN "stream_ticket-to-resolution".activities n ON n.code = e.next_activity '
                "WHERE n.name = 'Start Work' GROUP BY 1"
            )
        )
        assert by_queue["Billing"] > 5 * by_queue["Service Desk"]
        assert ws.store.scalar("SELECT count(*) FROM main.demand_daily") == 6 * 4 * 3 * 730
        texts = ws.store.rows('SELECT subject, body FROM "stream_ticket-to-resolution".cases LIMIT 5')
        assert all(len(body) > 40 and subject for subject, body in texts)


def test_refresh_replaces_rather_than_appends(tmp_path: Path) -> None:
    first = run_demo(tmp_path, cases=100, seed=1)
    second = run_demo(tmp_path, cases=100, seed=1)
    assert first["streams"] == second["streams"]
