"""`northstar targets`: the requirements down the tree recompose the North Star's target.

Property tests build random two-level formula trees (products, ratios, sums and differences of
2-3 inputs) with random positive histories, and check that every node's formula, evaluated
with the required inputs (the solved one plus the others on trend, or all moved by the same
factor), gives back the node's requirement; then the growth arithmetic, the errors, and an
end-to-end run of the CLI on the demo.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from northstar.analysis.targets import (
    TREND_PERIODS, build_targets, check_target_date, derivative, evaluate, fit_trend, growth_per_period,
    magnitude, periods_apart, solve_input, solve_proportional, value_on_path,
)
from northstar.errors import QueryError
from northstar.spec.expressions import parse_formula
from northstar.spec.model import Spec

OPS = ("+", "-", "*", "/")
MONDAY = dt.date(2026, 1, 5)


# ---- strategies ----------------------------------------------------------------------------------

@st.composite
def formulas(draw: st.DrawFn, names: list[str], subtract: bool = True) -> str:
    """A formula over `names` (each once): a random binary tree of + - * / in random order."""
    ops = OPS if subtract else ("+", "*", "/")
    order = draw(st.permutations(names))
    text = order[0]
    for name in order[1:]:
        op = draw(st.sampled_from(ops))
        if draw(st.booleans()):
            text = f"({text}) {op} {name}"
        else:
            text = f"{name} {op} ({text})"
    return text


def _names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


@st.composite
def trees(draw: st.DrawFn, subtract: bool = True) -> tuple[dict[str, str], str]:
    """{node: formula}, two levels deep: the root over 2-3 inputs, one or two of them formulas too."""
    top = _names("x", draw(st.integers(2, 3)))
    out = {"nsm": draw(formulas(top, subtract))}
    for i, name in enumerate(top[: draw(st.integers(1, 2))]):
        out[name] = draw(formulas(_names(f"y{i}_", draw(st.integers(2, 3))), subtract))
    return out, "nsm"


def _leaves(tree: dict[str, str], root: str) -> list[str]:
    out: list[str] = []

    def visit(name: str) -> None:
        if name in tree:
            for child in parse_formula(tree[name]).names:
                visit(child)
        elif name not in out:
            out.append(name)

    visit(root)
    return out


def _all(tree: dict[str, str], root: str) -> list[str]:
    out: list[str] = []

    def visit(name: str) -> None:
        out.append(name)
        for child in parse_formula(tree[name]).names if name in tree else ():
            visit(child)

    visit(root)
    return out


def make_spec(tree: dict[str, str], root: str, names: list[str], focus: list[dict] | None = None,
              target: dict | None = None, directions: dict[str, str] | None = None,
              drivers: dict[str, list[dict]] | None = None, grain: str = "week") -> Spec:
    directions = directions or {}
    nodes = {n: {"formula": f} for n, f in tree.items()}
    for node, links in (drivers or {}).items():
        nodes.setdefault(node, {})["drivers"] = links
    return Spec.model_validate({
        "project": "Test", "sources": {"e": {"path": "e.csv", "timestamp": "ts"}},
        "metrics": {n: {"source": "e", "agg": "sum", "expr": "x", "direction": directions.get(n, "up")} for n in names},
        "north_star": {"metric": root, "grain": grain, "tree": nodes, **({"target": target} if target else {})},
        "focus": focus or [],
    })


def make_history(tree: dict[str, str], root: str, leaves: dict[str, list[float]], grain: str = "week") -> pd.DataFrame:
    """Leaf series given; every formula node computed from them per period, as the engine does."""
    length = len(next(iter(leaves.values())))
    rows = []
    for t in range(length):
        values = {n: s[t] for n, s in leaves.items()}

        def value(name: str) -> float:
            if name not in values:
                formula = parse_formula(tree[name])
                values[name] = evaluate(formula.tree, {c: value(c) for c in formula.names})
            return values[name]

        value(root)
        rows.append(values)
    frame = pd.DataFrame(rows)
    periods = [MONDAY + dt.timedelta(weeks=t) for t in range(length)] if grain == "week" else None
    frame.insert(0, "period", periods)
    return frame


@st.composite
def histories(draw: st.DrawFn, leaves: list[str]) -> dict[str, list[float]]:
    length = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = {}
    for name in leaves:
        start = draw(st.floats(0.5, 1000))
        growth = draw(st.floats(-0.05, 0.05))
        noise = rng.uniform(0.9, 1.1, size=length)
        out[name] = [float(start * (1 + growth) ** t * noise[t]) for t in range(length)]
    return out


def _nonnegative(tree: dict[str, str], name: str) -> bool:
    """Whether a node can never be negative: a leaf (a sum of positive values) or a formula of
    + * / over such nodes (no difference anywhere below it)."""
    if name not in tree:
        return True
    return "-" not in tree[name] and all(_nonnegative(tree, c) for c in parse_formula(tree[name]).names)


def _close(got: float, want: float, scale: float) -> bool:
    """Equal to 1e-9 relative: of the value, or of the formula's terms (`magnitude`) when they cancel."""
    return abs(got - want) <= 1e-9 * max(abs(want), scale, 1e-300)


