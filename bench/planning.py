"""Planning figures: forecast accuracy and speed on real demand, and the simulation's validation
and speed on real logs. Each figure comes from the CLI a user runs (`conveyor forecast --json`,
`conveyor simulate --json`) in a fresh process.

- Forecasts: MASE of the chosen models (each window scored with the model picked on the windows
  before it) beside the seasonal naive's MASE on the same windows (the in-run reference), the
  80% intervals' coverage, and wall time; "per 1,000 series" from the Australian retail series
  tiled to 1,000 (each copy its own series).
- Simulation: the as-is against the log (median and 90th percentile cycle time, throughput) with
  the simulated cases per second.

- Other real series: the logs' case arrivals and CDNOW's CD sales, per day and per week, with
  the floor Poisson noise sets on daily counts.

    .venv/bin/python bench/planning.py [--skip-1000] [--other-only]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, record

CONVEYOR = str(Path(sys.executable).parent / "conveyor")
DEMAND = DATA.parent / "demand"
#: seeds each log's as-is runs on (5 replications each): the median's error's spread
SEEDS = 10

FORECASTS = [
    (
        "Walmart stores, weekly (45)",
        "walmart_stores_weekly.csv",
        ["--id", "Store", "--date", "Date", "--value", "Weekly_Sales", "--date-format", "%d/%m/%y", "--horizon", "8"],
    ),
    (
        "Walmart store 1 departments, weekly (7)",
        "walmart_store1_departments_weekly.csv",
        ["--id", "Dept", "--date", "Date", "--value", "Weekly_Sales", "--horizon", "8"],
    ),
    (
        "Australian retail, monthly (152), 12 months",
        "aus_retail_monthly.csv.gz",
        [
            "--id",
            "State,Industry",
            "--date",
            "Month",
            "--value",
            "Turnover",
            "--date-format",
            "%Y-%m",
            "--horizon",
            "12",
        ],
    ),
    (
        "Australian retail, monthly (152), 6 months",
        "aus_retail_monthly.csv.gz",
        [
            "--id",
            "State,Industry",
            "--date",
            "Month",
            "--value",
            "Turnover",
            "--date-format",
            "%Y-%m",
            "--horizon",
            "6",
        ],
    ),
]
FORECASTS.append(
    (
        "Australian retail by state / industry, 12 months, reconciled (161 series)",
        "aus_retail_monthly.csv.gz",
        [*FORECASTS[2][2], "--reconcile"],
    )
)
LOGS = [
    ("helpdesk", "helpdesk.csv"),
    ("request-for-payment", "bpic2020_request_for_payment.xes.gz"),
    ("sepsis", "sepsis.csv"),
    ("receipt", "receipt.csv"),
    ("bpic2012", "bpic2012.xes.gz"),
    ("bpic2013-closed", "06_bpic2013_closed.xes.gz"),
]


def run(cmd: list[str]) -> tuple[dict, float]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout), time.perf_counter() - started


def tiled(path: Path, out: Path, copies: int) -> None:
    with gzip.open(path, "rt") as src, out.open("w") as dst:
        header = next(src)
        lines = list(src)
        dst.write(header)
        for k in range(copies):
            for line in lines:
                # the series id (third column) gets the copy's number: its own series
                parts = line.split(",")
                dst.write(f"{parts[0]}-{k}," + ",".join(parts[1:]))


#: other real series: case arrivals of event logs (per day, 28 ahead; per week, 8 ahead)
ARRIVALS = ["helpdesk", "request-for-payment", "sepsis", "bpic2012"]
CDNOW = DATA.parent / "orders" / "cdnow_sample.txt"


def poisson_floor(values: list[float]) -> float:
    """The MASE ratio to the seasonal naive that a forecast knowing each weekday's true rate would
    score if the days were Poisson counts at those rates (each weekday's rate: its mean over the
    last six weeks): E|X - rate| over E|X - Y|, X and Y independent draws. The naive carries
    last week's noise as well as this week's, so the floor is about 1/sqrt(2) at any level."""
    import numpy as np
    from scipy.stats import poisson

    y = np.asarray(values[-42:], float)
    num = den = 0.0
    for d in range(7):
        rate = float(y[d::7].mean())
        if rate <= 0:
            continue
        k = np.arange(int(rate + 12 * rate**0.5 + 20))
        pmf = poisson.pmf(k, rate)
        num += float((pmf * np.abs(k - rate)).sum())
        den += float((np.outer(pmf, pmf) * np.abs(k[:, None] - k[None, :])).sum())
    return num / den


def other_series(ws: Path, tmp: Path) -> list[str]:
    """Forecasts of other real series: the logs' case arrivals (they must be ingested in ``ws``)
    and CDNOW's CDs sold, per day and per week."""
    lines = [
        "Machine: "
        + machine()
        + ". Command: `.venv/bin/python bench/planning.py --other-only` (also run by the full bench).",
        "",
        "One series each, 3 rolling-origin windows: 28 days ahead per day, 8 weeks ahead per week.",
        "",
        "| series | period | length | recent mean per period | MASE | seasonal naive MASE | ratio | 80% coverage (points) | model | Poisson floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    sources: list[tuple[str, list[str]]] = [(f"{name}: cases started", [name]) for name in ARRIVALS]
    if CDNOW.exists():
        csv = tmp / "cdnow.csv"
        with CDNOW.open() as src, csv.open("w") as dst:
            dst.write("customer,date,cds,dollars\n")
            for line in src:
                c, _, day, cds, dollars = line.split()
                dst.write(f"{c},{day[:4]}-{day[4:6]}-{day[6:]},{cds},{dollars}\n")
        sources.append(("CDNOW: CDs sold", ["--file", str(csv), "--date", "date", "--value", "cds"]))
    for label, source in sources:
        for freq, horizon in (("D", 28), ("W", 8)):
            r, _ = run(
                [
                    CONVEYOR,
                    "forecast",
                    *source,
                    "--freq",
                    freq,
                    "--horizon",
                    str(horizon),
                    "--json",
                    "-q",
                    "-w",
                    str(ws),
                    "--save",
                    "other",
                ]
            )
            r = json.loads((ws / "forecasts" / "other.json").read_text())  # as printed, with its history
            [series] = r["series"]
            history = [p["value"] for p in series.get("history") or []]
            mean = sum(history) / len(history) if history else float("nan")
            floor = f"{poisson_floor(history):.3f}" if freq == "D" and len(history) >= 42 else "-"
            if r["mase"] is None:
                lines.append(
                    f"| {label} | {r['period']} | {series['length']} | {mean:,.1f} | not measured: too short for "
                    f"two windows | | | | {series['model']} | {floor} |"
                )
            else:
                points = series["cv_windows"] * horizon
                lines.append(
                    f"| {label} | {r['period']} | {series['length']} | {mean:,.1f} | {r['mase']:.3f} | "
                    f"{r['mase_seasonal_naive']:.3f} | **{r['mase_ratio']:.3f}** | {r['coverage_80']:.1%} ({points}) | "
                    f"{series['model']} | {floor} |"
                )
            print(lines[-1], flush=True)
    return lines


OTHER_READING = [
    "",
    "Reading it: per week, the aim (MASE <= 0.75x the seasonal naive's) is met on every series long enough to",
    "score (helpdesk 0.59x, request-for-payment 0.59x, CDNOW 0.30x; sepsis and bpic2012 span too few weeks",
    "for two windows, and say so). Per day it is met on CDNOW only (0.70x): these are counts of a few to a",
    "hundred a day, and the last column is what a forecast that knew each weekday's true rate would score",
    "if the days were Poisson draws at those rates: about 1/sqrt(2) = 0.71x at any level, because the",
    "seasonal naive carries last week's noise on top of this week's (0.77x at sepsis's 1.2 a day, where",
    "zero days are common). The models come within 0.03-0.14 of that floor (CDNOW, whose sales fall through",
    "its eighteen months, goes below it, as a trend costs the naive more) except on request-for-payment,",
    "whose last window holds the university's Christmas closure (cases started fall from about 30 a day to",
    "none from 21 December): a yearly pattern two years of daily data cannot teach (MSTL's yearly season",
    "needs two whole years before the first window). Intervals: the daily coverage runs 64-96% on 56-84",
    "points per series (one series, so one bad window moves it by a third); the weekly, 94-100% on 24.",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-1000", action="store_true", help="Leave out the 1,000-series timing.")
    parser.add_argument("--other-only", action="store_true", help="Only the forecasts of other real series.")
    args = parser.parse_args()
    if args.other_only:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp) / "ws"
            subprocess.run([CONVEYOR, "init", str(ws)], check=True, capture_output=True)
            for stream, name in LOGS:
                if stream in ARRIVALS and (DATA / name).exists():
                    subprocess.run(
                        [CONVEYOR, "ingest", str(DATA / name), "--stream", stream, "-q", "-w", str(ws)],
                        check=True,
                        capture_output=True,
                    )
            record("Planning: forecasts of other real series", other_series(ws, Path(tmp)) + OTHER_READING)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([CONVEYOR, "init", str(ws)], check=True, capture_output=True)
        lines = [
            f"Machine: {machine()}. Command: `.venv/bin/python bench/planning.py`.",
            "",
            "### Forecasts (3 rolling-origin windows)",
            "",
            "| series | MASE | seasonal naive MASE | ratio | 80% coverage | models chosen | wall time |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, name, opts in FORECASTS:
            path = DEMAND / name
            if not path.exists():
                lines.append(f"| {label} | missing: {path} | | | | | |")
                continue
            r, secs = run([CONVEYOR, "forecast", "--file", str(path), *opts, "--json", "-w", str(ws)])
            chosen = ", ".join(f"{k} {v}" for k, v in r["models_chosen"].items())
            lines.append(
                f"| {label} | {r['mase']:.3f} | {r['mase_seasonal_naive']:.3f} | **{r['mase_ratio']:.3f}** | "
                f"{r['coverage_80']:.1%} | {chosen} | {secs:.1f} s |"
            )
            print(lines[-1], flush=True)
            rec = r.get("reconciled")
            if rec:
                lines.append(
                    f"| {label}: the reconciled forecasts, same windows | {rec['mase']:.3f} | "
                    f"{rec['mase_seasonal_naive']:.3f} | **{rec['mase_ratio']:.3f}** | {rec['coverage_80']:.1%} | | |"
                )
                print(lines[-1], flush=True)
        if not args.skip_1000 and (DEMAND / "aus_retail_monthly.csv.gz").exists():
            big = Path(tmp) / "aus_tiled.csv"
            tiled(DEMAND / "aus_retail_monthly.csv.gz", big, 7)  # 152 x 7 = 1,064 series
            r, secs = run([CONVEYOR, "forecast", "--file", str(big), *FORECASTS[2][2], "--json", "-w", str(ws)])
            per = secs / r["series_count"] * 1000
            lines += [
                "",
                f"Time per 1,000 series: **{per:.0f} s** ({r['series_count']:,} monthly series of up to 120 months, "
                f"3 windows x {len(r['candidates'])} candidates + the final fits, {secs:.0f} s wall on this machine).",
            ]
            print(lines[-1], flush=True)
        lines += [
            "",
            "### Simulation: the as-is against the log (5 replications)",
            "",
            f"| log | cases | actual median | simulated median (95% interval) | error | simulated cases quicker than the log's median | actual p90 | simulated p90 | p90 error | throughput error | simulated cases/s | median error over seeds 1-{SEEDS} (within 10%) | the log's own 95% interval of its median: seeds inside |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for stream, name in LOGS:
            path = DATA / name
            if not path.exists():
                lines.append(f"| {stream} | missing: {path} | | | | | | | | | | | |")
                continue
            subprocess.run(
                [CONVEYOR, "ingest", str(path), "--stream", stream, "-q", "-w", str(ws)],
                check=True,
                capture_output=True,
            )
            r, _ = run([CONVEYOR, "simulate", stream, "--replications", "5", "--json", "-w", str(ws)])
            a, s, iv, e = r["actual"], r["simulated"], r["intervals"], r["error"]
            # the median's error on other seeds: how much of it is the dice
            others = [
                run(
                    [CONVEYOR, "simulate", stream, "--replications", "5", "--seed", str(seed), "--json", "-w", str(ws)]
                )[0]
                for seed in range(2, SEEDS + 1)
            ]
            errors = [e["cycle_time_median"]] + [o["error"]["cycle_time_median"] for o in others]
            within = sum(abs(x) <= 0.10 for x in errors)
            # the seeds whose simulated median falls in the log's own 95% interval
            inside = sum(x["within_log_interval"]["cycle_time_median"] for x in [r, *others])
            lo, hi = r["actual_intervals"]["cycle_time_median"]
            day = 86400
            lines.append(
                f"| {stream} | {a['throughput_per_week'] * r['model']['weeks']:,.0f} | {a['cycle_time_median'] / day:.2f} d | "
                f"{s['cycle_time_median'] / day:.2f} d ({iv['cycle_time_median'][0] / day:.2f}-{iv['cycle_time_median'][1] / day:.2f}) | "
                f"**{e['cycle_time_median']:+.1%}** | {r['share_below_actual_median']['simulated']:.1%} | "
                f"{a['cycle_time_p90'] / day:.1f} d | {s['cycle_time_p90'] / day:.1f} d | {e['cycle_time_p90']:+.1%} | "
                f"{e['throughput_per_week']:+.1%} | {r['cases_per_second']:,.0f} | "
                f"{min(errors):+.1%} to {max(errors):+.1%} ({within} of {SEEDS}) | "
                f"{lo / day:.2f}-{hi / day:.2f} d ({lo / a['cycle_time_median'] - 1:+.0%} to "
                f"{hi / a['cycle_time_median'] - 1:+.0%}): {inside} of {SEEDS} |"
            )
            print(lines[-1], flush=True)
        other = other_series(ws, Path(tmp)) + OTHER_READING
    lines += [
        "",
        "Reading it: the forecast aim (MASE <= 0.75x the seasonal naive's, 80% intervals covering 75-85%) is met on",
        "the Walmart stores (0.62x) and on Australian retail at 6 months (0.72x); at 12 months the models beat the",
        "seasonal naive by 17%, on the erratic Walmart departments (7 series; one, department 3, scores 4.9 for both",
        "the models and the naive, half the panel's total) by 16%. On weekly data MSTL (STL's yearly season + ETS)",
        "replaces statsforecast's ETS, which cannot model a 52-week season (stores 0.68x -> 0.62x, departments",
        "0.90x -> 0.84x); on the monthly panels a global model (GlobalBoosting: one gradient-boosted tree model over",
        "all the series, through mlforecast) joins the candidates and the ensemble (6 months 0.75x -> 0.72x, 12",
        "months 0.88x -> 0.84x); since 2026-12-07 it fits the absolute error, the median change (12 months 0.838x ->",
        "0.831x, 6 months 0.723x -> 0.725x, the reconciled intervals 85.4% -> 84.9%). Tried, not adopted: AutoARIMA",
        "in the ensemble (6 months 0.747x, ten times slower); longer or shorter histories (60-360 months:",
        "0.866-0.880x at 12 months); the global model on weekly sales (0.96x alone: two and a half years are too few",
        "seasons to learn from); measured apart (the 150 series long enough for three windows, every series",
        "given its models' mean, 12 months): ETS + Theta + the global model 0.833x, + ETS on the logs 0.826x;",
        "the best mean of any five of eleven models",
        "(the tree model's variants, ARIMA, CES, seasonal window average, ETS and Theta on the logs), picked on the",
        "scored windows themselves, 0.795x: no mix of these models reaches 0.75x at 12 months on these windows,",
        "where 2017 (the second-to-last window) is hard for all of them (ETS 0.96x, Theta 0.99x, the trees 0.93x).",
        "A model's intervals are rescaled where they covered outside 75-85% on the earlier windows (MSTL's took in",
        "57% on the departments: x1.6). Each series' model is chosen on its own windows shrunk towards every",
        "series' errors on the same windows (the panel weighs as 4 windows). Made to add up across state and",
        "industry (MinTrace, structural weights), the Australian forecasts score worse than before reconciling, on",
        "the same windows: reconciliation buys consistency, not accuracy, here.",
        "The simulation copies each log case's route and step times, each step's waiting jittered (x lognormal of",
        "mean 1, sd 0.2 in logs; since 2026-12-07 the work is not jittered), so a case quick at every step stays",
        "quick. Each replication draws arrivals, the copied cases and each case's dice from separate streams in",
        "case order (common random numbers across scenarios). Since 2026-12-07 the waiting while a pool's people",
        "were all busy in the log is taken out of the copied times and replayed by the simulated pool: at most 6%",
        "of any pool's waiting on these logs (request-for-payment's final approval), so the figures barely moved",
        "(request-for-payment +2.5% -> +1.0%, sepsis +2.5% -> +1.2%). Five logs are within 10% on every seed.",
        "Receipt's median falls where the log's cycle times climb steeply (its 48th percentile 0.53 h, 50th 0.80 h,",
        "52nd 1.54 h, 55th 4.3 h: cases closed within the hour, then cases taking days), so one point of share moves",
        "the median by a third: over ten seeds of 5 replications its error runs from -16% to +36% (5 of 10 within",
        "10%) while the share of simulated cases quicker than the log's median stays near 50%. The last column is",
        "the log's own uncertainty (its cases taken as a sample of the process: the cycle times at the ranks that",
        "bound a 95% interval of the median): receipt's median could have come out anywhere from -41% to +146%,",
        "and the simulated one falls inside on all ten seeds; request-for-payment's is known to -2%/+1% and the",
        "simulated one falls inside on 7 of 10 (all within 10%). This run's times are a slower moment of the",
        "shared machine (the forecasts took 1.4-2x the previous run's with the same code; simulated cases per",
        "second, old and new code side by side: the same).",
    ]
    record("Planning: forecasts and simulation", lines)
    record("Planning: forecasts of other real series", other)


if __name__ == "__main__":
    main()
