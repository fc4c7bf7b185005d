"""The dashboard's global controls in a real browser (Debian's Chromium through Playwright)
against a real uvicorn server on 127.0.0.1 with a token, serving the demo (800 users): the
header's segment filter (kept in the URL and in every link, a bad one showing the API's
one-line error), the rolling-window control on the overview and explain pages, and the alerts
page's state filter and acknowledge/snooze buttons (checked through /api/alerts and
`northstar alerts list`). One server and one browser for the module; the API's new parameters
are checked over real HTTP too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from test_web_pages import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Visit,
    _serve,
    _shot,
    _wait_for_chromium,
)

from northstar.demo import generate_demo
from northstar.project import Project
from northstar.web.service import jsonable

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "controls-t0ken"
DE = "country = 'DE'"
READY = 60_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("controls")
    generate_demo(folder, users=800)
    return folder


@pytest.fixture(scope="module")
def project(demo: Path) -> Project:
    return Project.load(demo / "northstar.yml")


@pytest.fixture(scope="module")
def base_url(demo: Path) -> Iterator[str]:
    with _serve(demo / "northstar.yml", token=TOKEN) as origin:
        yield origin


@pytest.fixture(scope="module")
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=120, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _wait_for_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    """One browser context for the module, holding the session cookie of `?token=`."""
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    page.goto(f"{base_url}/static/favicon.svg?token={TOKEN}")  # the dashboard opened with its token
    page.close()
    yield ctx
    ctx.close()


def _api_calls(visit: Visit, route: str) -> list[dict[str, list[str]]]:
    """The query of every call the page made to `route`."""
    return [parse_qs(urlparse(u).query) for u in visit.requests if urlparse(u).path == route]


def _shown(page: Page, value: float | None, unit: str | None) -> str:
    """The page's own formatting of a number (`NS.withUnit`)."""
    return page.evaluate("([v, u]) => NS.withUnit(v, u)", [value, unit])


def assert_error(response: httpx.Response, parameter: str) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "parameter", "message"}
    assert body["error"]["code"] == "bad_parameter" and body["error"]["parameter"] == parameter
    assert "\n" not in body["error"]["message"]
    return body["error"]


# ---- the API's new parameters -----------------------------------------------------------------------

