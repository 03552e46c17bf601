"""Ticket triage on real tickets: the trained model against the plain baseline on the same
held-out split (stratified 20%), for three labels of the Endava help-desk set of increasing
difficulty (9, 31 and 77 groups); training and prediction times.

    .venv/bin/python bench/triage.py
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, record

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tickets" / "endava_tickets_subset.csv"
LABELS = ["category", "sub_category1", "business_service"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    from conveyor.decide.triage import train

    with DATA.open() as f:
        rows = list(csv.DictReader(f))
    table = [
        "| label (groups) | model | accuracy | macro-F1 | coverage at 80% / 90% / 95% precision | calibration error | train | predict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in LABELS:
        started = time.perf_counter()
        model, m = train(rows, text=["title", "body"], label=label, categorical=["urgency", "impact", "ticket_type"])
        seconds = time.perf_counter() - started
        t0 = time.perf_counter()
        model.predict(rows[:1000])
        per_row = (time.perf_counter() - t0) * 1000 / 1000  # ms per ticket over 1,000
        b = m["baseline"]
        groups = m["training"]["labels"]
        cov = m["coverage_at_precision"]
        bcov = b["coverage_at_precision"]
        table.append(
            f"| {label} ({groups}) | conveyor triage | {m['accuracy']:.1%} | **{m['macro_f1']:.3f}** | "
            f"{cov['0.8']:.1%} / **{cov['0.9']:.1%}** / {cov['0.95']:.1%} | {m['calibration_error']:.3f} | "
            f"{seconds:.0f} s | {per_row:.2f} ms/ticket |"
        )
        table.append(
            f"| | plain baseline | {b['accuracy']:.1%} | {b['macro_f1']:.3f} | "
            f"{bcov['0.8']:.1%} / {bcov['0.9']:.1%} / {bcov['0.95']:.1%} | | | |"
        )
        print(table[-2], table[-1], sep="\n", flush=True)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: `endava_tickets_subset.csv` (5,431 tickets; title and "
        "body, urgency, impact and ticket type as categoricals), a stratified 20% held out; the plain baseline "
        "(word TF-IDF + logistic regression, its probability as the confidence) on the same split. Training time "
        "covers the held-out model, the baseline and the final model on every row; prediction is per ticket in "
        "batches of 1,000. Reproduce with:",
        "",
        "    .venv/bin/python bench/triage.py",
        "",
        *table,
    ]
    if not a.no_record:
        record("Ticket triage (bench/triage.py)", lines)


if __name__ == "__main__":
    main()
