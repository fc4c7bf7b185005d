"""The demo as a new user meets it: `northstar demo` prints the tree, and the engine's numbers
on the demo data equal a pandas computation done here (Amsterdam weeks, ISO Monday)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from northstar import Project
from northstar.demo import INCIDENTS_BY_NAME


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
