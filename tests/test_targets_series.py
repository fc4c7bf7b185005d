"""Targets over time (issue 16 part 5): `target:` on any metric, as a value by a date (optionally
a straight line from a baseline) or a series per period; "% of target" with colour bands on the
tree, the overview and the API; `northstar targets` pushing a North Star series down the tree.

The spec's forms and errors (file and line); the target of a period and % of target against a
brute force in plain Python (day by day, with `Decimal`); the series pushed down random trees
recombining exactly through their formulas (hypothesis); then the demo (a copy of its spec with
targets): `tree` JSON and table, `targets` per period with the inputs' own targets judged,
`/api/tree` and `/api/overview` on a real server, and the tree and overview pages in Chromium.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from northstar.analysis.progress import band, progress, target_at
from northstar.analysis.targets import build_targets, evaluate
from northstar.analysis.targets.series import build_series_targets, series_points
from northstar.errors import SpecError
from northstar.spec import parse_spec
from northstar.spec.model import Target, TargetBands, TargetSeries
from northstar.spec.expressions import parse_formula
from test_targets import MONDAY, _all, _leaves, _recomposes, histories, make_history, trees

SPEC = """\
project: T
sources:
  events: {path: e.csv, timestamp: ts, entity: user}
metrics:
  plays: {source: events, agg: count}
  listeners: {source: events, agg: count_distinct}
  per_listener:
    formula: plays / listeners
    TARGET
north_star:
  metric: plays
  grain: GRAIN
  tree:
    plays: {formula: listeners * per_listener}