def _recomposes(report, method: str) -> list[str]:
    """Every formula node's requirement recomposed from its inputs' requirements (and trends)."""
    failures = []
    for node in report.nodes():
        if not node.formula or node.required is None:
            continue
        formula = parse_formula(node.formula)
        inputs = {c.metric: c for c in node.children if c.link == "formula"}
        if method == "trend":
            for name, child in inputs.items():
                if child.required is None:
                    continue
                values = {n: (child.required if n == name else inputs[n].trend) for n in formula.names}
                got = evaluate(formula.tree, values)
                if not _close(got, node.required, magnitude(formula.tree, values)):
                    failures.append(f"{node.metric} via {name}: {got} != {node.required}")
        else:
            if any(c.required is None for c in inputs.values()):
                continue
            values = {n: inputs[n].required for n in formula.names}
            got = evaluate(formula.tree, values)
            if not _close(got, node.required, magnitude(formula.tree, values)):
                failures.append(f"{node.metric}: {got} != {node.required}")
    return failures


# ---- the solvers ----------------------------------------------------------------------------------

values_st = st.floats(0.01, 1e4)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_solve_input_recomposes_any_formula(data: st.DataObject) -> None:
    names = _names("v", data.draw(st.integers(2, 3)))
    text = data.draw(formulas(names))
    tree = parse_formula(text).tree
    values = {n: data.draw(values_st) for n in names}
    target = evaluate(tree, values) * data.draw(st.floats(0.2, 5)) + data.draw(st.floats(-10, 10))
    note(f"{text} = {target} at {values}")
    for name in names:
        solved = solve_input(tree, name, values, target)
        if solved is None:  # only when the others make it impossible (a zero factor)
            continue
        point = {**values, name: solved}
        got = evaluate(tree, point)
        assert _close(got, target, magnitude(tree, point)), (name, solved, got)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_solve_input_numerically_when_the_input_appears_twice(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(["a * b + a * c", "a / (a + b)", "(a + b) * (a + c)", "a * a - b",
                                      "a / b + c / a"]))
    tree = parse_formula(text).tree
    values = {n: data.draw(st.floats(0.1, 100)) for n in ("a", "b", "c")}
    reachable = data.draw(st.floats(0.1, 100))  # the target is the formula at some value of a: a root exists
    target = evaluate(tree, {**values, "a": reachable})
    solved = solve_input(tree, "a", values, target, guess=values["a"])
    assert solved is not None
    point = {**values, "a": solved}
    assert _close(evaluate(tree, point), target, magnitude(tree, point))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_solve_proportional_moves_every_input_by_one_factor(data: st.DataObject) -> None:
    names = _names("v", data.draw(st.integers(2, 3)))
    text = data.draw(formulas(names, subtract=False))
    tree = parse_formula(text).tree
    values = {n: data.draw(values_st) for n in names}
    target = evaluate(tree, values) * data.draw(st.floats(0.1, 10))
    solved = solve_proportional(tree, values, target)
    assert solved is not None  # positive inputs without differences: every positive target is reachable
    factor, moved = solved
    assert _close(evaluate(tree, moved), target, magnitude(tree, moved))
    for name in names:
        slope = derivative(tree, values, name)
        ratio = moved[name] / values[name]
        # up by the factor where raising the input raises the formula, down where it lowers it
        assert ratio == pytest.approx(factor if slope > 0 else 1 / factor, rel=1e-9)


