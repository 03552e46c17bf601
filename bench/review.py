"""The operating review and the dashboard: time to write the report, page load times.

Builds the demo company (2,000 orders) and a workspace holding bpic2012, then times:

- ``conveyor review --out`` on each (the whole command from the shell, start-up included; median
  of ``--repeat`` runs) and the PDF once;
- the dashboard's main pages on the demo, served by ``conveyor serve`` on 127.0.0.1: the server's
  answer (HTML complete, measured with httpx) and the browser's (headless Chromium's load event,
  Plotly's JavaScript cached after the first page), p50 and p95 over ``--loads`` loads each, after
  one load to warm the server's caches (the first opportunity ranking of a stream takes seconds;
  later loads reuse it until the stream's data changes).

There is no reference tool to run beside it (PM4Py has no report or dashboard); the figures are
conveyor's alone.

    .venv/bin/python bench/review.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, machine, record

ROOT = Path(__file__).resolve().parents[1]
CONVEYOR = str(ROOT / ".venv" / "bin" / "conveyor")
BPIC = ROOT.parent / "shared" / "data" / "logs" / "bpic2012.xes.gz"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONVEYOR, *args], check=True, capture_output=True, text=True)


def timed(*args: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def pages(root: Path, loads: int) -> list[tuple[str, float, float, float, float]]:
    import httpx
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen(
        [CONVEYOR, "serve", "--port", "0", "--json", "-w", str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    text = ""
    while not text.rstrip().endswith("}"):
        text += proc.stdout.readline()
    url = json.loads(text)["url"]
    token = json.loads(run("token", "create", "--role", "viewer", "--json", "-w", str(root)).stdout)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    case = httpx.get(f"{url}/api/v1/streams/order-to-cash/cases?limit=1", headers=auth).json()["cases"][0]["case_id"]
    paths = {
        "overview": "/",
        "stream (order-to-cash)": "/streams/order-to-cash",
        "stream by segment (tickets by queue)": "/streams/ticket-to-resolution?by=queue",
        "stream filtered (North region)": "/streams/order-to-cash?where=region%3DNorth",
        "cases behind a bottleneck": "/streams/order-to-cash/cases?source=Create+Order&target=Check+Credit",
        "one case's timeline": f"/streams/order-to-cash/cases/{case}",
        "review": "/review",
    }
    out = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            page = browser.new_page()
            page.goto(f"{url}/login")
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            for name, path in paths.items():
                httpx.get(url + path, headers=auth, timeout=300)  # warm the server's caches
                server, browser_t = [], []
                for _ in range(loads):
                    t0 = time.perf_counter()
                    r = httpx.get(url + path, headers=auth, timeout=300)
                    server.append(time.perf_counter() - t0)
                    assert r.status_code == 200, (path, r.status_code)
                    t0 = time.perf_counter()
                    page.goto(url + path, wait_until="load")
                    browser_t.append(time.perf_counter() - t0)
                out.append((name, pct(server, 0.5), pct(server, 0.95), pct(browser_t, 0.5), pct(browser_t, 0.95)))
                print(out[-1], flush=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    demo = OUT / "review_demo"
    shutil.rmtree(demo, ignore_errors=True)
    run("demo", str(demo), "--cases", str(a.cases), "--quiet")
    html = demo / "bench-review.html"
    demo_s = timed("review", "--out", str(html), "-w", str(demo), "-q", repeat=a.repeat)
    t0 = time.perf_counter()
    run("review", "--out", str(html), "--pdf", str(demo / "bench-review.pdf"), "-w", str(demo), "-q")
    pdf_s = time.perf_counter() - t0
    size = html.stat().st_size
    bpic = OUT / "review_bpic2012"
    shutil.rmtree(bpic, ignore_errors=True)
    run("init", str(bpic))
    run("ingest", str(BPIC), "--stream", "bpic2012", "-w", str(bpic), "-q")
    bpic_s = timed("review", "--out", str(bpic / "review.html"), "-w", str(bpic), "-q", repeat=a.repeat)
    rows = pages(demo, a.loads)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; the demo company ({a.cases:,} orders, three "
        f"streams) and bpic2012 (13,087 cases, 262,200 events). Reproduce with:",
        "",
        "    .venv/bin/python bench/review.py",
        "",
        "| what | time |",
        "|---|---|",
        f"| `conveyor review` of the demo (3 streams; HTML {size / 1e6:.1f} MB, Plotly inlined), median of {a.repeat} | {demo_s:.2f} s |",
        f"| the same with `--pdf` (headless Chromium prints it) | {pdf_s:.2f} s |",
        f"| `conveyor review` of bpic2012, median of {a.repeat} | {bpic_s:.2f} s |",
        "",
        f"Dashboard pages on the demo ({a.loads} loads each after one warm-up; server: the complete HTML "
        "over HTTP; browser: Chromium's load event, scripts and charts included):",
        "",
        "| page | server p50 | server p95 | browser p50 | browser p95 |",
        "|---|---|---|---|---|",
        *[
            f"| {n} | {s50 * 1000:.0f} ms | {s95 * 1000:.0f} ms | {b50 * 1000:.0f} ms | {b95 * 1000:.0f} ms |"
            for n, s50, s95, b50, b95 in rows
        ],
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("The operating review and the dashboard (bench/review.py)", lines)


if __name__ == "__main__":
    os.environ.pop("CONVEYOR_WORKSPACE", None)
    main()
