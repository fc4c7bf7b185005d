"""A sweep of the JSON API with hostile values (issue 13): every route and parameter read from
`/openapi.json`, each given dates far out of range, negative and huge numbers, SQL in `where`,
very long strings, unicode, NUL bytes and repeated parameters, alone and all at once.

Every answer must be a 200 or a 4xx in the API's error shape (`northstar.web.errors`), never a
500, and come within a bounded time. The short sweep runs in the suite (a few hundred requests,
well under a minute); `NORTHSTAR_FUZZ=long` adds a hypothesis run of random text in every
parameter (`NORTHSTAR_FUZZ_EXAMPLES`, default 2,000 per route).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from northstar.demo import generate_demo
from northstar.web import create_app

LONG = os.environ.get("NORTHSTAR_FUZZ", "") == "long"
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"
SECONDS = 20.0  # the slowest answer allowed (the heaviest valid request on this demo takes ~1 s)

HOSTILE = [
    "", " ", "0001-01-01", "9999-12-31", "0000-00-00", "99999-01-01", "2026-02-30", "1900-01-01T25:00",
    "-1", "-99999999999999999999", "1" + "0" * 400, "1e309", "NaN", "-inf", "true", "null", "[]", "{}",
    "' OR 1=1 --", "1; DROP TABLE events", "country = 'DE' OR 1/0 = 1", "CAST(country AS int) > 1",
    "TRY_CAST(country AS int) = 1", "1%0", "read_csv('/etc/hostname') IS NOT NULL", "(" * 300,
    " OR ".join(f"country = 'c{i}'" for i in range(600)), "x" * 20_000, "ünïcødé 🚀 北极星", "a\x00b", "\x00",
    "../../etc/passwd", "%00", "listening_minutes,listening_minutes,,", "day", "week,month", "country,country",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("fuzz") / "demo"
    generate_demo(folder, users=300)
    with TestClient(create_app(folder / "northstar.yml"), raise_server_exceptions=False) as client:
        yield client


def routes(client: TestClient) -> dict[str, list[dict]]:
    """Every GET route of the API and its query parameters, from the OpenAPI document."""
    document = client.get("/openapi.json").json()
    return {path: ops["get"].get("parameters", []) for path, ops in document["paths"].items() if "get" in ops}


def valid_base(parameters: list[dict]) -> dict[str, str]:
    """A valid value for each required parameter (only `metrics` is required today)."""
    known = {"metrics": "listening_minutes"}
    base = {}
    for parameter in parameters:
        if parameter.get("required"):
            assert parameter["name"] in known, f"no valid value known for required {parameter['name']}"
            base[parameter["name"]] = known[parameter["name"]]
    return base


def check(client: TestClient, path: str, params: list[tuple[str, str]], tally: Counter[str]) -> None:
    """One request: a 200 or a 4xx in the error shape, within SECONDS."""
    started = time.monotonic()
    response = client.get(path, params=params)
    took = time.monotonic() - started
    what = f"GET {path} {[(k, v[:60]) for k, v in params]}"
    assert took < SECONDS, f"{what}: {took:.1f} s"
    tally["tried"] += 1
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:400]}"
    if status == 200:
        tally["ok"] += 1
        if response.headers["content-type"].startswith("application/json"):
            json.loads(response.content)  # strict: no NaN or Infinity
        return
    tally["clean errors"] += 1
    body = response.json()
    assert set(body) == {"error"}, f"{what}: {body}"
    error = body["error"]
    assert error["status"] == status and isinstance(error["code"], str) and error["code"], f"{what}: {error}"
    message = error["message"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message, what
    assert len(message) < 2_000, f"{what}: a {len(message)}-character message"
    if error.get("parameter") is not None:
        assert error["parameter"] in {p for p, _ in params} | {"metrics", "metric", "period", "from", "to", "by"}, error


def test_every_route_and_parameter_with_hostile_values(client: TestClient) -> None:
    tally: Counter[str] = Counter()
    found = routes(client)
    assert len(found) >= 13 and sum(len(p) for p in found.values()) >= 30  # the sweep reads them all
    for path, parameters in found.items():
        base = valid_base(parameters)
        names = [p["name"] for p in parameters]
        for name in names:
            for value in HOSTILE:
                check(client, path, list({**base, name: value}.items()), tally)
            check(client, path, [*base.items(), (name, FIRST_DAY), (name, LAST_DAY), (name, "a\x00b")], tally)
        check(client, path, [*base.items(), ("unknown", "x"), ("token", "\x00")], tally)
        if names:  # every parameter hostile at once, then with the two ends of the calendar
            check(client, path, [*base.items(), *[(n, "CAST(country AS int) > 1") for n in names]], tally)
            check(client, path, [*base.items(), *[(n, LAST_DAY if i % 2 else FIRST_DAY) for i, n in enumerate(names)]],
                  tally)
    print(f"\nAPI sweep: {tally['tried']} requests, {tally['ok']} answered 200, {tally['clean errors']} clean 4xx "
          "errors, 0 internal errors")
    assert tally["tried"] >= 1_000 and tally["clean errors"] > tally["ok"]


def test_raw_paths_and_encodings(client: TestClient) -> None:
    """What a client library would not send: raw NUL and percent-encoded garbage in the query,
    invalid UTF-8, a huge query string, an unknown method."""
    tally: Counter[str] = Counter()
    for raw in ["/api/series?metrics=%00", "/api/series?metrics=listening_minutes&where=%FF%FE",
                "/api/series?metrics=listening_minutes&from=%C0%AF", "/api/tree?period=%E2%80%AE2026-01-01",
                "/api/series?metrics=listening_minutes&" + "by=country&" * 2_000,
                "/api/explain?by=" + "%2C" * 5_000, "/api/series?metrics=" + "a," * 10_000]:
        started = time.monotonic()
        response = client.get(raw)
        assert time.monotonic() - started < SECONDS, raw[:80]
        assert response.status_code < 500, (raw[:80], response.text[:300])
        tally["tried"] += 1
        if response.status_code >= 400:
            assert response.json()["error"]["status"] == response.status_code
    response = client.request("DELETE", "/api/series?metrics=listening_minutes")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_random_fuzz(client: TestClient) -> None:
    """Random text (any code point, NUL included) and calendar edges in every parameter of every
    route: 15 requests a route in CI, 2,000 (`NORTHSTAR_FUZZ_EXAMPLES`) with NORTHSTAR_FUZZ=long."""
    found = routes(client)
    examples = int(os.environ.get("NORTHSTAR_FUZZ_EXAMPLES", "2000")) if LONG else 15
    tally: Counter[str] = Counter()
    values = st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE),
                       st.dates().map(lambda d: d.isoformat()), st.integers().map(str))
    for path, parameters in found.items():
        base = valid_base(parameters)
        names = [p["name"] for p in parameters] or ["unknown"]

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(st.lists(st.tuples(st.sampled_from(names), values), max_size=len(names) + 2))
        def run(pairs: list[tuple[str, str]]) -> None:
            assume(len(urlencode(pairs)) < 60_000)  # httpx refuses to send a longer query
            check(client, path, [*base.items(), *pairs], tally)

        run()
    print(f"\nrandom API fuzz: {tally['tried']} requests, {tally['ok']} answered 200, {tally['clean errors']} clean "
          "4xx errors, 0 internal errors")