# ---- the tree ----------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), method=st.sampled_from(["trend", "proportional"]))
def test_requirements_recompose_every_target(data: st.DataObject, method: str) -> None:
    subtract = data.draw(st.booleans())
    tree, root = data.draw(trees(subtract))
    leaves = _leaves(tree, root)
    history = make_history(tree, root, data.draw(histories(leaves)))
    names = _all(tree, root)
    spec = make_spec(tree, root, names)
    current = history[root].iloc[-1]
    target = float(current * data.draw(st.floats(0.3, 3.0))) if current > 0 else data.draw(st.floats(1, 1e4))
    ahead = data.draw(st.integers(1, 30))
    last = history["period"].iloc[-1]
    by = last + dt.timedelta(weeks=ahead, days=data.draw(st.integers(0, 6)))
    note(f"{tree}, target {target}")
    report = build_targets(spec, history, last, target, by, method)
    assert report.periods == ahead and report.root.required == target
    assert _recomposes(report, method) == []
    if not subtract:  # positive values without differences: every requirement is solvable
        assert all(n.required is not None for n in report.nodes()), [n.to_dict() for n in report.nodes()]
    for node in report.nodes():
        assert node.current is not None and node.trend is not None
        if node.growth is not None:
            assert node.current * (1 + node.growth) ** ahead == pytest.approx(node.required, rel=1e-9)
        if node.required is not None:
            helps = 1 if node.helps == "up" else -1
            reaches = helps * (node.trend - node.required) >= 0
            close = abs(node.trend - node.required) <= 1e-9 * max(abs(node.required), 1.0)
            if node.required < -1e-9 * max(abs(node.required), 1.0) and _nonnegative(tree, node.metric):
                assert node.status == "unreachable"  # a sum of positive values cannot be negative
            else:
                assert node.status == ("on trend" if reaches else "gap") or close
        if _nonnegative(tree, node.metric):  # the trend stays where the metric can be
            assert node.trend >= 0
    if method == "proportional" and not subtract:
        for node in report.nodes():
            inputs = [c for c in node.children if c.link == "formula"]
            logs = {abs(math.log(c.required / c.current)) for c in inputs if c.required and c.current}
            assert max(logs, default=0) - min(logs, default=0) < 1e-9


def test_trend_is_exact_on_clean_series() -> None:
    geometric = [100 * 1.05 ** t for t in range(10)]
    fit = fit_trend(geometric, 4)
    assert fit.kind == "log" and fit.value == pytest.approx(100 * 1.05 ** 13, rel=1e-12)
    assert fit.growth == pytest.approx(0.05, rel=1e-12)
    line = [-20 + 3.0 * t for t in range(10)]  # not all positive: a straight line
    fit = fit_trend(line, 5)
    assert fit.kind == "linear" and fit.value == pytest.approx(-20 + 3.0 * 14, rel=1e-12)
    assert fit_trend([float("nan"), 7.0], 3).value == 7.0  # one known value: flat
    assert fit_trend([None, None], 3).value is None
    with_gap = [100 * 1.02 ** t if t != 4 else float("nan") for t in range(8)]
    assert fit_trend(with_gap, 2).value == pytest.approx(100 * 1.02 ** 9, rel=1e-12)


@given(current=st.floats(0.01, 1e6), ratio=st.floats(0.01, 100), periods=st.integers(1, 200))
def test_growth_per_period_compounds_to_the_requirement(current: float, ratio: float, periods: int) -> None:
    required = current * ratio
    growth = growth_per_period(current, required, periods)
    assert growth is not None
    assert current * (1 + growth) ** periods == pytest.approx(required, rel=1e-9)
    assert value_on_path(current, required, periods, periods) == pytest.approx(required, rel=1e-12)
    assert value_on_path(current, required, periods, 0) == pytest.approx(current, rel=1e-12)
    if periods > 1:
        half = value_on_path(current, required, periods, 1)
        assert half == pytest.approx(current * (1 + growth), rel=1e-9)
    assert growth_per_period(-current, required, periods) is None
    assert growth_per_period(current, 0.0, periods) is None


def test_growth_per_period_example() -> None:
    # +8.1% in 6 weeks is 1.31% a week
    assert growth_per_period(37000, 40000, 6) == pytest.approx((40000 / 37000) ** (1 / 6) - 1)
    assert round(growth_per_period(37000, 40000, 6) * 100, 2) == 1.31


