"""Decisions through the HTTP API: `conveyor serve` on 127.0.0.1 over the demo company, the
ticket-triage automation (live, its actions delivered in the background; first with the trained
classifier the demo installs, then with the rules decider it started from), audit
writes durable (SQLite WAL, synchronous=FULL; or PostgreSQL with --state-url).

An open-loop load: requests are sent at a fixed rate (default 200/s for 60 s) whatever the
answers' speed, from a separate process, each a real ticket of the demo; latency is from the
request's scheduled time to its answer, so a server that falls behind shows it. The same load
against ``GET /health`` (the HTTP stack with no work: the floor) runs first as the reference.

    .venv/bin/python bench/decisions.py [--rate 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, machine, record

CONVEYOR = str(Path(sys.executable).parent / "conveyor")


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def load(
    url: str, token: str, items: list[dict[str, Any]] | None, rate: float, seconds: float, tag: str = "BENCH"
) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``seconds``; latency from each one's scheduled time."""
    import httpx

    n = int(rate * seconds)
    lat: list[float] = []
    errors = 0
    tiers: dict[str, int] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30, limits=limits
    ) as client:

        async def one(i: int, due: float) -> None:
            nonlocal errors
            try:
                if items is None:
                    r = await client.get("/health")
                else:
                    # each request a new ticket (a real one's text under a new id): its routing event
                    # starts a new case, as a new ticket's would
                    item = {**items[i % len(items)], "ticket_id": f"{tag}-{i:06d}"}
                    r = await client.post("/api/v1/automations/ticket-triage/decide", json={"input": item})
                if r.status_code != 200:
                    errors += 1
                    return
                if items is not None:
                    t = r.json()["tier"]
                    tiers[t] = tiers.get(t, 0) + 1
            except httpx.HTTPError:
                errors += 1
                return
            lat.append(time.perf_counter() - due)

        start = time.perf_counter() + 0.2
        tasks = []
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        took = time.perf_counter() - start
    return {
        "requests": n,
        "ok": len(lat),
        "errors": errors,
        "throughput": len(lat) / took,
        "p50_ms": _pct(lat, 0.50) * 1000,
        "p99_ms": _pct(lat, 0.99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "tiers": tiers,
    }


def _serve(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [CONVEYOR, "serve", "--port", "0", "--json", "-w", str(root)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1].strip() != "}":
        lines.append(proc.stdout.readline())
    url = json.loads("".join(lines))["url"]
    import httpx

    for _ in range(100):  # it announces itself just before it listens
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--classifier-rate", type=float, default=50, help="the trained classifier's rate (~5 ms of CPU a decision)"
    )
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--state-url", default="", help="PostgreSQL URL for the state (default: SQLite)")
    parser.add_argument("--no-record", action="store_true")
    a = parser.parse_args()
    root = OUT / "decisions_demo"
    shutil.rmtree(root, ignore_errors=True)
    env = {**os.environ, "CONVEYOR_STATE_URL": a.state_url} if a.state_url else dict(os.environ)
    subprocess.run(
        [CONVEYOR, "demo", str(root), "--cases", str(a.cases), "--quiet", "--json"],
        check=True,
        capture_output=True,
        env=env,
    )
    from conveyor.workspace import open_workspace

    with open_workspace(root, read_only=True) as ws:
        rows = ws.store.rows(
            'SELECT case_id, subject, body, priority, customer_tier FROM "stream_ticket-to-resolution".cases ORDER BY case_id'
        )
    items = [{"ticket_id": r[0], "subject": r[1], "body": r[2], "priority": r[3], "customer_tier": r[4]} for r in rows]
    token = json.loads(
        subprocess.run(
            [CONVEYOR, "token", "create", "--role", "reviewer", "--json", "-w", str(root)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
    )["token"]
    proc, url = _serve(root, env)
    try:
        floor = asyncio.run(load(url, token, None, a.rate, min(a.seconds, 20)))
        # warm-up (not counted): the first deliveries load the ingest's libraries (~1 s)
        asyncio.run(load(url, token, items, a.classifier_rate / 4, 10, tag="WARM"))
        time.sleep(2)
        result = asyncio.run(load(url, token, items, a.classifier_rate, a.seconds))
        time.sleep(3)  # let the background loop deliver the last actions
        # the same load with the rules decider the demo started from (the server rereads the file)
        from conveyor.demo.automation import TICKET_TRIAGE

        path = root / "automations" / "ticket-triage.yaml"
        trained_yaml = path.read_text(encoding="utf-8")
        path.write_text(TICKET_TRIAGE.replace("status: draft", "status: live"), encoding="utf-8")
        asyncio.run(load(url, token, items, a.rate / 4, 5, tag="WARMR"))
        rules = asyncio.run(load(url, token, items, a.rate, a.seconds, tag="RULES"))
        path.write_text(trained_yaml, encoding="utf-8")
        time.sleep(3)
        check = subprocess.run(
            [CONVEYOR, "audit", "verify", "--json", "-w", str(root)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        verified = json.loads(check.stdout)
        dead = subprocess.run(
            [CONVEYOR, "automation", "deliveries", "--status", "pending", "--json", "-w", str(root)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        pending = len(json.loads(dead.stdout)) if dead.returncode == 0 else -1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    backend = "PostgreSQL" if a.state_url else "SQLite (WAL, synchronous=FULL)"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: `conveyor serve` on 127.0.0.1 over the demo "
        f"({a.cases:,} orders), ticket-triage (live, its actions delivered by the server's "
        f"background loop), state in {backend}; the load generator (one asyncio process, httpx) runs on the "
        "same two cores. Latency counts from each request's scheduled time; a 10 s warm-up at a quarter of "
        "the rate comes first (not counted). The trained classifier spends ~5 ms of CPU on a decision "
        "(features, scores, the confidence model, the words that drove it and similar past tickets), so it "
        "runs at a rate two cores sustain beside the load generator. Reproduce with:",
        "",
        f"    .venv/bin/python bench/decisions.py --rate {a.rate:g} --classifier-rate {a.classifier_rate:g} "
        f"--seconds {a.seconds:g}",
        "",
        "| load | requests | answered | throughput | p50 | p99 | max |",
        "|---|---|---|---|---|---|---|",
        f"| reference: `GET /health` (the HTTP floor) | {floor['requests']:,} | {floor['ok']:,} | {floor['throughput']:.0f}/s | "
        f"{floor['p50_ms']:.1f} ms | {floor['p99_ms']:.1f} ms | {floor['max_ms']:.0f} ms |",
        f"| `POST /api/v1/automations/ticket-triage/decide`, the trained classifier | {result['requests']:,} | {result['ok']:,} | {result['throughput']:.0f}/s | "
        f"{result['p50_ms']:.1f} ms | {result['p99_ms']:.1f} ms | {result['max_ms']:.0f} ms |",
        f"| the same, the rules decider | {rules['requests']:,} | {rules['ok']:,} | {rules['throughput']:.0f}/s | "
        f"{rules['p50_ms']:.1f} ms | {rules['p99_ms']:.1f} ms | {rules['max_ms']:.0f} ms |",
        "",
        f"Decisions (classifier): {json.dumps(result['tiers'])}, {result['errors']} errors; (rules): "
        f"{json.dumps(rules['tiers'])}, {rules['errors']} errors; afterwards the audit chain "
        f"verified {verified['ok']} over {verified['records']:,} records, {pending} deliveries still pending. "
        f"p99 against the floor: {result['p99_ms'] / max(floor['p99_ms'], 1e-9):.1f}x.",
    ]
    print("\n".join(lines))
    if not a.no_record:
        record("Decisions through the API (bench/decisions.py)", lines)


if __name__ == "__main__":
    os.environ.pop("CONVEYOR_WORKSPACE", None)
    main()
