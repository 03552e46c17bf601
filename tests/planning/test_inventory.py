"""Reorder policies worked out by hand on a small table, through the CLI and the service."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.planning import PlanningError, reorder_policy
from conveyor.workspace import init_workspace

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def test_a_reorder_policy_by_hand(tmp_path: Path) -> None:
    # item A: 10, 0 (a missing day counts as zero), 20, 10 over four days; item B: 5 every day
    rows = ["day,item,units", "2026-01-01,A,6", "2026-01-01,A,4", "2026-01-03,A,20", "2026-01-04,A,10"]
    rows += [f"2026-01-0{d},B,5" for d in range(1, 5)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    root = init_workspace(tmp_path / "ws")
    out = subprocess.run(
        [
            CONVEYOR,
            "inventory",
            "--file",
            str(tmp_path / "d.csv"),
            "--id",
            "item",
            "--date",
            "day",
            "--value",
            "units",
            "--lead-time-days",
            "4",
            "--service-level",
            "0.95",
            "--order-cost",
            "50",
            "--holding-cost",
            "2",
            "--json",
            "-w",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    a, b = result["items"]
    mean, sd = 10.0, math.sqrt(((0) ** 2 + 10**2 + 10**2 + 0**2) / 3)  # 10, 0, 20, 10
    z = 1.6448536269514722
    assert a["daily_mean"] == mean
    assert a["daily_sd"] == pytest.approx(sd, abs=1e-4)
    assert a["safety_stock"] == math.ceil(z * math.sqrt(4) * sd)
    assert a["reorder_point"] == math.ceil(mean * 4 + z * 2 * sd)
    assert a["order_quantity"] == math.ceil(math.sqrt(2 * 365 * mean * 50 / 2))
    assert (b["daily_sd"], b["safety_stock"], b["reorder_point"]) == (0.0, 0, 20)


def test_lead_time_spread_and_stock_on_hand() -> None:
    series = [{"id": {"item": "A"}, "mean": 10.0, "sd": 0.0, "days": 30}]
    r = reorder_policy(series, lead_time_days=5, lead_time_sd_days=2, service_level=0.9, on_hand={"A": 60})
    item = r["items"][0]
    z = 1.2815515655446004
    assert item["safety_stock"] == math.ceil(z * 10 * 2)  # only the lead time varies
    assert item["order_now"] is True  # 60 on hand is below the reorder point 50 + 26
    assert item["days_of_cover"] == 6.0
    with pytest.raises(PlanningError) as e:
        reorder_policy(series, lead_time_days=0)
    assert e.value.field == "lead_time_days"


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("day,item,units\n2026-01-01,A,1\n")
    root = init_workspace(tmp_path / "ws")
    out = subprocess.run(
        [
            CONVEYOR,
            "inventory",
            "--file",
            str(tmp_path / "d.csv"),
            "--id",
            "sku",
            "--date",
            "day",
            "--value",
            "units",
            "--lead-time-days",
            "4",
            "-w",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert "--id: no column 'sku'" in out.stderr
    assert "day, item, units" in out.stderr


def test_a_weekly_table_is_read_per_week(tmp_path: Path) -> None:
    """Weekly sales (dates as text, a week with no row): the daily mean is the week's over seven
    days and the daily spread the week's over the root of seven. Before 2026-12-08 the table was
    read as days of which six in seven sold nothing, which tripled the safety stock."""
    # Fridays 2026-01-02, -09 (no row: zero), -16: 70, 0, 140 a week
    (tmp_path / "w.csv").write_text("week,item,units\n02/01/26,A,70\n16/01/26,A,100\n16/01/26,A,40\n")
    root = init_workspace(tmp_path / "ws")
    args = ["--file", str(tmp_path / "w.csv"), "--id", "item", "--date", "week", "--value", "units"]
    out = subprocess.run(
        [CONVEYOR, "inventory", *args, "--date-format", "%d/%m/%y", "--lead-time-days", "7", "--json", "-w", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    [a] = result["items"]
    week_sd = math.sqrt((70**2 + 0 + 70**2) / 2)  # 70, 0, 140 about their mean of 70
    assert a["daily_mean"] == pytest.approx(10.0)
    assert a["daily_sd"] == pytest.approx(week_sd / math.sqrt(7), abs=1e-4)
    assert a["days"] == 21
    z = 1.6448536269514722
    assert a["safety_stock"] == math.ceil(z * math.sqrt(7) * week_sd / math.sqrt(7))  # one week's spread
    assert result["settings"]["demand"] == "history (per week)"