def test_periods_between_grains() -> None:
    assert periods_apart(dt.date(2026, 10, 26), dt.date(2026, 12, 31), "week") == 9
    assert periods_apart(dt.date(2026, 10, 1), dt.date(2027, 1, 15), "month") == 3
    assert periods_apart(dt.date(2026, 10, 1), dt.date(2027, 1, 15), "quarter") == 1
    assert periods_apart(dt.date(2026, 12, 30), dt.date(2027, 1, 2), "day") == 3
    assert set(TREND_PERIODS) == {"day", "week", "month", "quarter", "year"}


# ---- drivers, OMTMs, directions, errors ---------------------------------------------------------

def _simple(focus: list[dict] | None = None, directions: dict[str, str] | None = None, formula: str = "a * b",
            length: int = 12) -> tuple[Spec, pd.DataFrame]:
    tree = {"nsm": formula}
    drivers = {"a": [{"metric": "d", "direction": "up", "lag": 1}]}
    spec = make_spec(tree, "nsm", ["nsm", "a", "b", "d"], focus=focus, directions=directions, drivers=drivers)
    leaves = {"a": [100 * 1.01 ** t for t in range(length)], "b": [10 * 1.0 ** t for t in range(length)],
              "d": [5.0 + t for t in range(length)]}
    return spec, make_history(tree, "nsm", leaves)


def test_drivers_move_with_and_focus_verdicts() -> None:
    focus = [
        {"team": "A", "metric": "a", "target": 150, "to": "2026-04-20", "owner": "x"},   # enough
        {"team": "B", "metric": "b", "target": 10.5, "to": "2026-12-31", "owner": "y"},  # not enough
        {"team": "C", "metric": "d", "target": 30, "to": "2026-04-20"},                  # a driver
        {"team": "D", "metric": "elsewhere", "target": 1},                               # not in the tree
        {"team": "E", "metric": "a"},                                                    # no target
    ]
    spec, history = _simple(focus)
    last = history["period"].iloc[-1]  # 2026-03-23
    report = build_targets(spec, history, last, 1500.0, dt.date(2026, 6, 29), "trend")
    by_metric = {n.metric: n for n in report.nodes()}
    assert by_metric["d"].link == "driver" and by_metric["d"].required is None
    assert by_metric["d"].status == "moves with"
    verdicts = [(f.team, f.status) for f in report.focus]
    assert verdicts == [("A", "enough"), ("B", "not enough"), ("C", "driver"), ("D", "not in tree"),
                        ("E", "no target")]
    a = by_metric["a"]
    ahead = periods_apart(last, dt.date(2026, 4, 20), "week")
    assert report.focus[0].required == pytest.approx(a.current * (1 + a.growth) ** ahead, rel=1e-12)
    assert report.focus[1].required == pytest.approx(by_metric["b"].required)  # deadline after the target date
    assert "must reach" in report.focus[2].note
    assert json.dumps(report.to_dict())  # JSON-ready
    assert report.summary.startswith("To reach 1,500 ")


def test_a_cost_is_divided_when_the_others_are_multiplied() -> None:
    spec, history = _simple(directions={"b": "down"}, formula="a / b")
    last = history["period"].iloc[-1]
    report = build_targets(spec, history, last, 20.0, last + dt.timedelta(weeks=10), "proportional")
    a, b = (next(n for n in report.nodes() if n.metric == m) for m in ("a", "b"))
    assert a.required / a.current == pytest.approx(b.current / b.required, rel=1e-12)
    assert a.helps == "up" and b.helps == "down" and a.required > a.current and b.required < b.current
    # and a denominator not marked `down` is divided all the same (a / b with both up would not move)
    spec, history = _simple(formula="a / b")
    report = build_targets(spec, history, last, 20.0, last + dt.timedelta(weeks=10), "proportional")
    b = next(n for n in report.nodes() if n.metric == "b")
    assert b.required is not None and b.required < b.current and b.helps == "down"


def test_a_target_below_the_current_value() -> None:
    spec, history = _simple()
    last = history["period"].iloc[-1]
    report = build_targets(spec, history, last, 500.0, last + dt.timedelta(weeks=4), "proportional")
    assert report.root.status == "on trend" and all(n.change < 0 for n in report.nodes() if n.link == "formula")
    assert _recomposes(report, "proportional") == []


