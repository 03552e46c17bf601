"""Forecasts: honest scoring on series whose answer is known, reconciliation that adds up, the
saved forecast feeding inventory and staffing, clear errors, and the aim on real Walmart sales."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from conveyor.data.series import SeriesError
from conveyor.planning import PlanningError
from conveyor.planning.forecast import forecast, panel_from_rows, panel_from_table
from conveyor.workspace import init_workspace, open_workspace

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _weekly_pattern(tmp_path: Path) -> Path:
    """Two stores x two products, daily, with a strong weekday pattern and noise: 20 weeks."""
    rng = np.random.default_rng(3)
    rows = ["day,store,product,units"]
    for s, store in enumerate(["north", "south"]):
        for p, product in enumerate(["a", "b"]):
            for d in range(140):
                day = date(2026, 1, 5) + timedelta(days=d)  # a Monday
                mean = (40 + 10 * s + 5 * p) * (0.4 if day.weekday() >= 5 else 1.0)
                rows.append(f"{day},{store},{product},{rng.poisson(mean)}")
    path = tmp_path / "sales.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_forecast_beats_the_seasonal_naive_and_reconciles(tmp_path: Path) -> None:
    path = _weekly_pattern(tmp_path)
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        panel = panel_from_table(ws.store, ids=["store", "product"], date_column="day", value="units", file=str(path))
        assert panel.freq == "D"
        result = forecast(panel, horizon=14, windows=3, reconcile=True)
    assert result["series_count"] == 7  # Total, 2 stores, 4 store/product
    assert result["evaluated_series"] == 7
    # the noise is Poisson around a fixed weekly shape: a model averaging it beats last week's copy
    assert result["mase"] < result["mase_seasonal_naive"]
    assert 0.5 <= result["coverage_80"] <= 1.0
    by_key = {s["key"]: s for s in result["series"]}
    total = by_key["Total"]["forecast"]
    bottom = [s for s in result["series"] if len(s["id"]) == 2]
    assert len(bottom) == 4
    for i, point in enumerate(total):
        assert point["lo_80"] <= point["mean"] <= point["hi_80"]
        assert point["mean"] == pytest.approx(sum(s["forecast"][i]["mean"] for s in bottom), rel=1e-3)
    # dates continue the data: 2026-05-25 is the day after the last (140 days from 2026-01-05)
    assert total[0]["date"] == "2026-05-25"
    assert len(total) == 14
    # Saturdays are forecast lower than Mondays, as in the data
    assert total[5]["mean"] < 0.7 * total[0]["mean"]
    # what is delivered (reconciled) is scored too, on the same windows as the base forecasts
    rec = result["reconciled"]
    assert rec["mase"] < rec["mase_seasonal_naive"] == pytest.approx(result["mase_seasonal_naive"])
    assert rec["mase_ratio"] == pytest.approx(rec["mase"] / rec["mase_seasonal_naive"], rel=1e-3)
    assert 0.5 <= rec["coverage_80"] <= 1.0
    for s in result["series"]:
        assert s["mase_reconciled"] > 0
        assert 0 <= s["coverage_80_reconciled"] <= 1
    # per level, before and after: Total (1 series), store (2), store/product (4)
    assert [(lv["level"], lv["series"]) for lv in rec["levels"]] == [("Total", 1), ("store", 2), ("store/product", 4)]
    for lv in rec["levels"]:
        members = [s for s in result["series"] if ("/".join(s["id"]) or "Total") == lv["level"]]
        assert lv["mase"] == pytest.approx(sum(s["mase"] for s in members) / len(members), rel=1e-3)
        assert lv["mase_reconciled"] == pytest.approx(
            sum(s["mase_reconciled"] for s in members) / len(members), rel=1e-3
        )
    # reconciling moves every level's numbers a little, not wholesale
    assert abs(rec["mase"] - result["mase"]) < 0.25 * result["mase"]


def test_saved_forecast_feeds_inventory_with_recommendations(tmp_path: Path) -> None:
    path = _weekly_pattern(tmp_path)
    root = init_workspace(tmp_path / "ws")
    run = [CONVEYOR, "forecast", "--file", str(path), "--id", "store,product", "--date", "day", "--value", "units"]
    out = subprocess.run(
        [*run, "--horizon", "7", "--save", "sales", "--json", "-w", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["name"] == "sales"
    assert (root / "forecasts" / "sales.json").is_file()
    stock = tmp_path / "stock.csv"
    stock.write_text("store,product,on_hand\nnorth,a,10\nsouth,b,100000\n")
    out = subprocess.run(
        [
            CONVEYOR,
            "inventory",
            "--forecast",
            "sales",
            "--lead-time-days",
            "3",
            "--on-hand",
            str(stock),
            "--json",
            "-w",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    inv = json.loads(out.stdout)
    items = {i["key"]: i for i in inv["items"]}
    assert set(items) == {"north/a", "north/b", "south/a", "south/b"}
    assert "forecast 'sales'" in inv["settings"]["demand"]
    # the forecast's daily mean is near the data's (about 40 on weekdays, 16 at weekends)
    assert 25 < items["north/a"]["daily_mean"] < 40
    assert items["north/a"]["recommendation"]["action"] == "reorder"
    assert items["north/a"]["recommendation"]["quantity"] >= items["north/a"]["reorder_point"] - 10
    assert items["south/b"]["recommendation"] == {"action": "none"}
    assert "recommendation" not in items["north/b"]  # no stock given for it


def test_a_series_choice_leans_on_the_panel_until_its_own_windows_speak() -> None:
    """Worked by hand: two models, three windows. Ten series find B better on every window (A 1.0,
    B 0.5); a noisy one finds A a little better on its first window (A 0.90, B 0.95); an unlike one
    finds A far better everywhere (A 0.2, B 2.0). The panel's first windows: A (10 + 0.9 + 0.2) / 12
    = 0.925, B (5 + 0.95 + 2.0) / 12 = 0.6625. On its own the noisy series would pick A for its
    second window; with the panel (weight 4) A scores (0.90 + 4 x 0.925) / 5 = 0.92 and B
    (0.95 + 4 x 0.6625) / 5 = 0.72, so B. The unlike series keeps A: (0.2 + 3.7) / 5 = 0.78 against
    (2.0 + 2.65) / 5 = 0.93."""
    from conveyor.planning.forecast import PANEL_WEIGHT, _PanelErrors, _select

    assert PANEL_WEIGHT == 4.0
    names = ["A", "B"]
    steady = {f"s{i}": np.array([[1.0, 0.5]] * 3) for i in range(10)}
    noisy = np.array([[0.90, 0.95], [1.0, 0.5], [1.0, 0.5]])
    unlike = np.array([[0.2, 2.0], [0.2, 2.0], [0.2, 2.0]])
    scores = {k: {"mase": m} for k, m in {**steady, "noisy": noisy, "unlike": unlike}.items()}
    panel = _PanelErrors(scores, 2)
    assert _select(noisy, names) == ("B", [0, 1])  # alone: A after its first window
    assert _select(noisy, names, panel) == ("B", [1, 1])
    assert _select(unlike, names, panel) == ("A", [0, 0])


def test_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("day,units\n2026-01-01,3\nnot a day,4\n")
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        with pytest.raises(SeriesError, match="'day' has 'not a day', which is not a date") as err:
            panel_from_table(ws.store, ids=[], date_column="day", value="units", file=str(path))
        assert err.value.hint is not None
        assert "--date-format" in err.value.hint
        with pytest.raises(SeriesError, match="--value: no column 'qty'"):
            panel_from_table(ws.store, ids=[], date_column="day", value="qty", file=str(path))
    panel = panel_from_rows([(date(2026, 1, d), float(d % 3)) for d in range(1, 13)], id_columns=[], freq="D")
    with pytest.raises(PlanningError, match="--windows must be at least 2"):
        forecast(panel, horizon=3, windows=1)
    with pytest.raises(PlanningError, match="--models: unknown model 'Prophet'"):
        forecast(panel, horizon=3, models=["Prophet"])
    with pytest.raises(PlanningError, match="reconciliation needs id columns"):
        forecast(panel, horizon=3, reconcile=True)
    # too short to score: still a forecast, said to be unscored
    short = forecast(panel, horizon=3)
    assert short["evaluated_series"] == 0
    assert short["mase"] is None
    assert len(short["series"][0]["forecast"]) == 3


@pytest.mark.realdata
@pytest.mark.slow
def test_walmart_stores_meet_the_aim(tmp_path: Path) -> None:
    """The issue's aim on real weekly sales: MASE <= 0.75 x the seasonal naive's on the same
    windows, 80% intervals covering 75-85%."""
    from tests.conftest import require_data

    demand = require_data().parent / "demand" / "walmart_stores_weekly.csv"
    root = init_workspace(tmp_path / "ws")
    with open_workspace(root) as ws:
        panel = panel_from_table(
            ws.store, ids=["Store"], date_column="Date", value="Weekly_Sales", file=str(demand), date_format="%d/%m/%y"
        )
    assert panel.freq == "W"
    result = forecast(panel, horizon=8, windows=3)
    assert result["series_count"] == 45
    assert result["mase_ratio"] <= 0.75
    assert 0.75 <= result["coverage_80"] <= 0.85