"""


def _spec(target: str, grain: str = "week", extra: str = "") -> str:
    return SPEC.replace("TARGET", target).replace("GRAIN", grain) + extra


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "northstar.yml")
    return [str(p) for p in info.value.problems]


# ---- the spec -------------------------------------------------------------------------------------

def test_the_forms_of_a_target() -> None:
    months = parse_spec(_spec("target: {series: {2026-01: 100, 2026-02: 120.5}}")).spec
    series = months.metrics["per_listener"].target
    assert isinstance(series, TargetSeries) and series.period_grain == "month"
    assert series.periods() == [(dt.date(2026, 1, 1), 100.0), (dt.date(2026, 2, 1), 120.5)]
    assert (series.value, series.by) == (120.5, dt.date(2026, 2, 28))  # the last period's, to its last day
    quarters = parse_spec(_spec("target: {series: {2026-Q1: 1, 2026-q2: 2}}")).spec.metrics["per_listener"].target
    assert quarters.period_grain == "quarter" and quarters.periods()[1][0] == dt.date(2026, 4, 1)
    years = parse_spec(_spec("target: {series: {2026: 5, 2027: 6}}")).spec.metrics["per_listener"].target
    assert years.period_grain == "year" and years.by == dt.date(2027, 12, 31)  # YAML reads 2026 as a number
    weeks = parse_spec(_spec("target: {grain: week, series: {2026-01-05: 7, 2026-01-12: 8}}")).spec
    assert weeks.metrics["per_listener"].target.periods()[1] == (dt.date(2026, 1, 12), 8.0)
    line = parse_spec(_spec("target: {value: 12, by: 2026-12-31, from: 2026-01-01, baseline: 10}")).spec
    target = line.metrics["per_listener"].target
    assert isinstance(target, Target) and (target.from_, target.baseline) == (dt.date(2026, 1, 1), 10.0)
    bands = parse_spec(_spec("", extra="target_bands: {green: 95, amber: 80}\n")).spec.target_bands
    assert (bands.green, bands.amber) == (95.0, 80.0)
    assert parse_spec(_spec("")).spec.target_bands == TargetBands(green=100, amber=90)


@pytest.mark.parametrize("target, grain, message", [
    ("target: {series: {2026-13: 1}}", "week", "'2026-13' is not a month"),
    ("target: {series: {2026-01: 1, 2026-Q2: 2}}", "week", "of one grain; found month, quarter"),
    ("target: {series: {2026-01-05: 1}}", "week", "'2026-01-05' is a date: say which period it starts with `grain:`"),
    ("target: {grain: week, series: {2026-01-07: 1}}", "week", "'2026-01-07' is not the first day of a week: write 2026-01-05"),
    ("target: {grain: month, series: {2026-Q1: 1}}", "month", "'2026-Q1' is a quarter, but the series' grain is month"),
    ("target: {series: {soon: 1}}", "week", "'soon' names no period"),
    ("target: {series: {}}", "week", "series"),
    ("target: {grain: day, series: {2026-01-05: 1}}", "week", "a target series per day is finer than the North Star's grain (week)"),
    ("target: {series: {2026-01: 1}}", "quarter", "a target series per month is finer than the North Star's grain (quarter)"),
    ("target: {value: 12, by: 2026-12-31, baseline: 3}", "week", "`baseline` needs `from`"),
    ("target: {value: 12, by: 2026-01-01, from: 2026-02-01, baseline: 3}", "week", "`from` (2026-02-01) must be before `by`"),
    ("target: {value: 12, by: 2026-12-31, vale: 3}", "week", "unknown key 'vale' in metric 'per_listener' field 'target'. Did you mean 'value'?"),
    ("target: {series: {2026-01: .nan}}", "week", "finite"),
])
def test_target_errors_name_the_file_and_line(target: str, grain: str, message: str) -> None:
    text = _spec(target, grain)
    line = text.splitlines().index("    " + target) + 1
    found = errors(text)
    assert len(found) == 1 and found[0].startswith(f"northstar.yml:{line}: "), found
    assert "per_listener" in found[0] and message in found[0], found


def test_one_target_for_the_north_star_and_ordered_bands() -> None:
    text = _spec("").replace("  plays: {source: events, agg: count}",
                             "  plays: {source: events, agg: count, target: {value: 3, by: 2026-12-31}}")
    text = text.replace("  grain: week\n", "  grain: week\n  target: {value: 5, by: 2026-12-31}\n")
    line = text.splitlines().index("  plays: {source: events, agg: count, target: {value: 3, by: 2026-12-31}}") + 1
    assert errors(text) == [f"northstar.yml:{line}: metric 'plays' field 'target': the North Star has its target "
                            "in north_star.target: set it there only"]
    bad = _spec("", extra="target_bands: {green: 80, amber: 90}\n")
    found = errors(bad)
    assert len(found) == 1 and found[0].startswith(f"northstar.yml:{len(bad.splitlines())}: ")
    assert "`amber` (90) must not be above `green` (80)" in found[0]


# ---- the target of a period, % of target, bands: against a brute force ----------------------------

def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _brute_series_target(months: dict[tuple[int, int], float], first: dt.date, days: int,
                         additive: bool) -> float | None:
    """Day by day: each day of a month carries target/days (additive) or the target."""
    total = Fraction(0)
    for i in range(days):
        day = first + dt.timedelta(days=i)
        if (day.year, day.month) not in months:
            return None
        goal = Fraction(months[(day.year, day.month)])
        total += goal / _month_days(day.year, day.month) if additive else goal
    return float(total if additive else total / days)


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 30), count=st.integers(1, 14), seed=st.lists(st.floats(0.5, 1e6), min_size=14, max_size=14),
       grain=st.sampled_from(["day", "week", "month"]), additive=st.booleans(), offset=st.integers(0, 500))
def test_a_monthly_series_at_finer_grains_matches_day_by_day(start: int, count: int, seed: list[float], grain: str,
                                                               additive: bool, offset: int) -> None:
    keys = [(2025 + (start + i) // 12, (start + i) % 12 + 1) for i in range(count)]
    months = dict(zip(keys, seed))
    target = TargetSeries(series={f"{y}-{m:02d}": v for (y, m), v in months.items()})
    day = dt.date(2025, 1, 1) + dt.timedelta(days=offset)
    if grain == "day":
        first, days = day, 1
    elif grain == "week":
        first, days = day - dt.timedelta(days=day.weekday()), 7
    else:
        first, days = day.replace(day=1), _month_days(day.year, day.month)
    note(f"{grain} of {first}, {days} days, additive={additive}")
    assert target_at(target, first, grain, additive) == _brute_series_target(months, first, days, additive)


def test_examples_of_the_target_of_a_period() -> None:
    quarter = TargetSeries(series={"2026-Q1": 900})
    assert target_at(quarter, dt.date(2026, 1, 1), "month", True) == 310.0  # 900 × 31/90
    assert target_at(quarter, dt.date(2026, 2, 1), "month", False) == 900.0  # a ratio: the quarter's level
    assert target_at(quarter, dt.date(2026, 4, 1), "month", True) is None  # not in the series
    months = TargetSeries(series={"2026-01": 310, "2026-02": 280})
    assert target_at(months, dt.date(2026, 1, 26), "week", True) == 60.0 + 10.0  # 6 January days, 1 in February
    assert target_at(months, dt.date(2026, 1, 26), "week", False) == (310 * 6 + 280) / 7
    line = Target(value=150, by=dt.date(2026, 12, 31), **{"from": dt.date(2026, 7, 1)}, baseline=100)
    assert target_at(line, dt.date(2026, 10, 26), "week", False) == float(100 + Fraction(50 * 17, 26))
    assert target_at(line, dt.date(2026, 6, 22), "week", False) is None  # before the line starts
    assert target_at(line, dt.date(2027, 1, 4), "week", False) == 150.0  # after `by`: the value
    assert target_at(Target(value=7, by=dt.date(2026, 1, 1)), dt.date(2020, 1, 6), "week", True) == 7.0
    read = Target(value=150, by=dt.date(2026, 12, 31), **{"from": dt.date(2026, 7, 1)})  # baseline: from the data
    assert target_at(read, dt.date(2026, 10, 26), "week", False) is None  # not read: no line
    assert target_at(read, dt.date(2026, 10, 26), "week", False, baseline=100.0) == target_at(
        line, dt.date(2026, 10, 26), "week", False)
    assert target_at(line, dt.date(2026, 10, 26), "week", False, baseline=1.0) == target_at(
        line, dt.date(2026, 10, 26), "week", False)  # the spec's own baseline first


@settings(max_examples=200, deadline=None)
@given(base=st.floats(-1e4, 1e4), goal=st.floats(-1e4, 1e4), length=st.integers(1, 60), at=st.integers(-5, 70))
def test_a_line_from_a_baseline_matches_month_arithmetic(base: float, goal: float, length: int, at: int) -> None:
    start = dt.date(2025, 3, 1)
    months = 2025 * 12 + 2
    by = dt.date((months + length) // 12, (months + length) % 12 + 1, 15)
    period = dt.date((months + at) // 12, (months + at) % 12 + 1, 1)
    target = Target(value=goal, by=by, **{"from": start + dt.timedelta(days=9)}, baseline=base)
    if at < 0:
        want = None
    elif at >= length:
        want = goal
    else:
        want = float(Fraction(base) + (Fraction(goal) - Fraction(base)) * at / length)
    assert target_at(target, period, "month", False) == want


def _brute_band(share: float | None, green: float, amber: float) -> str | None:
    if share is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 80
        percent = Decimal(share) * 100
        return "green" if percent >= Decimal(green) else "amber" if percent >= Decimal(amber) else "red"


@settings(max_examples=400, deadline=None)
@given(value=st.floats(-1e6, 1e6), target=st.floats(-1e6, 1e6), down=st.booleans(),
       bands=st.tuples(st.floats(0, 200), st.floats(0, 200)).map(sorted))
def test_progress_and_bands_match_a_brute_force(value: float, target: float, down: bool, bands: list[float]) -> None:
    amber, green = bands
    if green == 0:
        green = 1.0
    share = progress(value, target, "down" if down else "up")
    if down:
        want = target / value if value > 0 and target >= 0 else None
    else:
        want = value / target if target > 0 else None
    if want is not None and want in (float("inf"), float("-inf")):
        want = None  # a ratio too large for a float (a value next to zero)
    assert share == want
    assert band(share, TargetBands(green=green, amber=min(amber, green))) == _brute_band(share, green, min(amber, green))


def test_band_edges() -> None:
    bands = TargetBands()
    assert [band(x, bands) for x in (1.0, 0.9999999999, 0.9, 0.8999999999, None)] == [
        "green", "amber", "amber", "red", None]
    assert progress(50, 40, "down") == 0.8 and progress(40, 50, "up") == 0.8  # lower is better: target/value
    assert progress(0, 0, "down") is None and progress(5, 0, "up") is None


# ---- a North Star series pushed down random trees ---------------------------------------------------

def _series_spec(tree: dict[str, str], root: str, names: list[str], months: dict[str, float]) -> Any:
    from test_targets import make_spec

    spec = make_spec(tree, root, names)
    ns = spec.north_star.model_copy(update={"target": TargetSeries(series=months)})
    return spec.model_copy(update={"north_star": ns})


@settings(max_examples=60, deadline=None)
@given(data=st.data(), method=st.sampled_from(["trend", "proportional"]))
def test_a_series_pushed_down_recombines_exactly(data: st.DataObject, method: str) -> None:
    tree, root = data.draw(trees(subtract=False))
    leaves = _leaves(tree, root)
    history = make_history(tree, root, data.draw(histories(leaves)))
    last = history["period"].iloc[-1]
    now = history[root].iloc[-1]
    first = (last.year * 12 + last.month) + data.draw(st.integers(0, 2))  # the month after `last`'s, or later
    months = {f"{(first + i) // 12}-{(first + i) % 12 + 1:02d}": float(now * data.draw(st.floats(0.5, 3)) * 4)
              for i in range(data.draw(st.integers(1, 4)))}
    spec = _series_spec(tree, root, _all(tree, root), months)
    note(f"{tree}; {months}; last {last}")
    report = build_series_targets(spec, spec.north_star.target, last,
                                  lambda goal, by: build_targets(spec, history, last, goal, by, method))
    assert len(report.reports) == len(months) == len(report.starts)
    for start, part in zip(report.starts, report.reports):
        # the week pushed down: the last whole week of the month, its target the month's share of 7 days
        assert part.target_period.weekday() == 0 and part.target_period.month == start.month
        assert (part.target_period + dt.timedelta(days=6)).month == start.month  # whole
        assert (part.target_period + dt.timedelta(days=13)).month != start.month  # and the last such
        days = calendar.monthrange(start.year, start.month)[1]
        assert part.target == float(Fraction(months[f"{start.year}-{start.month:02d}"]) * 7 / days)
        assert part.root.required == part.target
        assert _recomposes(part, method) == []
    assert [p.target for p in report.reports] == [v for _s, _b, v in series_points(spec, spec.north_star.target, last)]


# ---- the demo with targets: CLI, API, pages ------------------------------------------------------------

TARGETED = {
    "  active_listeners:\n    label: Active listeners\n":
        "  active_listeners:\n    label: Active listeners\n    target: {series: {2026-Q3: 200, 2026-Q4: 150}}\n",
    "  minutes_per_listener:\n    label: Minutes per listener\n":
        "  minutes_per_listener:\n    label: Minutes per listener\n"
        "    target: {value: 150, by: 2026-12-31, from: 2026-07-01, baseline: 100}\n",
    "  plays_per_listener:\n    label: Plays per listener\n":  # a line from the value in the week of `from`
        "  plays_per_listener:\n    label: Plays per listener\n    target: {value: 30, by: 2026-12-31, from: 2026-07-01}\n",
    "  avg_song_minutes:\n    label: Average play length\n":
        "  avg_song_minutes:\n    label: Average play length\n    target: {series: {2026-10: 3.5, 2026-11: 3.6}}\n",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from northstar.demo import generate_demo

    folder = tmp_path_factory.mktemp("targets-series-demo")
    generate_demo(folder, users=800, seed=3)
    plain = folder / "northstar.yml"
    text = plain.read_text()
    for old, new in TARGETED.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    targeted = folder / "targeted.yml"
    targeted.write_text(text)
    series = folder / "series.yml"
    old = "  target: {value: 40000, by: 2026-12-31}\n"
    assert text.count(old) == 1
    series.write_text(text.replace(old, "  target: {series: {2026-11: 80000, 2026-12: 90000, 2027-01: 100000}}\n"))
    return {"plain": plain, "targeted": targeted, "series": series}


def _cli(spec: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(spec), *args],
                          capture_output=True, text=True)


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("children", []) for n in _nodes(child)]


def _check_progress(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every node's % of target recomputed from its value and target; {metric: node}."""
    directions = {"listening_minutes": "up"}
    out = {}
    for node in _nodes(tree["root"]):
        assert {"target", "progress", "band"} <= set(node)
        if node["target"] is None:
            assert node["progress"] is None and node["band"] is None
        else:
            assert directions.get(node["metric"], "up") == "up"
            assert node["progress"] == node["value"] / node["target"]
            assert node["band"] == _brute_band(node["progress"], 100, 90)
        out.setdefault(node["metric"], node)
    return out


