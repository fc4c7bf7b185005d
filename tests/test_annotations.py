"""Annotations (issue 16): releases, campaigns, outages and holidays in the spec and in the file
beside it, added by the CLI and the API, named by explain, alerts and the digest, drawn on the
charts (real headless Chromium), and, when expected, silencing `monitor` on their periods.

The data is built so the numbers are certain: 100 events a week for 39 weeks (Monday
2025-06-02 on), then 400 in the week of 2026-03-02 (the review period: one event on Monday
2026-03-09 makes that week complete). A fourfold count against a flat history of 100 is an
anomaly at any sensitivity the default rule uses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from northstar.alerts import monitor as mon
from northstar.annotations import marks, read_store, store_path
from northstar.engine.time import period_start
from northstar.errors import SpecError
from northstar.project import Project
from northstar.spec import parse_spec
from northstar.spec.annotations import Annotation
from northstar.web import create_app

ROOT = Path(__file__).resolve().parents[1]
FIRST = dt.date(2025, 6, 2)  # a Monday
WEEKS = 40
SPIKE = dt.date(2026, 3, 2)  # the last complete week: 400 events instead of 100
TOKEN = "annotations-t0ken"
SPEC = """\
project: Annotated
timezone: UTC
sources:
  events: {path: events.csv, timestamp: ts, entity: user, dimensions: [country]}
metrics:
  events: {source: events, agg: count}
  users: {source: events, agg: count_distinct}
  events_per_user: {formula: events / users}
north_star:
  metric: events
  grain: week
  tree:
    events: {formula: users * events_per_user}
alerts:
  rules:
    - {metrics: [events], checks: [anomaly]}
