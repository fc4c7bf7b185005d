"""From a North Star target to the values its tree's inputs must reach: pure functions of values.

Given the North Star's target (a value by a date), the recent history of every tree metric
and the last complete period, this module works out, down the KPI tree, what each formula
input must reach in the target period, and the growth per period that implies.

- **Trend.** Each metric's trend is a least-squares line through its last N complete periods
  (`TREND_PERIODS`: 26 weeks, 12 months, 90 days, 8 quarters; fewer when the data is
  shorter), fitted to the logarithm of the values when they are all positive (constant growth
  per period) and to the values themselves otherwise; it is projected to the target period.
- **Method `trend`.** For each input of a node's formula: the value it must reach when every
  other input of that formula follows its trend. The formula is inverted exactly when the
  input appears once in it (`a*b`, `a/b`, `a+b`, `a-b` and nests of them), otherwise solved
  numerically (Brent's method on an expanding bracket, the root nearest the trend).
- **Method `proportional`.** All inputs of a node's formula change by the same factor `k`
  from their current values, each in the direction that raises the node (multiplied by `k`
  when raising it raises the node, divided by `k` when it lowers it, e.g. a denominator or a
  cost), with `k` found so that the formula gives the node's requirement.
- A node's requirement is the target of its own formula's inputs, down the tree. Driver
  links are hypotheses, not formulas: they get no requirement and are listed as "moves with".
- Growth per period: `(required / current) ** (1 / periods) - 1`, with `periods` the number
  of periods from the last complete period to the target period (none when a value is not
  positive). A requirement at an earlier date (an OMTM's deadline) lies on that path.

No engine here: the caller passes the history as a pandas frame.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from northstar.analysis.tree import label_of
from northstar.errors import QueryError
from northstar.spec.expressions import parse_formula
from northstar.spec.model import Spec

METHODS: tuple[str, ...] = ("trend", "proportional")
TREND_PERIODS: dict[str, int] = {"day": 90, "week": 26, "month": 12, "quarter": 8}


# ---- calendar: period labels without the engine ----------------------------------------------

def period_index(day: dt.date, grain: str) -> int:
    """An integer that grows by one per period of `grain` (differences count periods)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    if grain == "day":
        return day.toordinal()
    if grain == "week":
        return (day.toordinal() - day.weekday()) // 7
    months = day.year * 12 + day.month - 1
    if grain == "month":
        return months
    if grain == "quarter":
        return months // 3
    raise ValueError(f"unknown grain '{grain}'")


def period_of(day: dt.date, grain: str) -> dt.date:
    """The first day of the period containing `day`."""
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def periods_apart(first: dt.date, last: dt.date, grain: str) -> int:
    """How many periods from the period of `first` to the period of `last`."""
    return period_index(last, grain) - period_index(first, grain)


def check_target_date(by: dt.date, last_period: dt.date, grain: str) -> int:
    """The number of periods to the target period; an error unless it is after `last_period`."""
    periods = periods_apart(last_period, by, grain)
    if periods < 1:
        raise QueryError(f"the target date {by.isoformat()} is not after the last complete {grain} "
                         f"({last_period.isoformat()}): pass a later --by")
    return periods


# ---- numbers ------------------------------------------------------------------------------------

def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Trend:
    """A fitted trend: its value `ahead` periods after the last one, and its growth per period."""

    value: float | None
    growth: float | None  # per period (log fit: exp(slope) - 1; linear fit: slope / |fitted now|)
    kind: str  # log | linear | flat | none
    points: int


def fit_trend(values: Sequence[Any], ahead: int) -> Trend:
    """Least-squares trend over `values` (oldest first, one per period), `ahead` periods on.

    Log-linear when every known value is positive, linear otherwise; one known value is a
    flat trend; missing values keep their position and are left out of the fit.
    """
    points = [(i, v) for i, v in enumerate(_num(x) for x in values) if v is not None]
    if not points:
        return Trend(None, None, "none", 0)
    if len(points) == 1:
        return Trend(points[0][1], 0.0, "flat", 1)
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    at = float(len(values) - 1 + ahead)
    now = float(len(values) - 1)
    if (y > 0).all():
        slope, intercept = np.polyfit(x, np.log(y), 1)
        return Trend(float(math.exp(intercept + slope * at)), float(math.expm1(slope)), "log", len(points))
    slope, intercept = np.polyfit(x, y, 1)
    fitted_now = intercept + slope * now
    growth = float(slope / abs(fitted_now)) if fitted_now else None
    return Trend(float(intercept + slope * at), growth, "linear", len(points))


