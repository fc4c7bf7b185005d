"""Sources and metrics that belong to one North Star (issue 16, part 1: "metrics, sources,
focus, guardrails and alert rules can be shared or belong to one").

Two product lines with their own files and a shared spend file: each North Star's view sees
the shared sources and metrics and its own, never the other's (its metric list, its query, its
checks); the numbers of what it sees equal plain Python over the files; a use of another
North Star's metric by something shared or foreign is one error naming the spec's line.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from northstar.errors import SpecError
from northstar.project import Project
from northstar.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
FIRST = dt.date(2025, 6, 2)  # a Monday
WEEKS = 12
SPEC = """\
project: Two lines
timezone: UTC
sources:
  songs: {path: songs.csv, timestamp: ts, entity: user, north_star: music}
  shows: {path: shows.csv, timestamp: ts, entity: user, north_star: podcasts}
  spend: {path: spend.csv, timestamp: ts}
metrics:
  plays: {source: songs, agg: count}
  listeners: {source: songs, agg: count_distinct}
  episodes: {source: shows, agg: count}
  show_listeners: {source: shows, agg: count_distinct}
  marketing: {source: spend, agg: sum, expr: amount}
  plays_per_listener: {formula: plays / listeners, north_star: music}
  episodes_per_listener: {formula: episodes / show_listeners, north_star: podcasts}
north_stars:
  - name: music
    metric: plays
    grain: week
    tree:
      plays: {formula: listeners * plays_per_listener}
      listeners: {drivers: [{metric: marketing}]}
  - name: podcasts
    metric: episodes
    grain: week
    tree:
      episodes: {formula: show_listeners * episodes_per_listener}
guardrails:
  - {metric: marketing, max: 10000}
