"""Invoice checks: the demo's procure-to-pay documents at scale (three-way match, duplicates,
unusual amounts), what they find of what was planted, and the step-order check of the real
BPIC 2019 log. No reference implementation exists to run beside it; the planted problems are
the reference for quality.

    .venv/bin/python bench/invoices.py [--orders 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, OUT, machine, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    import pyarrow as pa

    from conveyor.decide.invoices import check_documents
    from conveyor.demo.company import generate_stream
    from conveyor.demo.invoices import p2p_documents

    events = pa.concat_tables(generate_stream("procure-to-pay", a.orders, seed=5))
    docs = {k: t.to_pylist() for k, t in p2p_documents(events, seed=5).items()}
    started = time.perf_counter()
    result = check_documents(docs["purchase_orders"], docs["goods_receipts"], docs["invoices"])
    seconds = time.perf_counter() - started
    planted = {r["invoice_id"]: r["planted"] for r in docs["invoices"]}
    found: dict[str, list[int]] = {}
    clean = flagged = 0
    for r in result["invoices"]:
        kind = planted[r["invoice_id"]]
        if kind:
            hit = found.setdefault(kind, [0, 0])
            hit[0] += r["decision"] != "release"
            hit[1] += 1
        else:
            clean += 1
            flagged += r["decision"] != "release"
    n = len(result["invoices"])
    s = result["summary"]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. Reproduce with:",
        "",
        f"    .venv/bin/python bench/invoices.py --orders {a.orders}",
        "",
        "| input | invoices | time | per 1,000 invoices | found |",
        "|---|---|---|---|---|",
        f"| demo procure-to-pay documents, {a.orders:,} orders | {n:,} | {seconds:.1f} s | "
        f"{seconds / n * 1000 * 1000:.0f} ms | planted problems stopped: "
        + ", ".join(f"{k} {v[0]:,}/{v[1]:,}" for k, v in sorted(found.items()))
        + f"; clean invoices flagged {flagged:,} of {clean:,} ({flagged / max(clean, 1):.2%}) |",
    ]
    xes = DATA / "bpic2019_one_trace_per_variant.xes.gz"
    if xes.is_file():
        from conveyor.data.ingest import ingest
        from conveyor.data.store import Store
        from conveyor.decide.invoices import check_log
        from conveyor.decide.rows import read_traces

        OUT.mkdir(exist_ok=True)
        db = OUT / "invoices_bpic2019.duckdb"
        db.unlink(missing_ok=True)
        with Store(db) as store:
            ingest(store, xes, stream="bpic2019")
            t0 = time.perf_counter()
            log = check_log(read_traces(store, "bpic2019"))
            t = time.perf_counter() - t0
        ls = log["summary"]
        lines.append(
            f"| BPIC 2019 (one trace per variant), step order | {ls['cases']:,} items | {t:.1f} s | "
            f"{t / ls['cases'] * 1000 * 1000:.0f} ms | hold {ls['hold']:,}, person {ls['person']:,}: "
            + ", ".join(f"{k} {v:,}" for k, v in ls["by_check"].items())
            + " |"
        )
    else:
        lines.append(f"| BPIC 2019 | not measured: {xes} is absent | | | |")
    lines += [
        "",
        f"Decisions on the demo documents: {s['release']:,} release, {s['hold']:,} hold, {s['person']:,} person.",
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("Invoice checks (bench/invoices.py)", lines)


if __name__ == "__main__":
    main()