def growth_per_period(current: float | None, required: float | None, periods: int) -> float | None:
    """`(required / current) ** (1 / periods) - 1`; None unless both are positive."""
    if current is None or required is None or periods < 1 or current <= 0 or required <= 0:
        return None
    return float(math.expm1(math.log(required / current) / periods))


def value_on_path(current: float | None, required: float | None, periods: int, at: int) -> float | None:
    """The value `at` periods on along the path from `current` to `required` in `periods`:
    constant growth when both are positive, a straight line otherwise."""
    if current is None or required is None or periods < 1:
        return None
    share = at / periods
    if current > 0 and required > 0:
        return float(current * (required / current) ** share)
    return float(current + (required - current) * share)


# ---- formulas ------------------------------------------------------------------------------------

def evaluate(tree: ast.expr, values: Mapping[str, float]) -> float:
    """A formula on plain numbers; division by zero gives NaN."""
    if isinstance(tree, ast.Name):
        return float(values[tree.id])
    if isinstance(tree, ast.Constant):
        return float(tree.value)
    if isinstance(tree, ast.UnaryOp):
        inner = evaluate(tree.operand, values)
        return -inner if isinstance(tree.op, ast.USub) else inner
    if isinstance(tree, ast.BinOp):
        left, right = evaluate(tree.left, values), evaluate(tree.right, values)
        if isinstance(tree.op, ast.Add):
            return left + right
        if isinstance(tree.op, ast.Sub):
            return left - right
        if isinstance(tree.op, ast.Mult):
            return left * right
        if isinstance(tree.op, ast.Div):
            return left / right if right != 0 else math.nan
    raise AssertionError(f"unsupported formula node {ast.dump(tree)}")


def derivative(tree: ast.expr, values: Mapping[str, float], name: str) -> float:
    """∂formula/∂name at `values` (forward-mode, exact); NaN where undefined."""
    def dual(node: ast.expr) -> tuple[float, float]:
        if isinstance(node, ast.Name):
            return float(values[node.id]), 1.0 if node.id == name else 0.0
        if isinstance(node, ast.Constant):
            return float(node.value), 0.0
        if isinstance(node, ast.UnaryOp):
            v, d = dual(node.operand)
            return (-v, -d) if isinstance(node.op, ast.USub) else (v, d)
        if isinstance(node, ast.BinOp):
            (a, da), (b, db) = dual(node.left), dual(node.right)
            if isinstance(node.op, ast.Add):
                return a + b, da + db
            if isinstance(node.op, ast.Sub):
                return a - b, da - db
            if isinstance(node.op, ast.Mult):
                return a * b, da * b + a * db
            if isinstance(node.op, ast.Div):
                if b == 0:
                    return math.nan, math.nan
                return a / b, (da * b - a * db) / (b * b)
        raise AssertionError(f"unsupported formula node {ast.dump(node)}")

    return dual(tree)[1]


def _occurrences(tree: ast.expr, name: str) -> int:
    return sum(1 for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == name)


def _contains(tree: ast.expr, name: str) -> bool:
    return _occurrences(tree, name) > 0


def _invert(tree: ast.expr, name: str, target: float, values: Mapping[str, float]) -> float | None:
    """Exact inversion along the path to the one occurrence of `name`."""
    node, goal = tree, target
    while True:
        if isinstance(node, ast.Name):
            return goal if node.id == name else None
        if isinstance(node, ast.UnaryOp):
            goal = -goal if isinstance(node.op, ast.USub) else goal
            node = node.operand
            continue
        if not isinstance(node, ast.BinOp):
            return None
        left_has = _contains(node.left, name)
        other = evaluate(node.right if left_has else node.left, values)
        if not math.isfinite(other):
            return None
        op = node.op
        if isinstance(op, ast.Add):
            goal = goal - other
        elif isinstance(op, ast.Sub):
            goal = goal + other if left_has else other - goal
        elif isinstance(op, ast.Mult):
            if other == 0:
                return None
            goal = goal / other
        elif isinstance(op, ast.Div):
            if left_has:  # x / other = goal
                if other == 0:
                    return None
                goal = goal * other
            else:  # other / x = goal
                if goal == 0:
                    return None
                goal = other / goal
        else:  # pragma: no cover
            return None
        if not math.isfinite(goal):
            return None
        node = node.left if left_has else node.right