"""


def _rows(week: int, line: str) -> list[tuple[dt.date, str]]:
    n = 20 + week if line == "songs" else 10 + 2 * week
    return [(FIRST + dt.timedelta(days=7 * week + i % 7), f"{line[0]}{i % (5 + week)}") for i in range(n)]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("owned")
    for line in ("songs", "shows"):
        rows = [f"{day} 12:00:00,{user}" for week in range(WEEKS) for day, user in _rows(week, line)]
        rows.append(f"{FIRST + dt.timedelta(weeks=WEEKS)} 01:00:00,x")
        (folder / f"{line}.csv").write_text("ts,user\n" + "\n".join(rows) + "\n")
    spend = [f"{FIRST + dt.timedelta(days=d)} 00:00:00,{100 + d}" for d in range(7 * WEEKS + 1)]
    (folder / "spend.csv").write_text("ts,amount\n" + "\n".join(spend) + "\n")
    (folder / "northstar.yml").write_text(SPEC)
    return folder / "northstar.yml"


def test_each_north_star_sees_the_shared_and_its_own(spec: Path) -> None:
    whole = Project.load(spec)
    music, podcasts = whole.for_north_star("music"), whole.for_north_star("podcasts")
    assert set(music.spec.metrics) == {"plays", "listeners", "marketing", "plays_per_listener"}
    assert set(music.spec.sources) == {"songs", "spend"}
    assert set(podcasts.spec.metrics) == {"episodes", "show_listeners", "marketing", "episodes_per_listener"}
    assert set(podcasts.spec.sources) == {"shows", "spend"}
    assert Project.load(spec).spec.metrics.keys() == music.spec.metrics.keys()  # the primary's view by default


def test_the_numbers_of_each_view_equal_plain_python(spec: Path) -> None:
    podcasts = Project.load(spec).for_north_star("podcasts")
    frame = podcasts.query(["episodes", "show_listeners", "episodes_per_listener"], grain="week",
                           start=FIRST, end=FIRST + dt.timedelta(weeks=WEEKS - 1))
    for week in range(WEEKS):
        rows = _rows(week, "shows")
        got = frame.iloc[week]
        assert got["episodes"] == len(rows)
        assert got["show_listeners"] == len({u for _, u in rows})
        assert got["episodes_per_listener"] == pytest.approx(len(rows) / len({u for _, u in rows}))
    tree = podcasts.tree()
    assert tree.root.metric == "episodes" and tree.root.value == len(_rows(WEEKS - 1, "shows"))


def _cli(spec: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec.name, *args], cwd=spec.parent,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def test_another_north_stars_metric_is_unknown_from_the_command_line(spec: Path) -> None:
    done = _cli(spec, "--north-star", "music", "query", "episodes")
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown metric 'episodes'")
    assert _cli(spec, "--north-star", "podcasts", "query", "episodes").returncode == 0
    listed = _cli(spec, "--north-star", "music", "check")
    assert "episodes" not in listed.stdout and "show_listeners" not in listed.stdout


def _edit(old: str, new: str) -> str:
    assert old in SPEC
    return SPEC.replace(old, new, 1)


@pytest.mark.parametrize(("text", "line", "message"), [
    (_edit("  plays_per_listener: {formula: plays / listeners, north_star: music}",
           "  plays_per_listener: {formula: plays / episodes, north_star: music}"),
     13, "metric 'plays_per_listener' (of North Star 'music') uses metric 'episodes', which belongs to North Star "
         "'podcasts'"),
    (_edit("  plays_per_listener: {formula: plays / listeners, north_star: music}",
           "  plays_per_listener: {formula: plays / listeners}"),
     13, "metric 'plays_per_listener' (shared) uses metric 'plays', which belongs to North Star 'music': give "
         "it `north_star: music`"),
    (_edit("{drivers: [{metric: marketing}]}", "{drivers: [{metric: show_listeners}]}"), 21,
     "the tree of North Star 'music' (of North Star 'music') uses metric 'show_listeners', which belongs to "
     "North Star 'podcasts'"),
    (_edit("  - {metric: marketing, max: 10000}", "  - {metric: episodes, max: 10000}"), 28,
     "guardrails[1] (shared) uses metric 'episodes', which belongs to North Star 'podcasts': give it "
     "`north_star: podcasts`"),
    (SPEC + "funnel:\n  activation: show_listeners\n", 30,
     "the funnel (shared by every North Star) (shared) uses metric 'show_listeners', which belongs to North Star "
     "'podcasts'"),
    (_edit("show_listeners: {source: shows, agg: count_distinct}",
           "show_listeners: {source: shows, agg: count_distinct, north_star: music}"), 11,
     "metric 'show_listeners' belongs to North Star 'music', but its source 'shows' belongs to 'podcasts'"),
    (_edit("north_star: podcasts}\n  spend", "north_star: podcast}\n  spend"), 5,
     "source 'shows': north_star 'podcast' is not a North Star of the spec. Did you mean 'podcasts'?"),
    (_edit("  spend: {path: spend.csv, timestamp: ts}",
           "  spend: {path: spend.csv, timestamp: ts}\n  both: {sql: 'select * from songs union all select * from shows'}"),
     7, "source 'both' (shared) reads 'songs', which belongs to North Star 'music': give 'both' `north_star: music`"),
])
def test_a_use_across_north_stars_is_an_error_at_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_spec(text, "northstar.yml")
    problems = [str(p) for p in raised.value.problems]
    assert any(p.startswith(f"northstar.yml:{line}: ") and message in p for p in problems), problems


def test_a_spec_with_one_north_star_cannot_give_metrics_an_owner() -> None:
    text = ("project: One\nsources:\n  e: {path: e.csv, timestamp: ts, entity: u}\nmetrics:\n"
            "  n: {source: e, agg: count, north_star: music}\nnorth_star: {metric: n, grain: week}\n")
    with pytest.raises(SpecError) as raised:
        parse_spec(text, "northstar.yml")
    assert "northstar.yml:5: metric 'n': north_star 'music' is not a North Star of the spec. The spec has no " \
           "`north_stars:`." in str(raised.value)
