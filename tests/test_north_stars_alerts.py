"""Several North Stars and the alerts (issue 16, part 1): `monitor` without `--north-star`
watches every North Star (the primary first), as `serve`'s background monitor and `refresh`
do; an alert two North Stars share (a shared guardrail, a metric in both trees) is raised
once; `--north-star NAME` watches that one alone.

The data: two product lines, `a` and `b`, 100 events a week each for 30 weeks, then a spike
in the last complete week (400 of `a`, 50 of `b`); a guardrail on all events, shared by both
North Stars, is crossed in that week.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from northstar.alerts import monitor as mon
from northstar.project import Project

ROOT = Path(__file__).resolve().parents[1]
FIRST = dt.date(2025, 6, 2)  # a Monday
WEEKS = 30
LAST = FIRST + dt.timedelta(weeks=WEEKS - 1)
SPEC = """\
project: Two lines
timezone: UTC
sources:
  events: {path: events.csv, timestamp: ts, entity: user, dimensions: [line]}
metrics:
  events: {source: events, agg: count}
  a_events: {source: events, agg: count, where: "line = 'a'"}
  b_events: {source: events, agg: count, where: "line = 'b'"}
north_stars:
  - {name: alpha, metric: a_events, grain: week, primary: true}
  - {name: beta, metric: b_events, grain: week}
guardrails:
  - {metric: events, max: 400}
alerts:
  rules:
    - {checks: [anomaly]}
    - {metrics: [events], checks: [guardrail]}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two-lines")
    rows = ["ts,user,line"]
    for week in range(WEEKS):
        counts = {"a": 400, "b": 50} if week == WEEKS - 1 else {"a": 100, "b": 100}
        for line, n in counts.items():
            for i in range(n):
                rows.append(f"{FIRST + dt.timedelta(days=7 * week + i % 7)} 12:{i % 60:02d}:00,{line}{i},{line}")
    rows.append(f"{FIRST + dt.timedelta(weeks=WEEKS)} 01:00:00,a1,a")  # the last week is complete
    (folder / "events.csv").write_text("\n".join(rows) + "\n")
    (folder / "northstar.yml").write_text(SPEC)
    return folder


@pytest.fixture
def spec(built: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(built, folder)
    return folder / "northstar.yml"


def monitor_json(spec: Path, *options: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec.name, *options, "monitor", "--dry-run",
                           "--no-explain", "--format", "json"], cwd=spec.parent, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_monitor_watches_every_north_star_and_raises_a_shared_alert_once(spec: Path) -> None:
    every = monitor_json(spec)
    keys = [a["key"] for a in every["alerts"]]
    # alpha's first (its North Star, then the guardrail's metric its rule watches too), then what
    # beta adds: the anomaly and the guardrail on `events`, which both watch, come once
    shared = [f"anomaly:events:{LAST}", f"guardrail:events:{LAST}"]
    assert keys == [f"anomaly:a_events:{LAST}", *shared, f"anomaly:b_events:{LAST}"]
    rules = {a["key"]: m["rule"] for m in every["messages"] for a in m["alerts"]}
    assert rules == {keys[0]: 0, keys[1]: 0, keys[2]: 1, keys[3]: 0}  # indexes of the spec's own rules
    assert set(every["reviews"]) == {"alpha", "beta"}
    assert every["review"] == every["reviews"]["alpha"]  # the primary's

    alpha = monitor_json(spec, "--north-star", "alpha")
    beta = monitor_json(spec, "--north-star", "beta")
    assert [a["key"] for a in alpha["alerts"]] == keys[:3] and "reviews" not in alpha
    assert sorted(a["key"] for a in beta["alerts"]) == sorted([f"anomaly:b_events:{LAST}", *shared])


def test_the_text_names_the_review_period_once_for_north_stars_that_share_it(spec: Path) -> None:
    result = mon.run(Project.load(spec), dry_run=True, explain=False, every=True)
    text = mon.render_text(result)
    assert text.startswith(f"Review period (alpha, beta): the week of {LAST}")
    assert text.count("Review period") == 1
    assert "4 alerts in" in text


def test_a_backtest_covers_every_north_star(spec: Path) -> None:
    result = mon.backtest(Project.load(spec), LAST, explain=False, every=True)
    assert {a.key for a in result.alerts} == {f"anomaly:a_events:{LAST}", f"anomaly:events:{LAST}",
                                              f"guardrail:events:{LAST}", f"anomaly:b_events:{LAST}"}
    one = mon.backtest(Project.load(spec), LAST, explain=False)  # the primary alone
    assert f"anomaly:b_events:{LAST}" not in {a.key for a in one.alerts}


def test_refresh_runs_the_daily_set_for_every_north_star(spec: Path) -> None:
    project = Project.load(spec)
    report = project.refresh(every=True)
    assert set(report.seconds) == {"tree", "overview", "explain", "monitor", "check"}
    again = Project.load(spec).for_north_star("beta")
    again.engine.scanned.clear()
    again.tree()
    assert not again.engine.scanned  # beta's tree was refreshed too: nothing left to scan


def test_the_digest_reviews_every_north_star_the_primary_first(spec: Path) -> None:
    both = mon.digest(Project.load(spec), findings=False, every=True)
    one = mon.digest(Project.load(spec), findings=False)
    beta = mon.digest(Project.load(spec).for_north_star("beta"), findings=False)
    assert both.title == one.title and both.title.startswith("Two lines weekly review: A events")
    assert both.text == one.text + "\n\n" + beta.title + "\n" + beta.text
    assert both.key == f"digest:a_events+b_events:{LAST}"
    assert "North Star: B events 50 (was 100)" in beta.text