def magnitude(tree: ast.expr, values: Mapping[str, float]) -> float:
    """The formula with every term made positive (`|a| + |b|` for `a - b`): the scale of its
    rounding error, so that a result near zero from cancelling terms is judged fairly."""
    if isinstance(tree, ast.Name):
        return abs(float(values[tree.id]))
    if isinstance(tree, ast.Constant):
        return abs(float(tree.value))
    if isinstance(tree, ast.UnaryOp):
        return magnitude(tree.operand, values)
    if isinstance(tree, ast.BinOp):
        left, right = magnitude(tree.left, values), magnitude(tree.right, values)
        if isinstance(tree.op, ast.Add | ast.Sub):
            return left + right
        if isinstance(tree.op, ast.Mult):
            return left * right
        right_value = abs(evaluate(tree.right, values))
        return left / right_value if right_value else math.inf
    raise AssertionError(f"unsupported formula node {ast.dump(tree)}")


def _close(value: float, target: float, rel: float = 1e-10, scale: float = 0.0) -> bool:
    """`value` equals `target` to `rel`, relative to the target or to the terms' scale."""
    bound = max(abs(target), scale if math.isfinite(scale) else 0.0, 1e-300)
    return math.isfinite(value) and abs(value - target) <= rel * bound


def _bracketed(g: Any, a: float, b: float, ga: float, gb: float, tol: float, depth: int = 0) -> float | None:
    """A root of g between a and b (g(a), g(b) of opposite signs), the one nearest a; None when the
    sign changes only across poles (divisions by zero)."""
    from scipy.optimize import brentq

    lo, hi = (a, b) if a < b else (b, a)
    try:
        root = float(brentq(g, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=500))
    except (ValueError, RuntimeError):
        root = None
    if root is not None and abs(g(root)) <= min(abs(ga), abs(gb)):
        return root
    if depth >= 4:
        return None
    # Across a pole: look again in 16 pieces, nearest `a` first.
    xs = [a + (b - a) * i / 16 for i in range(17)]
    gs = [g(x) for x in xs]
    for i in range(16):
        if math.isfinite(gs[i]) and math.isfinite(gs[i + 1]):
            if gs[i] == 0:
                return xs[i]
            if (gs[i] > 0) != (gs[i + 1] > 0):
                found = _bracketed(g, xs[i], xs[i + 1], gs[i], gs[i + 1], tol, depth + 1)
                if found is not None:
                    return found
    return None


def _roots(g: Any, start: float, scale: float, tol: float) -> list[float]:
    """Roots of g found by stepping away from `start` on both sides with growing steps (the
    nearest on each side); when no step changes sign, a root where g only touches zero (a
    minimum of |g|) is tried."""
    from scipy.optimize import minimize_scalar

    found: list[float] = []
    samples: list[tuple[float, float]] = [(start, g(start))]
    for sign in (1.0, -1.0):
        prev_x, prev_g = start, samples[0][1]
        step = scale * 1e-3
        while step <= scale * 1e15:
            x = start + sign * step
            gx = g(x)
            samples.append((x, gx))
            if math.isfinite(gx) and math.isfinite(prev_g):
                root = x if gx == 0 else (_bracketed(g, prev_x, x, prev_g, gx, tol)
                                          if (gx > 0) != (prev_g > 0) else None)
                if root is not None:
                    found.append(root)
                    break
            prev_x, prev_g = x, gx
            step *= 1.5
    if found:
        return found
    # No sign change between samples: g may cross zero and come back between two of them, or only
    # touch zero. Look closer around the samples where |g| is smallest.
    points = sorted((x, gx) for x, gx in samples if math.isfinite(gx))
    lows = [i for i in range(len(points))
            if all(abs(points[i][1]) <= abs(points[j][1]) for j in (i - 1, i + 1) if 0 <= j < len(points))]
    for i in sorted(lows, key=lambda i: abs(points[i][1]))[:3]:
        for j in (i - 1, i + 1):
            if 0 <= j < len(points):
                found += _closer(g, min(points[i][0], points[j][0]), max(points[i][0], points[j][0]), tol)
    return found


