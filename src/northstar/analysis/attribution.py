"""Exact attribution of a change: Shapley values through formulas, rate and mix over segments.

*Through a formula* f(x1..xn), the change f(x1) - f(x0) is split with Shapley values: input
i gets the average, over every order in which the inputs could switch from their baseline to
their current value, of the change f makes when i switches. The split is exact (it adds up to
the total change, to floating-point precision), independent of the order the formula is
written in, and for sums and differences it is simply each input's own change. For a
product a*b it gives a the change of a times the mean of b's two values; for a ratio a/b
it splits the log-like interaction symmetrically.

*Over segments* of an additive metric (a count or sum), segment s contributes v1_s - v0_s.
For a ratio R = N/D = sum_s w_s r_s (w_s = D_s/D the segment's weight, r_s = N_s/D_s its rate),
the change splits exactly into a *rate effect* (w0_s+w1_s)/2 * (r1_s - r0_s), the segment's
own rate moving, and a *mix effect* ((r0_s+r1_s)/2 - (R0+R1)/2) * (w1_s - w0_s), the segment
growing or shrinking as a share of the whole, which moves the ratio only as far as the
segment's rate differs from the whole's (a segment at the average rate that doubles in size
changes nothing). As the weights' changes add up to 0, the centring takes nothing away: the
rate and mix effects add up to the total change over all segments.

*Noise*: a segment's change has a spread of its own even when nothing happened. A count is
Poisson (Var v = v); a sum of independent amounts over a Poisson number of rows is compound
Poisson (Var = the sum of the squared amounts). What names a segment is its excess
e_s = c_s - w0_s * (V1 - V0) = v1_s - w0_s * V1 (w0_s = v0_s / V0: its share before), so its
noise is the excess's spread when every segment kept its share; by the delta method, with R
the rest of the segments (independent of s),
Var e_s ~ (1-w0)^2 Var v1_s + w0^2 Var R1 + (V1/V0)^2 ((1-w0)^2 Var v0_s + w0^2 Var R0).
For counts this is the two-proportion test of the segment's share (a segment that fell 95%
while the whole fell 81% is far beyond noise, although its change alone, sqrt(v0 + v1), is
not). For a ratio N/D, each period's rate has Var N / D^2 given
its denominator (the ratio estimator's linearisation Var(N - rD) / D^2 without the D terms:
numerator and denominator move together, minutes with listeners, so adding D's own noise as
if independent would swamp a real 40% drop), and its weight w = D_s / D a variance from the
noise of D_s and of the rest, ((D - D_s)^2 Var D_s + D_s^2 Var(D - D_s)) / D^4. The rate and
mix effects then have standard deviations (w0+w1)/2 * sqrt(Var r0 + Var r1) and
|(r0+r1)/2 - (R0+R1)/2| * sqrt(Var w0 + Var w1). For counts each variance is floored at 1:
an empty segment is not certain.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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
    raise ValueError(f"unsupported formula node {ast.dump(tree)}")


def shapley(tree: ast.expr, names: Sequence[str], baseline: Mapping[str, float],
            current: Mapping[str, float]) -> dict[str, float]:
    """Each input's exact share of f(current) - f(baseline) (Shapley values; 2^n evaluations)."""
    n = len(names)
    weights = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    cache: dict[frozenset[str], float] = {}

    def value(switched: frozenset[str]) -> float:
        if switched not in cache:
            cache[switched] = evaluate(tree, {m: (current[m] if m in switched else baseline[m]) for m in names})
        return cache[switched]

    out = {}
    for name in names:
        others = [m for m in names if m != name]
        total = 0.0
        for size in range(n):
            for subset in itertools.combinations(others, size):
                before = frozenset(subset)
                total += weights[size] * (value(before | {name}) - value(before))
        out[name] = total
    return out


@dataclass(frozen=True)
class SegmentEffect:
    segment: tuple[tuple[str, object], ...]  # ((dimension, value), ...)
    contribution: float
    rate_effect: float | None = None
    mix_effect: float | None = None
    baseline: float | None = None  # the segment's value (additive) or rate (ratio) before
    value: float | None = None  # ... and now
    baseline_weight: float | None = None  # its share of the whole before (value or denominator)


def additive_effects(baseline: Mapping[tuple, float], current: Mapping[tuple, float]) -> list[SegmentEffect]:
    """Each segment's own change, for counts and sums (they add up to the total change)."""
    keys = list(dict.fromkeys([*baseline, *current]))
    total0 = sum(_num(baseline.get(k)) for k in keys)
    return [SegmentEffect(k, _num(current.get(k)) - _num(baseline.get(k)), baseline=_num(baseline.get(k)),
                          value=_num(current.get(k)),
                          baseline_weight=_num(baseline.get(k)) / total0 if total0 else None) for k in keys]


