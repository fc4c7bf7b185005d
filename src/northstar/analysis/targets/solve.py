"""Solving a formula for an input: exact inversion, root finding, a common factor."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from northstar.analysis.attribution import evaluate
from northstar.analysis.targets.trend import _num


# ---- formulas ------------------------------------------------------------------------------------

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