def _closer(g: Any, lo: float, hi: float, tol: float) -> list[float]:
    """Roots of g in [lo, hi] that a coarse look missed: sign changes among 64 pieces, else the
    minimum of g (or -g) around the piece where |g| is smallest (a root where g touches zero)."""
    from scipy.optimize import minimize_scalar

    xs = [lo + (hi - lo) * i / 64 for i in range(65)]
    gs = [g(x) for x in xs]
    found = []
    for a, b, ga, gb in zip(xs, xs[1:], gs, gs[1:]):
        if math.isfinite(ga) and math.isfinite(gb) and (ga > 0) != (gb > 0):
            root = _bracketed(g, a, b, ga, gb, tol)
            if root is not None:
                found.append(root)
    if found:
        return found
    finite = [i for i in range(65) if math.isfinite(gs[i])]
    if not finite:
        return []
    k = min(finite, key=lambda i: abs(gs[i]))
    side = 1.0 if gs[k] > 0 else -1.0

    def h(x: float) -> float:
        value = g(x)
        return side * value if math.isfinite(value) else math.inf

    best = minimize_scalar(h, bounds=(xs[max(k - 1, 0)], xs[min(k + 1, 64)]), method="bounded",
                           options={"xatol": max(tol, 1e-300)})
    return [float(best.x)] if best.success else []


def solve_input(tree: ast.expr, name: str, values: Mapping[str, float], target: float,
                guess: float | None = None) -> float | None:
    """The value of `name` for which the formula equals `target`, the other names at `values`.

    Exact when `name` appears once; otherwise the root nearest `guess` (Brent's method).
    None when no value of `name` alone gives `target`.
    """
    point = dict(values)

    def f(x: float) -> float:
        point[name] = x
        return evaluate(tree, point)

    def hits(x: float, rel: float = 1e-9) -> bool:
        return _close(f(x), target, rel, magnitude(tree, {**values, name: x}))

    if _occurrences(tree, name) == 1:
        solved = _invert(tree, name, target, values)
        if solved is not None and hits(solved):
            return solved
    start = guess if guess is not None and math.isfinite(guess) else _num(values.get(name)) or 0.0
    if hits(start, 1e-13):
        return start
    scale = max(abs(start), 1e-9)
    roots = [r for r in _roots(lambda x: f(x) - target, start, scale, tol=scale * 1e-15) if hits(r)]
    return min(roots, key=lambda r: abs(r - start)) if roots else None


def helping_signs(tree: ast.expr, values: Mapping[str, float]) -> dict[str, int]:
    """For each name: +1 when raising it raises the formula at `values`, -1 when it lowers it, 0 when
    it does not move it (or the slope is undefined). Multiplied by the sign of the value, this is
    the sign of the elasticity, the way to scale it by k > 1 to raise the formula."""
    out = {}
    for name in dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)):
        slope = derivative(tree, values, name)
        out[name] = 0 if not math.isfinite(slope) or slope == 0 else (1 if slope > 0 else -1)
    return out


def solve_proportional(tree: ast.expr, values: Mapping[str, float], target: float) -> tuple[float, dict[str, float]] | None:
    """The common factor k and the inputs `values[i] * k ** s[i]` at which the formula equals `target`.

    `s[i]` is the sign of input i's elasticity at `values` (+1: scaling it up raises the formula,
    -1: scaling it down does, 0: it does not move it), so every input moves by the same factor
    in the direction that raises the formula; k < 1 when the target is below the current value.
    """
    names = list(dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name)))
    signs = helping_signs(tree, values)
    power = {n: signs[n] * (1 if values[n] > 0 else -1 if values[n] < 0 else 0) for n in names}
    if not any(power.values()):
        return None

    def at(u: float) -> dict[str, float]:
        return {n: values[n] * math.exp(power[n] * u) if power[n] else values[n] for n in names}

    def g(u: float) -> float:
        try:
            return evaluate(tree, at(u)) - target
        except OverflowError:
            return math.nan

    def hits(u: float, rel: float = 1e-9) -> bool:
        return _close(g(u) + target, target, rel, magnitude(tree, at(u)))

    if hits(0.0, 1e-13):
        return 1.0, dict(values)
    roots = [r for r in _roots(g, 0.0, 1.0, tol=1e-15) if hits(r)]
    if not roots:
        return None
    u = min(roots, key=abs)
    return math.exp(u), at(u)


