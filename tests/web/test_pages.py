"""The pages in a real headless Chromium driven by Playwright: every page loads with no console
error and no request leaving 127.0.0.1; filters change the numbers; drill-down reaches a case;
the report opens from file:// with no network. Screenshots go to test-artifacts/ (look at them)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import Server, cli_json

#: One server for every web test: they run on one worker, beside the Spark tests on the other.
pytestmark = pytest.mark.xdist_group("web")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class Watch:
    """What a page did: console errors, page errors, and requests that tried to leave the machine."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert self.outside == [], self.outside


def _page(browser: Any, *, local: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Any, Watch]:
    watch = Watch()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(r: Any) -> None:
        url = urlsplit(r.request.url)
        if (
            url.scheme in ("data", "blob", "about")
            or (url.scheme == "file" and "file" in local)
            or url.hostname in local
        ):
            r.continue_()
        else:
            watch.outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    return page, watch


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(
    browser: Any, server: Server, role: str = "viewer", path: str = "/streams/order-to-cash"
) -> tuple[Any, Watch]:
    page, watch = _page(browser)
    page.goto(server.url + path)
    assert page.locator("input[name=token]").count() == 1  # 401: the login form
    page.fill("input[name=token]", server.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    # the login form came with its 401, which the browser logs: that one is expected
    assert all("401" in e for e in watch.errors), watch.errors
    watch.errors.clear()
    return page, watch


def _number(text: str) -> int:
    return int(re.search(r"([\d,]+) cases in scope", text).group(1).replace(",", ""))  # type: ignore[union-attr]


def _slide(page: Any, selector: str, value: str) -> None:
    """Move a range input as a user lets go of it: one change event (the form submits once)."""
    page.locator(selector).evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('change')); }", value)


def test_every_page_loads_offline_without_errors(browser: Any, server: Server) -> None:
    page, watch = _login(browser, server)
    case = server.get("/api/v1/streams/order-to-cash/cases?limit=1").json()["cases"][0]["case_id"]
    pages = {
        "overview": "/",
        "order-to-cash": "/streams/order-to-cash",
        "ticket-to-resolution-by-queue": "/streams/ticket-to-resolution?by=queue&period=month",
        "procure-to-pay-performance": "/streams/procure-to-pay?view=performance&paths=0.6",
        "cases": "/streams/order-to-cash/cases?min_duration=30d",
        "case": f"/streams/order-to-cash/cases/{case}",
        "review": "/review",
        "docs": "/docs",
        "automations": "/automations",
        "automation": "/automations/ticket-triage",
        "planning": "/planning",
        "model": "/models/ticket-triage",
    }
    for name, path in pages.items():
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        if name == "docs":
            page.wait_for_selector(".opblock", timeout=20_000)  # Swagger UI rendered the spec
        _shot(page, f"page-{name}")
        watch.check()
    page.goto(server.url + "/streams/order-to-cash")
    assert page.locator(".kpi .js-plotly-plot").count() >= 5  # the trend charts were drawn
    assert page.locator("#map svg g.node").count() >= 10  # the Graphviz map is inline
    # the demo's saved planning: two forecasts with charts, the queues' plan (Billing flagged), a scenario
    page.goto(server.url + "/planning")
    assert page.locator(".planning-forecast").count() == 2
    assert page.locator(".planning-forecast .js-plotly-plot").count() >= 4
    assert page.locator('tr.flag[data-segment="Billing"]').count() == 1
    assert page.locator(".planning-scenario .js-plotly-plot").count() == 1  # the tornado
    # Billing misses its target with the people its load needs, and the playbook's extra people on
    # Start Work are read as unable to shorten a wait that is not for want of them
    assert "Billing" in page.locator(".not-want-of-people").first.locator("xpath=..").inner_text()
    assert "cannot shorten it" in page.locator(".planning-scenario .staffing-reading").first.inner_text()
    # the demo's classifier: its held-out quality beside the baseline, curve and confusion drawn
    page.goto(server.url + "/models")
    card = page.locator('.model[data-model="ticket-triage"]')
    assert card.locator(".js-plotly-plot").count() == 2
    assert "word TF-IDF + logistic regression" in card.inner_text()
    # the invoice checks on the demo's procure-to-pay documents: held invoices with their reasons
    checks = page.locator(".card.invoices")
    assert checks.locator("table.invoice-flags tr").count() == 9  # a header and the 8 largest flagged
    assert "are held" in checks.inner_text()
    # the SLA risk model: its time split and the open tickets most likely to miss their deadline
    risk = page.locator('.card.risk[data-model="ticket-sla"]')
    assert "AUC" in risk.inner_text()
    assert risk.locator("table.risk-cases tr").count() >= 2
    # the classifier in use: its decisions, and the ones reviewers changed
    assert "decisions by ticket-triage" in card.locator(".live").inner_text()
    assert card.locator("table.live-mistakes tr").count() >= 2


