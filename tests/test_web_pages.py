"""The dashboard's pages in a real browser: Debian's Chromium driven by Playwright, against a
real uvicorn server on 127.0.0.1 serving the demo (800 users, generated once for the module).

Every page: its charts render, its numbers come from the API, no request leaves the origin,
and a screenshot is written to tests/artifacts/screenshots/<page>.png. Then the interactions:
a click on a tree node, the grain filter (URL and numbers), a URL restoring the controls, a
click on a period explaining it, the CSV download, Dutch and Swedish pages (?lang= and the
browser's Accept-Language), and the keyboard reaching and opening a tree node.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from northstar.demo import generate_demo
from northstar.i18n import LANGUAGES, catalogue, missing_keys
from northstar.web import create_app

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
READY = 60_000  # ms: the first page computes the overview, the checks and the tree
NSM = "listening_minutes"


# ---- the server, the browser -------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(spec: Path, token: str | None = None) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 (a free port) in a background thread; yields its origin."""
    app = create_app(spec, token=token)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-test-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, users=800)
    return folder


@pytest.fixture(scope="module")
def base_url(demo_folder: Path) -> Iterator[str]:
    with _serve(demo_folder / "northstar.yml") as origin:
        yield origin


@pytest.fixture(scope="module")
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        yield client


def _wait_for_chromium() -> None:
    """apt may still be installing Chromium: wait for it (up to 15 minutes), never skip."""
    deadline = time.monotonic() + 15 * 60
    while not CHROMIUM.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
        time.sleep(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _wait_for_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB", accept_downloads=True)
    yield ctx
    ctx.close()


class Visit:
    """A page with every request it made and every script error it hit."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.base_url = base_url
        self.page: Page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        self.wait_ready()
        return self.page

    def wait_ready(self) -> None:
        self.page.wait_for_selector("body:not([data-state=loading])", timeout=READY)
        state = self.page.get_attribute("body", "data-state")
        assert state == "ready", f"{self.page.url}: {self.page.inner_text('#status')}"

    def assert_clean(self) -> None:
        """Nothing outside the server's origin was requested, and no script failed."""
        outside = [url for url in self.requests if not url.startswith(self.base_url + "/")]
        assert self.requests and not outside, f"requests outside {self.base_url}: {outside}"
        assert not self.errors, self.errors


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _traces(page: Page, selector: str) -> list[dict[str, Any]]:
    """The traces plotly drew in a chart (type and number of points)."""
    return page.eval_on_selector(selector, """gd => (gd._fullData || []).map(t => ({
        type: t.type, name: t.name, n: (t.type === 'heatmap' ? (t.z || []).length : (t.x || []).length),
        symbols: (t.marker && Array.isArray(t.marker.symbol)) ? t.marker.symbol : null}))""")


def _assert_chart(page: Page, selector: str) -> list[dict[str, Any]]:
    expect(page.locator(f"{selector} .main-svg").first).to_be_visible()
    box = page.locator(f"{selector} .main-svg").first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150
    traces = _traces(page, selector)
    assert traces and max(t["n"] for t in traces) > 0, traces
    return traces


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("children", []) for n in _nodes(child)]


# ---- the catalogue -------------------------------------------------------------------------------

def test_page_texts_exist_in_every_language() -> None:
    assert not {lang: [k for k in keys if k.startswith("pages.")] for lang, keys in missing_keys().items()
                if any(k.startswith("pages.") for k in keys)}
    english = {k: v for k, v in catalogue("en").items() if k.startswith("pages.")}
    assert len(english) > 150
    for lang in LANGUAGES:
        path = Path(__file__).resolve().parents[1] / "src" / "northstar" / "i18n" / lang / "pages.json"
        own = json.loads(path.read_text(encoding="utf-8"))
        assert set(own) == set(english), lang
        for key, text in own.items():  # the same {fields} as the English text
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), (lang, key)
        if lang != "en":  # translated, not copied
            assert sum(own[k] != english[k] for k in own) > 0.8 * len(own), lang


# ---- server side: headers, assets, 404 -------------------------------------------------------------