def test_the_tree_json_and_table_carry_progress(demo: dict[str, Path]) -> None:
    plain = json.loads(_cli(demo["plain"], "tree", "--format", "json").stdout)
    assert not any({"target", "progress", "band"} & set(n) for n in _nodes(plain["root"]))  # unchanged without
    result = _cli(demo["targeted"], "tree", "--format", "json")
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree["period"] == "2026-10-26"
    nodes = _check_progress(tree)
    # the North Star: its {value, by} target (40,000) in every period; the line at week 17 of 26
    assert nodes["listening_minutes"]["target"] == 40000.0
    assert nodes["minutes_per_listener"]["target"] == float(100 + Fraction(50 * 17, 26))
    assert nodes["active_listeners"]["target"] == 150.0  # the Q4 level (a distinct count)
    # a week across two months of an average: each month's target weighted by its days (6 + 1)
    assert nodes["avg_song_minutes"]["target"] == float((Fraction(3.5) * 6 + Fraction(3.6)) / 7)
    start = json.loads(_cli(demo["plain"], "query", "plays_per_listener", "--from", "2026-06-29", "--to", "2026-06-29",
                            "--format", "json").stdout)[0]["plays_per_listener"]
    assert nodes["plays_per_listener"]["target"] == float(Fraction(start) + (30 - Fraction(start)) * Fraction(17, 26))
    assert {n["band"] for n in nodes.values() if n["band"]} >= {"red", "green"}
    table = _cli(demo["targeted"], "tree")
    assert table.returncode == 0, table.stderr
    root = nodes["listening_minutes"]
    assert f"{root['progress'] * 100:.1f}% of target 40,000 (red)" in table.stdout
    # targets are for all customers: a segment's tree (and a rolling window) is not measured against them
    for args in (("--where", "country = 'DE'"), ("--window", "28d")):
        other = json.loads(_cli(demo["targeted"], "tree", *args, "--format", "json").stdout)
        assert not any({"target", "progress", "band"} & set(n) for n in _nodes(other["root"])), args
    active = nodes["active_listeners"]
    assert f"{active['progress'] * 100:.1f}% of target 150 ({active['band']})" in table.stdout