def ratio_effects(numerator0: Mapping[tuple, float], denominator0: Mapping[tuple, float],
                  numerator1: Mapping[tuple, float], denominator1: Mapping[tuple, float]) -> list[SegmentEffect]:
    """Rate and mix effects of each segment on a ratio sum(N)/sum(D); they add up exactly to
    the ratio's change. A segment absent in one period has weight 0 there (and its rate is
    taken from the other period)."""
    keys = list(dict.fromkeys([*denominator0, *denominator1]))
    d0 = sum(_num(denominator0.get(k)) for k in keys)
    d1 = sum(_num(denominator1.get(k)) for k in keys)
    centre = _centre(numerator0, numerator1, keys, d0, d1)
    out = []
    for key in keys:
        w0 = _num(denominator0.get(key)) / d0 if d0 else 0.0
        w1 = _num(denominator1.get(key)) / d1 if d1 else 0.0
        r0 = _rate(numerator0.get(key), denominator0.get(key))
        r1 = _rate(numerator1.get(key), denominator1.get(key))
        r0 = r1 if r0 is None else r0
        r1 = r0 if r1 is None else r1
        if r0 is None or r1 is None:
            continue
        rate = (w0 + w1) / 2 * (r1 - r0)
        mix = ((r0 + r1) / 2 - centre) * (w1 - w0)
        out.append(SegmentEffect(key, rate + mix, rate, mix, r0, r1, w0))
    return out


def additive_noise(baseline: Mapping[tuple, float], current: Mapping[tuple, float],
                   variance0: Mapping[tuple, float], variance1: Mapping[tuple, float],
                   floor: float = 0.0) -> dict[tuple, float]:
    """The standard deviation of each segment's excess e = v1_s - w0_s * (V1 - V0) - ... when
    every segment kept its share (see the module docstring); each segment's variance in each
    period is at least `floor` (1 for a count: an empty segment is not certain)."""
    keys = list(dict.fromkeys([*baseline, *current]))
    v0 = {k: _num(baseline.get(k)) for k in keys}
    var0 = {k: max(_num(variance0.get(k)), floor) for k in keys}
    var1 = {k: max(_num(variance1.get(k)), floor) for k in keys}
    total0, total1 = sum(v0.values()), sum(_num(current.get(k)) for k in keys)
    all0, all1 = sum(var0.values()), sum(var1.values())
    out = {}
    for k in keys:
        w0 = v0[k] / total0 if total0 else 0.0
        growth = total1 / total0 if total0 else 0.0
        variance = ((1 - w0) ** 2 * var1[k] + w0 ** 2 * (all1 - var1[k])
                    + growth ** 2 * ((1 - w0) ** 2 * var0[k] + w0 ** 2 * (all0 - var0[k])))
        out[k] = math.sqrt(max(variance, 0.0))
    return out


def ratio_noise(numerator0: Mapping[tuple, float], denominator0: Mapping[tuple, float],
                numerator1: Mapping[tuple, float], denominator1: Mapping[tuple, float],
                variances: tuple[Mapping[tuple, float], ...], floor: float = 0.0) -> dict[tuple, float]:
    """The standard deviation of each segment's rate + mix effect on a ratio sum(N)/sum(D).

    `variances`: Var N0, Var D0, Var N1, Var D1 per segment (for counts, the counts themselves).
    See the module docstring; a side where the segment is absent adds no rate noise (its rate
    is borrowed from the other side)."""
    keys = list(dict.fromkeys([*denominator0, *denominator1]))
    sides = ((numerator0, denominator0, variances[0], variances[1]),
             (numerator1, denominator1, variances[2], variances[3]))
    totals = [(sum(_num(d.get(k)) for k in keys), sum(_num(vd.get(k)) for k in keys)) for _n, d, _vn, vd in sides]
    centre = _centre(numerator0, numerator1, keys, totals[0][0], totals[1][0])
    out = {}
    for key in keys:
        rates: list[tuple[float, float] | None] = []
        weights: list[tuple[float, float]] = []
        for (numerators, denominators, var_n, var_d), (total, total_var) in zip(sides, totals):
            n, d = _num(numerators.get(key)), _num(denominators.get(key))
            vn, vd = max(_num(var_n.get(key)), floor), max(_num(var_d.get(key)), floor)
            rates.append((n / d, vn / d ** 2) if d else None)
            rest, rest_var = total - d, max(total_var - _num(var_d.get(key)), 0.0)
            weights.append((d / total, ((rest ** 2) * vd + d ** 2 * rest_var) / total ** 4) if total else (0.0, 0.0))
        first, second = rates
        r0 = first[0] if first else (second[0] if second else 0.0)
        r1 = second[0] if second else r0
        var_r = (first[1] if first and second else 0.0) + (second[1] if first and second else 0.0)
        (w0, var_w0), (w1, var_w1) = weights
        out[key] = math.hypot((w0 + w1) / 2 * math.sqrt(var_r), ((r0 + r1) / 2 - centre) * math.sqrt(var_w0 + var_w1))
    return out


def _centre(numerator0: Mapping[tuple, float], numerator1: Mapping[tuple, float], keys: Sequence[tuple],
            d0: float, d1: float) -> float:
    """(R0 + R1) / 2, the mean of the whole's two rates; 0 when a side has no denominator (then
    the weights' changes do not add up to 0 and only the uncentred mix effect is exact)."""
    if not d0 or not d1:
        return 0.0
    return (sum(_num(numerator0.get(k)) for k in keys) / d0 + sum(_num(numerator1.get(k)) for k in keys) / d1) / 2


def _num(value: object) -> float:
    if value is None:
        return 0.0
    number = float(value)  # type: ignore[arg-type]
    return 0.0 if math.isnan(number) else number


def _rate(numerator: object, denominator: object) -> float | None:
    d = _num(denominator)
    return _num(numerator) / d if d else None