"""


def _write_data(folder: Path) -> None:
    rows = ["ts,user,country"]
    for week in range(WEEKS):
        for i in range(100 if week < WEEKS - 1 else 400):
            day = FIRST + dt.timedelta(days=7 * week + i % 7)
            rows.append(f"{day} 12:{i % 60:02d}:00,u{i},{'NL' if i % 2 else 'DE'}")
    rows.append(f"{FIRST + dt.timedelta(weeks=WEEKS)} 01:00:00,u1,NL")
    (folder / "events.csv").write_text("\n".join(rows) + "\n")
    (folder / "northstar.yml").write_text(SPEC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("annotated")
    _write_data(folder)
    return folder


@pytest.fixture
def spec(built: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(built, folder)
    return folder / "northstar.yml"


def run_cli(spec: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec.name, *args], cwd=spec.parent,
                          capture_output=True, text=True, timeout=300, env=env)


def one_line_error(done: subprocess.CompletedProcess, *parts: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for part in parts:
        assert part in lines[0], lines[0]


# ---- the model ---------------------------------------------------------------------------------

def test_spec_annotations_load_and_bad_ones_name_file_line_and_field() -> None:
    good = parse_spec(SPEC + "annotations:\n  - {title: Spring sale, date: 2026-03-02, to: 2026-03-08, kind: campaign,"
                             " metrics: [events], expected: true}\n")
    (sale,) = good.spec.annotations
    assert (sale.start, sale.end, sale.kind, sale.metrics, sale.expected) == (
        SPIKE, dt.date(2026, 3, 8), "campaign", ("events",), True)
    assert sale.words() == "Spring sale, 2 Mar – 8 Mar 2026"
    assert parse_spec(SPEC).spec.annotations == ()
    cases = [
        ("  - {title: A, date: 2026-03-02, to: 2026-03-01}\n", "is before `date`"),
        ("  - {title: A, date: 2026-03-02, metrics: [evnts]}\n", "metric 'evnts' is not defined. Did you mean 'events'?"),
        ("  - {title: A, date: 2026-03-02, where: \"cuntry = 'NL'\"}\n", "'cuntry' is not a dimension"),
        ("  - {title: A, date: 2026-03-02, kind: launch}\n", "'launch' is not allowed"),
        ("  - {title: A, date: 2026-02-30}\n", "annotations.0.date"),
        ("  - {title: A, date: 2026-03-02, colour: red}\n", "unknown key 'colour'"),
    ]
    line = SPEC.count("\n") + 2
    for item, words in cases:
        with pytest.raises(SpecError) as caught:
            parse_spec(SPEC + "annotations:\n" + item, "northstar.yml")
        text = str(caught.value)
        assert text.startswith(f"northstar.yml:{line}: ") and words in text and "\n" not in text, text


@settings(max_examples=300, deadline=None)
@given(start=st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), days=st.integers(0, 120),
       grain=st.sampled_from(["day", "week", "month", "quarter", "year"]),
       probe=st.dates(dt.date(2019, 6, 1), dt.date(2031, 6, 1)), span=st.integers(0, 60))
def test_overlaps_and_marked_periods_match_brute_force(start: dt.date, days: int, grain: str, probe: dt.date,
                                                       span: int) -> None:
    a = Annotation(title="x", date=start, to=start + dt.timedelta(days=days), id="x")
    covered = {start + dt.timedelta(days=i) for i in range(days + 1)}
    window = {probe + dt.timedelta(days=i) for i in range(span + 1)}
    assert a.overlaps(probe, probe + dt.timedelta(days=span)) == bool(covered & window)

    def brute_period(day: dt.date) -> dt.date:  # the calendar by hand, not engine.time
        if grain == "day":
            return day
        if grain == "week":
            return day - dt.timedelta(days=day.weekday())
        if grain == "month":
            return day.replace(day=1)
        if grain == "quarter":
            return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return dt.date(day.year, 1, 1)

    periods = sorted({brute_period(d) for d in covered})
    (mark,) = marks([a], grain)
    assert (mark["first_period"], mark["last_period"]) == (periods[0].isoformat(), periods[-1].isoformat())
    assert period_start(start, grain) == periods[0]


# ---- the CLI and the file ----------------------------------------------------------------------

def test_cli_add_list_remove_and_the_file_stays_valid(spec: Path) -> None:
    done = run_cli(spec, "annotate", "add", "Android 8.2 release", "--date", "2026-02-25", "--kind", "release",
                   "--metric", "events", "--where", "country = 'NL'")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("added android-8-2-release-2026-02-25: Android 8.2 release, 25 Feb 2026 to "
                                   "northstar.annotations.yml")
    done = run_cli(spec, "annotate", "add", "Easter", "--date", "2026-04-03", "--to", "2026-04-06", "--kind",
                   "holiday", "--expected", "--format", "json")
    assert done.returncode == 0, done.stderr
    easter = json.loads(done.stdout)
    assert easter == {"id": "easter-2026-04-03", "title": "Easter", "date": "2026-04-03", "to": "2026-04-06",
                      "kind": "holiday", "metrics": None, "where": None, "expected": True}
    path = store_path(spec)
    assert path.name == "northstar.annotations.yml"
    assert [p.name for p in spec.parent.iterdir() if p.name.startswith(".northstar.annotations")] == []  # no temp left
    stored = read_store(Project.load(spec).loaded)
    assert [a.id for a in stored] == ["android-8-2-release-2026-02-25", "easter-2026-04-03"]

    listed = json.loads(run_cli(spec, "annotate", "list", "--format", "json").stdout)
    assert [a["id"] for a in listed] == ["android-8-2-release-2026-02-25", "easter-2026-04-03"]
    march = json.loads(run_cli(spec, "annotate", "list", "--from", "2026-03-01", "--format", "json").stdout)
    assert [a["id"] for a in march] == ["easter-2026-04-03"]
    text = run_cli(spec, "annotate", "list").stdout
    assert "Android 8.2 release" in text and "country = 'NL'" in text

    done = run_cli(spec, "annotate", "remove", "easter-2026-04-03")
    assert done.returncode == 0 and done.stdout.strip() == "removed easter-2026-04-03: Easter, 3 Apr – 6 Apr 2026"
    assert [a.id for a in read_store(Project.load(spec).loaded)] == ["android-8-2-release-2026-02-25"]


def test_cli_bad_input_is_one_line_naming_the_option(spec: Path) -> None:
    one_line_error(run_cli(spec, "annotate", "add", "X", "--date", "2026-13-01"), "--date", "not a date")
    one_line_error(run_cli(spec, "annotate", "add", "X", "--date", "2026-03-05", "--to", "2026-03-01"), "--to")
    one_line_error(run_cli(spec, "annotate", "add", "X", "--date", "2026-03-05", "--metric", "evnts"),
                   "--metric", "Did you mean 'events'?")
    one_line_error(run_cli(spec, "annotate", "add", "X", "--date", "2026-03-05", "--where", "cuntry = 'NL'"),
                   "--where", "'cuntry' is not a dimension")
    one_line_error(run_cli(spec, "annotate", "add", " ", "--date", "2026-03-05"), "TITLE")
    one_line_error(run_cli(spec, "annotate", "remove", "nope"), "no annotation 'nope'")
    spec.write_text(SPEC + "annotations:\n  - {title: Launch, date: 2026-01-05}\n")
    one_line_error(run_cli(spec, "annotate", "remove", "launch-2026-01-05"), "written in the spec",
                   "northstar.yml:18")
    assert not store_path(spec).exists()  # nothing was written
    store_path(spec).write_text("annotations:\n  - {id: a, title: A, date: 2026-03-05}\n"
                                "  - {id: b, title: B, date: 2026-03-05, metrics: [evnts]}\n")
    done = run_cli(spec, "annotate", "list")
    one_line_error(done, "northstar.annotations.yml:3:", "metric 'evnts' is not defined")


def test_two_writers_at_once_lose_nothing(spec: Path) -> None:
    from northstar.annotations import add, parse_new

    loaded = Project.load(spec).loaded
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                add(loaded, parse_new(f"{name} deploy {i}", "2026-03-02"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("ci", "web")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [a.id for a in read_store(loaded)]
    assert len(ids) == len(set(ids)) == 30


# ---- the API -----------------------------------------------------------------------------------

def test_api_post_needs_a_token_and_names_bad_fields(spec: Path) -> None:
    body = {"title": "Spring campaign", "date": "2026-03-02", "to": "2026-03-04", "kind": "campaign", "expected": True}
    open_app = TestClient(create_app(spec))
    answer = open_app.post("/api/annotations", json=body)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "token_required"
    client = TestClient(create_app(spec, token=TOKEN))
    assert client.post("/api/annotations", json=body).status_code == 401
    assert not store_path(spec).exists()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for bad, parameter in ((dict(body, date="2026-02-30"), "date"), (dict(body, to="2026-03-01"), "to"),
                           (dict(body, kind="launch"), "kind"), (dict(body, metrics=["evnts"]), "metrics"),
                           (dict(body, where="cuntry = 'x'"), "where"), (dict(body, title=""), "title"),
                           ({"title": "x"}, "date")):
        answer = client.post("/api/annotations", json=bad, headers=auth)
        error = answer.json()["error"]
        assert answer.status_code == 400 and error["parameter"] == parameter, (bad, answer.json())
        assert error["message"].startswith(f"{parameter}: ")
    answer = client.post("/api/annotations", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == "spring-campaign-2026-03-02"
    listed = client.get("/api/annotations", params={"metric": "events", "grain": "month"}, headers=auth).json()
    assert listed["grain"] == "month"
    assert [(a["id"], a["first_period"], a["last_period"], a["expected"]) for a in listed["annotations"]] == [
        ("spring-campaign-2026-03-02", "2026-03-01", "2026-03-01", True)]
    bad = client.get("/api/annotations", params={"from": "2026-99-01"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "from"


# ---- explain, monitor, digest ------------------------------------------------------------------

def test_expected_annotation_silences_monitor_on_its_period_only(spec: Path) -> None:
    plain = mon.run(Project.load(spec), dry_run=True, explain=False)
    assert [a.key for a in plain.alerts] == ["anomaly:events:2026-03-02"]
    assert plain.alerts[0].value == 400 and "silenced" not in plain.to_dict()

    done = run_cli(spec, "annotate", "add", "Spring campaign", "--date", "2026-03-02", "--to", "2026-03-04",
                   "--kind", "campaign", "--expected")
    assert done.returncode == 0, done.stderr
    quiet = json.loads(run_cli(spec, "monitor", "--dry-run", "--no-explain", "--format", "json").stdout)
    assert quiet["alerts"] == [] and quiet["messages"] == []
    assert quiet["silenced"] == [{
        "key": "anomaly:events:2026-03-02", "kind": "anomaly", "metric": "events", "period": "2026-03-02",
        "title": plain.alerts[0].title, "annotation": "spring-campaign-2026-03-02",
        "annotation_title": "Spring campaign", "during": "Spring campaign, 2 Mar – 4 Mar 2026"}]
    text = run_cli(spec, "monitor", "--dry-run", "--no-explain").stdout
    assert "no alerts" in text and "silenced anomaly:events:2026-03-02" in text and "Spring campaign" in text

    # an expected annotation about another metric, or for one segment only, silences nothing here
    run_cli(spec, "annotate", "remove", "spring-campaign-2026-03-02")
    run_cli(spec, "annotate", "add", "Users push", "--date", "2026-03-02", "--metric", "users", "--expected")
    run_cli(spec, "annotate", "add", "NL promo", "--date", "2026-03-02", "--where", "country = 'NL'", "--expected")
    loud = mon.run(Project.load(spec), dry_run=True, explain=False)
    assert [a.key for a in loud.alerts] == ["anomaly:events:2026-03-02"] and not loud.silenced
    # an annotation that is not expected does not silence: the message names it
    (message,) = loud.messages
    assert "during: NL promo, 2 Mar 2026" in message.text


def test_expected_periods_are_silenced_in_a_backtest_and_left_out_of_the_history(spec: Path) -> None:
    """A planted spike in week 30 raises an anomaly in a backtest; marked expected it is silenced
    (and the spike of the last week still fires). The history the model learns from has the
    expected periods before the judged one as missing, and only those."""
    import pandas as pd

    from northstar.alerts.expected import expected_annotations, without

    rows = (spec.parent / "events.csv").read_text().splitlines()
    week30 = FIRST + dt.timedelta(weeks=30)
    extra = [f"{week30 + dt.timedelta(days=i % 7)} 09:00:00,x{i},NL" for i in range(300)]
    (spec.parent / "events.csv").write_text("\n".join(rows + extra) + "\n")
    key = "anomaly:events:" + week30.isoformat()
    before = mon.backtest(Project.load(spec), week30, explain=False)
    assert key in [a.key for a in before.alerts] and not before.silenced
    run_cli(spec, "annotate", "add", "Known closure", "--date", (week30 + dt.timedelta(days=3)).isoformat(), "--expected")
    after = mon.backtest(Project.load(spec), week30, explain=False)
    keys = [a.key for a in after.alerts]
    assert key not in keys and "anomaly:events:2026-03-02" in keys
    assert [(x.alert.key, x.annotation.title) for x in after.silenced] == [(key, "Known closure")]

    project = Project.load(spec)
    periods = [FIRST + dt.timedelta(weeks=w) for w in range(WEEKS)]
    series = pd.Series([100.0] * WEEKS, index=periods)
    hidden = without(series, expected_annotations(project), "events", "week", SPIKE)
    assert [p for p, v in hidden.items() if pd.isna(v)] == [week30]
    also = without(series, expected_annotations(project), "users", "week", SPIKE)  # no `metrics`: about every one
    assert [p for p, v in also.items() if pd.isna(v)] == [week30]
    assert without(series, expected_annotations(project), "events", "week", week30).equals(series)  # judged, not hidden


def _add_cli_and_api(spec: Path) -> TestClient:
    done = run_cli(spec, "annotate", "add", "Release 2.0", "--date", "2026-02-25", "--kind", "release")
    assert done.returncode == 0, done.stderr
    client = TestClient(create_app(spec, token=TOKEN))
    answer = client.post("/api/annotations", headers={"Authorization": f"Bearer {TOKEN}"},
                         json={"title": "Spring campaign", "date": "2026-03-02", "to": "2026-03-04", "kind": "campaign"})
    assert answer.status_code == 201, answer.text
    return client


def test_explain_and_the_digest_name_annotations_from_cli_and_api(spec: Path) -> None:
    client = _add_cli_and_api(spec)
    e = Project.load(spec).explain()
    assert (e.period, e.baseline_period, e.value, e.baseline) == (SPIKE, dt.date(2026, 2, 23), 400, 100)
    assert e.summary.endswith(" During: Spring campaign, 2 Mar – 4 Mar 2026. The baseline (week of 2026-02-23) was "
                              "during: Release 2.0, 25 Feb 2026.")
    assert [(a["id"], a["during"]) for a in e.to_dict()["annotations"]] == [
        ("release-2-0-2026-02-25", "baseline"), ("spring-campaign-2026-03-02", "period")]
    rolling = Project.load(spec).explain(window="7d")  # the 7 days to 2026-03-09 against the 7 before
    assert rolling.summary.endswith(" During: Spring campaign, 2 Mar – 4 Mar 2026. The baseline (2026-02-24 to "
                                    "2026-03-02) was during: Release 2.0, 25 Feb 2026."), rolling.summary
    body = client.get("/api/explain", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert "During: Spring campaign" in body["summary"] and len(body["annotations"]) == 2
    md = run_cli(spec, "explain", "--format", "markdown")
    assert md.returncode == 0 and "During: Spring campaign, 2 Mar – 4 Mar 2026." in md.stdout
    digest = run_cli(spec, "digest", "--dry-run")
    assert digest.returncode == 0, digest.stderr
    assert "During: Spring campaign, 2 Mar – 4 Mar 2026" in digest.stdout
    assert "Release 2.0, 25 Feb 2026" in digest.stdout


def test_a_spec_without_annotations_explains_as_before(spec: Path) -> None:
    e = Project.load(spec).explain()
    assert "During" not in e.summary and "annotations" not in e.to_dict()


# ---- the charts, in Chromium -------------------------------------------------------------------

def _layout(page: object, selector: str) -> dict:
    return page.eval_on_selector(selector, """gd => ({  // type: ignore[attr-defined]
        shapes: (gd.layout.shapes || []).filter(s => (s.name || '').startsWith('annotation:'))
                  .map(s => ({name: s.name, type: s.type, x0: s.x0, x1: s.x1})),
        notes: (gd.layout.annotations || []).map(a => ({name: a.name, text: a.text, x: a.x}))})""")


@pytest.fixture
def served(spec: Path) -> Iterator[str]:
    from test_web_pages import _serve

    _add_cli_and_api(spec)
    with _serve(spec, token=TOKEN) as origin:
        yield origin


def test_annotations_from_cli_and_api_appear_on_the_charts(served: str) -> None:
    from test_web_pages import CHROMIUM, CHROMIUM_ARGS, READY
    from playwright.sync_api import sync_playwright

    release, campaign = "annotation:release-2-0-2026-02-25", "annotation:spring-campaign-2026-03-02"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        def chart(path: str, selector: str) -> dict:
            page.goto(served + path)
            page.wait_for_selector("body:not([data-state=loading])", timeout=READY)
            assert page.get_attribute("body", "data-state") == "ready"
            page.wait_for_function(f"() => (document.querySelector('{selector}').layout || {{}}).annotations"
                                   " && document.querySelector('" + selector + "').layout.annotations.length >= 2",
                                   timeout=READY)
            return _layout(page, selector)

        overview = chart(f"/?token={TOKEN}", "#trend-chart")  # the North Star's grain: week
        assert {(s["name"], s["type"], s["x0"], s["x1"]) for s in overview["shapes"]} == {
            (release, "line", "2026-02-23", "2026-02-23"), (campaign, "line", "2026-03-02", "2026-03-02")}
        assert {(n["name"], n["text"]) for n in overview["notes"]} == {(release, "Release 2.0"), (campaign, "Spring campaign")}
        week = chart("/metric/events?grain=week", "#metric-chart")
        assert {(s["name"], s["x0"], s["x1"]) for s in week["shapes"]} == {
            (release, "2026-02-23", "2026-02-23"), (campaign, "2026-03-02", "2026-03-02")}
        month = chart("/metric/events?grain=month", "#metric-chart")  # a day in a month chart marks that month
        assert {(s["name"], s["x0"], s["x1"]) for s in month["shapes"]} == {
            (release, "2026-02-01", "2026-02-01"), (campaign, "2026-03-01", "2026-03-01")}
        assert {n["text"] for n in month["notes"]} == {"Release 2.0", "Spring campaign"}
        day = chart("/metric/events?grain=day&from=2026-02-20", "#metric-chart")  # a range is a shaded range
        assert {(s["name"], s["type"], s["x0"], s["x1"]) for s in day["shapes"]} == {
            (release, "line", "2026-02-25", "2026-02-25"), (campaign, "rect", "2026-03-02", "2026-03-04")}
        assert not errors, errors
        browser.close()


def test_the_html_report_chart_marks_them(spec: Path) -> None:
    from northstar.report import build_report
    from northstar.report.charts import trend_figure

    _add_cli_and_api(spec)
    report = build_report(Project.load(spec))
    figure = trend_figure(report)
    assert sorted((s.name, s.type, s.x0, s.x1) for s in figure.layout.shapes) == [
        ("annotation:release-2-0-2026-02-25", "line", "2026-02-23", "2026-02-23"),
        ("annotation:spring-campaign-2026-03-02", "line", "2026-03-02", "2026-03-02")]
    assert sorted(a.text for a in figure.layout.annotations) == ["Release 2.0", "Spring campaign"]
    assert "During: Spring campaign, 2 Mar – 4 Mar 2026." in report.why


def test_the_demo_incidents_are_its_annotations() -> None:
    """Each documented incident of the demo (demo/incidents.py) is an annotation of its spec with
    the same days and, for a segment incident, the same segment."""
    from northstar.demo.incidents import INCIDENTS
    from northstar.spec import load_spec

    spec = load_spec(ROOT / "src" / "northstar" / "demo" / "northstar.yml").spec
    assert len(spec.annotations) == len(INCIDENTS)
    for incident in INCIDENTS:
        (a,) = [a for a in spec.annotations if (a.start, a.end) == (incident.start, incident.end)]
        wanted = " AND ".join(f"{k} = '{v}'" for k, v in incident.segment.items()) or None
        assert a.where == wanted, incident.name
        assert not a.expected  # the demo's alerts are there to find them (tests/test_alerts_monitor.py)
        assert a.metrics is None or set(a.metrics) <= set(incident.effects), incident.name


def test_the_dutch_and_swedish_digest_name_them_too(spec: Path) -> None:
    _add_cli_and_api(spec)
    project = Project.load(spec)
    assert "Tijdens: Spring campaign, 2026-03-02 – 2026-03-04." in mon.digest(project, findings=False, lang="nl").text
    assert "Under: Spring campaign, 2026-03-02 – 2026-03-04." in mon.digest(project, findings=False, lang="sv").text


def test_the_overview_forecast_leaves_expected_periods_out(spec: Path) -> None:
    """The forecast is fitted on the North Star's complete periods with those an expected
    annotation covers left out (None): the same band as the forecast of that series, and not the
    band of the series with the spike kept in."""
    from northstar.domains import metric_domain
    from northstar.web.forecast import forecast

    rows = (spec.parent / "events.csv").read_text().splitlines()
    week30 = FIRST + dt.timedelta(weeks=30)
    extra = [f"{week30 + dt.timedelta(days=i % 7)} 09:00:00,x{i},NL" for i in range(300)]
    (spec.parent / "events.csv").write_text("\n".join(rows + extra) + "\n")
    run_cli(spec, "annotate", "add", "Known closure", "--date", week30.isoformat(), "--to",
            (week30 + dt.timedelta(days=6)).isoformat(), "--expected")
    body = TestClient(create_app(spec)).get("/api/overview").json()
    periods = [dt.date.fromisoformat(r["period"]) for r in body["series"]]
    values = [r["value"] for r in body["series"]]
    assert values[periods.index(week30)] == 400 and len(periods) == WEEKS
    kept_out = [None if p == week30 else v for p, v in zip(periods, values)]
    domain = metric_domain(Project.load(spec), "events")
    assert body["forecast"] == json.loads(json.dumps(forecast(periods, kept_out, "week", domain=domain)))
    assert body["forecast"] != json.loads(json.dumps(forecast(periods, values, "week", domain=domain)))
    assert [(a["id"], a["first_period"]) for a in body["annotations"]] == [
        ("known-closure-" + week30.isoformat(), week30.isoformat())]
