"""Several North Stars in one spec (issue 16): `north_stars:`, `--north-star`, `?north_star=`.

The demo has two product lines, music (the primary North Star, listening minutes) and podcasts
(podcast minutes): every command, API route and page answers for each, the overview shows both
side by side, the primary first, and the podcasts' numbers equal sums over the raw Parquet file
computed here in plain Python. A spec with one North Star is unchanged: the same spec written as
`north_stars:` with one entry gives byte-identical `tree`, `explain` and `check` JSON. Bad input
(an unknown name, two primaries, a name used twice, both keys) is one line naming the file and
line, the option or the parameter.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from northstar.demo import generate_demo
from northstar.errors import QueryError, SpecError
from northstar.project import Project
from northstar.spec.load import parse_spec

from test_web_pages import CHROMIUM_ARGS, CHROMIUM, Visit, _serve, _wait_for_chromium  # noqa: E402

NAMES = ("music", "podcasts")
ROOTS = {"music": "listening_minutes", "podcasts": "podcast_minutes"}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, users=800)
    return folder


@pytest.fixture(scope="module")
def project(demo: Path) -> Project:
    return Project.load(demo / "northstar.yml")


# ---- the spec --------------------------------------------------------------------------------

def test_demo_has_two_north_stars_the_primary_first(project: Project) -> None:
    spec = project.spec
    assert spec.north_star_names == NAMES and project.north_star_name == "music"
    assert spec.north_star.metric == "listening_minutes"
    podcasts = project.for_north_star("podcasts")
    assert podcasts.spec.north_star.metric == "podcast_minutes" and podcasts.north_star_name == "podcasts"
    assert podcasts.engine is project.engine  # the same sources and metrics: one engine
    # each North Star's focus metrics are its own; the guardrails are shared
    assert [f.team for f in project.spec.focus] == ["Growth", "Product"]
    assert [f.team for f in podcasts.spec.focus] == ["Podcasts"]
    assert podcasts.spec.guardrails == project.spec.guardrails and len(project.spec.guardrails) == 3
    assert [p.north_star_name for p in project.north_stars()] == list(NAMES)
    assert podcasts.for_north_star("music").spec.focus == project.spec.focus
    with pytest.raises(QueryError, match=r"^--north-star: 'podcast' is not a North Star of the spec\. "
                                         r"Did you mean 'podcasts'\? Its North Stars: music, podcasts$"):
        project.for_north_star("podcast")


def _spec(north_stars: str, extra: str = "") -> str:
    return ("project: p\nsources:\n  e:\n    path: e.csv\n    timestamp: ts\n    entity: u\n"
            "  f:\n    path: f.csv\n    timestamp: ts\n    entity: u\n"
            "metrics:\n  a: {source: e, agg: count}\n  b: {source: f, agg: count}\n  c: {source: e, agg: count_distinct}\n"
            + north_stars + extra)


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "northstar.yml")
    return [str(p) for p in caught.value.problems]


def _line(text: str, needle: str) -> int:
    """1-based number of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_spec_errors_name_the_file_and_line() -> None:
    two_primaries = _spec("north_stars:\n  - {name: x, metric: a, primary: true}\n  - {name: y, metric: b, primary: true}\n")
    assert _problems(two_primaries) == [f"northstar.yml:{_line(two_primaries, 'name: y')}: north_stars: 'y' and 'x' "
                                        "are both `primary: true`; mark one"]
    twice = _spec("north_stars:\n  - {name: x, metric: a}\n  - {name: x, metric: b}\n")
    assert _problems(twice) == [f"northstar.yml:{_line(twice, 'metric: b}')}: north_stars: the name 'x' is used twice "
                                "(entries 1 and 2); names must be unique"]
    both = _spec("north_star: {metric: a}\nnorth_stars:\n  - {name: x, metric: a}\n")
    assert _problems(both) == [f"northstar.yml:{_line(both, 'north_stars:')}: give `north_star:` (one North Star) or "
                               "`north_stars:` (several, each with a name), not both"]
    # a mistake inside an entry is reported once, at that entry (not at the `north_star` made from it)
    bad_tree = _spec("north_stars:\n  - name: x\n    metric: a\n  - name: y\n    metric: b\n    tree:\n"
                     "      b: {formula: a *}\n")
    problems = _problems(bad_tree)
    assert len(problems) == 1
    assert problems[0].startswith(f"northstar.yml:{_line(bad_tree, 'formula: a *')}: tree node 'b' field 'formula'")
    primary_key = _spec("north_stars:\n  - name: x\n    metrc: a\n")
    assert _problems(primary_key) == [
        f"northstar.yml:{_line(primary_key, 'name: x')}: 'north_stars.0' is missing required field 'metric'",
        f"northstar.yml:{_line(primary_key, 'metrc')}: unknown key 'metrc' in 'north_stars.0'. Did you mean 'metric'?"]
    owned = _spec("north_stars:\n  - {name: x, metric: a}\n  - {name: y, metric: b}\n",
                  "focus:\n  - {team: T, metric: a, north_star: z}\n")
    assert _problems(owned) == [f"northstar.yml:{_line(owned, 'team: T')}: focus[1]: north_star 'z' is not a North "
                                "Star of the spec. Its North Stars: x, y."]
    single = _spec("north_star: {metric: a}\n", "guardrails:\n  - {metric: a, min: 1, north_star: x}\n")
    assert _problems(single) == [f"northstar.yml:{_line(single, 'min: 1')}: guardrails[1]: north_star 'x' is not a "
                                 "North Star of the spec. The spec has no `north_stars:`."]


