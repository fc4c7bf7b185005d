"""The `year` grain: the calendar year in the spec's time zone, everywhere a grain is taken.

The property test draws events over several years (instants a second either side of a local
new year included) and compares the engine's yearly sums, counts and distinct counts, and
the previous / same-period-last-year comparisons (both the year before, for a year), with
brute force in plain Python in a zone far from UTC. The other tests walk the places a grain
is accepted: the CLI, the web API, cohorts, explain, targets, tree, checks and the alert
detector.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from northstar import Project
from northstar.alerts.detect import score_series
from northstar.analysis.targets.calendar import period_index, periods_apart
from northstar.engine.time import periods_per_year, period_range, period_start, same_period_last_year, shift_period

UTC = dt.timezone.utc
ZONES = ["Pacific/Auckland", "America/Los_Angeles", "Asia/Kathmandu"]


def local_year(instant: dt.datetime, zone: str) -> int:
    return instant.astimezone(ZoneInfo(zone)).year


def write(folder: Path, rows: list[dict], zone: str, grain: str = "year", extra: dict | None = None) -> Path:
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = {"project": "Years", "timezone": zone,
            "sources": {"events": {"path": "events.jsonl", "timestamp": "ts", "time_unit": "ms", "entity": "user",
                                   "dimensions": ["plan"]}},
            "metrics": {"amount": {"source": "events", "agg": "sum", "expr": "amount"},
                        "events": {"source": "events", "agg": "count"},
                        "buyers": {"source": "events", "agg": "count_distinct"},
                        "per_buyer": {"formula": "amount / buyers"}},
            "north_star": {"metric": "amount", "grain": grain, **(extra or {})}, "engine": {"cache": False}}
    (folder / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    return folder / "northstar.yml"


def _ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


@st.composite
def yearly_events(draw: st.DrawFn) -> tuple[str, list[dict]]:
    zone = draw(st.sampled_from(ZONES))
    new_years = [dt.datetime(y, 1, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC) for y in range(2015, 2022)]
    edges = [n + dt.timedelta(seconds=s) for n in new_years for s in (-1, 0, 1)]
    anywhere = st.datetimes(min_value=dt.datetime(2014, 6, 1), max_value=dt.datetime(2021, 6, 1), timezones=st.just(UTC))
    instants = draw(st.lists(st.one_of(anywhere, st.sampled_from(edges)), min_size=1, max_size=40))
    rows = [{"ts": _ms(i.replace(microsecond=0)), "user": f"u{draw(st.integers(0, 5))}",
             "amount": draw(st.integers(0, 20)), "plan": draw(st.sampled_from(["free", "paid"]))} for i in instants]
    return zone, rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=yearly_events())
def test_year_totals_are_the_events_of_each_calendar_year(case: tuple[str, list[dict]]) -> None:
    zone, rows = case
    note(f"{zone} {rows}")
    amount: dict[int, int] = defaultdict(int)
    count: dict[int, int] = defaultdict(int)
    buyers: dict[int, set] = defaultdict(set)
    for row in rows:
        year = local_year(dt.datetime.fromtimestamp(row["ts"] / 1000, UTC), zone)
        amount[year] += row["amount"]
        count[year] += 1
        buyers[year].add(row["user"])
    with tempfile.TemporaryDirectory() as folder:
        frame = Project.load(write(Path(folder), rows, zone)).query(["amount", "events", "buyers"], compare=True)
    years = list(range(min(amount), max(amount) + 1))
    assert [p.year for p in frame["period"]] == years
    assert all(p == dt.date(p.year, 1, 1) for p in frame["period"])
    for row in frame.itertuples():
        year = row.period.year
        assert (row.amount, row.events, row.buyers) == (amount[year], count[year], len(buyers[year]))
        if year > years[0]:  # the previous period of a year is the year before, and so is last year's
            assert row.amount_previous == row.amount_last_year == amount[year - 1]
            assert row.buyers_previous == row.buyers_last_year == len(buyers[year - 1])


def test_calendar_arithmetic_of_a_year() -> None:
    assert period_start(dt.date(2024, 12, 31), "year") == dt.date(2024, 1, 1)
    assert shift_period(dt.date(2024, 1, 1), "year", -3) == dt.date(2021, 1, 1)
    assert same_period_last_year(dt.date(2024, 1, 1), "year") == dt.date(2023, 1, 1)
    assert periods_per_year("year") == 1
    assert period_range(dt.date(2019, 7, 1), dt.date(2021, 2, 3), "year") == [
        dt.date(2019, 1, 1), dt.date(2020, 1, 1), dt.date(2021, 1, 1)]
    assert periods_apart(dt.date(2019, 12, 31), dt.date(2021, 1, 1), "year") == 2
    assert period_index(dt.date(2021, 6, 1), "year") - period_index(dt.date(2020, 1, 1), "year") == 1


# ---- every place a grain is taken ---------------------------------------------------------------

@pytest.fixture(scope="module")
def years_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight years of events (2016-03 to 2024-02) in Auckland, a yearly North Star with a tree
    and a target."""
    import random

    rng = random.Random(8)
    start = dt.datetime(2016, 3, 1, tzinfo=UTC)
    rows = []
    for _ in range(3000):
        moment = start + dt.timedelta(seconds=rng.randrange(0, 8 * 365 * 86400))
        rows.append({"ts": _ms(moment), "user": f"u{rng.randrange(250)}", "amount": rng.randrange(1, 20),
                     "plan": rng.choice(["free", "paid"])})
    folder = tmp_path_factory.mktemp("years")
    write(folder, rows, "Pacific/Auckland", extra={"target": {"value": 9000, "by": "2026-12-31"},
                                                   "tree": {"amount": {"formula": "buyers * per_buyer"}}})
    return folder


