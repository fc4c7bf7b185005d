"""What rules share: the project, its method-level roles (revenue, retention), cached series."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import pandas as pd

from northstar.analysis.tree import label_of, tree_metrics
from northstar.engine import MetricQuery
from northstar.engine.plan import dependency_order
from northstar.engine.time import period_start, shift_period
from northstar.spec.expressions import parse_formula
from northstar.spec.model import AggregateMetric, FormulaMetric, Metric, RetentionMetric, Spec

DEFAULT_MAX_LAG = {"day": 28, "week": 8, "month": 6, "quarter": 4, "year": 2}
CURRENCY_UNITS = {"eur", "usd", "gbp", "sek", "nok", "dkk", "chf", "jpy", "cny", "inr", "brl", "aud", "cad", "mxn",
                  "€", "$", "£", "¥", "r$", "kr", "money", "currency"}


class NotEvaluated(Exception):
    """A rule could not judge: the data or the spec lacks what it needs (reported as info)."""


def is_money(spec: Spec, name: str) -> bool:
    """Does a metric measure money, as the spec declares it: tagged revenue, listed in
    `checks.revenue`, or a currency unit (unless tagged cost)?

    Column and metric names are not read: a sum of a column called `payments` may count payment
    rows, and a verdict must not change when a column is renamed.
    """
    metric = spec.metrics.get(name)
    if metric is None:
        return False
    if "revenue" in metric.tags or name in spec.checks.revenue:
        return True
    return (metric.unit or "").strip().lower() in CURRENCY_UNITS and "cost" not in metric.tags


def positive_refs(spec: Spec, name: str) -> list[str]:
    """The metrics a metric grows with: itself, and for a formula its inputs outside denominators
    and subtrahends, recursively (for `a / b`: a; for `a * b`: a and b)."""
    found: list[str] = []

    def visit(metric_name: str) -> None:
        if metric_name in found or metric_name not in spec.metrics:
            return
        found.append(metric_name)
        metric = spec.metrics[metric_name]
        if isinstance(metric, FormulaMetric):
            for ref in _numerator_names(parse_formula(metric.formula).tree):
                visit(ref)

    visit(name)
    return found


def _numerator_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.UnaryOp):
        return []  # -x falls as x grows
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div | ast.Sub):
            return _numerator_names(node.left)
        return _numerator_names(node.left) + _numerator_names(node.right)
    return []


class CheckContext:
    """One check run: lazily computed, cached series at each grain over the complete periods."""

    def __init__(self, project: Any, data: bool = True, nsm: str | None = None) -> None:
        self.project = project
        self.spec: Spec = project.spec
        self.data = data
        self._nsm = nsm  # judge another metric as if it were the North Star (candidates)
        self._series: dict[tuple[str, str], pd.Series] = {}

    def as_north_star(self, name: str) -> "CheckContext":
        """The same run (and cache) judging `name` as the North Star."""
        other = CheckContext(self.project, self.data, name)
        other._series = self._series
        return other

    # ---- roles -----------------------------------------------------------------------------

    @property
    def nsm(self) -> str:
        return self._nsm or self.spec.north_star.metric

    @property
    def grain(self) -> str:
        return self.spec.north_star.grain

    def label(self, name: str) -> str:
        return label_of(self.spec, name)

    def max_lag(self, grain: str | None = None) -> int:
        return self.spec.checks.max_lag or DEFAULT_MAX_LAG[grain or self.grain]

    @cached_property
    def tree(self) -> list[str]:
        return tree_metrics(self.spec)

    @cached_property
    def revenue_metric(self) -> str | None:
        """The revenue series NSM growth should lead: `checks.revenue`, else a metric tagged
        revenue (absolute sums before ratios)."""
        if self.spec.checks.revenue:
            return self.spec.checks.revenue[0]
        tagged = [n for n, m in self.spec.metrics.items() if "revenue" in m.tags and n != self.nsm]
        tagged.sort(key=lambda n: (not isinstance(self.spec.metrics[n], AggregateMetric),
                                   getattr(self.spec.metrics[n], "agg", "") != "sum"))
        return tagged[0] if tagged else None

    @cached_property
    def retention_metric(self) -> str | None:
        if self.spec.checks.retention:
            return self.spec.checks.retention
        if self.spec.funnel is not None and self.spec.funnel.retention:
            return self.spec.funnel.retention
        return next((n for n, m in self.spec.metrics.items() if isinstance(m, RetentionMetric)), None)

    def base_metric(self, name: str) -> tuple[str, AggregateMetric] | None:
        """The aggregate a metric counts or sums (itself, or the first aggregate input of its formula)."""
        for ref in positive_refs(self.spec, name):
            metric = self.spec.metrics[ref]
            if isinstance(metric, AggregateMetric):
                return ref, metric
        return None

    def base_metrics(self, name: str) -> list[tuple[str, AggregateMetric]]:
        return [(n, m) for n in dependency_order(self.spec, (name,))
                if isinstance(m := self.spec.metrics[n], AggregateMetric)]

    # ---- data ------------------------------------------------------------------------------

    def require_data(self) -> None:
        if not self.data:
            raise NotEvaluated("data rules are off (--no-data)")

    def series(self, names: Sequence[str], grain: str | None = None) -> pd.DataFrame:
        """Complete periods of each metric at a grain (columns = metrics, index = period start).

        The first period is dropped when the data starts inside it, the last ones until every
        metric's period is complete (conversion windows included).
        """
        self.require_data()
        grain = grain or self.grain
        missing = [n for n in dict.fromkeys(names) if (grain, n) not in self._series]
        if missing:
            frame = self._complete(missing, grain)
            for name in missing:
                self._series[(grain, name)] = frame[name] if name in frame else pd.Series(dtype=float)
        out = pd.DataFrame({n: self._series[(grain, n)] for n in dict.fromkeys(names)})
        return out.dropna(how="all")

    def prefetch(self) -> None:
        """Compute the series most rules read in one query (the engine fuses it per source)."""
        funnel = [m for m in (self.spec.funnel.stages().values() if self.spec.funnel else ()) if m]
        names = [*self.tree, *(m for m in (self.revenue_metric, self.retention_metric) if m), *funnel]
        try:
            self.series([n for n in dict.fromkeys(names) if n in self.spec.metrics])
        except Exception:  # noqa: BLE001 - each rule then asks for its own series and reports
            pass

    def _complete(self, names: list[str], grain: str) -> pd.DataFrame:
        # Each metric up to its own last complete period (a conversion waits for its window).
        lasts = {n: self.project.last_final_period(n, grain) for n in names}
        frame = self.project.query(names, grain=grain, end=max(lasts.values()))
        if not len(frame):
            return pd.DataFrame(columns=names)
        frame = frame.set_index("period")
        for name, last in lasts.items():
            frame.loc[frame.index > last, name] = None
        first = self._first_full_period(names, grain)
        if first is not None:
            frame = frame[frame.index >= first]
        return frame.astype(float)

    def _first_full_period(self, names: list[str], grain: str) -> dt.date | None:
        sources = {getattr(self.spec.metrics[n], "source", None) for n in dependency_order(self.spec, tuple(names))}
        starts = [b[0] for s in sources - {None} if (b := self.project.engine.data_bounds(s)) is not None]
        if not starts:
            return None
        first_day = min(starts).date()
        start = period_start(first_day, grain)
        return start if start == first_day else shift_period(start, grain, 1)

    def probe(self, metrics: dict[str, Metric], grain: str, by: Sequence[str] = (), start: dt.date | None = None,
              end: dt.date | None = None) -> pd.DataFrame:
        """Series of ad-hoc metrics (not in the spec) through the same engine and caches."""
        self.require_data()
        engine = self.project.engine.extended(metrics)
        return engine.query(MetricQuery(metrics=tuple(metrics), grain=grain, by=tuple(by), start=start, end=end))
