"""The issue's example spec on the real Sparkify events, against values computed here
with plain Python (json + datetime), independently of the engine."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from northstar import Project

from conftest import SPARKIFY_EVENTS


def _events() -> list[dict]:
    with SPARKIFY_EVENTS.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _week(ts_ms: int) -> dt.date:
    day = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).date()
    return day - dt.timedelta(days=day.weekday())


def _expected_weekly() -> dict[dt.date, dict[str, float]]:
    minutes: dict[dt.date, float] = defaultdict(float)
    listeners: dict[dt.date, set[str]] = defaultdict(set)
    upgrades: dict[dt.date, int] = defaultdict(int)
    weeks: set[dt.date] = set()
    for e in _events():
        week = _week(e["ts"])
        weeks.add(week)
        if e.get("page") == "NextSong":
            minutes[week] += e["length"] / 60
            if e.get("userId") is not None:
                listeners[week].add(e["userId"])
        if e.get("page") == "Submit Upgrade":
            upgrades[week] += 1
    out = {}
    for week in sorted(weeks):
        n = len(listeners[week])
        out[week] = {"listening_minutes": minutes[week], "active_listeners": n,
                     "minutes_per_listener": minutes[week] / n if n else None, "upgrades": upgrades[week]}
    return out


def test_example_spec_validates(sparkify_dir: Path) -> None:
    project = Project.load(sparkify_dir / "northstar.yml")
    assert [p for p in project.validate() if p.severity == "error"] == []


def test_weekly_values_match_plain_python(sparkify_dir: Path) -> None:
    expected = _expected_weekly()
    frame = Project.load(sparkify_dir / "northstar.yml").query(
        ["listening_minutes", "active_listeners", "minutes_per_listener", "upgrades"], grain="week")
    assert list(frame["period"]) == list(expected)
    assert all(p.weekday() == 0 for p in frame["period"])
    for row in frame.to_dict("records"):
        want = expected[row["period"]]
        assert row["listening_minutes"] == pytest.approx(want["listening_minutes"], rel=1e-12)
        assert row["active_listeners"] == want["active_listeners"]
        assert row["minutes_per_listener"] == pytest.approx(want["minutes_per_listener"], rel=1e-12)
        assert row["upgrades"] == want["upgrades"]


def test_cli_query_json_gives_the_true_weekly_values(sparkify_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "northstar.cli", "query", "listening_minutes", "active_listeners",
         "minutes_per_listener", "--grain", "week", "--format", "json"],
        cwd=sparkify_dir, capture_output=True, text=True, check=True)
    rows = json.loads(result.stdout)
    expected = _expected_weekly()
    assert [r["period"] for r in rows] == [w.isoformat() for w in expected]
    days = sorted(dt.datetime.fromtimestamp(e["ts"] / 1000, tz=dt.timezone.utc).date() for e in _events())
    for row in rows:
        week = dt.date.fromisoformat(row["period"])
        want = expected[week]
        assert set(row) == {"period", "period_status", "listening_minutes", "active_listeners", "minutes_per_listener"}
        whole = days[0] <= week and week + dt.timedelta(days=6) <= days[-1]  # the data covers the week
        assert row["period_status"] == ("complete" if whole else "partial")
        assert row["listening_minutes"] == pytest.approx(want["listening_minutes"], rel=1e-12)
        assert row["active_listeners"] == want["active_listeners"]


def test_retention_conversion_and_cumulative_match_plain_python(sparkify_dir: Path) -> None:
    events = _events()
    active: dict[dt.date, set[str]] = defaultdict(set)
    for e in events:
        if e.get("page") == "NextSong":
            active[_week(e["ts"])].add(e["userId"])
    frame = Project.load(sparkify_dir / "northstar.yml").query(
        ["listener_retention", "all_time_listeners", "upgrade_conversion"], grain="week")
    weeks = list(frame["period"])
    seen: set[str] = set()
    for i, week in enumerate(weeks):
        seen |= active[week]
        row = frame.iloc[i]
        assert row["all_time_listeners"] == len(seen)
        if i == 0:
            assert row["listener_retention"] != row["listener_retention"]  # NaN: no previous week
        else:
            cohort = active[weeks[i - 1]]
            assert row["listener_retention"] == pytest.approx(len(cohort & active[week]) / len(cohort))
    # conversion: users visiting Upgrade in the week who submit an upgrade within 7 days of a visit
    by_user: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        if e.get("page") in ("Upgrade", "Submit Upgrade"):
            by_user[e["userId"]].append(e)
    for i, week in enumerate(weeks):
        starters, converted = set(), set()
        for user, rows in by_user.items():
            for f in rows:
                if f["page"] == "Upgrade" and _week(f["ts"]) == week:
                    starters.add(user)
                    if any(t["page"] == "Submit Upgrade" and 0 <= t["ts"] - f["ts"] <= 7 * 86400 * 1000 for t in rows):
                        converted.add(user)
        value = frame.iloc[i]["upgrade_conversion"]
        if starters:
            assert value == pytest.approx(len(converted) / len(starters))
        else:
            assert value != value


def test_breakdown_filter_and_month_grain(sparkify_dir: Path) -> None:
    minutes: dict[tuple[dt.date, str], float] = defaultdict(float)
    for e in _events():
        if e.get("page") == "NextSong" and e.get("gender") == "F":
            day = dt.datetime.fromtimestamp(e["ts"] / 1000, tz=dt.timezone.utc).date()
            minutes[(day.replace(day=1), e["level"])] += e["length"] / 60
    frame = Project.load(sparkify_dir / "northstar.yml").query(
        "listening_minutes", grain="month", by="level", where="gender = 'F'")
    got = {(r["period"], r["level"]): r["listening_minutes"] for r in frame.to_dict("records")}
    assert got.keys() == minutes.keys()
    for key, value in minutes.items():
        assert got[key] == pytest.approx(value, rel=1e-12)


def test_tree_defaults_to_last_complete_week(sparkify_dir: Path) -> None:
    report = Project.load(sparkify_dir / "northstar.yml").tree()
    # The data ends on Friday 2018-11-30: the week of Nov 26 is incomplete.
    assert report.period == dt.date(2018, 11, 19)
    expected = _expected_weekly()
    assert report.root.value == pytest.approx(expected[dt.date(2018, 11, 19)]["listening_minutes"])
    assert report.root.previous == pytest.approx(expected[dt.date(2018, 11, 12)]["listening_minutes"])
    children = {c.metric: c for c in report.root.children}
    assert children["active_listeners"].owner == "Growth"
    assert children["minutes_per_listener"].children[0].link == "driver"