@pytest.fixture(scope="module")
def rows(years_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (years_dir / "events.jsonl").open(encoding="utf-8")]


def test_cohorts_by_year(years_dir: Path, rows: list[dict]) -> None:
    """A yearly cohort: the buyers whose first purchase fell in a year, and the share of them
    buying again k years later (brute force)."""
    active: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        active[row["user"]].add(local_year(dt.datetime.fromtimestamp(row["ts"] / 1000, UTC), "Pacific/Auckland"))
    report = Project.load(years_dir / "northstar.yml").cohorts("buyers", grain="year")
    assert report.grain == "year"
    for cohort_row in report.rows:
        members = {u for u, ys in active.items() if min(ys) == cohort_row.cohort.year}
        back = {u for u in members if cohort_row.cohort.year + cohort_row.offset in active[u]}
        assert cohort_row.entities == len(back)
        assert cohort_row.rate == pytest.approx(len(back) / len(members))


def test_tree_targets_and_explain_by_year(years_dir: Path) -> None:
    project = Project.load(years_dir / "northstar.yml")
    tree = project.tree()
    assert (tree.grain, tree.period, tree.previous_period) == ("year", dt.date(2023, 1, 1), dt.date(2022, 1, 1))
    yearly = project.query(["amount", "buyers"], grain="year").set_index("period")
    assert tree.root.value == yearly.loc[dt.date(2023, 1, 1), "amount"]
    targets = project.targets()
    assert (targets.grain, targets.target_period, targets.last_period) == (
        "year", dt.date(2026, 1, 1), dt.date(2023, 1, 1))
    assert targets.periods == 3
    explanation = project.explain("amount", period="2023-06-30")
    assert (explanation.period, explanation.baseline_period) == (dt.date(2023, 1, 1), dt.date(2022, 1, 1))
    assert explanation.value == yearly.loc[dt.date(2023, 1, 1), "amount"]
    assert explanation.baseline == yearly.loc[dt.date(2022, 1, 1), "amount"]


def test_a_yearly_north_star_is_too_slow(years_dir: Path) -> None:
    findings = [f for f in Project.load(years_dir / "northstar.yml").check(data=False).findings if f.rule == "grain"]
    assert len(findings) == 1 and findings[0].severity == "warning"
    assert "changes once a year" in findings[0].message


def test_the_cli_and_the_api_take_year(years_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from northstar.web import create_app

    result = subprocess.run([sys.executable, "-m", "northstar.cli", "query", "amount", "--grain", "year",
                             "--format", "csv"], cwd=years_dir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("2016-01-01,")
    expected = Project.load(years_dir / "northstar.yml").query("amount", grain="year")
    with TestClient(create_app(years_dir / "northstar.yml")) as client:
        body = client.get("/api/series?metrics=amount&grain=year").json()
        assert [row["amount"] for row in body["rows"]] == expected["amount"].tolist()
        assert client.get("/api/cohorts?metric=buyers&grain=year").status_code == 200
        bad = client.get("/api/series?metrics=amount&grain=yearly")
        assert bad.status_code == 400 and "year" in bad.text


def test_the_alert_detector_scores_years() -> None:
    """Years are scored on the trend (no season within a year) once the detector has its past
    errors; a year that halves is an anomaly, steady growth is not."""
    index = [dt.date(2004 + i, 1, 1) for i in range(16)]
    values = [1000 * 1.05 ** i for i in range(16)]
    values[-1] = values[-2] / 2
    scores = score_series(pd.Series(values, index=index), "year")
    assert scores and [s.period for s in scores] == index[-len(scores):]
    assert {s.method for s in scores} == {"trend"}
    assert scores[-1].is_anomaly() and not any(s.is_anomaly() for s in scores[:-1])
    assert all(math.isfinite(s.expected) for s in scores)