def test_pages_and_assets_are_served_from_the_package(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    html = page.text
    assert '<html lang="en">' in html and 'id="ns-config"' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "a page links another origin"
    plotly = api.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert "max-age=31536000" in plotly.headers["cache-control"] and len(plotly.content) > 1_000_000
    for name in ("northstar.js", "northstar.css", "tree.js", "metric.js", "favicon.svg"):
        asset = api.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.content, name
        assert "http://" not in asset.text.replace("http://www.w3.org/", "") and "https://" not in asset.text, name
    assert api.get("/static/../pages.py").status_code == 404
    assert api.get("/static/nothing.js").status_code == 404
    missing = api.get("/metric/no_such_metric", headers={"accept-language": "sv"})
    assert missing.status_code == 404 and "no_such_metric" in missing.text and 'lang="sv"' in missing.text


# ---- every page ------------------------------------------------------------------------------------

PAGES = {
    "overview": "/",
    "tree": "/tree",
    "explain": "/explain",
    "metric": f"/metric/{NSM}",
    "funnel": "/funnel",
    "cohorts": "/cohorts",
    "checks": "/checks",
    "focus": "/focus",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_from_the_api(name: str, context: BrowserContext, base_url: str, api: httpx.Client) -> None:
    visit = Visit(context, base_url)
    page = visit.open(PAGES[name])
    expect(page.locator("header.site nav a[aria-current=page]")).to_have_count(0 if name == "metric" else 1)
    expect(page.locator("main h1")).not_to_be_empty()
    if name == "overview":
        overview = api.get("/api/overview").json()
        ns = overview["north_star"]
        assert page.inner_text("#ns-label") == ns["label"]
        assert page.inner_text("#ns-number").startswith(f"{round(ns['value']):,}")
        assert ns["customer_value"] in page.inner_text("#ns-value-sentence")
        changes = page.inner_text("#ns-changes")
        assert re.search(r"[▲▼●] [+-]?\d+\.\d% (up|down|unchanged)", changes), changes
        names = [t["name"] for t in _assert_chart(page, "#trend-chart")]
        assert "Forecast" in names and "Target" in names and "80% forecast band" in names
        assert "partial period" in names  # the partial first and last weeks, drawn apart
        assert overview["review"]["period"] == ns["period"] and overview["partial"]
        expect(page.locator("#tree-table tbody tr")).to_have_count(len(_nodes(overview["tree"]["root"])))
        expect(page.locator("#tree-table tbody")).to_contain_text("driver, lag 2")
        expect(page.locator("#guardrails tbody tr")).to_have_count(len(overview["guardrails"]))
        for g in overview["guardrails"]:  # a provisional value is what matured so far, not a verdict
            row = page.locator(f"#guardrails tbody tr:has(a[href*='/metric/{g['metric']}'])")
            if g["status"] == "provisional":
                expect(row).to_contain_text("so far")
            else:
                expect(row).not_to_contain_text("so far")
        assert any(g["status"] == "provisional" for g in overview["guardrails"])  # the demo's trial conversion
        expect(page.locator("#focus tbody tr")).to_have_count(len(overview["focus"]))
        expect(page.locator("#explanation")).to_contain_text(overview["explanation"])
        warnings = page.locator("#check-counts a[href*='severity=warning']")
        expect(warnings).to_contain_text(str(overview["checks"]["warning"]))
    elif name == "tree":
        tree = api.get("/api/tree").json()
        nodes = page.locator("#tree-graph svg a.node")
        expect(nodes).to_have_count(len(_nodes(tree["root"])))
        assert page.locator("#tree-graph svg path.edge.formula").count() > 0
        assert page.locator("#tree-graph svg path.edge.driver").count() > 0
        assert page.eval_on_selector("#tree-graph svg", "s => s.getBBox().width") > 500
        expect(page.locator("#tree-graph .edge-label.driver").first).to_contain_text("driver, lag")
        expect(page.locator("#tree-graph .edge-label.formula").first).to_have_text("formula")
    elif name == "explain":
        explained = api.get("/api/explain").json()
        expect(page.locator("#metric")).to_have_value(NSM)
        expect(page.locator("#period")).to_have_value(explained["period"])
        expect(page.locator("[data-testid=explain-summary]")).to_have_text(explained["summary"])
        expect(page.locator("#explain table").first.locator("caption")).to_have_text("Exact split of the change through the tree")
    elif name == "metric":
        traces = _assert_chart(page, "#metric-chart")
        assert [t["name"] for t in traces][:3] == ["Listening minutes", "Previous period", "Same period last year"]
        rows = api.get("/api/series", params={"metrics": NSM, "compare": "true"}).json()["rows"]
        assert traces[0]["n"] == len(rows)
        # the card shows the review period (the last whole one), not the partial last week
        assert rows[-1]["period_status"] == "partial"
        review = [r for r in rows if r["period_status"] != "partial"][-1]
        assert review["period"] == api.get("/api/tree").json()["period"]
        assert page.inner_text("#summary .card-value >> nth=0").startswith(f"{round(review[NSM]):,}")
        symbols = traces[0]["symbols"]  # partial and provisional periods are drawn apart: open markers
        assert symbols[0] == symbols[-1] == "circle-open" and "circle" in symbols
    elif name == "funnel":
        funnel = api.get("/api/funnel").json()
        expect(page.locator("#stages tbody tr")).to_have_count(len(funnel["stages"]))
        expect(page.locator("#funnel-summary")).to_have_text(funnel["summary"])
        if funnel["bottleneck"]:
            expect(page.locator("#stages tbody tr.highlight")).to_contain_text("bottleneck")
        else:  # every gap within the noise of the numbers: no stage is named
            expect(page.locator("#stages tbody tr.highlight")).to_have_count(0)
            assert "noise" in funnel["summary"] or "No stage" in funnel["summary"]
        _assert_chart(page, "#gain-chart")
    elif name == "cohorts":
        traces = _assert_chart(page, "#cohort-chart")
        assert traces[0]["type"] == "heatmap" and traces[0]["n"] > 50
        options = page.eval_on_selector_all("#metric option", "os => os.map(o => o.value)")
        assert "active_listeners" in options and "listener_retention" in options and NSM not in options
    elif name == "checks":
        checks = api.get("/api/checks").json()
        expect(page.locator("#findings article.finding")).to_have_count(len(checks["findings"]))
        first = page.locator("#findings article.finding").first
        for label in ("Finding", "Evidence", "Fix"):
            expect(first.locator("dt", has_text=label)).to_have_count(1)
        page.select_option("#severity", "error")
        expect(page).to_have_url(re.compile(r"severity=error"))
        expect(page.locator("#findings article.finding")).to_have_count(checks["counts"]["error"])
    elif name == "focus":
        focus = api.get("/api/focus").json()["focus"]
        expect(page.locator("#focus-list section.focus-card")).to_have_count(len(focus))
        for index in range(len(focus)):
            names = [t["name"] for t in _assert_chart(page, f"#focus-chart-{index}")]
            assert any(n.startswith("Baseline") for n in names) and any(n.startswith("Target") for n in names)
    _shot(page, name)
    visit.assert_clean()


# ---- interactions ----------------------------------------------------------------------------------

def test_a_click_on_a_tree_node_opens_its_metric_page(context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/tree")
    page.locator("#tree-graph a.node[data-metric=active_listeners]").click()
    expect(page).to_have_url(re.compile(r"/metric/active_listeners$"))
    visit.wait_ready()
    expect(page.locator("main h1")).to_have_text("Active listeners")
    _assert_chart(page, "#metric-chart")
    visit.assert_clean()


def test_the_window_control_shows_the_tree_over_a_rolling_window(context: BrowserContext, base_url: str,
                                                                  api: httpx.Client) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/tree")
    page.locator("#window").select_option("28d")
    expect(page).to_have_url(re.compile(r"[?&]window=28d"))
    visit.wait_ready()
    expected = api.get("/api/tree", params={"window": "28d"}).json()
    expect(page.locator("#period-shown")).to_have_text(expected["window"]["description"])
    expect(page.locator("#period")).to_be_disabled()
    visit.assert_clean()


def test_the_grain_filter_changes_the_url_and_the_numbers(context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open(f"/metric/{NSM}")
    weekly = page.inner_text("#summary")
    weeks = _traces(page, "#metric-chart")[0]["n"]
    page.select_option("#grain", "month")
    expect(page).to_have_url(re.compile(r"[?&]grain=month"))
    expect(page.locator("#summary")).not_to_have_text(weekly)
    visit.wait_ready()
    monthly = page.inner_text("#summary")
    months = _traces(page, "#metric-chart")[0]["n"]
    assert 20 <= months < weeks / 3
    assert "grain=month" in page.get_attribute("#csv", "href")
    # the URL is the view: loading it again restores the control and the numbers
    page.reload()
    visit.wait_ready()
    assert page.input_value("#grain") == "month"
    assert page.inner_text("#summary") == monthly
    # the language links keep the filters
    assert "grain=month" in page.get_attribute("header a[data-lang=nl]", "href")
    visit.assert_clean()


def test_a_url_restores_every_control(context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open(f"/metric/{NSM}?grain=month&from=2025-01-01&to=2025-12-31&by=platform")
    assert page.input_value("#grain") == "month"
    assert page.input_value("#from") == "2025-01-01" and page.input_value("#to") == "2025-12-31"
    assert page.input_value("#by") == "platform"
    traces = _traces(page, "#metric-chart")
    assert sorted(t["name"] for t in traces) == ["android", "ios", "web"]
    assert all(t["n"] == 12 for t in traces)
    expect(page.locator("#summary table tbody tr")).to_have_count(3)
    href = page.get_attribute("#csv", "href")
    for part in ("grain=month", "from=2025-01-01", "to=2025-12-31", "by=platform", "compare=true"):
        assert part in href, href
    page.select_option("#by", "")
    expect(page).not_to_have_url(re.compile(r"by=platform"))
    visit.wait_ready()
    assert len(_traces(page, "#metric-chart")) == 3
    visit.assert_clean()


def _click_period(page: Page, period: str) -> None:
    """Hover and click the value trace's marker of a period, as a person would."""
    index = page.eval_on_selector("#metric-chart", f"gd => gd._fullData[0].x.indexOf('{period}')")
    assert index >= 0
    marker = page.locator("#metric-chart .scatterlayer .trace").first.locator(".points path").nth(index)
    box = marker.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    expect(page.locator("#metric-chart .hoverlayer .hovertext").first).to_be_visible()
    page.mouse.click(x, y)


def test_a_click_on_a_period_explains_it(context: BrowserContext, base_url: str, api: httpx.Client) -> None:
    visit = Visit(context, base_url)
    page = visit.open(f"/metric/{NSM}")
    _click_period(page, "2026-04-13")
    expect(page).to_have_url(re.compile(r"period=2026-04-13"))
    summary = page.locator("[data-testid=explain-summary]")
    expect(summary).to_be_visible(timeout=READY)
    expected = api.get("/api/explain", params={"metric": NSM, "period": "2026-04-13"}).json()
    expect(summary).to_have_text(expected["summary"])
    expect(page.locator("#explain table").first).to_contain_text("Minutes per listener")
    expect(page.locator("#explain")).to_contain_text("platform = android")
    expect(page.locator("#summary .cards-title")).to_contain_text("13 Apr 2026")
    _shot(page, "metric-explain")
    # the selected period is part of the link: opening it shows the same explanation
    page.reload()
    visit.wait_ready()
    expect(page.locator("[data-testid=explain-summary]")).to_have_text(expected["summary"], timeout=READY)
    visit.assert_clean()


def test_the_csv_link_downloads_what_is_shown(context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open(f"/metric/{NSM}?grain=quarter")
    with page.expect_download() as info:
        page.click("#csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    assert lines[0] == f"period,period_status,{NSM},{NSM}_previous,{NSM}_last_year"
    assert len(lines) - 1 == _traces(page, "#metric-chart")[0]["n"]
    assert lines[1].startswith("2024-10-01,")
    visit.assert_clean()


def test_the_alerts_page_shows_a_failed_delivery(context: BrowserContext, base_url: str, demo_folder: Path) -> None:
    failed = {"key": "guardrail:trial_conversion:2026-03-02", "kind": "guardrail", "metric": "trial_conversion",
              "label": "Trial conversion", "period": "2026-03-02", "title": "Trial conversion fell below its min",
              "value": 0.2, "expected": 0.25, "why": ["Trials in country=DE -30%"], "link": None, "severity": "critical"}
    sent = {**failed, "key": "anomaly:listening_minutes:2026-01-19", "kind": "anomaly", "metric": NSM,
            "period": "2026-01-19", "title": "Listening minutes rose 40%", "severity": "warning"}
    state = {"version": 1, "recorded": {a["key"]: {**a, "message_key": a["key"]} for a in (failed, sent)},
             "deliveries": {
                 "team-slack " + failed["key"]: {"message_key": failed["key"], "channel": "team-slack", "status": "failed",
                                                 "attempts": 4, "error": "HTTP 500 from the channel", "retryable": True,
                                                 "at": "2026-03-09T09:00:00+00:00"},
                 "team-slack " + sent["key"]: {"message_key": sent["key"], "channel": "team-slack",
                                               "status": "delivered", "attempts": 1, "error": None,
                                               "at": "2026-01-26T09:00:00+00:00"}},
             "alerts": {},
             "schedule": {"monitor": {"last": "2026-03-09T09:00:00+00:00", "error": None, "alerts": 2}}}
    (demo_folder / ".northstar").mkdir(exist_ok=True)
    (demo_folder / ".northstar" / "alerts.json").write_text(json.dumps(state))
    visit = Visit(context, base_url)
    page = visit.open("/alerts")
    expect(page.locator("header.site nav a[aria-current=page]")).to_have_text("Alerts")
    expect(page.locator("#alerts tbody tr")).to_have_count(2)
    first = page.locator("#alerts tbody tr").first
    expect(first).to_have_class(re.compile(r"\bfailed\b"))
    expect(first).to_contain_text("Trial conversion fell below its min")
    expect(first.locator("li.delivery[data-status=failed]")).to_contain_text("failed")
    expect(first.locator("[data-testid=delivery-error]")).to_contain_text("HTTP 500 from the channel")
    expect(first).to_contain_text("attempts: 4")
    expect(first.locator(".alert-state")).to_have_attribute("data-state", "open")
    # an app without a token cannot change alerts: the page says so instead of offering buttons
    expect(first.locator("td").last).to_have_text("Acknowledging and snoozing need a token: serve with --token.")
    expect(page.locator("details.manage")).to_have_count(0)
    expect(page.locator("#alerts tbody tr").nth(1).locator("li.delivery[data-status=delivered]")).to_have_count(1)
    expect(page.locator("#alert-count")).to_have_text("Alerts: 2 · failed deliveries: 1")
    # whether alerting is alive: serve's last pass, and the digest (the demo spec sets none)
    expect(page.locator("[data-testid=schedule-monitor]")).to_contain_text("2026")
    expect(page.locator("[data-testid=schedule-monitor]")).to_contain_text("(alerts found: 2); it runs every 1h")
    expect(page.locator("[data-testid=schedule-digest]")).to_have_text(
        "Weekly digest: not scheduled (set alerts.digest.channel).")
    _shot(page, "alerts")
    visit.assert_clean()
    page = visit.open("/alerts?lang=nl")
    expect(page.locator("main h1")).to_have_text("Meldingen en hun bezorging")
    expect(page.locator("li.delivery[data-status=failed]")).to_contain_text("mislukt")
    expect(page.locator("[data-testid=schedule-monitor]")).to_contain_text("elke 1h")


def test_the_metric_page_marks_anomalies(context: BrowserContext, base_url: str, api: httpx.Client) -> None:
    marks = api.get("/api/alerts", params={"metric": "revenue"}).json()["anomalies"]
    anomalies = [p["period"] for p in marks["points"] if p["anomaly"]]
    assert anomalies, "the demo's revenue has anomalies (the payment outage)"
    visit = Visit(context, base_url)
    page = visit.open("/metric/revenue")
    expect(page.locator("#anomaly-note")).to_contain_text(f"Anomalies marked: {len(anomalies)} ")
    traces = _assert_chart(page, "#metric-chart")
    names = [t["name"] for t in traces]
    assert "Expected range" in names and names.count("Anomaly") == 1, names
    drawn = page.eval_on_selector("#metric-chart", """gd => gd._fullData.filter(t => t.name === 'Anomaly')
        .map(t => Array.from(t.x))[0]""")
    assert [str(x)[:10] for x in drawn] == anomalies
    assert page.locator("#metric-chart .scatterlayer .trace .points path").count() > len(anomalies)
    _shot(page, "metric-anomalies")
    # another grain: the marks (at the North Star's grain) are not drawn
    page.select_option("#grain", "month")
    visit.wait_ready()
    expect(page.locator("#anomaly-note")).to_have_text("")
    assert "Anomaly" not in [t["name"] for t in _traces(page, "#metric-chart")]
    visit.assert_clean()


def test_dutch_and_swedish_pages(browser: Browser, context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/?lang=nl")
    assert page.get_attribute("html", "lang") == "nl"
    expect(page.locator("header nav a[aria-current=page]")).to_have_text("Overzicht")
    expect(page.locator("#trend-h")).to_have_text("Verloop")
    expect(page.locator("#ns-changes")).to_contain_text("ten opzichte van de vorige periode")
    expect(page.locator("#ns-changes")).to_contain_text(re.compile(r"omhoog|omlaag|onveranderd"))
    assert re.match(r"\d{1,3}(\.\d{3})+", page.inner_text("#ns-number")), "Dutch digit grouping"
    expect(page.locator("#tree-table")).to_contain_text("formule")
    _shot(page, "overview-nl")
    # links keep the language
    page.locator("header nav a", has_text="Boom").click()
    expect(page).to_have_url(re.compile(r"/tree\?lang=nl"))
    visit.wait_ready()
    expect(page.locator("#tree-graph .edge-label.driver").first).to_contain_text("drijver, vertraging")
    page.locator("#tree-graph a.node[data-metric=minutes_per_listener]").click()
    expect(page).to_have_url(re.compile(r"/metric/minutes_per_listener\?lang=nl"))
    visit.wait_ready()
    expect(page.locator("label[for=grain]")).to_have_text("Tijdseenheid")
    visit.assert_clean()

    # no ?lang=: the browser's Accept-Language decides
    dutch = browser.new_context(locale="nl-NL", viewport={"width": 1360, "height": 900})
    try:
        visit = Visit(dutch, base_url)
        page = visit.open("/checks")
        assert page.get_attribute("html", "lang") == "nl"
        expect(page.locator("main h1")).to_have_text("Controles")
        expect(page.locator("#findings")).to_contain_text("Oplossing")
        visit.assert_clean()
    finally:
        dutch.close()
    swedish = browser.new_context(locale="sv-SE")
    try:
        visit = Visit(swedish, base_url)
        page = visit.open("/focus")
        assert page.get_attribute("html", "lang") == "sv"
        expect(page.locator("header nav a[aria-current=page]")).to_have_text("Fokus")
        expect(page.locator("#focus-list")).to_contain_text("Utgångsvärde")
        visit.assert_clean()
    finally:
        swedish.close()


def test_the_keyboard_reaches_and_opens_a_tree_node(context: BrowserContext, base_url: str) -> None:
    visit = Visit(context, base_url)
    page = visit.open("/tree")
    reached = None
    for _ in range(60):
        page.keyboard.press("Tab")
        reached = page.evaluate("""() => { const a = document.activeElement;
            return a && a.matches('#tree-graph a.node') ? a.getAttribute('data-metric') : null; }""")
        if reached:
            break
    assert reached == NSM, "Tab should reach the tree's root node first"
    page.keyboard.press("Tab")  # on to the next node: active listeners
    second = page.evaluate("document.activeElement.getAttribute('data-metric')")
    assert second == "active_listeners"
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert "Active listeners" in label and re.search(r"(up|down|unchanged)", label)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/metric/active_listeners$"))
    visit.wait_ready()
    expect(page.locator("main h1")).to_have_text("Active listeners")
    visit.assert_clean()


def test_pages_with_a_token_and_with_a_broken_spec(browser: Browser, tmp_path: Path) -> None:
    """With a token: a page opened with ?token= sets the cookie its own requests (API, assets, other
    pages) then pass with; without it, a small 401 page. A spec broken while serving: the page
    still renders and shows the API's one-line error."""
    generate_demo(tmp_path, users=800)
    spec = tmp_path / "northstar.yml"
    with _serve(spec, token="s3cret-token") as origin:
        ctx = browser.new_context(locale="en-GB")
        try:
            page = ctx.new_page()
            response = page.goto(origin + "/tree")
            assert response is not None and response.status == 401
            expect(page.locator("h1")).to_contain_text("401")
            visit = Visit(ctx, origin)
            page = visit.open("/tree?token=s3cret-token")
            expect(page.locator("#tree-graph a.node").first).to_be_visible()
            page.locator("header nav a", has_text="Checks").click()
            expect(page).to_have_url(origin + "/checks")
            visit.wait_ready()
            assert page.locator("#findings article.finding").count() > 0
            assert "s3cret-token" not in page.content()
            assert all("token" not in (a or "") for a in page.eval_on_selector_all("a", "as => as.map(a => a.href)"))
            visit.assert_clean()

            shutil.copy(spec, tmp_path / "good.yml")
            spec.write_text(spec.read_text(encoding="utf-8").replace("agg: sum", "agg: summ", 1), encoding="utf-8")
            visit = Visit(ctx, origin)
            visit.page.goto(origin + "/funnel")
            visit.page.wait_for_selector("body[data-state=error]", timeout=READY)
            expect(visit.page.locator("#status")).to_contain_text("summ")
            shutil.copy(tmp_path / "good.yml", spec)
            visit.open("/funnel")
            expect(visit.page.locator("#stages tbody tr")).to_have_count(5)
        finally:
            ctx.close()
