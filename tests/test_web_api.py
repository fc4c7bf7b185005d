"""The web app's JSON API, its errors, token, cache, docs and the `serve` command, on the demo."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from northstar.demo import generate_demo
from northstar.engine.time import same_period_last_year
from northstar.errors import DataError, QueryError, SpecError
from northstar.i18n import catalogue, missing_keys
from northstar.output import frame_records
from northstar.project import Project
from northstar.web import create_app

from engines.parity import assert_same
from northstar.web.auth import COOKIE, RedactTokens
from northstar.web.errors import from_query_error
from northstar.web.forecast import forecast
from northstar.web.service import DashboardService, jsonable

ROUTES = ["/api/metrics", "/api/series?metrics=listening_minutes,active_listeners&grain=month&compare=true",
          "/api/series.csv?metrics=listening_minutes&by=platform", "/api/tree", "/api/tree?period=2026-06-03",
          "/api/explain", "/api/explain?metric=active_listeners&vs=year&by=platform", "/api/checks", "/api/funnel",
          "/api/funnel?by=platform", "/api/cohorts", "/api/cohorts?metric=active_listeners&grain=month",
          "/api/focus", "/api/guardrails?period=2026-06-03", "/api/targets", "/api/overview"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web") / "demo"
    generate_demo(folder, users=800)
    return folder


@pytest.fixture(scope="module")
def project(demo_dir: Path) -> Project:
    return Project.load(demo_dir / "northstar.yml")


@pytest.fixture(scope="module")
def client(demo_dir: Path) -> TestClient:
    return TestClient(create_app(demo_dir / "northstar.yml"), raise_server_exceptions=False)


@pytest.fixture
def copy_dir(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo, for tests that edit the spec or the data."""
    target = tmp_path / "demo"
    shutil.copytree(demo_dir, target, ignore=shutil.ignore_patterns(".northstar"))
    return target


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORTHSTAR_TOKEN", raising=False)


def assert_error(response: httpx.Response, status: int, code: str | None = None, parameter: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "parameter", "message"}
    error = body["error"]
    assert error["status"] == status
    assert "\n" not in error["message"] and "Traceback" not in response.text and 'File "' not in response.text
    if code:
        assert error["code"] == code, error
    if parameter:
        assert error["parameter"] == parameter, error
        assert error["message"].startswith(f"{parameter}:"), error
    return error


def _finite(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)


# ---- every route with good input, and the Project's own numbers -------------------------------

