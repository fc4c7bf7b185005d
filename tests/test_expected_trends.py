"""An expected annotation (a known closure) keeps its periods out of every later forecast
(issue 16, part 2): `targets`' trends, the "target at risk" projection of `monitor`, and the
overview's forecast band leave them out, as the anomaly model does (`analysis.expected`).

The data: a shop whose weekly orders grow 3% a week (100 in the first week, rounded), closed
for two weeks (no orders at all) four weeks before the last complete week. With the closure
marked expected, each trend equals the one fitted on the same weeks with the two closed ones
missing (brute force: the series built here, from the growth rule, not read back), and the
projection follows the growth (within 2% of 100·1.03^w); without the mark, the zeros pull it
off.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from northstar.alerts import monitor as mon
from northstar.analysis.domain import Domain
from northstar.analysis.projection import band, project
from northstar.project import Project
from northstar.web import create_app

ROOT = Path(__file__).resolve().parents[1]
FIRST = dt.date(2025, 6, 2)  # a Monday
WEEKS = 30
CLOSED = (WEEKS - 5, WEEKS - 4)  # the two weeks the shop was closed
BY = FIRST + dt.timedelta(weeks=WEEKS + 9)  # the target date: 10 weeks after the last complete one
SPEC = """\
project: Closed for two weeks
timezone: UTC
sources:
  orders: {path: orders.csv, timestamp: ts, entity: customer}
metrics:
  orders: {source: orders, agg: count}
north_star:
  metric: orders
  grain: week
  target: {value: TARGET, by: BY}
alerts:
  rules:
    - {metrics: [orders], checks: [target]}
"""


def weekly(week: int) -> int:
    return 0 if week in CLOSED else round(100 * 1.03 ** week)


def growth(week: int) -> float:
    return 100 * 1.03 ** week


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("closed")
    rows = ["ts,customer"]
    for week in range(WEEKS):
        for i in range(weekly(week)):
            rows.append(f"{FIRST + dt.timedelta(days=7 * week + i % 7)} 10:{i % 60:02d}:00,c{i}")
    rows.append(f"{FIRST + dt.timedelta(weeks=WEEKS)} 09:00:00,c1")  # the last week is complete
    (folder / "orders.csv").write_text("\n".join(rows) + "\n")
    target = round(growth(WEEKS - 1 + 10) * 0.97)  # reachable on the growth, not on a line through the zeros
    (folder / "northstar.yml").write_text(SPEC.replace("TARGET", str(target)).replace("BY", BY.isoformat()))
    return folder


@pytest.fixture
def spec(built: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(built, folder)
    return folder / "northstar.yml"


def annotate_closure(spec: Path) -> None:
    start = FIRST + dt.timedelta(weeks=CLOSED[0])
    end = FIRST + dt.timedelta(weeks=CLOSED[1], days=6)
    done = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec.name, "annotate", "add",
                           "Closed for renovation", "--date", start.isoformat(), "--to", end.isoformat(),
                           "--kind", "holiday", "--expected"], cwd=spec.parent, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr


COUNT = Domain(kind="count", lower=0.0)  # what orders (a count of rows) can be


def values(masked: bool) -> list[float | None]:
    """The weekly orders as built, the closed weeks missing when `masked`."""
    return [None if masked and w in CLOSED else float(weekly(w)) for w in range(WEEKS)]


def test_targets_trend_leaves_the_closure_out(spec: Path) -> None:
    plain = Project.load(spec).targets()
    annotate_closure(spec)
    marked = Project.load(spec).targets()
    ahead = 10
    assert plain.root.current == marked.root.current == weekly(WEEKS - 1)  # the value seen stays
    expected = project(values(True)[-26:], ahead, "week", COUNT, window=26)
    assert marked.root.trend == pytest.approx(expected.value, rel=1e-9)
    assert marked.root.trend == pytest.approx(growth(WEEKS - 1 + ahead), rel=0.02)
    unmasked = project(values(False)[-26:], ahead, "week", COUNT, window=26)
    assert plain.root.trend == pytest.approx(unmasked.value, rel=1e-9)
    assert abs(plain.root.trend / growth(WEEKS - 1 + ahead) - 1) > 0.05  # the zeros pulled it off


def test_target_at_risk_only_without_the_mark(spec: Path) -> None:
    now = dt.datetime.combine(FIRST + dt.timedelta(weeks=WEEKS, days=1), dt.time(9), dt.timezone.utc)
    plain = mon.run(Project.load(spec), now=now, dry_run=True, explain=False)
    assert [a.kind for a in plain.alerts] == ["target"], plain.alerts  # the zeros make it look out of reach
    annotate_closure(spec)
    marked = mon.run(Project.load(spec), now=now, dry_run=True, explain=False)
    assert [a.kind for a in marked.alerts] == []


def test_overview_forecast_leaves_the_closure_out(spec: Path) -> None:
    annotate_closure(spec)
    body = TestClient(create_app(spec)).get("/api/overview").json()
    final = [p["value"] for p in body["series"]]
    assert final == values(False)
    points = band(values(True), 8, "week", COUNT, window=26)
    assert [round(p["value"], 6) for p in body["forecast"]] == [round(v, 6) for v, _, _ in points]
    assert all(math.isclose(p["value"], growth(WEEKS - 1 + i), rel_tol=0.02) for i, p in enumerate(body["forecast"], 1))