def test_the_first_is_primary_without_a_mark_and_views_keep_their_own() -> None:
    text = _spec("north_stars:\n  - {name: x, metric: a}\n  - {name: y, metric: b}\n",
                 "guardrails:\n  - {metric: a, min: 1}\n  - {metric: b, min: 1, north_star: y}\n"
                 "alerts:\n  rules:\n    - {checks: [anomaly], north_star: x}\n    - {checks: [guardrail]}\n")
    spec = parse_spec(text, "northstar.yml").spec
    assert spec.north_star_names == ("x", "y") and spec.north_star.metric == "a"
    assert [g.metric for g in spec.for_north_star(None).guardrails] == ["a"]
    view = spec.for_north_star("y")
    assert [g.metric for g in view.guardrails] == ["a", "b"]
    assert [r.checks for r in view.alerts.rules] == [("guardrail",)]
    assert [r.checks for r in spec.for_north_star("x").alerts.rules] == [("anomaly",), ("guardrail",)]
    assert view.for_north_star(None) is view and view.for_north_star("x").north_star.metric == "a"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sets(st.sampled_from("pqrs"), min_size=1), min_size=2, max_size=5))
def test_products_are_north_stars_sharing_a_source(reads: list[set[str]]) -> None:
    """The several-north-stars rule's products: North Stars grouped by a shared source, against
    connected components computed by brute force (merge until nothing changes)."""
    from northstar.checks.north_star_rules import product_groups

    sources = "".join(f"  {s}:\n    path: {s}.csv\n    timestamp: ts\n    entity: u\n" for s in "pqrs")
    metrics = "".join(f"  m_{s}: {{source: {s}, agg: count}}\n" for s in "pqrs")
    entries = ""
    for i, read in enumerate(reads):
        formula = " + ".join(f"m_{s}" for s in sorted(read))
        entries += f"  - name: n{i}\n    metric: root{i}\n"
        metrics += f"  root{i}: {{formula: {formula}}}\n"
    text = f"project: p\nsources:\n{sources}metrics:\n{metrics}north_stars:\n{entries}"
    spec = parse_spec(text, "northstar.yml").spec
    groups = [set(g) for g in product_groups(spec)]
    brute = [({f"n{i}"}, set(read)) for i, read in enumerate(reads)]
    merged = True
    while merged:
        merged = False
        for i in range(len(brute)):
            for j in range(i + 1, len(brute)):
                if brute[i][1] & brute[j][1]:
                    brute[i] = (brute[i][0] | brute[j][0], brute[i][1] | brute[j][1])
                    del brute[j]
                    merged = True
                    break
            if merged:
                break
    assert sorted(map(sorted, groups)) == sorted(sorted(names) for names, _ in brute)


def test_check_warns_when_north_stars_share_their_data() -> None:
    from northstar.checks import run_checks
    from northstar.spec.load import parse_spec as parse

    same = parse(_spec("north_stars:\n  - {name: x, metric: a}\n  - {name: y, metric: c}\n"), "northstar.yml")
    report = run_checks(Project(same), data=False, only=["several-north-stars"])
    (finding,) = report.findings
    assert finding.severity == "warning" and finding.evidence["products"] == [["x", "y"]]
    assert "2 North Stars but their metrics read the data of 1 product" in finding.message
    assert "one North Star all teams can focus on; more than one only when products differ a lot" in finding.message
    apart = parse(_spec("north_stars:\n  - {name: x, metric: a}\n  - {name: y, metric: b}\n"), "northstar.yml")
    (finding,) = run_checks(Project(apart), data=False, only=["several-north-stars"]).findings
    assert finding.severity == "info" and finding.evidence["products"] == [["x"], ["y"]]
    one = parse(_spec("north_star: {metric: a}\n"), "northstar.yml")
    assert "several-north-stars" not in run_checks(Project(one), data=False).rules_run


