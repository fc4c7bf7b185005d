"""The demo as a new user meets it: `northstar demo` prints the tree, and the engine's numbers
on the demo data equal a pandas computation done here (Amsterdam weeks, ISO Monday)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from northstar import Project
from northstar.checks import run_checks
from northstar.demo import INCIDENTS_BY_NAME, generate_demo


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "northstar.cli", "demo", "--dir", str(folder), "--users", "1500"],
                            capture_output=True, text=True, check=True)
    (folder / "stdout.txt").write_text(result.stdout)
    return folder


def test_demo_prints_the_north_star_tree(demo_dir: Path) -> None:
    out = (demo_dir / "stdout.txt").read_text()
    assert "Tunewave North Star" in out
    assert "Listening minutes" in out and "Active listeners" in out and "Minutes per listener" in out
    assert "Guardrails" in out and "One Metric That Matters" in out
    assert "Traceback" not in out


def test_demo_spec_is_valid_on_its_data(demo_dir: Path) -> None:
    problems = Project.load(demo_dir / "northstar.yml").validate()
    assert [str(p) for p in problems if p.severity == "error"] == []


def _weekly(events: pd.DataFrame) -> pd.DataFrame:
    local = events["ts"].dt.tz_convert("Europe/Amsterdam").dt.tz_localize(None)
    week = (local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date
    return events.assign(week=week)


def test_weekly_tree_equals_pandas(demo_dir: Path) -> None:
    events = _weekly(pd.read_parquet(demo_dir / "data" / "events.parquet"))
    plays = events[events["event"] == "song_play"]
    minutes = plays.groupby("week")["duration_s"].sum() / 60
    listeners = plays.groupby("week")["user_id"].nunique()
    frame = Project.load(demo_dir / "northstar.yml").query(
        ["listening_minutes", "active_listeners", "minutes_per_listener"], grain="week")
    got = frame.set_index("period")
    assert list(got.index) == sorted(events["week"].unique())
    for week in minutes.index:
        assert got.loc[week, "listening_minutes"] == pytest.approx(minutes[week], rel=1e-9)
        assert got.loc[week, "active_listeners"] == listeners[week]
        assert got.loc[week, "minutes_per_listener"] == pytest.approx(minutes[week] / listeners[week], rel=1e-9)


def test_android_release_incident_shows_in_minutes_per_listener(demo_dir: Path) -> None:
    incident = INCIDENTS_BY_NAME["android_release_de"]
    project = Project.load(demo_dir / "northstar.yml")
    frame = project.query("minutes_per_listener", grain="week", by=["platform"], where="country = 'DE'",
                          start=incident.start, end=incident.end, compare=True)
    android = frame[frame["platform"] == "android"]
    others = frame[frame["platform"] != "android"]
    # Year on year, Android in Germany falls while the other platforms do not.
    android_change = (android["minutes_per_listener"] / android["minutes_per_listener_last_year"]).mean()
    other_change = (others["minutes_per_listener"] / others["minutes_per_listener_last_year"]).mean()
    assert android_change < other_change - 0.2


# ---- what real exports look like, through the engine ---------------------------------------

def test_partial_first_and_last_weeks_set_the_review_period(demo_dir: Path) -> None:
    """The data starts on a Wednesday and ends on a Thursday: both end weeks are partial, and the
    week under review is the last whole one before the export (computed here from the raw
    timestamps)."""
    events = pd.read_parquet(demo_dir / "data" / "events.parquet", columns=["ts"])
    local = events["ts"].dt.tz_convert("Europe/Amsterdam").dt.tz_localize(None)
    first, last = local.min(), local.max()
    assert (first.day_name(), last.day_name()) == ("Wednesday", "Thursday")
    last_sunday = last.normalize() - pd.Timedelta(days=last.day_of_week + 1)
    expected = (last_sunday - pd.Timedelta(days=6)).date()
    project = Project.load(demo_dir / "northstar.yml")
    review = project.review_period()
    assert review.period == expected == dt.date(2026, 10, 26) and review.complete
    assert project.period_info("2026-11-02").state == "partial"
    assert project.period_info("2024-11-04").state == "partial"


def test_the_60_day_conversion_equals_pandas_and_its_last_weeks_are_provisional(demo_dir: Path) -> None:
    """paid_conversion (sign-up -> subscribe within 60 days) in a final week equals the share
    counted here; the weeks whose 60 days have not passed at the export are provisional."""
    events = _weekly(pd.read_parquet(demo_dir / "data" / "events.parquet",
                                     columns=["ts", "user_id", "event"]))
    sign_ups = events[events["event"] == "sign_up"].set_index("user_id")
    first_subscribe = events[events["event"] == "subscribe"].groupby("user_id")["ts"].min()
    # users who signed up in the data subscribe only after it: their first subscribe is the one
    # the window counts
    delay = first_subscribe.reindex(sign_ups.index) - sign_ups["ts"]
    converted = delay.notna() & (delay <= pd.Timedelta(days=60))
    by_week = converted.groupby(sign_ups["week"]).mean()
    project = Project.load(demo_dir / "northstar.yml")
    got = project.query("paid_conversion", grain="week").set_index("period")["paid_conversion"]
    for week in (dt.date(2025, 6, 2), dt.date(2026, 3, 2), dt.date(2026, 8, 3)):
        assert got[week] == pytest.approx(by_week[week], abs=1e-12), week
    last = pd.read_parquet(demo_dir / "data" / "events.parquet", columns=["ts"])["ts"].max()
    last_local = last.tz_convert("Europe/Amsterdam").tz_localize(None)
    # final: the week's last instant plus 60 days is in the data (strictly), or by whole days
    strict = max(w for w in by_week.index if pd.Timestamp(w) + pd.Timedelta(days=67) <= last_local)
    by_day = max(w for w in by_week.index if w + dt.timedelta(days=66) <= last_local.date())
    final = project.last_final_period("paid_conversion")
    assert final in (strict, by_day) and (project.review_period().period - final).days // 7 in (8, 9)
    assert "paid_conversion" in project.review_period().provisional


def test_sparse_segments_reach_the_engine_with_counts_of_one_to_twenty(demo_dir: Path) -> None:
    project = Project.load(demo_dir / "northstar.yml")
    frame = project.query("active_listeners", grain="week", by=["country"], where="country = 'IS'")
    counts = frame.set_index("period")["active_listeners"]
    assert 0 < counts.max() <= 20  # a handful of Icelandic listeners a week (1,500-user demo)
    frame = project.query("active_listeners", grain="week", by=["platform"], where="platform = 'web'")
    assert frame["active_listeners"].median() <= 20


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo as `northstar demo` writes it (5,000 users, seed 42)."""
    folder = tmp_path_factory.mktemp("default-demo")
    generate_demo(folder)
    return folder


def test_check_finds_that_listening_leads_revenue(default_demo: Path) -> None:
    """The closed week and the payment outage no longer hide the lead: growth leaves zero weeks out
    and clips one-off outliers (analysis/lead.py)."""
    project = Project.load(default_demo / "northstar.yml")
    report = run_checks(project, only=["not-leading"])
    [finding] = report.by_rule("not-leading")
    assert finding.severity == "info" and finding.evidence["leads"], finding.message
    assert "'listening_minutes' leads revenue ('revenue'): its growth predicts revenue's 2 weeks later" in finding.message
    from northstar.analysis.lead import lead

    frame = project.query(["listening_minutes", "revenue"]).iloc[1:-1]  # whole weeks
    found = lead(frame["listening_minutes"], frame["revenue"], 8)
    assert found is not None and found.leads() and found.lag == 2, found