def test_a_filter_changes_the_numbers(browser: Any, server: Server) -> None:
    page, watch = _login(browser, server)
    before = _number(page.inner_text("#scope-summary"))
    page.select_option("#where", "region=North")
    page.click("#apply")
    page.wait_for_url(re.compile(r"where=region%3DNorth"))
    page.wait_for_load_state("load")
    after = _number(page.inner_text("#scope-summary"))
    assert 0 < after < before, (page.url, page.inner_text("#scope-summary"))
    page.select_option("#where", "")  # the form's empty choices filter nothing
    page.click("#apply")
    page.wait_for_load_state("load")
    assert _number(page.inner_text("#scope-summary")) == before
    page.select_option("#where", "region=North")
    page.click("#apply")
    page.wait_for_url(re.compile(r"where=region%3DNorth"))
    # the map sliders re-draw it with fewer paths: every path, then only those that connect the steps
    _slide(page, "#paths", "1")
    page.wait_for_url(re.compile(r"paths=1(&|$|\.0)"))
    page.wait_for_function("document.getElementById('paths-value')?.textContent.trim() === '100%'", timeout=15_000)
    edges_before = page.locator("#map svg g.edge").count()
    _slide(page, "#paths", "0")
    page.wait_for_url(re.compile(r"paths=0(&|$|\.0)"))
    page.wait_for_load_state("load")  # the URL changes before the new page's map is in (a race seen once)
    # read the page that says it draws no optional paths (not a half-loaded one in between)
    page.wait_for_function("document.getElementById('paths-value')?.textContent.trim() === '0%'", timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#map svg g.edge').length > 0", timeout=15_000)
    edges_after = page.locator("#map svg g.edge").count()
    assert edges_after < edges_before, (page.url, edges_before, edges_after)
    _shot(page, "page-filtered")
    watch.check()


def test_drill_down_from_a_bottleneck_to_a_case(browser: Any, server: Server) -> None:
    page, watch = _login(browser, server)
    link = page.locator("#bottlenecks a.drill").first
    label = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/cases\?.*source="))
    assert label.split(" → ")[0] in page.inner_text("h1")
    page.locator("a.case-link").first.click()
    page.wait_for_url(re.compile(r"/cases/[^/?]+$"))
    rows = page.locator("#timeline tr").count()
    assert rows >= 4  # header and the case's events
    _shot(page, "page-drill-down-case")
    watch.check()


def test_login_link_works_once(browser: Any, server: Server, tmp_path: Path) -> None:
    page, watch = _page(browser)
    page.goto(server.login_url)
    assert page.url.rstrip("/") == server.url  # logged in, on the overview
    assert page.locator(".card.summary").count() >= 3
    other, _ = _page(browser)
    other.goto(server.login_url)
    assert "already used" in other.inner_text("#login-message")
    watch.check()


def test_the_report_opens_from_a_file_with_no_network(browser: Any, server: Server, tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    started = time.perf_counter()
    cli_json(server.root, "review", "--out", str(out))
    assert time.perf_counter() - started < 120
    page, watch = _page(browser, local=("file",))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    assert page.locator(".kpi .js-plotly-plot").count() >= 10
    assert page.locator("section.stream").count() == 3
    assert page.locator(".map svg").count() == 6
    text = page.inner_text("body")
    assert "Maturity" in text
    assert "Top automation opportunities" in text
    assert page.locator("#planning .planning-forecast").count() == 2
    assert page.locator("#planning .js-plotly-plot").count() >= 6
    assert page.locator('#models .model[data-model="ticket-triage"] .js-plotly-plot').count() == 2
    assert page.locator("#models .card.invoices").count() == 1
    _shot(page, "report")
    watch.check()