def test_the_api_takes_where_and_window_on_overview_and_explain(api: httpx.Client, project: Project) -> None:
    segment = project.where(DE)
    whole = api.get("/api/overview").json()
    body = api.get("/api/overview", params={"where": DE}).json()
    tree = segment.tree()
    assert body["where"] == DE and body["north_star"]["value"] == tree.root.value
    assert body["north_star"]["value"] != whole["north_star"]["value"]
    assert body["tree"] == jsonable(tree.to_dict())
    assert body["checks"] == whole["checks"]  # the checks judge the spec on all customers, and say so
    assert body["notes"] == [f"for {DE}; the checks judge the spec on all customers"] and whole["notes"] == []
    assert body["explanation"] == segment.explain().summary
    assert body["guardrails"] == jsonable([g.to_dict() for g in segment.guardrails()])

    body = api.get("/api/overview", params={"window": "28d", "where": DE}).json()
    windowed = segment.tree(window="28d")
    frame = segment.window_values([project.spec.north_star.metric], "28d")[1]
    last_year = float(frame.loc[frame["window"] == "last_year", project.spec.north_star.metric].iloc[0])
    ns = body["north_star"]
    assert (ns["value"], ns["previous"], ns["last_year"]) == (windowed.root.value, windowed.root.previous, last_year)
    assert ns["change_pct_year"] == (ns["value"] - last_year) / abs(last_year)
    assert body["window"] == jsonable(windowed.window.to_dict())
    assert body["explanation"] == segment.explain(window="28d").summary
    assert body["series"] == api.get("/api/overview", params={"where": DE}).json()["series"]  # per period

    answer = api.get("/api/explain", params={"window": "7d", "vs": "year", "metric": "active_listeners"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == jsonable(project.explain("active_listeners", vs="year", window="7d").to_dict())

    assert assert_error(api.get("/api/explain", params={"window": "5d"}), "window")["message"] == \
        "window: '5d' is not one of 7d, 28d, mtd, qtd"
    assert_error(api.get("/api/overview", params={"window": "week"}), "window")
    assert_error(api.get("/api/explain", params={"window": "7d", "period": "2026-06-01"}), "window")
    assert_error(api.get("/api/explain", params={"window": "7d", "by": "country"}), "by")
    assert "nation" in assert_error(api.get("/api/overview", params={"where": "nation = 'DE'"}), "where")["message"]


# ---- the segment filter -------------------------------------------------------------------------------

def test_the_segment_filter_in_the_header(context: BrowserContext, base_url: str, api: httpx.Client,
                                          project: Project) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/tree")
    whole = api.get("/api/tree").json()
    page.fill("#where", DE)
    page.press("#where", "Enter")
    expect(page).to_have_url(re.compile(r"/tree\?where=country\+%3D\+%27DE%27$"))
    visit.wait_ready()
    expect(page.locator("#segment-shown")).to_have_text(f"Showing the customers where {DE}.")
    expected = api.get("/api/tree", params={"where": DE}).json()
    assert expected["root"]["value"] != whole["root"]["value"]
    assert _api_calls(visit, "/api/tree")[-1] == {"where": [DE]}
    unit = project.spec.metrics[expected["root"]["metric"]].unit

    def nodes(node: dict) -> list[dict]:
        return [node, *(n for c in node.get("children") or [] for n in nodes(c))]

    for node in nodes(expected["root"]):  # every node shows the segment's value
        shown = page.locator(f"#tree-graph a.node[data-metric={node['metric']}] .node-value tspan").first
        expect(shown).to_have_text(_shown(page, node["value"], project.spec.metrics[node["metric"]].unit) + "  ")
    _shot(page, "tree-segment")
    root = page.locator(f"#tree-graph a.node[data-metric={expected['root']['metric']}]")
    assert _shown(page, expected["root"]["value"], unit) != _shown(page, whole["root"]["value"], unit)
    # every link keeps it: the navigation, the tree's nodes; the explain page shows the segment's explanation
    assert "where=country" in (root.get_attribute("href") or "")
    # a metric's page: its series and its CSV for the segment
    page.locator("#tree-graph a.node[data-metric=active_listeners]").click()
    expect(page).to_have_url(re.compile(r"/metric/active_listeners\?where=country\+%3D\+%27DE%27$"))
    visit.wait_ready()
    assert _api_calls(visit, "/api/series")[-1]["where"] == [DE]
    assert DE in parse_qs(urlparse(page.get_attribute("#csv", "href") or "").query)["where"]
    series = api.get("/api/series", params={"metrics": "active_listeners", "compare": "true", "where": DE}).json()
    review = next(r for r in series["rows"] if r["period"] == expected["period"])
    expect(page.locator("#summary .card-value").first).to_have_text(
        _shown(page, review["active_listeners"], project.spec.metrics["active_listeners"].unit))
    assert not _api_calls(visit, "/api/alerts")  # the anomaly marks are the whole's: none for a segment
    page.locator("header.site nav a", has_text="Explain").click()
    expect(page).to_have_url(re.compile(r"/explain\?where=country\+%3D\+%27DE%27$"))
    visit.wait_ready()
    expect(page.locator("#segment-shown")).to_have_text(f"Showing the customers where {DE}.")
    summary = api.get("/api/explain", params={"where": DE}).json()["summary"]
    assert summary.startswith(f"For {DE}: ")
    expect(page.locator("[data-testid=explain-summary]")).to_have_text(summary)
    assert _api_calls(visit, "/api/explain")[-1]["where"] == [DE]
    # a page that cannot take it says so, and keeps it for the way back
    page.locator("header.site nav a", has_text="Cohorts").click()
    expect(page).to_have_url(re.compile(r"/cohorts\?where="))
    visit.wait_ready()
    expect(page.locator("#segment-shown")).to_have_text(
        f"This page shows all customers: the segment filter ({DE}) does not apply to it.")
    assert "where" not in "".join(u for u in visit.requests if "/api/cohorts" in u)
    page.locator("header.site nav a", has_text="Overview").click()
    expect(page).to_have_url(re.compile(r"/\?where="))
    visit.wait_ready()
    overview = api.get("/api/overview", params={"where": DE}).json()
    expect(page.locator("#ns-number")).to_contain_text(_shown(page, overview["north_star"]["value"], None))
    expect(page.locator("#checks-whole")).to_have_text("The checks judge the spec on all customers.")
    # clearing it shows all customers again
    page.click("#segment-clear")
    expect(page).to_have_url(f"{base_url}/")
    visit.wait_ready()
    expect(page.locator("#segment-shown")).to_have_count(0)
    visit.assert_clean()


def test_a_bad_segment_filter_shows_the_api_error(context: BrowserContext, base_url: str, api: httpx.Client) -> None:
    visit = Visit(context, base_url)
    page = visit.page
    for path in ("/tree", "/", "/explain", "/funnel"):
        page.goto(f"{base_url}{path}?where=nation%20%3D%20%27DE%27")
        page.wait_for_selector("body[data-state=error]", timeout=READY)
        message = assert_error(api.get("/api/tree", params={"where": "nation = 'DE'"}), "where")["message"]
        expect(page.locator("#status")).to_have_text(f"Could not load the data: {message}")
        expect(page.locator("#where")).to_have_value("nation = 'DE'")  # to be corrected in place


# ---- rolling windows ------------------------------------------------------------------------------------

def test_the_window_control_on_the_overview_and_explain_pages(context: BrowserContext, base_url: str,
                                                              api: httpx.Client) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/")
    page.locator("#window").select_option("28d")
    expect(page).to_have_url(re.compile(r"/\?window=28d$"))
    visit.wait_ready()
    body = api.get("/api/overview", params={"window": "28d"}).json()
    description = body["window"]["description"]
    expect(page.locator("#ns-period")).to_have_text(description[0].upper() + description[1:])
    expect(page.locator("#ns-number")).to_contain_text(_shown(page, body["north_star"]["value"], None))
    expect(page.locator("#ns-changes")).to_contain_text(
        f"against the window before ({_shown(page, body['north_star']['previous'], None)})")
    expect(page.locator("#tree-table caption")).to_have_text(f"Each input of the North Star: {description}")
    expect(page.locator("[data-testid=overview-explanation]")).to_contain_text(body["explanation"])
    page.reload()  # the URL restores it
    visit.wait_ready()
    expect(page.locator("#window")).to_have_value("28d")

    page = visit.open("/explain?metric=active_listeners")
    expect(page.locator("#metric")).to_have_value("active_listeners")
    page.locator("#vs").select_option("year")
    visit.wait_ready()
    page.locator("#window").select_option("7d")
    expect(page).to_have_url(re.compile(r"/explain\?metric=active_listeners&vs=year&window=7d$"))
    visit.wait_ready()
    expected = api.get("/api/explain", params={"metric": "active_listeners", "vs": "year", "window": "7d"}).json()
    expect(page.locator("[data-testid=explain-summary]")).to_have_text(expected["summary"])
    assert "a year before" in expected["summary"]
    expect(page.locator("#period")).to_be_disabled()
    assert _api_calls(visit, "/api/explain")[-1] == {"metric": ["active_listeners"], "vs": ["year"], "window": ["7d"]}
    visit.assert_clean()


# ---- alerts: state, filter, acknowledge and snooze ------------------------------------------------------

ALERTS = {
    "anomaly:listening_minutes:2026-10-19": "Listening minutes rose 40%",
    "guardrail:trial_conversion:2026-10-12": "Trial conversion fell below its min",
    "anomaly:revenue:2026-10-05": "Revenue fell 20%",
}


def _listed(demo: Path) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "northstar.cli", "alerts", "list", "--format", "json"], cwd=demo,
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return {row["id"]: row for row in json.loads(done.stdout)}


def test_the_alerts_page_filters_acknowledges_and_snoozes(context: BrowserContext, base_url: str, api: httpx.Client,
                                                          demo: Path) -> None:
    recorded = {key: {"key": key, "kind": key.split(":")[0], "metric": key.split(":")[1], "period": key.split(":")[2],
                      "title": title, "severity": "warning", "why": [], "message_key": key}
                for key, title in ALERTS.items()}
    (demo / ".northstar").mkdir(exist_ok=True)
    (demo / ".northstar" / "alerts.json").write_text(json.dumps(
        {"version": 1, "recorded": recorded, "deliveries": {}, "alerts": {}}))
    acked, snoozed, left = ALERTS
    visit = Visit(context, base_url)
    page = visit.open("/alerts")
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(".alert-state[data-state=open]")).to_have_count(3)
    assert {a["id"]: a["state"] for a in api.get("/api/alerts").json()["alerts"]} == dict.fromkeys(ALERTS, "open")

    def manage(key: str) -> object:
        box = page.locator(f"details.manage[data-alert='{key}']")
        box.locator("summary").click()
        return box

    box = manage(acked)
    box.locator("input[name=note]").fill("on it")
    box.locator("button[data-action=ack]").click()  # the POST, then the list again: its state shows it
    expect(rows.filter(has_text=ALERTS[acked]).locator(".alert-state")).to_have_attribute("data-state", "acknowledged")
    expect(rows.filter(has_text=ALERTS[acked]).locator(".alert-state")).to_contain_text("on it")

    box = manage(snoozed)
    box.locator("input[type=date]").fill("2020-01-01")  # in the past: the API's one-line error, nothing changed
    box.locator("button[data-action=snooze]").click()
    expect(box.locator("[data-testid=action-error]")).to_contain_text("Not changed: until: ")
    _shot(page, "alerts-manage")
    box.locator("input[type=date]").fill("")
    box.locator("select[name=for]").select_option("3d")
    box.locator("input[name=note]").fill("known outage")
    box.locator("button[data-action=snooze]").click()
    expect(rows.filter(has_text=ALERTS[snoozed]).locator(".alert-state")).to_have_attribute("data-state", "snoozed")
    visit.wait_ready()

    listing = {a["id"]: a for a in api.get("/api/alerts").json()["alerts"]}
    assert {k: (a["state"], a["note"]) for k, a in listing.items()} == {
        acked: ("acknowledged", "on it"), snoozed: ("snoozed", "known outage"), left: ("open", None)}
    assert listing[snoozed]["until"] is not None and listing[acked]["until"] is None
    cli = _listed(demo)
    assert cli[acked]["state"] == "acknowledged" and cli[acked]["note"] == "on it"
    assert cli[snoozed]["state"].startswith("snoozed until ") and cli[snoozed]["note"] == "known outage"
    until = dt.datetime.fromisoformat(listing[snoozed]["until"])
    assert until.strftime("%Y-%m-%dT%H:%M+00:00") == cli[snoozed]["state"].removeprefix("snoozed until ")
    assert abs(until - dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)) < dt.timedelta(minutes=5)  # for 3d
    assert cli[left]["state"] not in ("acknowledged",) and not cli[left]["state"].startswith("snoozed")

    for state, key in (("acknowledged", acked), ("snoozed", snoozed), ("open", left)):
        page.locator("#state").select_option(state)
        expect(page).to_have_url(re.compile(rf"/alerts\?state={state}$"))
        visit.wait_ready()
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(ALERTS[key])
        assert [a["id"] for a in api.get("/api/alerts", params={"state": state}).json()["alerts"]] == [key]
    page.reload()
    visit.wait_ready()
    expect(page.locator("#state")).to_have_value("open")
    page.locator("#state").select_option("")
    visit.wait_ready()
    expect(rows).to_have_count(3)
    assert_error(api.get("/api/alerts", params={"state": "closed"}), "state")
    visit.errors = [e for e in visit.errors if "status of 400" not in e]  # the refused snooze, shown above
    visit.assert_clean()