def test_targets_pushes_a_series_down_per_period(demo: dict[str, Path]) -> None:
    from test_targets import _check_json_tree

    for method in ("trend", "proportional"):
        result = _cli(demo["series"], "targets", "--method", method, "--format", "json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        series = report["series"]
        assert [s["period"] for s in series] == ["2026-11-01", "2026-12-01", "2027-01-01"]
        assert [s["target_period"] for s in series] == ["2026-11-23", "2026-12-21", "2027-01-25"]
        assert [s["target"] for s in series] == [80000 * 7 / 30, float(Fraction(90000 * 7, 31)),
                                                 float(Fraction(100000 * 7, 31))]
        for part in series:
            assert part["root"]["required"] == part["target"]
            assert _check_json_tree(part["root"], method) == (4 if method == "trend" else 2)
        assert report["target"] == series[-1]["target"] and report["by"] == series[-1]["by"] == "2027-01-31"
        checks = {(c["period"], c["metric"]): c for c in report["target_checks"]}
        active = checks[("2026-11-23", "active_listeners")]
        assert active["target"] == 150.0 and active["status"] == "not enough"
        assert active["note"] == (f"the active listeners target of 150 for the week of 2026-11-23 is below the "
                                  f"{_fmt(active['required'])} the North Star's target needs")
        assert checks[("2027-01-25", "active_listeners")]["status"] == "no target then"
        assert checks[("2026-11-23", "minutes_per_listener")]["target"] == float(100 + Fraction(50 * 21, 26))
    table = _cli(demo["series"], "targets")
    assert table.returncode == 0, table.stderr
    assert "per month, pushed down the tree" in table.stdout and "is below the" in table.stdout
    assert table.stdout.count("To reach") == 3


def test_single_target_readers_take_a_series_at_the_north_stars_grain(demo: dict[str, Path]) -> None:
    """The monitor's target alert (and the report's target line) read a series as its last month's
    target pushed to its last whole week: 100,000 × 7/31 by 2027-01-31, not 100,000 a week."""
    from northstar.analysis.progress import final_target
    from northstar.spec.load import load_spec

    week = float(Fraction(100000 * 7, 31))
    assert final_target(load_spec(demo["series"]).spec) == (week, dt.date(2027, 1, 31))
    assert final_target(load_spec(demo["plain"]).spec) == (40000.0, dt.date(2026, 12, 31))
    result = _cli(demo["series"], "monitor", "--dry-run", "--no-explain", "--format", "json")
    assert result.returncode == 0, result.stderr
    # the monitor watches every North Star: the podcasts' own target (30,000 by 2026-12-31) is theirs
    alerts = [a for a in json.loads(result.stdout)["alerts"] if a["kind"] == "target"]
    podcasts = [a for a in alerts if a["metric"] == "podcast_minutes"]
    assert all(a["expected"] == 30000 and "by 2026-12-31" in a["title"] for a in podcasts)
    alerts = [a for a in alerts if a["metric"] == "listening_minutes"]
    assert alerts and all(a["expected"] == week and "by 2027-01-31" in a["title"] for a in alerts)
    assert f"against the target {_fmt(week)} " in alerts[0]["title"]


def _fmt(value: float) -> str:
    from northstar.analysis.targets.words import format_number

    return format_number(value)


def test_a_value_target_judges_the_inputs_and_a_plain_spec_is_unchanged(demo: dict[str, Path]) -> None:
    report = json.loads(_cli(demo["targeted"], "targets", "--format", "json").stdout)
    assert report["target"] == 40000 and "series" not in report
    metrics = {c["metric"] for c in report["target_checks"]}
    assert metrics == {"active_listeners", "minutes_per_listener", "avg_song_minutes", "plays_per_listener"}
    plays = next(c for c in report["target_checks"] if c["metric"] == "plays_per_listener")
    assert plays["target"] == 30.0  # the week of `by`: the line's end
    assert all(c["period"] == "2026-12-28" for c in report["target_checks"])
    plain = json.loads(_cli(demo["plain"], "targets", "--format", "json").stdout)
    assert "target_checks" not in plain and "series" not in plain
    assert plain["root"] == report["root"]  # the push-down itself is the same


@pytest.fixture(scope="module")
def served(demo: dict[str, Path]) -> Iterator[str]:
    from test_web_pages import _serve

    with _serve(demo["targeted"]) as origin:
        yield origin


def test_api_tree_and_overview_carry_progress(served: str) -> None:
    with httpx.Client(base_url=served, timeout=120) as client:
        tree = client.get("/api/tree").json()
        overview = client.get("/api/overview").json()
        targets = client.get("/api/targets").json()
    assert {c["metric"] for c in targets["target_checks"]} == {"active_listeners", "minutes_per_listener",
                                                               "avg_song_minutes", "plays_per_listener"}
    nodes = _check_progress(tree)
    assert nodes["active_listeners"]["target"] == 150.0
    _check_progress(overview["tree"])
    ns = overview["north_star"]
    root = nodes["listening_minutes"]
    assert ns["progress"] == {"target": root["target"], "progress": root["progress"], "band": root["band"]}
    assert ns["target"] == {"value": 40000.0, "by": "2026-12-31"}


@pytest.fixture(scope="module")
def served_series(demo: dict[str, Path]) -> Iterator[str]:
    from test_web_pages import _serve

    with _serve(demo["series"]) as origin:
        yield origin


def test_the_overview_draws_a_series_target_per_week(served_series: str) -> None:
    from playwright.sync_api import sync_playwright
    from test_web_pages import CHROMIUM, CHROMIUM_ARGS, Visit, _traces, _wait_for_chromium

    with httpx.Client(base_url=served_series, timeout=120) as client:
        overview = client.get("/api/overview").json()
    target = overview["north_star"]["target"]
    assert target["grain"] == "month" and target["series"] == {"2026-11-01": 80000.0, "2026-12-01": 90000.0,
                                                                 "2027-01-01": 100000.0}
    months = {(2026, 11): 80000, (2026, 12): 90000, (2027, 1): 100000}
    # every week of the three months (listening minutes is a sum: each day carries its month's share)
    want = []
    week = dt.date(2026, 10, 26)
    while week <= dt.date(2027, 1, 31):
        goal = _brute_series_target(months, week, 7, True)
        if goal is not None:
            want.append({"period": week.isoformat(), "target": goal})
        week += dt.timedelta(days=7)
    assert target["path"] == want and want[0]["period"] == "2026-11-02" and want[-1]["period"] == "2027-01-25"
    assert overview["north_star"]["progress"]["target"] is None  # the review week (Oct 26) is before the series
    _wait_for_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
        try:
            visit = Visit(context, served_series)
            page = visit.open("/")
            traces = [t for t in _traces(page, "#trend-chart") if t["name"] == "Target"]
            assert len(traces) == 1 and traces[0]["n"] == len(want)
            hero = page.locator("#ns-changes").inner_text()
            assert f"{want[0]['target']:,.0f} minutes by week of 2 Nov 2026" in hero.replace("\xa0", " "), hero
            visit.assert_clean()
        finally:
            context.close()
            browser.close()


def test_the_tree_overview_and_metric_pages_show_percent_of_target(served: str) -> None:
    from playwright.sync_api import sync_playwright
    from test_web_pages import CHROMIUM, CHROMIUM_ARGS, Visit, _wait_for_chromium

    with httpx.Client(base_url=served, timeout=120) as client:
        nodes = _check_progress(client.get("/api/tree").json())
    colours = {"green": "rgb(26, 127, 55)", "amber": "rgb(138, 90, 0)", "red": "rgb(179, 38, 30)"}
    _wait_for_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
        try:
            visit = Visit(context, served)
            page = visit.open("/tree")
            active = nodes["active_listeners"]
            badge = page.locator("a.node[data-metric=active_listeners] tspan.target-band")
            share = f"{active['progress'] * 100:.1f}%"
            words = {"green": "on target", "amber": "near target", "red": "behind target"}[active["band"]]
            assert badge.text_content() == f"{share} of target 150 ({words})"
            box = badge.bounding_box()
            rect = page.locator("a.node[data-metric=active_listeners] rect").bounding_box()
            assert box and rect and box["x"] + box["width"] <= rect["x"] + rect["width"]  # inside its node
            for metric, node in nodes.items():  # every target line, "(behind target)" the longest
                if node["target"] is not None:
                    line = page.locator(f"a.node[data-metric={metric}] tspan.target-band").first.bounding_box()
                    frame = page.locator(f"a.node[data-metric={metric}] rect").first.bounding_box()
                    assert line and frame and line["x"] + line["width"] <= frame["x"] + frame["width"], metric
            label = page.locator("a.node[data-metric=active_listeners]").get_attribute("aria-label")
            assert f"{share} of target 150\xa0listeners ({words})" in label
            assert badge.get_attribute("data-band") == active["band"]
            assert badge.evaluate("e => getComputedStyle(e).fill") == colours[active["band"]]
            assert page.locator("a.node tspan.target-band").count() == sum(
                1 for n in _nodes(client_tree(served)["root"]) if n["target"] is not None)
            visit.assert_clean()
            overview = Visit(context, served)
            page = overview.open("/")
            root = nodes["listening_minutes"]
            cells = page.locator("#tree-table .target-band")
            assert cells.count() >= 3
            first = cells.first
            assert first.get_attribute("data-band") == root["band"]
            assert first.inner_text().startswith(f"{root['progress'] * 100:.1f}% of target 40,000")
            assert first.evaluate("e => getComputedStyle(e).color") == colours[root["band"]]
            assert "% of target" in page.locator("#tree-table thead").inner_text()
            hero = page.locator("#ns-changes .target-band")
            assert hero.get_attribute("data-band") == root["band"]
            overview.assert_clean()
            metric = Visit(context, served)
            page = metric.open("/metric/active_listeners")
            card = page.locator("#summary .target-band")
            card.wait_for(timeout=60_000)
            assert card.get_attribute("data-band") == active["band"]
            assert card.inner_text() == f"{share} of target 150\xa0listeners ({words})"
            metric.assert_clean()
        finally:
            context.close()
            browser.close()


def client_tree(origin: str) -> dict[str, Any]:
    with httpx.Client(base_url=origin, timeout=120) as client:
        return client.get("/api/tree").json()
