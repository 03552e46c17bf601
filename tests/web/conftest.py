"""One real server for the web tests: `conveyor serve` in its own process on 127.0.0.1, over a
small demo workspace, with a token of each role (made by the CLI while the server runs)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.review.html import CHROMIUM_FLAGS
from tests.conftest import CONVEYOR, cli, cli_json, need, skip_or_fail

FLAGS = [f for f in CHROMIUM_FLAGS if f != "--headless"]  # the flags the PDF printer uses (no network)


@dataclass
class Server:
    url: str
    login_url: str
    root: Path
    tokens: dict[str, str]
    process: subprocess.Popen[str]
    local: dict[str, object]  # what CLI commands printed before the server started

    def get(self, path: str, role: str | None = "viewer", **kw: Any) -> httpx.Response:
        return self.request("GET", path, role, **kw)

    def request(self, method: str, path: str, role: str | None = "viewer", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        headers.update(kw.pop("headers", {}))
        return httpx.request(method, self.url + path, headers=headers, timeout=120, **kw)


#: CLI commands run on the workspace before the server starts, and the API route answering the same.
LOCAL: dict[str, tuple[str, ...]] = {
    "/api/v1/streams": ("streams",),
    "/api/v1/streams/order-to-cash/map": ("map", "order-to-cash"),
    "/api/v1/streams/order-to-cash/variants?top=3": ("variants", "order-to-cash", "--top", "3"),
    "/api/v1/streams/ticket-to-resolution/durations?where=queue%3DBilling": (
        "durations",
        "ticket-to-resolution",
        "--where",
        "queue=Billing",
    ),
    "/api/v1/streams/order-to-cash/bottlenecks?top=5": ("bottlenecks", "order-to-cash", "--top", "5"),
    "/api/v1/streams/procure-to-pay/rework": ("rework", "procure-to-pay"),
    "/api/v1/streams/ticket-to-resolution/handoffs?top=5": ("handoffs", "ticket-to-resolution", "--top", "5"),
    "/api/v1/streams/order-to-cash/kpis?by=region&period=month": (
        "kpis",
        "order-to-cash",
        "--by",
        "region",
        "--period",
        "month",
    ),
    "/api/v1/streams/procure-to-pay/opportunities?top=5": ("opportunities", "procure-to-pay", "--top", "5"),
    "/api/v1/streams/order-to-cash/quarantine": ("quarantine", "order-to-cash"),
    "/api/v1/inventory?dataset=demand_daily&ids=product&date=date&value=units&lead_time_days=7&freq=W": (
        "inventory",
        *("--dataset", "demand_daily", "--id", "product", "--date", "date", "--value", "units"),
        *("--lead-time-days", "7", "--freq", "W"),
    ),
}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web") / "northwind"
    cli(root, "demo", str(root), "--cases", "400", "--quiet")
    local = {name: cli_json(root, *args) for name, args in LOCAL.items()}
    log = (root / "serve.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [*CONVEYOR, "serve", "--port", "0", "--json", "-w", str(root)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip() == "}":
            break
    info = json.loads("".join(lines))
    tokens = {
        role: cli_json(root, "token", "create", "--role", role)["token"] for role in ("viewer", "reviewer", "admin")
    }  # type: ignore[index]
    yield Server(info["url"], info["login_url"], root, tokens, proc, local)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = need("playwright.sync_api", "the page tests drive Chromium with Playwright")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        skip_or_fail("Chromium is not installed (`make install` installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=FLAGS)
        yield b
        b.close()