# ---- the report ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeTarget:
    """One tree node in the target period: where it is, where its trend goes, what it must reach."""

    metric: str
    label: str
    link: str  # root | formula | driver
    owner: str | None
    formula: str | None
    direction: str  # the metric's declared good direction
    helps: str | None  # which way this node must move to help the North Star: up | down
    current: float | None
    trend: float | None  # the trend's value in the target period
    trend_growth: float | None  # the trend's growth per period
    required: float | None
    periods: int
    status: str  # on trend | gap | unreachable | no data | moves with
    driver_direction: str | None = None
    lag: int | None = None
    children: tuple["NodeTarget", ...] = field(default_factory=tuple)

    @property
    def change(self) -> float | None:
        if self.required is None or self.current is None:
            return None
        return self.required - self.current

    @property
    def change_pct(self) -> float | None:
        if self.change is None or not self.current:
            return None
        return self.change / abs(self.current)

    @property
    def growth(self) -> float | None:
        """The growth per period the requirement implies."""
        return growth_per_period(self.current, self.required, self.periods)

    @property
    def gap(self) -> float | None:
        """Required minus trend: what the trend falls short by (or exceeds it by)."""
        if self.required is None or self.trend is None:
            return None
        return self.required - self.trend

    def find(self, metric: str) -> "NodeTarget | None":
        """The first node of `metric`, breadth first, preferring formula links to drivers."""
        queue: list[NodeTarget] = [self]
        drivers: list[NodeTarget] = []
        while queue:
            node = queue.pop(0)
            if node.metric == metric:
                if node.link != "driver":
                    return node
                drivers.append(node)
            queue.extend(node.children)
        return drivers[0] if drivers else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "label": self.label, "link": self.link, "owner": self.owner,
            "formula": self.formula, "direction": self.direction, "helps": self.helps,
            "current": self.current, "trend": self.trend, "trend_growth": self.trend_growth,
            "required": self.required, "change": self.change, "change_pct": self.change_pct,
            "growth_per_period": self.growth, "gap": self.gap, "status": self.status,
            "driver_direction": self.driver_direction, "lag": self.lag,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass(frozen=True)
class FocusTarget:
    """An OMTM beside the tree: its target against what the tree requires by its deadline."""

    team: str
    metric: str
    owner: str | None
    target: float | None
    deadline: dt.date | None
    at: dt.date  # the date the requirement is taken at: the deadline, else the North Star's target date
    link: str | None  # how the metric sits in the tree: root | formula | driver | None (not in it)
    required: float | None
    status: str  # enough | not enough | no target | driver | not in tree | ended | no requirement
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"team": self.team, "metric": self.metric, "owner": self.owner, "target": self.target,
                "deadline": self.deadline.isoformat() if self.deadline else None, "at": self.at.isoformat(),
                "link": self.link, "required": self.required, "status": self.status, "note": self.note}


@dataclass(frozen=True)
class TargetsReport:
    project: str
    north_star: str
    grain: str
    method: str
    target: float
    by: dt.date
    target_period: dt.date
    last_period: dt.date
    periods: int
    trend_periods: int
    root: NodeTarget
    focus: tuple[FocusTarget, ...]
    summary: str

    def nodes(self) -> list[NodeTarget]:
        out: list[NodeTarget] = []

        def walk(node: NodeTarget) -> None:
            out.append(node)
            for child in node.children:
                walk(child)

        walk(self.root)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "north_star": self.north_star, "grain": self.grain,
                "method": self.method, "target": self.target, "by": self.by.isoformat(),
                "target_period": self.target_period.isoformat(), "last_period": self.last_period.isoformat(),
                "periods": self.periods, "trend_periods": self.trend_periods, "summary": self.summary,
                "root": self.root.to_dict(), "focus": [f.to_dict() for f in self.focus]}


def _status(current: float | None, trend: float | None, required: float | None, helps: int) -> str:
    if current is None or trend is None:
        return "no data"
    if required is None:
        return "unreachable"
    return "on trend" if helps * (trend - required) >= -1e-12 * max(abs(required), 1.0) else "gap"


def _requirements(tree: ast.expr, names: Sequence[str], required: float, method: str,
                  current: Mapping[str, float | None], trend: Mapping[str, float | None]) -> dict[str, float | None]:
    """What each input of a formula must reach for the formula to give `required`."""
    if method == "proportional":
        if any(current.get(n) is None for n in names):
            return {n: None for n in names}
        solved = solve_proportional(tree, {n: current[n] for n in names}, required)  # type: ignore[misc]
        return {n: None for n in names} if solved is None else dict(solved[1])
    out: dict[str, float | None] = {}
    for name in names:
        others = {n: trend.get(n) for n in names if n != name}
        if any(v is None for v in others.values()):
            out[name] = None
            continue
        guess = trend.get(name) if trend.get(name) is not None else current.get(name)
        out[name] = solve_input(tree, name, {**others, name: guess or 0.0}, required, guess)  # type: ignore[dict-item]
    return out