# ---- one North Star: unchanged -----------------------------------------------------------------

ONE = """project: Shop
timezone: Europe/Amsterdam
engine: {{type: duckdb, threads: 1}}
sources:
  orders:
    path: orders.csv
    timestamp: ts
    entity: customer
    dimensions: [country]
metrics:
  order_count: {{source: orders, agg: count}}
  buyers: {{source: orders, agg: count_distinct}}
  orders_per_buyer: {{formula: order_count / buyers}}
  revenue: {{source: orders, agg: sum, expr: amount, tags: [revenue]}}
{north_star}focus:
  - {{team: Growth, metric: buyers, baseline: 10, target: 20, from: 2025-01-06, to: 2025-03-30}}
guardrails:
  - {{metric: orders_per_buyer, min: 1}}
"""
BLOCK = """  metric: order_count
  grain: week
  customer_value: Shoppers get what they want
  tree:
    order_count: {formula: buyers * orders_per_buyer, owner: Sales}
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import random

    folder = tmp_path_factory.mktemp("shop")
    rng = random.Random(16)
    start = dt.datetime(2025, 1, 1)
    rows = ["ts,customer,country,amount"]
    for _ in range(3000):
        when = start + dt.timedelta(seconds=rng.randrange(0, 120 * 86400))
        rows.append(f"{when:%Y-%m-%d %H:%M:%S},c{rng.randrange(300)},{rng.choice('NL DE SE'.split())},"
                    f"{rng.randrange(100, 9000) / 100}")
    (folder / "orders.csv").write_text("\n".join(rows) + "\n")
    (folder / "one.yml").write_text(ONE.format(north_star="north_star:\n" + BLOCK))
    listed = "north_stars:\n  - name: shop\n" + "".join("  " + line + "\n" for line in BLOCK.splitlines())
    (folder / "listed.yml").write_text(ONE.format(north_star=listed))
    return folder


@pytest.mark.parametrize("command", [("tree",), ("explain",), ("check",), ("targets", "--target", "900",
                                                                             "--by", "2025-06-30")])
def test_one_north_star_outputs_are_byte_identical(shop: Path, command: tuple[str, ...]) -> None:
    one = run(shop, "-f", "one.yml", *command, "--format", "json")
    listed = run(shop, "-f", "listed.yml", *command, "--format", "json")
    named = run(shop, "-f", "listed.yml", "--north-star", "shop", *command, "--format", "json")
    assert one.returncode == 0 and one.stderr == "", one.stderr
    assert json.loads(one.stdout)  # a real answer
    assert listed.stdout == one.stdout and named.stdout == one.stdout
    assert listed.returncode == named.returncode == 0


def test_one_north_star_api_is_unchanged(shop: Path) -> None:
    from fastapi.testclient import TestClient

    from northstar.web import create_app

    one, listed = TestClient(create_app(shop / "one.yml")), TestClient(create_app(shop / "listed.yml"))
    for route in ("/api/tree", "/api/explain", "/api/focus", "/api/guardrails", "/api/overview"):
        assert one.get(route).content == listed.get(route).content == listed.get(route + "?north_star=shop").content
    body = one.get("/api/overview").json()
    assert "north_stars" not in body and "north_stars" not in one.get("/api/metrics").json()
    wrong = one.get("/api/tree?north_star=shop")
    assert wrong.status_code == 400 and wrong.json()["error"]["parameter"] == "north_star"
    assert wrong.json()["error"]["message"] == ("north_star: 'shop' is not a North Star of the spec: it has one "
                                                "(`north_star:`, order_count) and no `north_stars:` with names")


# ---- the demo: every command for each North Star -----------------------------------------------

def _review_week(demo: Path, name: str) -> dt.date:
    out = run(demo, "--north-star", name, "tree", "--format", "json")
    assert out.returncode == 0, out.stderr
    return dt.date.fromisoformat(json.loads(out.stdout)["period"])


def test_podcasts_tree_equals_plain_python_over_the_raw_file(demo: Path) -> None:
    out = run(demo, "--north-star", "podcasts", "tree", "--format", "json")
    assert out.returncode == 0, out.stderr
    tree = json.loads(out.stdout)
    week = dt.date.fromisoformat(tree["period"])
    zone = ZoneInfo("Europe/Amsterdam")
    table = pq.read_table(demo / "data" / "podcast_plays.parquet").to_pylist()
    minutes = {week: 0.0, week - dt.timedelta(days=7): 0.0}
    listeners: dict[dt.date, set[str]] = {week: set(), week - dt.timedelta(days=7): set()}
    for row in table:
        day = row["ts"].astimezone(zone).date()
        monday = day - dt.timedelta(days=day.weekday())
        if monday in minutes:
            minutes[monday] += row["duration_s"] / 60
            listeners[monday].add(row["user_id"])
    root = tree["root"]
    assert root["metric"] == "podcast_minutes"
    assert root["value"] == pytest.approx(minutes[week], rel=1e-12)
    assert root["previous"] == pytest.approx(minutes[week - dt.timedelta(days=7)], rel=1e-12)
    child = {c["metric"]: c for c in root["children"]}["podcast_listeners"]
    assert child["value"] == len(listeners[week]) and child["previous"] == len(listeners[week - dt.timedelta(days=7)])
    assert len(listeners[week]) > 20  # a real week of listening, not an empty one


@pytest.mark.parametrize("name", NAMES)
def test_every_command_answers_for_each_north_star(demo: Path, name: str) -> None:
    root = ROOTS[name]
    tree = json.loads(run(demo, "--north-star", name, "tree", "--format", "json").stdout)
    assert tree["root"]["metric"] == root
    explained = json.loads(run(demo, "--north-star", name, "explain", "--format", "json").stdout)
    # explain's JSON keeps 10 significant digits
    assert explained["metric"] == root and explained["value"] == pytest.approx(tree["root"]["value"], rel=1e-9)
    funnel = run(demo, "--north-star", name, "funnel", "--format", "json")
    assert funnel.returncode == 0 and json.loads(funnel.stdout)["north_star"] == root
    targets = json.loads(run(demo, "--north-star", name, "targets", "--format", "json").stdout)
    assert targets["north_star"] == root and targets["target"] == {"music": 40000.0, "podcasts": 30000.0}[name]
    query = run(demo, "--north-star", name, "query", root, "--from", tree["period"], "--to", tree["period"],
                "--format", "json")
    # --grain defaults to its North Star's (query's JSON keeps 10 significant digits)
    assert json.loads(query.stdout)[0][root] == pytest.approx(tree["root"]["value"], rel=1e-9)
    report = run(demo, "--north-star", name, "report", "--format", "markdown", "--out", f"report-{name}.md")
    assert report.returncode == 0, report.stderr
    assert tree["root"]["label"] in (demo / f"report-{name}.md").read_text()
    checked = run(demo, "--north-star", name, "check", "--format", "json")
    body = json.loads(checked.stdout)
    assert body["north_star"] == root and "several-north-stars" in body["rules_run"]


def test_check_judges_each_north_star(demo: Path) -> None:
    out = run(demo, "check", "--format", "json", "--no-data")
    body = json.loads(out.stdout)
    assert [(r["name"], r["north_star"]) for r in body["north_stars"]] == [("music", "listening_minutes"),
                                                                            ("podcasts", "podcast_minutes")]
    for report in body["north_stars"]:
        (finding,) = [f for f in report["findings"] if f["rule"] == "several-north-stars"]
        assert finding["severity"] == "info" and finding["evidence"]["products"] == [["music"], ["podcasts"]]
    table = run(demo, "check", "--no-data")
    assert "North Star 'music' (primary)" in table.stdout and "North Star 'podcasts'" in table.stdout


def test_an_unknown_north_star_is_one_line(demo: Path) -> None:
    for command in (("tree",), ("check",), ("validate", "--no-data"), ("explain",)):
        out = run(demo, "--north-star", "podcast", *command)
        assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines() == ["error: --north-star: 'podcast' is not a North Star of the spec. "
                                                   "Did you mean 'podcasts'? Its North Stars: music, podcasts"]


# ---- the API and the pages ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_url(demo: Path) -> Iterator[str]:
    with _serve(demo / "northstar.yml") as origin:
        yield origin


@pytest.fixture(scope="module")
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=300) as client:
        yield client


def _assert_close(one: object, other: object) -> None:
    """Equal, floats to 1e-12 (DuckDB's parallel SUM adds in no fixed order: the last bits may differ)."""
    if isinstance(one, float) and isinstance(other, float):
        assert one == pytest.approx(other, rel=1e-12)
    elif isinstance(one, dict) and isinstance(other, dict):
        assert one.keys() == other.keys()
        for key in one:
            _assert_close(one[key], other[key])
    elif isinstance(one, list) and isinstance(other, list):
        assert len(one) == len(other)
        for a, b in zip(one, other):
            _assert_close(a, b)
    else:
        assert one == other


@pytest.mark.parametrize("name", NAMES)
def test_every_route_answers_for_each_north_star(api: httpx.Client, demo: Path, name: str) -> None:
    root = ROOTS[name]
    tree = api.get("/api/tree", params={"north_star": name}).json()
    assert tree["root"]["metric"] == root
    _assert_close(tree, json.loads(run(demo, "--north-star", name, "tree", "--format", "json").stdout))
    assert api.get("/api/explain", params={"north_star": name}).json()["metric"] == root
    assert api.get("/api/funnel", params={"north_star": name}).json()["north_star"] == root
    assert api.get("/api/targets", params={"north_star": name}).json()["north_star"] == root
    assert api.get("/api/checks", params={"north_star": name}).json()["north_star"] == root
    teams = [f["team"] for f in api.get("/api/focus", params={"north_star": name}).json()["focus"]]
    assert teams == (["Podcasts"] if name == "podcasts" else ["Growth", "Product"])
    series = api.get("/api/series", params={"north_star": name, "metrics": root}).json()
    (row,) = [r for r in series["rows"] if r["period"] == tree["period"]]  # the grain defaults to its North Star's
    # to 1e-12, not bit for bit: two DuckDB computations of one float sum may add in another order
    assert series["grain"] == "week" and row[root] == pytest.approx(tree["root"]["value"], rel=1e-12)
    assert api.get("/api/cohorts", params={"north_star": name}).status_code == 200
    metrics = api.get("/api/metrics", params={"north_star": name}).json()
    assert metrics["north_star"] == root
    assert [(n["name"], n["primary"], n["current"]) for n in metrics["north_stars"]] == [
        ("music", True, name == "music"), ("podcasts", False, name == "podcasts")]
    overview = api.get("/api/overview", params={"north_star": name}).json()
    assert overview["north_star"]["metric"] == root and overview["tree"] == tree


def test_overview_shows_both_the_primary_first(api: httpx.Client) -> None:
    body = api.get("/api/overview").json()
    assert body["north_star"]["metric"] == "listening_minutes"
    cards = body["north_stars"]
    assert [(c["name"], c["primary"], c["current"], c["metric"]) for c in cards] == [
        ("music", True, True, "listening_minutes"), ("podcasts", False, False, "podcast_minutes")]
    for card in cards:
        tree = api.get("/api/tree", params={"north_star": card["name"]}).json()
        assert card["value"] == tree["root"]["value"] and card["previous"] == tree["root"]["previous"]
        assert card["period"] == tree["period"]


def test_an_unknown_north_star_is_a_400(api: httpx.Client) -> None:
    for path in ("/api/tree", "/api/overview", "/api/checks", "/"):
        answer = api.get(path, params={"north_star": "nope"})
        assert answer.status_code == 400
        assert answer.json() == {"error": {"status": 400, "code": "bad_parameter", "parameter": "north_star",
                                           "message": "north_star: 'nope' is not a North Star of the spec. "
                                                      "Its North Stars: music, podcasts"}}


def test_overview_page_shows_both_north_stars_in_chromium(base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    _wait_for_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
        try:
            visit = Visit(context, base_url)
            page = visit.open("/")
            cards = page.locator("[data-testid=ns-card]")
            assert cards.count() == 2
            assert [cards.nth(i).get_attribute("data-name") for i in range(2)] == list(NAMES)
            assert "★" in cards.nth(0).inner_text() and cards.nth(0).get_attribute("aria-current") == "page"
            assert page.inner_text("#ns-label") == "Listening minutes"
            cards.nth(1).click()
            page.wait_for_url("**/?north_star=podcasts")
            visit.wait_ready()
            assert page.inner_text("#ns-label") == "Podcast minutes"
            assert page.locator("[data-testid=ns-card]").nth(1).get_attribute("aria-current") == "page"
            # the navigation keeps the North Star: the tree page is the podcasts'
            page.click("nav a[href^='/tree']")
            page.wait_for_url("**/tree?north_star=podcasts")
            visit.wait_ready()
            assert "Podcast minutes" in page.inner_text("main")
            visit.assert_clean()
            assert any("/api/tree" in url and "north_star=podcasts" in url for url in visit.requests)
        finally:
            context.close()
            browser.close()