def test_errors_for_a_past_date_and_an_unknown_method() -> None:
    spec, history = _simple()
    last = history["period"].iloc[-1]
    with pytest.raises(QueryError, match="not after the last complete week"):
        build_targets(spec, history, last, 1000.0, last + dt.timedelta(days=6), "trend")
    with pytest.raises(QueryError, match="not after"):
        check_target_date(dt.date(2020, 1, 1), last, "week")
    with pytest.raises(QueryError, match="unknown method"):
        build_targets(spec, history, last, 1000.0, last + dt.timedelta(weeks=3), "magic")
    assert check_target_date(last + dt.timedelta(days=7), last, "week") == 1


# ---- end to end on the demo ------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from northstar.demo import generate_demo

    folder = tmp_path_factory.mktemp("targets-demo")
    generate_demo(folder, users=800, seed=3)
    return folder / "northstar.yml"


def _cli(spec: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(spec), *args],
                          capture_output=True, text=True)


def _check_json_tree(node: dict, method: str) -> int:
    """Recompose every formula node from the JSON; return how many were checked."""
    checked = 0
    for child in node["children"]:
        assert set(child) >= {"metric", "current", "trend", "required", "change", "change_pct",
                              "growth_per_period", "status", "link", "children"}
        checked += _check_json_tree(child, method)
    if not node["formula"] or node["required"] is None:
        return checked
    formula = parse_formula(node["formula"])
    inputs = {c["metric"]: c for c in node["children"] if c["link"] == "formula"}
    assert set(inputs) == set(formula.names)
    if method == "trend":
        for name, child in inputs.items():
            values = {n: child["required"] if n == name else inputs[n]["trend"] for n in formula.names}
            assert evaluate(formula.tree, values) == pytest.approx(node["required"], rel=1e-9)
            checked += 1
    else:
        assert evaluate(formula.tree, {n: inputs[n]["required"] for n in formula.names}) == pytest.approx(
            node["required"], rel=1e-9)
        checked += 1
    return checked


@pytest.mark.parametrize("method", ["trend", "proportional"])
def test_demo_targets_json_recompose(demo_spec: Path, method: str) -> None:
    result = _cli(demo_spec, "targets", "--method", method, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"target", "by", "target_period", "last_period", "periods", "method", "summary",
                           "root", "focus", "trend_periods"}
    assert report["target"] == 40000 and report["by"] == "2026-12-31" and report["method"] == method
    assert report["target_period"] == "2026-12-28" and report["periods"] >= 1
    root = report["root"]
    assert root["metric"] == "listening_minutes" and root["required"] == 40000
    # both levels, the NSM and minutes per listener: per input (trend) or per node (proportional)
    assert _check_json_tree(root, method) == (4 if method == "trend" else 2)
    drivers = [c for c in root["children"][0]["children"] if c["link"] == "driver"]
    assert drivers and all(d["required"] is None and d["status"] == "moves with" for d in drivers)
    assert [f["metric"] for f in report["focus"]] == ["activation_rate", "listener_retention"]
    assert all(f["status"] == "driver" and "active listeners must reach" in f["note"] for f in report["focus"])
    assert report["summary"].startswith("To reach 40,000 listening minutes by 2026-12-31")


def test_demo_targets_table_and_errors(demo_spec: Path) -> None:
    result = _cli(demo_spec, "targets", "--target", "25000", "--by", "2027-03-01")
    assert result.returncode == 0, result.stderr
    assert "To reach 25,000 listening minutes by 2027-03-01" in result.stdout
    assert "moves with" in result.stdout and "Beside the OMTMs" in result.stdout
    past = _cli(demo_spec, "targets", "--by", "2025-01-01")
    assert past.returncode == 2 and "not after the last complete week" in past.stderr
    assert len(past.stderr.strip().splitlines()) == 1
    # a spec without a target, and no options: say how to set one
    text = demo_spec.read_text().replace("    target: {value: 40000, by: 2026-12-31}\n", "")
    assert "target: {value: 40000" not in text  # the primary North Star's (the podcasts' keeps its own)
    bare = demo_spec.with_name("no-target.yml")
    bare.write_text(text)
    missing = _cli(bare, "targets")
    assert missing.returncode == 2 and "--target VALUE --by DATE" in missing.stderr
    assert "north_star.target" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
