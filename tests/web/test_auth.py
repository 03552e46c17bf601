"""Every route refuses without a token and with the wrong role: the test walks the OpenAPI route
list, so a new route is covered the day it is added."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import service
from tests.web.conftest import Server

#: One server for every web test: they run on one worker, beside the Spark tests on the other.
pytestmark = pytest.mark.xdist_group("web")

#: Routes that need more than the viewer role (method, path): the service table plus token admin.
ADMIN = {(m, "/api/v1" + p) for m, p, role in service.ROUTES.values() if role == "admin"} | {
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
}
#: Routes for reviewers and admins: the review queue and decisions (API and page).
REVIEWER = {(m, "/api/v1" + p) for m, p, role in service.ROUTES.values() if role == "reviewer"} | {("GET", "/queue")}
#: Open by design: liveness, and the login form's POST (which carries the token it checks).
OPEN = {("GET", "/health"), ("POST", "/login")}


def _routes(server: Server) -> list[tuple[str, str]]:
    spec = server.get("/openapi.json", role="admin").json()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


def _fill(path: str, server: Server) -> str:
    case = server.get("/api/v1/streams/order-to-cash/cases?limit=1").json()["cases"][0]["case_id"]
    return (
        path.replace("{stream}", "order-to-cash")
        .replace("{case_id}", case)
        .replace("{job_id}", "0")
        .replace("{token_id}", "0")
        .replace("{name}", "swagger-ui.css")
        .replace("{move}", "pause")
        .replace("{decision_id}", "0")
        .replace("{delivery_id}", "0")
    )


def _call(server: Server, method: str, path: str, role: str | None, **kw: Any) -> int:
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return server.request(method, _fill(path, server), role=role, follow_redirects=False, **body, **kw).status_code


def test_the_route_list_is_the_whole_app(server: Server) -> None:
    routes = _routes(server)
    assert len(routes) >= 25
    assert ("GET", "/api/v1/streams") in routes
    assert set(routes) >= ADMIN | REVIEWER


def test_every_route_refuses_without_a_token(server: Server) -> None:
    for method, path in _routes(server):
        if (method, path) in OPEN:
            continue
        assert _call(server, method, path, None) == 401, (method, path)
        bad = {"headers": {"Authorization": "Bearer cvy_00000000_not-a-real-secret"}}
        assert _call(server, method, path, None, **bad) == 401, (method, path)
    assert server.get("/health", role=None).status_code == 200


def test_every_route_checks_the_role(server: Server) -> None:
    for method, path in _routes(server):
        if (method, path) in OPEN:
            continue
        status = _call(server, method, path, "viewer")
        if (method, path) in ADMIN:
            assert status == 403, (method, path)
            assert _call(server, method, path, "reviewer") == 403, (method, path)
        elif (method, path) in REVIEWER:
            assert status == 403, (method, path)
            assert _call(server, method, path, "reviewer") not in (401, 403), (method, path)
        else:
            assert status not in (401, 403), (method, path, status)


def test_pages_answer_401_with_a_login_form(server: Server) -> None:
    r = server.get("/streams/order-to-cash", role=None)
    assert r.status_code == 401
    assert 'name="token"' in r.text
    assert r.headers["content-type"].startswith("text/html")