def build_targets(spec: Spec, history: pd.DataFrame, last_period: dt.date, target: float, by: dt.date,
                  method: str = "trend") -> TargetsReport:
    """The requirements down the North Star's tree for reaching `target` by `by`.

    `history`: a `period` column (the first day of each period, oldest first, ending at
    `last_period`) and one column per tree metric; the last `TREND_PERIODS[grain]` rows are used.
    """
    if method not in METHODS:
        raise QueryError(f"unknown method '{method}': use {' or '.join(METHODS)}")
    ns = spec.north_star
    grain = ns.grain
    periods = check_target_date(by, last_period, grain)
    frame = history
    if "period" in frame.columns:
        frame = frame[[p <= last_period for p in frame["period"]]].sort_values("period", kind="stable")
    window = frame.tail(TREND_PERIODS[grain])
    has_last = "period" not in window.columns or (len(window) and window["period"].iloc[-1] == last_period)

    def column(name: str) -> list[Any]:
        return list(window[name]) if name in window.columns else []

    current: dict[str, float | None] = {}
    trends: dict[str, Trend] = {}

    def facts(name: str) -> tuple[float | None, Trend]:
        if name not in trends:
            values = column(name)
            current[name] = _num(values[-1]) if values and has_last else None
            trends[name] = fit_trend(values, periods) if values else Trend(None, None, "none", 0)
        return current[name], trends[name]

    def direction_of(name: str) -> str:
        metric = spec.metrics.get(name)
        return getattr(metric, "direction", "up") if metric is not None else "up"

    def node(name: str, link: str, required: float | None, helps: int, path: tuple[str, ...],
             driver: Any = None) -> NodeTarget:
        cur, trend = facts(name)
        spec_node = ns.tree.get(name)
        children: list[NodeTarget] = []
        if link != "driver" and spec_node is not None and name not in path:
            if spec_node.formula:
                formula = parse_formula(spec_node.formula)
                for child in formula.names:
                    facts(child)
                needs = (_requirements(formula.tree, formula.names, required, method, current,
                                       {n: trends[n].value for n in formula.names})
                         if required is not None else {n: None for n in formula.names})
                at = {n: current[n] for n in formula.names}
                signs = (helping_signs(formula.tree, at) if all(v is not None for v in at.values())  # type: ignore[arg-type]
                         else {})
                for child in formula.names:
                    sign = signs.get(child, 0)
                    child_helps = helps * sign if sign else (1 if direction_of(child) == "up" else -1)
                    children.append(node(child, "formula", needs[child], child_helps, path + (name,)))
            for d in spec_node.drivers:
                children.append(node(d.metric, "driver", None, 1 if d.direction == "up" else -1, path + (name,), d))
        status = "moves with" if link == "driver" else _status(cur, trend.value, required, helps)
        return NodeTarget(
            metric=name, label=label_of(spec, name), link=link, owner=spec_node.owner if spec_node else None,
            formula=spec_node.formula if spec_node else None, direction=direction_of(name),
            helps=None if link == "driver" else ("up" if helps > 0 else "down"), current=cur,
            trend=trend.value, trend_growth=trend.growth, required=required, periods=periods, status=status,
            driver_direction=driver.direction if driver is not None else None,
            lag=driver.lag if driver is not None else None, children=tuple(children))

    root_helps = 1 if direction_of(ns.metric) == "up" else -1
    root = node(ns.metric, "root", float(target), root_helps, ())
    focus = tuple(_focus_target(f, root, by, last_period, periods, grain) for f in spec.focus)
    used = max((t.points for t in trends.values()), default=0)
    return TargetsReport(project=spec.project, north_star=ns.metric, grain=grain, method=method,
                         target=float(target), by=by, target_period=period_of(by, grain), last_period=last_period,
                         periods=periods, trend_periods=used, root=root, focus=focus,
                         summary=summarise(root, method, by, periods, grain))


