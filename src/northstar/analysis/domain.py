"""What a metric's values can be: its domain, read from the metric's definition.

Every forecast, expected value, interval, projection and chart band must stay inside it: a
count of buyers is never projected at -6,073, a retention band never reaches 4.4. And the
domain says what noise a value carries at the least (its *counting noise*): a count of n
varies by about sqrt(n) from period to period even when nothing changes, a share p of d
entities by about sqrt(p(1-p)/d). `size` names what that noise is counted over.

The rules, conservative where the definition alone cannot tell (a sign we cannot prove is
"real", a bound we cannot prove is not claimed):

* `count`, `count_distinct` (cumulative or not): a count, >= 0, whole numbers.
* `sum`: an amount >= 0 when the summed values are known to be >= 0 (`observed_min`: the
  smallest value of the expression in the data, or of the metric itself), else real. Its
  counting noise is over the rows summed (a sum of n values varies by at least 1/sqrt(n)).
* `avg`, `min`, `max`: between the smallest and largest value of the expression
  (`observed_min`, `observed_max`); an `avg` of values in [0, 1] (a 0/1 flag) is a share of
  the rows averaged.
* `type: retention` and `type: conversion`: shares in [0, 1] of their cohort (last period's
  active entities; the entities doing `from`).
* formulas: `a / b` is a share of `b` when both are counts of the same source and entity and
  `a`'s filter selects a subset of `b`'s (its `where` is `b`'s, or `b`'s AND more conditions,
  or `b` has none); otherwise products, quotients and sums of non-negative things are >= 0
  (sums of counts stay counts) and a difference, a negative number or a real input is real.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from sqlglot import expressions as exp

from northstar.spec.expressions import (
    ExpressionError,
    normal_sql,
    parse_formula,
    parse_sql,
)
from northstar.spec.model import (
    AggregateMetric,
    ConversionMetric,
    FormulaMetric,
    RetentionMetric,
    Spec,
)

Kind = Literal["count", "amount", "share", "real"]
KINDS: tuple[str, ...] = ("count", "amount", "share", "real")


@dataclass(frozen=True)
class Size:
    """What a metric's counting noise is counted over, as metrics the engine can compute.

    `kind`: `denominator` (a share of `d` entities: sqrt(p(1-p)/d)), `rows` (a sum of n rows: at
    least 1/sqrt(n) of itself), `spread` (an average of n values: their standard deviation /
    sqrt(n)). The numbers come from `metric` (a spec metric's name) or `probe` (an ad-hoc
    aggregate), `lag` periods earlier (a retention's cohort is last period's active entities);
    for `spread`, `probe` counts the values and `square` averages their squares."""

    kind: Literal["denominator", "rows", "spread"] = "denominator"
    metric: str | None = None
    probe: AggregateMetric | None = None
    square: AggregateMetric | None = None
    lag: int = 0

    def probes(self, name: str) -> dict[str, AggregateMetric]:
        """The ad-hoc metrics to compute beside metric `name`, by column name."""
        out = {f"__size_{name}": self.probe} if self.probe is not None else {}
        if self.square is not None:
            out[f"__square_{name}"] = self.square
        return out  # type: ignore[return-value]

    def series(self, frame: pd.DataFrame, name: str) -> pd.Series | None:
        """Per row of a query's `frame` (one segment's periods, in order), the size: the
        denominator, the rows, or for `spread` the variance of the average (s^2 / n, NaN
        with fewer than 2 values). None when the frame lacks the columns."""
        column = f"__size_{name}" if self.probe is not None else self.metric
        if column is None or column not in frame.columns:
            return None
        size = pd.to_numeric(frame[column], errors="coerce").astype(float)
        if self.kind == "spread":
            square = f"__square_{name}"
            if square not in frame.columns or name not in frame.columns:
                return None
            mean = pd.to_numeric(frame[name], errors="coerce").astype(float)
            second = pd.to_numeric(frame[square], errors="coerce").astype(float)
            variance = (second - mean * mean).clip(lower=0.0) * size / (size - 1.0)  # the sample variance
            size = (variance / size).where(size >= 2)
        return size.shift(self.lag) if self.lag else size


@dataclass(frozen=True)
class Domain:
    kind: Kind
    lower: float | None = None  # None: unbounded
    upper: float | None = None
    size: Size | None = None  # shares: the denominator; sums: the rows summed; counts: themselves

    def clip(self, value: float) -> float:
        """`value` moved into the domain (NaN stays NaN)."""
        if value != value:  # NaN
            return value
        if self.lower is not None and value < self.lower:
            return float(self.lower)
        if self.upper is not None and value > self.upper:
            return float(self.upper)
        return float(value)

    def contains(self, value: float, tolerance: float = 1e-9) -> bool:
        if not math.isfinite(value):
            return False
        slack = tolerance * max(1.0, abs(value))
        return ((self.lower is None or value >= self.lower - slack)
                and (self.upper is None or value <= self.upper + slack))

    @property
    def nonnegative(self) -> bool:
        return self.lower is not None and self.lower >= 0

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "lower": self.lower, "upper": self.upper}


REAL = Domain("real")
COUNT = Domain("count", 0.0)
AMOUNT = Domain("amount", 0.0)
SHARE = Domain("share", 0.0, 1.0)


def observed_domain(values: object) -> Domain:
    """Without a definition, what the values themselves show: >= 0 when none is negative
    (never a count or a share: that needs the definition), else real."""
    numbers = [float(v) for v in values if v is not None and v == v]  # type: ignore[attr-defined]
    return AMOUNT if numbers and min(numbers) >= 0 else REAL


def domain_of(spec: Spec, metric: str, observed_min: float | None = None, observed_max: float | None = None,
              observed: Mapping[str, tuple[float | None, float | None]] | None = None) -> Domain:
    """The domain of `metric` (see the module docstring). `observed_min`/`observed_max`: the
    smallest/largest value of the metric's expression in the data (for `sum`, `avg`, `min`,
    `max`); `observed`: the same per metric name, for the inputs of a formula."""
    ranges = dict(observed or {})
    if observed_min is not None or observed_max is not None:
        ranges[metric] = (observed_min, observed_max)
    return _domain(spec, metric, ranges, set())


def _domain(spec: Spec, name: str, ranges: Mapping[str, tuple[float | None, float | None]],
            visiting: set[str]) -> Domain:
    metric = spec.metrics.get(name)
    if metric is None or name in visiting:
        return REAL
    low, high = ranges.get(name, (None, None))
    if isinstance(metric, RetentionMetric):
        cohort = AggregateMetric(source=metric.source, where=metric.where, agg="count_distinct")
        return Domain("share", 0.0, 1.0, Size("denominator", probe=cohort, lag=1))
    if isinstance(metric, ConversionMetric):
        where = _and(metric.where, metric.from_)
        return Domain("share", 0.0, 1.0, Size("denominator", probe=AggregateMetric(
            source=metric.source, where=where, agg="count_distinct")))
    if isinstance(metric, AggregateMetric):
        return _aggregate(metric, low, high)
    if isinstance(metric, FormulaMetric):
        try:
            formula = parse_formula(metric.formula)
        except ExpressionError:
            return REAL
        return _formula(spec, formula.tree, ranges, visiting | {name})
    return REAL  # pragma: no cover - every metric kind is handled above


def _aggregate(metric: AggregateMetric, low: float | None, high: float | None) -> Domain:
    rows = AggregateMetric(source=metric.source, where=metric.where, agg="count", expr=metric.expr)
    if metric.agg in ("count", "count_distinct"):
        return COUNT
    if metric.agg == "sum":
        if metric.cumulative:
            return Domain("amount", 0.0) if low is not None and low >= 0 else REAL
        return Domain("amount", 0.0, None, Size("rows", probe=rows)) if low is not None and low >= 0 else REAL
    # avg, min, max: inside the range of the values they are taken over; an average of n values
    # varies by their standard deviation / sqrt(n)
    spread = None
    if metric.agg == "avg" and metric.expr:
        square = AggregateMetric(source=metric.source, where=metric.where, agg="avg",
                                 expr=f"({metric.expr}) * ({metric.expr})")
        spread = Size("spread", probe=rows, square=square)
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return Domain("amount", 0.0, None, spread) if low is not None and low >= 0 else Domain("real", size=spread)
    if metric.agg == "avg" and low >= 0 and high <= 1:
        return Domain("share", 0.0, 1.0, Size("denominator", probe=rows))
    return Domain("amount" if low >= 0 else "real", float(low), float(high), spread)


def _formula(spec: Spec, node: ast.expr, ranges: Mapping[str, tuple[float | None, float | None]],
             visiting: set[str]) -> Domain:
    if isinstance(node, ast.Name):
        return _domain(spec, node.id, ranges, visiting)
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return Domain("count", 0.0) if value >= 0 and value == int(value) else (
            Domain("amount", 0.0) if value >= 0 else REAL)
    if isinstance(node, ast.UnaryOp):
        inner = _formula(spec, node.operand, ranges, visiting)
        return inner if isinstance(node.op, ast.UAdd) else REAL
    if not isinstance(node, ast.BinOp):
        return REAL
    left, right = _formula(spec, node.left, ranges, visiting), _formula(spec, node.right, ranges, visiting)
    both = left.nonnegative and right.nonnegative
    if isinstance(node.op, ast.Div):
        if isinstance(node.left, ast.Name) and isinstance(node.right, ast.Name) and \
                _subset_count(spec, node.left.id, node.right.id):
            return Domain("share", 0.0, 1.0, Size("denominator", metric=node.right.id))
        return AMOUNT if both else REAL
    if isinstance(node.op, ast.Add):
        if left.kind == right.kind == "count":
            return COUNT
        return AMOUNT if both else REAL
    if isinstance(node.op, ast.Mult):
        return AMOUNT if both else REAL
    return REAL  # a difference


def _subset_count(spec: Spec, part: str, whole: str) -> bool:
    """Whether metric `part` counts a subset of what metric `whole` counts: both counts
    (`count` or `count_distinct`, the same kind) of the same source and expression, neither
    cumulative, and `part`'s filter is `whole`'s or `whole`'s AND more (or `whole` has none)."""
    a, b = spec.metrics.get(part), spec.metrics.get(whole)
    if not (isinstance(a, AggregateMetric) and isinstance(b, AggregateMetric)):
        return False
    if a.agg != b.agg or a.agg not in ("count", "count_distinct") or a.source != b.source:
        return False
    if a.cumulative or b.cumulative:
        return False
    if a.agg == "count_distinct":  # the same entities counted (no expr: the source's entity)
        entity = getattr(spec.sources.get(a.source), "entity", None)
        if normal_sql(a.expr or entity) != normal_sql(b.expr or entity):
            return False
    elif b.expr is not None and normal_sql(a.expr) != normal_sql(b.expr):  # count(x) <= count(*)
        return False
    if b.where is None:
        return True
    if a.where is None:
        return False
    needed, have = _conjuncts(b.where), _conjuncts(a.where)
    return needed is not None and have is not None and needed <= have


def _conjuncts(text: str) -> set[str] | None:
    """The conditions ANDed in a filter, each in a normal SQL form; None when it cannot be read."""
    try:
        tree = parse_sql(text).tree
    except ExpressionError:
        return None
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.And):
            stack += [node.left, node.right]
        else:
            out.add(node.sql(dialect="duckdb"))
    return out


def _and(first: str | None, second: str | None) -> str | None:
    parts = [f"({p})" for p in (first, second) if p]
    return " AND ".join(parts) or None
