"""The JSON API answers what the CLI prints, filters change numbers, errors are JSON and name the field."""

from __future__ import annotations

import pytest

from tests.conftest import same
from tests.web.conftest import Server, cli, cli_json

#: One server for every web test: they run on one worker, beside the Spark tests on the other.
pytestmark = pytest.mark.xdist_group("web")


def test_api_answers_what_the_cli_prints(server: Server) -> None:
    for path, expected in server.local.items():
        got = server.get(path)
        assert got.status_code == 200, (path, got.text)
        assert got.headers["content-type"] == "application/json"
        same(got.json(), expected, path)  # floats summed in parallel may differ in the last bits


def test_cli_goes_through_the_server_while_it_runs(server: Server) -> None:
    # the server owns the DuckDB file: these would fail to open it, so they must go through the API
    same(cli_json(server.root, "streams"), server.local["/api/v1/streams"])
    kpis = cli_json(server.root, "kpis", "order-to-cash", "--by", "region", "--period", "month")
    same(kpis, server.local["/api/v1/streams/order-to-cash/kpis?by=region&period=month"])  # floats: last bits
    table = cli(server.root, "bottlenecks", "order-to-cash").stdout
    assert "slowest transitions" in table


def test_filters_change_the_numbers(server: Server) -> None:
    everything = server.get("/api/v1/streams/order-to-cash/durations").json()
    north = server.get("/api/v1/streams/order-to-cash/durations", params={"where": "region=North"}).json()
    slow = server.get("/api/v1/streams/order-to-cash/durations", params={"min_duration": "30d"}).json()
    assert 0 < north["cases"] < everything["cases"]
    assert 0 < slow["cases"] < everything["cases"]
    assert slow["min_seconds"] >= 30 * 86400


def test_drill_down_to_cases_and_a_timeline(server: Server) -> None:
    b = server.get("/api/v1/streams/order-to-cash/bottlenecks?top=1").json()["transitions"][0]
    cases = server.get(
        "/api/v1/streams/order-to-cash/cases", params={"source": b["source"], "target": b["target"], "limit": 5}
    ).json()
    assert cases["total"] == b["cases"]
    first = cases["cases"][0]
    durations = [c["duration_seconds"] for c in cases["cases"]]
    assert durations == sorted(durations, reverse=True)
    timeline = server.get(f"/api/v1/streams/order-to-cash/cases/{first['case_id']}").json()
    assert timeline["case"]["case_id"] == first["case_id"]
    acts = [e["activity"] for e in timeline["events"]]
    assert [b["source"], b["target"]] in [acts[i : i + 2] for i in range(len(acts) - 1)]


@pytest.mark.parametrize(
    ("path", "field", "status"),
    [
        ("/api/v1/streams/order-to-cash/variants?top=0", "top", 422),
        ("/api/v1/streams/order-to-cash/kpis?period=year", "period", 422),
        ("/api/v1/streams/order-to-cash/cases?limit=abc", "limit", 422),
    ],
)
def test_bad_input_is_a_422_naming_the_field(server: Server, path: str, field: str, status: int) -> None:
    r = server.get(path)
    assert r.status_code == status
    assert r.json()["error"]["field"] == field


def test_errors_are_json_with_a_hint(server: Server) -> None:
    r = server.get("/api/v1/streams/no-such-stream/map")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "StreamNotFoundError"
    assert "order-to-cash" in err["message"]
    r = server.get("/api/v1/streams/order-to-cash/durations", params={"where": "colour=red"})
    assert r.status_code == 422
    assert "region" in r.json()["error"]["hint"]  # lists the attributes it has
    r = server.get("/api/v1/streams/order-to-cash/kpis", params={"by": "colour"})
    assert r.status_code == 422
    r = server.get("/api/v1/streams/order-to-cash/cases/SO-nope")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "CaseNotFoundError"
    r = server.get("/api/v1/nothing-here")
    assert r.status_code in (401, 404)


def test_tokens_can_be_made_and_revoked_over_the_api(server: Server) -> None:
    made = server.request("POST", "/api/v1/tokens", role="admin", json={"role": "viewer", "name": "wallboard"})
    assert made.status_code == 201
    token = made.json()["token"]
    ok = server.get("/api/v1/streams", role=None, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    listed = server.get("/api/v1/tokens", role="admin").json()
    assert any(t["name"] == "wallboard" for t in listed)
    assert all("secret_hash" not in t and "token" not in t for t in listed)
    gone = server.request("DELETE", f"/api/v1/tokens/{made.json()['id']}", role="admin")
    assert gone.status_code == 200
    assert gone.json()["revoked_at"]
    after = server.get("/api/v1/streams", role=None, headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401
    bad = server.request("POST", "/api/v1/tokens", role="admin", json={"role": "boss"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "role"


def test_jobs_through_the_server_keep_the_filters(server: Server) -> None:
    """Forecast and simulate run as jobs (POST): the command line's filters travel in the body."""
    every = cli_json(server.root, "forecast", "order-to-cash", "--horizon", "7", "--quiet")
    north = cli_json(server.root, "forecast", "order-to-cash", "--horizon", "7", "--where", "region=North", "--quiet")
    total = sum(p["mean"] for p in every["series"][0]["forecast"])  # type: ignore[index]
    part = sum(p["mean"] for p in north["series"][0]["forecast"])  # type: ignore[index]
    assert 0 < part < 0.8 * total
    args = ("simulate", "order-to-cash", "--replications", "1", "--quiet")
    sim_all = cli_json(server.root, *args)
    sim_north = cli_json(server.root, *args, "--where", "region=North")
    weekly = sim_all["actual"]["throughput_per_week"]  # type: ignore[index]
    assert 0 < sim_north["actual"]["throughput_per_week"] < 0.8 * weekly  # type: ignore[index]