@pytest.mark.parametrize("url", ROUTES)
def test_every_route_answers(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text
    if url.startswith("/api/series.csv"):
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text.splitlines()[0] == "period,period_status,platform,listening_minutes"
    else:
        _finite(json.loads(response.text))  # strict JSON: NaN would not even parse as a float here


def test_series_rows_are_the_projects_query(client: TestClient, project: Project) -> None:
    body = client.get("/api/series?metrics=listening_minutes,active_listeners&grain=month&by=platform"
                      "&from=2025-01-01&to=2025-12-31&compare=true&where=country%20%3D%20%27NL%27").json()
    frame = project.query(["listening_minutes", "active_listeners"], grain="month", by=["platform"],
                          where="country = 'NL'", start="2025-01-01", end="2025-12-31", compare=True)
    frame = project.with_status(frame, ["listening_minutes", "active_listeners"], "month")
    assert_same(body["rows"], jsonable(frame_records(frame)))
    assert body["review"] == jsonable(project.review_period().to_dict())
    assert body["metrics"] == ["listening_minutes", "active_listeners"] and body["by"] == ["platform"]
    assert body["grain"] == "month" and len(body["rows"]) == 12 * frame["platform"].nunique() > 12
    csv = client.get("/api/series.csv?metrics=listening_minutes&metrics=active_listeners").text
    assert csv.splitlines()[0] == "period,period_status,listening_minutes,active_listeners"
    assert len(csv.splitlines()) == len(project.query(["listening_minutes"])) + 1


def test_results_are_the_projects_own(client: TestClient, project: Project) -> None:
    # Equal to 1e-9, not bit for bit: the API computes with its own Project, and DuckDB's parallel
    # SUM adds floats in no fixed order, so two computations of one sum may differ in the last bits
    # (114.39 vs 114.38999999999999 for revenue, 19742.2069 vs 19742.206900000034 for minutes).
    assert_same(client.get("/api/tree").json(), jsonable(project.tree().to_dict()))
    assert_same(client.get("/api/tree?period=2026-06-03").json(), jsonable(project.tree("2026-06-03").to_dict()))
    assert_same(client.get("/api/explain?vs=year").json(), jsonable(project.explain(vs="year").to_dict()))
    assert_same(client.get("/api/checks").json(), jsonable(project.check().to_dict()))
    assert_same(client.get("/api/funnel").json(), jsonable(project.funnel().to_dict()))
    assert_same(client.get("/api/cohorts?metric=active_listeners&grain=month&from=2025-01-01").json(),
                jsonable(project.cohorts("active_listeners", "month", "2025-01-01").to_dict()))
    review = jsonable(project.review_period().to_dict())
    assert_same(client.get("/api/focus").json(), {"review": review,
                                                  "focus": jsonable([f.to_dict() for f in project.focus()])})
    assert_same(client.get("/api/guardrails").json(),
                {"review": review, "guardrails": jsonable([g.to_dict() for g in project.guardrails()])})
    assert_same(client.get("/api/targets?method=proportional").json(),
                jsonable(project.targets(method="proportional").to_dict()))
    metrics = client.get("/api/metrics").json()
    assert [m["name"] for m in metrics["metrics"]] == list(project.spec.metrics)
    assert metrics["north_star"] == "listening_minutes" and metrics["grain"] == "week"
    # `show` is a column of the podcasts' own source (north_star: podcasts): theirs, not the primary's
    assert metrics["dimensions"] == ["country", "platform", "plan", "channel", "first_channel"]
    podcasts = client.get("/api/metrics?north_star=podcasts").json()
    assert podcasts["north_star"] == "podcast_minutes" and "show" in podcasts["dimensions"]
    by_name = {m["name"]: m for m in metrics["metrics"]}
    assert by_name["minutes_per_listener"]["kind"] == "formula" and by_name["minutes_per_listener"]["in_tree"]
    assert by_name["minutes_per_listener"]["dimensions"] == ["country", "platform", "plan", "channel"]
    assert by_name["revenue"]["tags"] == ["revenue"] and not by_name["revenue"]["in_tree"]


def test_overview(client: TestClient, project: Project) -> None:
    body = client.get("/api/overview").json()
    tree = project.tree()
    ns = body["north_star"]
    assert body["project"] == "Tunewave"
    assert_same(body["tree"], jsonable(tree.to_dict()))
    assert ns["metric"] == "listening_minutes" and ns["period"] == tree.period.isoformat()
    assert ns["value"] == pytest.approx(tree.root.value) and ns["previous"] == pytest.approx(tree.root.previous)
    assert ns["target"] == {"value": 40000.0, "by": "2026-12-31"} and ns["history"][0]["metric"] == "active_listeners"
    weekly = project.query(["listening_minutes"]).set_index("period")["listening_minutes"]
    assert ns["last_year"] == pytest.approx(weekly[same_period_last_year(tree.period, "week")])
    assert ns["change_pct_year"] == pytest.approx(ns["value"] / ns["last_year"] - 1)
    periods = [row["period"] for row in body["series"]]
    assert periods[0] == "2024-11-11" and periods[-1] == tree.period.isoformat()  # complete periods only
    assert len(body["forecast"]) == 8 and body["forecast"][0]["period"] == "2026-11-02"
    assert all(p["lower"] < p["value"] < p["upper"] for p in body["forecast"])
    assert body["checks"] == project.check().counts
    assert body["explanation"] == project.explain().summary
    assert [g["metric"] for g in body["guardrails"]] == [g.metric for g in project.spec.guardrails]
    assert [f["team"] for f in body["focus"]] == ["Growth", "Product"]


# ---- errors ---------------------------------------------------------------------------------

BAD = [
    ("/api/series?metrics=listening_minutes&grain=yearly", 400, "grain"),
    ("/api/series?metrics=listening_minutes&from=2026-13-01", 400, "from"),
    ("/api/series?metrics=listening_minutes&to=soon", 400, "to"),
    ("/api/series?metrics=listening_minutes&from=2026-02-01&to=2026-01-01", 400, "from"),
    ("/api/series?metrics=listening_minutes&by=nation", 400, "by"),
    ("/api/series?metrics=listening_minutes&by=first_channel", 400, "by"),
    ("/api/series?metrics=listening_minutes&where=nation%20%3D%201", 400, "where"),
    ("/api/series?metrics=listening_minutes&where=(((", 400, "where"),
    ("/api/series?metrics=listening_minutes&compare=maybe", 400, "compare"),
    ("/api/series", 400, "metrics"),
    ("/api/series?metrics=,", 400, "metrics"),
    ("/api/series.csv?metrics=listening_minutes&grain=hour", 400, "grain"),
    ("/api/series.csv", 400, "metrics"),
    ("/api/tree?period=yesterday", 400, "period"),
    ("/api/explain?period=2026-02-30", 400, "period"),
    ("/api/explain?vs=lastweek", 400, "vs"),
    ("/api/explain?by=nation", 400, "by"),
    ("/api/explain?period=2030-01-01", 400, "period"),
    ("/api/funnel?period=x", 400, "period"),
    ("/api/funnel?by=nation", 400, "by"),
    ("/api/funnel?by=platform,country", 400, "by"),
    ("/api/cohorts?grain=yearly", 400, "grain"),
    ("/api/cohorts?from=x", 400, "from"),
    ("/api/cohorts?partial=perhaps", 400, "partial"),
    ("/api/cohorts?metric=revenue", 400, "metric"),
    ("/api/focus?period=x", 400, "period"),
    ("/api/guardrails?period=x", 400, "period"),
    ("/api/targets?method=magic", 400, "method"),
]


@pytest.mark.parametrize("url,status,parameter", BAD, ids=[b[0] for b in BAD])
def test_bad_parameters_are_400_naming_them(client: TestClient, url: str, status: int, parameter: str | None) -> None:
    assert_error(client.get(url), status, "bad_parameter", parameter)


@pytest.mark.parametrize("url,parameter", [("/api/series?metrics=listening_minutes,lisening_minutes", "metrics"),
                                           ("/api/series.csv?metrics=nope", "metrics"),
                                           ("/api/explain?metric=nope", "metric"),
                                           ("/api/cohorts?metric=nope", "metric")])
def test_unknown_metric_is_404(client: TestClient, url: str, parameter: str) -> None:
    error = assert_error(client.get(url), 404, "unknown_metric", parameter)
    assert "Did you mean 'listening_minutes'" in error["message"] or "nope" in error["message"]


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/api/nope"), 404, "not_found")
    assert_error(client.get("/nothing/here"), 404, "not_found")
    assert_error(client.get("/redoc"), 404, "not_found")  # FastAPI's CDN-backed pages are off
    assert_error(client.post("/api/tree"), 405, "method_not_allowed")


def test_no_target_is_404(copy_dir: Path) -> None:
    spec = copy_dir / "northstar.yml"
    spec.write_text(spec.read_text().replace("    target: {value: 40000, by: 2026-12-31}\n", ""))
    with TestClient(create_app(spec)) as client:
        assert_error(client.get("/api/targets"), 404, "no_target")


def test_internal_errors_have_the_shape_and_no_traceback(demo_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(demo_dir / "northstar.yml"), raise_server_exceptions=False)

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals\nline two")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise DataError("source 'events': cannot read data/events.parquet")

    monkeypatch.setattr(Project, "tree", boom)
    with caplog.at_level(logging.ERROR, logger="northstar.web"):
        error = assert_error(client.get("/api/tree"), 500, "internal_error")
    assert "RuntimeError" in error["message"] and "secret internals" not in error["message"]
    assert "secret internals" in caplog.text  # the details go to the server's log
    assert_error(client.get("/api/overview"), 500, "internal_error")
    monkeypatch.setattr(Project, "funnel", broken)
    error = assert_error(client.get("/api/funnel"), 500, "data_error")
    assert error["message"] == "source 'events': cannot read data/events.parquet"


def test_a_spec_broken_while_serving_is_a_spec_error(copy_dir: Path) -> None:
    spec = copy_dir / "northstar.yml"
    client = TestClient(create_app(spec))
    assert client.get("/api/tree").status_code == 200
    good = spec.read_text()
    spec.write_text(good.replace("agg: count_distinct\n", "agg: count_distinctt\n", 1))
    error = assert_error(client.get("/api/tree"), 500, "spec_error")
    assert "count_distinctt" in error["message"] and "northstar.yml:" in error["message"]
    spec.write_text(good + "\n")
    assert client.get("/api/tree").status_code == 200


# ---- the token --------------------------------------------------------------------------------

def test_token(demo_dir: Path) -> None:
    token = "tok-3xJ9-secret"
    client = TestClient(create_app(demo_dir / "northstar.yml", token=token))
    for url in ("/api/metrics", "/api/nope", "/docs", "/openapi.json", "/"):
        assert_error(client.get(url), 401, "unauthorized")
    assert_error(client.get("/api/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(client.get("/api/metrics?token=wrong"), 401, "unauthorized")
    page = client.get("/tree", headers={"accept": "text/html"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert "Token required" in page.text and token not in page.text
    assert client.get("/api/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert_error(client.get("/api/nope", headers={"Authorization": f"Bearer {token}"}), 404, "not_found")
    response = client.get(f"/docs?token={token}")
    assert response.status_code == 200 and token not in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert token not in cookie
    assert client.get("/api/overview").status_code == 200  # the cookie passes now
    assert token not in client.get("/api/overview").text and token not in client.get("/openapi.json").text
    fresh = TestClient(create_app(demo_dir / "northstar.yml", token=token))
    fresh.cookies.set(COOKIE, "forged")
    assert_error(fresh.get("/api/metrics"), 401, "unauthorized")


def test_token_from_environment_and_spec(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = copy_dir / "northstar.yml"
    assert TestClient(create_app(spec)).get("/api/metrics").status_code == 200  # no token: open
    monkeypatch.setenv("NORTHSTAR_TOKEN", "from-env")
    client = TestClient(create_app(spec))
    assert client.get("/api/metrics").status_code == 401
    assert client.get("/api/metrics", headers={"Authorization": "Bearer from-env"}).status_code == 200
    monkeypatch.delenv("NORTHSTAR_TOKEN")
    spec.write_text(spec.read_text() + "web:\n  port: 8123\n  token: ${TUNEWAVE_TOKEN}\n")
    with pytest.raises(SpecError) as caught:
        create_app(spec)
    assert str(caught.value).count("\n") == 0 and "TUNEWAVE_TOKEN" in str(caught.value)
    assert re.search(r"northstar\.yml:\d+: web\.token: the environment variable TUNEWAVE_TOKEN is not set",
                     str(caught.value))
    monkeypatch.setenv("TUNEWAVE_TOKEN", "from-spec")
    client = TestClient(create_app(spec))
    assert client.get("/api/metrics").status_code == 401
    assert client.get("/api/metrics?token=from-spec").status_code == 200


def test_unknown_web_key_is_a_spec_error(copy_dir: Path) -> None:
    spec = copy_dir / "northstar.yml"
    spec.write_text(spec.read_text() + "web:\n  tokn: x\n")
    with pytest.raises(SpecError, match="unknown key 'tokn' in 'web'. Did you mean 'token'"):
        Project.load(spec)


@pytest.mark.parametrize("message,status,parameter,text", [
    ("--from 2026-02-01 is after --to 2026-01-01", 400, "from", "from: 2026-02-01 is after to 2026-01-01"),
    ("--period: 'x' is not a date; write YYYY-MM-DD", 400, "period", "period: 'x' is not a date; write YYYY-MM-DD"),
    ("unknown grain 'hour': use one of day, week", 400, "grain", "grain: unknown grain 'hour': use one of day, week"),
    ("unknown metric 'x'. Did you mean 'y'?", 404, "metric", "metric: unknown metric 'x'. Did you mean 'y'?"),
    ("the data holds no events", 400, None, "the data holds no events"),
])
def test_query_errors_name_their_parameter(message: str, status: int, parameter: str | None, text: str) -> None:
    mapped = from_query_error(QueryError(message))
    assert (mapped.status, mapped.parameter, mapped.message) == (status, parameter, text)


def test_tokens_are_masked_in_logs() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", "/api/tree?period=x&token=abc123&lang=nl", "1.1", 200), None)
    RedactTokens().filter(record)
    assert "abc123" not in record.getMessage() and "token=***&lang=nl" in record.getMessage()


# ---- the cache ----------------------------------------------------------------------------------

def _count(monkeypatch: pytest.MonkeyPatch, name: str, delay: float = 0.0) -> list[int]:
    calls = [0]
    original = getattr(Project, name)

    def counted(self: Project, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        time.sleep(delay)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Project, name, counted)
    return calls


def test_results_are_cached_and_refreshed(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count(monkeypatch, "tree")
    spec = copy_dir / "northstar.yml"
    client = TestClient(create_app(spec))
    service: DashboardService = client.app.state.service  # type: ignore[attr-defined]
    first = client.get("/api/tree").json()
    assert client.get("/api/tree").json() == first and calls[0] == 1
    client.get("/api/overview")
    client.get("/api/overview")
    # the overview reuses the tree; its one more is the demo's second North Star's (podcasts), for its card
    assert calls[0] == 2 and service.computed["overview"] == 1
    spec.write_text(spec.read_text().replace("owner: Leadership", "owner: The board"))  # edit the spec
    assert client.get("/api/tree").json()["root"]["owner"] == "The board" and calls[0] == 3
    assert service.reloads == 1
    data = copy_dir / "data" / "events.parquet"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touch the data
    assert client.get("/api/tree").json()["root"]["owner"] == "The board" and calls[0] == 4
    assert client.get("/api/tree").status_code == 200 and calls[0] == 4


def test_concurrent_identical_requests_compute_once(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count(monkeypatch, "tree", delay=0.3)
    client = TestClient(create_app(copy_dir / "northstar.yml"))
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(client.get("/api/tree").status_code))
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20 and calls[0] == 1


# ---- documentation --------------------------------------------------------------------------

def test_docs_page_is_self_contained_and_complete(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.findall(r"https?://", page.text) == []
    assert not re.search(r"<script|<link|src=|@import", page.text)
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/api/metrics", "/api/series", "/api/series.csv", "/api/tree", "/api/explain", "/api/checks",
            "/api/funnel", "/api/cohorts", "/api/focus", "/api/guardrails", "/api/targets",
            "/api/overview"} <= set(paths)
    for path, operation in ((p, o) for p, item in paths.items() for o in item.values()):
        method = next(m for m, o in paths[path].items() if o is operation).upper()
        assert f"{method} {path}</code>" in page.text
        assert "422" not in operation["responses"] and "500" in operation["responses"]
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (path, parameter["name"])
            assert f"<code>{parameter['name']}</code>" in page.text
            assert parameter["description"].replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") \
                in page.text
    assert "in_tree" in page.text and "change_pct_year" in page.text and "ErrorDetail" in page.text
    assert "HTTPValidationError" not in json.dumps(spec)
    dutch = client.get("/docs?lang=nl").text
    assert "API-documentatie" in dutch and "Parameters" in dutch


def test_api_texts_are_translated() -> None:
    keys = [k for k in catalogue("en") if k.startswith("api.")]
    assert keys
    missing = missing_keys()
    assert not [k for lang in missing for k in missing[lang] if k.startswith("api.")]
    for lang in ("nl", "sv"):
        assert all(catalogue(lang)[k] != catalogue("en")[k] for k in keys if k not in (
            "api.docs.parameters", "api.docs.parameter", "api.docs.type"))


# ---- the forecast ---------------------------------------------------------------------------

def test_forecast_is_a_log_linear_trend_with_a_band() -> None:
    import datetime as dt

    start = dt.date(2026, 1, 5)
    periods = [start + dt.timedelta(weeks=i) for i in range(30)]
    noise = [0.02 * (-1) ** i for i in range(30)]
    values = [100 * 1.02 ** i * math.exp(e) for i, e in enumerate(noise)]
    band = forecast(periods, values, "week")
    assert [b["period"] for b in band] == [(periods[-1] + dt.timedelta(weeks=k)).isoformat() for k in range(1, 9)]
    for step, point in enumerate(band, start=1):
        assert point["value"] == pytest.approx(100 * 1.02 ** (29 + step), rel=0.02)
        assert point["lower"] < point["value"] < point["upper"]
    widths = [b["upper"] / b["lower"] for b in band]
    assert widths == sorted(widths)  # wider further out
    assert forecast(periods[:11], values[:11], "week") == []
    with_zero = forecast(periods, values[:-1] + [0.0], "week")  # an outage week: still a band, never below 0
    assert len(with_zero) == 8 and all(0 <= p["lower"] <= p["value"] <= p["upper"] and p["lower"] < p["upper"]
                                       for p in with_zero)
    assert len(forecast(periods[:12], values[:12], "week")) == 8


# ---- the commands -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_and_get(args: list[str], port: int, cwd: Path, timeout: float = 90) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NORTHSTAR_TOKEN"}
    process = subprocess.Popen([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answer: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not answer:
            if process.poll() is not None:
                pytest.fail(f"the server exited: {process.stderr.read() if process.stderr else ''}")
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/metrics", timeout=10)
                answer = {"status": response.status_code, "body": response.json()}
            except httpx.TransportError:
                time.sleep(0.3)
    finally:
        process.terminate()
        try:
            _out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
    assert answer, f"the server did not answer in time: {err}"
    assert "Traceback" not in err, err
    assert f"Uvicorn running on http://127.0.0.1:{port}" in err  # loopback only, by default
    return answer


def test_serve_starts_uvicorn_on_localhost(demo_dir: Path) -> None:
    port = _free_port()
    answer = _serve_and_get(["-f", str(demo_dir / "northstar.yml"), "serve", "--port", str(port)], port, demo_dir)
    assert answer["status"] == 200 and answer["body"]["north_star"] == "listening_minutes"
    from northstar.cli.web import _check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(Exception, match="already in use"):
            _check_port("127.0.0.1", busy.getsockname()[1])


def test_demo_serve(tmp_path: Path) -> None:
    port = _free_port()
    answer = _serve_and_get(["demo", "--dir", str(tmp_path / "d"), "--users", "100", "--serve", "--port", str(port)],
                            port, tmp_path)
    assert answer["status"] == 200 and answer["body"]["north_star"] == "listening_minutes"


# ---- alerts --------------------------------------------------------------------------------------

SECRET_URL = "https://hooks.slack.com/services/T000/B000/very-secret-token"


def _alert(key: str, title: str, severity: str = "warning") -> dict:
    kind, metric, period = key.split(":")
    return {"key": key, "kind": kind, "metric": metric, "label": metric, "period": period, "title": title,
            "value": 1.0, "expected": 2.0, "lower": 1.5, "upper": 2.5, "why": ["Minutes per listener -10%"],
            "link": f"http://127.0.0.1:8000/metric/{metric}?period={period}", "severity": severity}


def test_alerts_lists_the_state_with_each_delivery_and_no_secret(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SECRET_URL)
    spec = copy_dir / "northstar.yml"
    spec.write_text(spec.read_text() + """
alerts:
  channels:
    team-slack: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
    ops-mail: {type: email, host: 127.0.0.1, sender: a@example.org, to: [b@example.org], password: hunter2-secret}
  rules:
    - {channels: [team-slack, ops-mail]}
  digest: {channel: team-slack, weekday: monday, time: "09:00"}
""")
    delivered = _alert("anomaly:listening_minutes:2026-01-19", "Listening minutes rose 40%", "critical")
    failed = _alert("guardrail:trial_conversion:2026-03-02", "Trial conversion below its min")
    pending = _alert("anomaly:revenue:2025-06-09", "Revenue fell 100%")
    state = {
        "version": 1,
        "recorded": {a["key"]: {**a, "message_key": a["key"]} for a in (delivered, failed)},
        "deliveries": {
            f"team-slack {delivered['key']}": {"message_key": delivered["key"], "channel": "team-slack",
                                               "status": "delivered", "attempts": 1, "error": None,
                                               "at": "2026-01-26T09:00:00+00:00", "retryable": False},
            f"team-slack {failed['key']}": {"message_key": failed["key"], "channel": "team-slack", "status": "failed",
                                            "attempts": 4, "error": f"HTTP 500 from {SECRET_URL}",
                                            "at": "2026-03-09T09:00:00+00:00", "retryable": True,
                                            "message": {"key": failed["key"], "title": failed["title"], "text": "",
                                                        "alerts": [failed]}},
            f"ops-mail {failed['key']}": {"message_key": failed["key"], "channel": "ops-mail", "status": "failed",
                                          "attempts": 1, "error": "SMTP login refused for hunter2-secret",
                                          "at": "2026-03-09T09:00:00+00:00", "retryable": False},
            f"team-slack {pending['key']}": {"message_key": pending["key"], "channel": "team-slack", "status": "pending",
                                             "attempts": 0, "error": None, "at": "2025-06-16T09:00:00+00:00",
                                             "retryable": True,
                                             "message": {"key": pending["key"], "title": pending["title"], "text": "",
                                                         "alerts": [pending]}},
        },
        "alerts": {delivered["key"]: {"fired": "2026-01-26T09:00:00+00:00", "delivered": "2026-01-26T09:00:00+00:00"}},
        "schedule": {"monitor": {"last": "2026-03-09T10:00:00+00:00", "error": f"ConnectError: {SECRET_URL} refused",
                                 "alerts": 3},
                     "digest": {"slot": "2026-03-09T09:00:00+01:00", "at": "2026-03-09T08:00:30+00:00",
                                "channel": "team-slack", "status": "failed", "error": f"HTTP 500 from {SECRET_URL}"}},
    }
    (copy_dir / ".northstar").mkdir(exist_ok=True)
    (copy_dir / ".northstar" / "alerts.json").write_text(json.dumps(state))
    client = TestClient(create_app(spec), raise_server_exceptions=False)
    response = client.get("/api/alerts")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["anomalies"] is None
    alerts = body["alerts"]
    assert [a["key"] for a in alerts] == [failed["key"], delivered["key"], pending["key"]]  # newest period first
    by_key = {a["key"]: a for a in alerts}
    one = by_key[delivered["key"]]
    assert (one["kind"], one["metric"], one["period"], one["severity"]) == ("anomaly", "listening_minutes", "2026-01-19",
                                                                            "critical")
    assert one["title"] == delivered["title"] and one["why"] == delivered["why"] and one["link"] == delivered["link"]
    assert [(d["channel"], d["status"], d["attempts"]) for d in one["deliveries"]] == [("team-slack", "delivered", 1)]
    bad = {d["channel"]: d for d in by_key[failed["key"]]["deliveries"]}
    assert bad["team-slack"]["status"] == "failed" and bad["team-slack"]["attempts"] == 4
    assert bad["team-slack"]["error"].startswith("HTTP 500 from ")
    assert bad["ops-mail"]["status"] == "failed" and "SMTP login refused" in bad["ops-mail"]["error"]
    waiting = by_key[pending["key"]]
    assert waiting["title"] == "Revenue fell 100%" and waiting["deliveries"][0]["status"] == "pending"
    schedule = body["schedule"]  # what serve's scheduler last did, scrubbed like the rest
    assert schedule["every"] == "1h" and schedule["monitor"]["last"] == "2026-03-09T10:00:00+00:00"
    assert schedule["monitor"]["alerts"] == 3 and schedule["monitor"]["error"].startswith("ConnectError: ")
    digest = schedule["digest"]
    assert (digest["channel"], digest["weekday"], digest["time"]) == ("team-slack", "monday", "09:00")
    assert digest["last"]["status"] == "failed" and digest["last"]["error"].startswith("HTTP 500 from ")
    assert SECRET_URL not in response.text and "very-secret-token" not in response.text
    assert "hunter2-secret" not in response.text and "${SLACK_WEBHOOK_URL}" not in response.text


def test_alerts_with_a_metric_has_its_anomaly_marks(client: TestClient) -> None:
    body = client.get("/api/alerts", params={"metric": "revenue"}).json()
    marks = body["anomalies"]
    assert marks["metric"] == "revenue" and marks["grain"] == "week" and marks["points"]
    for p in marks["points"]:
        assert p["lower"] <= p["expected"] <= p["upper"]
        assert p["anomaly"] == (abs(p["score"]) >= marks["sensitivity"])
    assert any(p["anomaly"] for p in marks["points"])  # the payment outage around 2025-06-09
    periods = [p["period"] for p in marks["points"]]
    assert periods == sorted(periods) and len(periods) >= 26
    assert_error(client.get("/api/alerts", params={"metric": "nope"}), 404, "unknown_metric", "metric")
    empty = client.get("/api/alerts").json()
    assert empty["alerts"] == []  # the demo has no state yet
    assert empty["schedule"] == {"every": "1h", "monitor": None, "digest": None}
    schema = client.get("/openapi.json").json()
    assert "/api/alerts" in schema["paths"] and "AlertsResponse" in schema["components"]["schemas"]
