"""SLA risk on the real helpdesk log (45-day target) and the demo's tickets: the time split's
figures beside the naive score (the share of the allowed time used), training time, scoring the
open cases with the saved model, and one case judged as a decider would (its events read from
the store, features, both models), p50/p99 over many cases. The naive score is the reference:
no process-mining library predicts deadline breaches to run beside it.

    .venv/bin/python bench/risk.py [--judgements 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, record


def _measure(ws, stream: str, label: str, n: int, **how: str) -> str:  # type: ignore[no-untyped-def]
    from conveyor import service
    from conveyor.decide.risk import risk_model

    t0 = time.perf_counter()
    trained = service.risk_save(ws, stream, save=f"{stream}-sla", **how)
    train = time.perf_counter() - t0
    t0 = time.perf_counter()
    scored = service.risk(ws, stream, model=f"{stream}-sla")
    score = time.perf_counter() - t0
    model, _ = risk_model(ws.root, f"{stream}-sla")
    ids = [r[0] for r in ws.store.rows(f'SELECT case_id FROM "stream_{stream}".cases ORDER BY case_idx LIMIT ?', [n])]
    # each case as it stood a day after it opened (many are open then)
    starts = dict(ws.store.rows(f'SELECT case_id, epoch(first_ts) FROM "stream_{stream}".cases'))
    times = []
    for cid in ids:
        t0 = time.perf_counter()
        model.case(ws.store, cid, as_of=float(starts[cid]) + 86400)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    ev = trained["evaluation"]
    return (
        f"| {label} | {ev['test_cases']:,} | {ev['breach_rate']:.1%} | **{ev['auc']:.2f}** | {ev['naive']['auc']:.2f} | "
        f"{ev['precision_top_10']:.0%} | {ev['naive']['precision_top_10']:.0%} | "
        f"{ev.get('remaining_median_abs_error_hours', float('nan')):.1f} h | {train:.1f} s | "
        f"{score:.2f} s ({scored['open_cases']:,} open) | {statistics.median(times):.1f} / "
        f"{times[int(0.99 * (len(times) - 1))]:.1f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judgements", type=int, default=300, help="cases judged one at a time")
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    from conveyor.data.ingest import ingest
    from conveyor.demo import run_demo
    from conveyor.workspace import init_workspace, open_workspace

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        log = DATA / "helpdesk.csv"
        if log.is_file():
            root = init_workspace(Path(tmp) / "helpdesk")
            with open_workspace(root) as ws:
                ingest(ws.store, log, stream="helpdesk")
                rows.append(_measure(ws, "helpdesk", "helpdesk, 45-day target", a.judgements, target="45d"))
        else:
            rows.append(f"| helpdesk | not measured: {log} is absent | | | | | | | | | |")
        demo = Path(tmp) / "demo"
        run_demo(demo, cases=2000, seed=7)
        with open_workspace(demo) as ws:
            rows.append(
                _measure(
                    ws, "ticket-to-resolution", "demo tickets, SLA deadline", a.judgements, deadline="sla_deadline"
                )
            )
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. Time split: trained on what was known when 70% "
        "of the cases had closed, scored on the cases open after it (snapshots at 60 moments), labelled by "
        "the log's end. *naive*: the share of the allowed time already used. *one case*: a decider's judgement "
        "(the case's events read from the store, its features, both models), p50 / p99. Reproduce with:",
        "",
        f"    .venv/bin/python bench/risk.py --judgements {a.judgements}",
        "",
        "| log | test cases | breached | AUC | naive AUC | precision, riskiest 10% | naive | remaining time error "
        "(median) | train + evaluate | score the open cases (saved model) | one case |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("SLA risk (bench/risk.py)", lines)


if __name__ == "__main__":
    main()