def _focus_target(focus: Any, root: NodeTarget, by: dt.date, last_period: dt.date, periods: int,
                  grain: str) -> FocusTarget:
    deadline = focus.to
    at = deadline if deadline is not None and deadline < by else by
    node = root.find(focus.metric)
    base = dict(team=focus.team, metric=focus.metric, owner=focus.owner, target=focus.target, deadline=deadline,
                at=at, link=node.link if node else None)
    if node is None:
        return FocusTarget(**base, required=None, status="not in tree",
                           note="not in the North Star's tree: the tree sets it no requirement")
    if node.link == "driver":
        parents = [p for p in _parents(root, focus.metric)]
        parent = parents[0] if parents else None
        words = ""
        if parent is not None and parent.required is not None:
            ahead = min(max(periods_apart(last_period, at, grain), 0), periods)
            by_then = value_on_path(parent.current, parent.required, periods, ahead)
            words = f"; {_lower(parent.label)} must reach {_fmt(parent.required)} by {by.isoformat()}"
            if at < by and by_then is not None and ahead >= 1:
                words += f" ({_fmt(by_then)} by {at.isoformat()} on the way)"
        return FocusTarget(**base, required=None, status="driver",
                           note=f"a driver (hypothesis) of {_lower(parent.label) if parent else 'a node'}, not a "
                                f"formula input: no requirement can be computed{words}")
    ahead = periods_apart(last_period, at, grain)
    if ahead < 1:
        return FocusTarget(**base, required=None, status="ended",
                           note=f"the time box ended by the last complete {grain}")
    required = value_on_path(node.current, node.required, periods, min(ahead, periods))
    if required is None:
        return FocusTarget(**base, required=None, status="no requirement",
                           note="the tree gives it no requirement (no data, or out of its inputs' reach)")
    if focus.target is None:
        return FocusTarget(**base, required=required, status="no target",
                           note=f"the tree requires {_fmt(required)} by {at.isoformat()}; set a `target`")
    helps = 1 if node.helps == "up" else -1
    enough = helps * (focus.target - required) >= -1e-12 * max(abs(required), 1.0)
    verb = "is enough" if enough else "is not enough"
    return FocusTarget(**base, required=required, status="enough" if enough else "not enough",
                       note=f"the target {_fmt(focus.target)} {verb}: the tree requires {_fmt(required)} "
                            f"by {at.isoformat()}")


def _parents(root: NodeTarget, metric: str) -> list[NodeTarget]:
    out: list[NodeTarget] = []

    def walk(node: NodeTarget) -> None:
        for child in node.children:
            if child.metric == metric:
                out.append(node)
            walk(child)

    walk(root)
    return out


# ---- words ---------------------------------------------------------------------------------------

def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}%"


def _lower(label: str) -> str:
    return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


def _rate(node: NodeTarget, grain: str) -> str:
    growth = node.growth
    return "" if growth is None else f", {growth * 100:.1f}%/{grain}"


def summarise(root: NodeTarget, method: str, by: dt.date, periods: int, grain: str) -> str:
    """The requirement in plain words, one sentence per formula level under the North Star."""
    unit = grain + ("s" if periods != 1 else "")
    if root.status == "on trend":
        trend = f"the trend reaches it: {_fmt(root.trend)}"
    elif root.gap is not None:
        trend = f"the trend gives {_fmt(root.trend)}, {_fmt(abs(root.gap))} short"
    else:
        trend = "no trend: too little data"
    head = (f"To reach {_fmt(root.required)} {_lower(root.label)} by {by.isoformat()} "
            f"({_pct(root.change_pct)} in {periods} {unit}{_rate(root, grain)}; {trend})")
    inputs = [c for c in root.children if c.link == "formula"]
    if not inputs:
        return head + ": its tree has no formula to split it."
    if method == "proportional":
        parts = [f"{_lower(c.label)} to {_fmt(c.required)} ({_pct(c.change_pct)}{_rate(c, grain)})" for c in inputs]
        return head + ", sharing the effort proportionally: " + ", ".join(parts) + "."
    parts = []
    for c in inputs:
        others = [o for o in inputs if o is not c]
        if c.required is None:
            parts.append(f"{_lower(c.label)} alone cannot get there with the others on trend")
            continue
        rest = " and ".join(_lower(o.label) for o in others)
        parts.append(f"{_lower(c.label)} must reach {_fmt(c.required)} ({_pct(c.change_pct)}{_rate(c, grain)}, "
                     f"{c.status})" + (f" with {rest} on trend" if rest else ""))
    return head + ", " + "; or ".join(parts) + "."
