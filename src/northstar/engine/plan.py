"""Which metrics a query needs, in what order, and whether its parameters make sense."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from northstar.errors import QueryError
from northstar.spec.expressions import ExpressionError, parse_condition, parse_formula
from northstar.spec.model import GRAINS, AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric, Spec
from northstar.spec.presets import is_container, split_path
from northstar.spec.suggest import did_you_mean, known


@dataclass(frozen=True)
class MetricQuery:
    """A request for metric series. Dates are local dates in the spec's time zone."""

    metrics: tuple[str, ...]
    grain: str = "week"
    by: tuple[str, ...] = ()
    where: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    compare: bool = False
    # Rolling windows instead of calendar periods: each (first day, day after the last), local
    # days; every metric is aggregated over each whole window (one row per window, labelled by
    # its first day), so a distinct count is exact over the window, not a sum of days.
    windows: tuple[tuple[dt.date, dt.date], ...] = ()


@dataclass(frozen=True)
class Plan:
    query: MetricQuery
    order: tuple[str, ...]  # every metric needed, dependencies first
    by_source: dict[str, tuple[str, ...]] = field(default_factory=dict)  # base metrics per source


def unknown_metric(spec: Spec, name: str) -> QueryError:
    hint = did_you_mean(name, spec.metrics)
    return QueryError(f"unknown metric '{name}'." + (hint or f" Defined metrics: {known(spec.metrics)}."))


def dependency_order(spec: Spec, names: tuple[str, ...]) -> tuple[str, ...]:
    """The metrics and everything their formulas use, each after what it uses."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name not in spec.metrics:
            raise unknown_metric(spec, name)
        if name in visiting:
            raise QueryError(f"formulas refer to each other in a cycle through '{name}'")
        visiting.add(name)
        metric = spec.metrics[name]
        if isinstance(metric, FormulaMetric):
            for ref in parse_formula(metric.formula).names:
                visit(ref)
        visiting.discard(name)
        order.append(name)

    for name in names:
        visit(name)
    return tuple(order)


def combine_filters(first: str | None, second: str | None) -> str | None:
    """Both filters (`(a) AND (b)`); either alone when the other is empty."""
    if not first or not second:
        return first or second or None
    return f"({first}) AND ({second})"


def check_segment(spec: Spec, where: str, option: str = "--where") -> str:
    """A segment filter (`country = 'DE'`) that parses and names only dimensions some source
    declares; which sources lack one is said by `make_plan` when a query reads them."""
    try:
        parsed = parse_condition(where)
    except ExpressionError as exc:
        raise QueryError(f"{option}: {exc}") from None
    declared = sorted({d for s in spec.sources.values() for d in s.dimensions})
    for column in parsed.columns:
        if column not in declared and not any(_preset_path(s, column) for s in spec.sources.values()):
            raise QueryError(f"{option}: '{column}' is not a dimension of any source."
                             + (did_you_mean(column, declared) or f" Declared dimensions: {known(declared)}."))
    return where.strip()


def _preset_path(source: Any, name: str) -> bool:
    """A property path into one of the containers of the source's preset (`properties.plan`):
    usable in `--by` and `--where` without being declared (validation checks the container)."""
    path = split_path(name)
    return path is not None and is_container(source, path[0])


def make_plan(spec: Spec, query: MetricQuery) -> Plan:
    if not query.metrics:
        raise QueryError("name at least one metric")
    if query.grain not in GRAINS:
        raise QueryError(f"unknown grain '{query.grain}': use one of {', '.join(GRAINS)}."
                         + did_you_mean(query.grain, GRAINS))
    order = dependency_order(spec, query.metrics)
    by_source: dict[str, list[str]] = {}
    for name in order:
        metric = spec.metrics[name]
        if not isinstance(metric, FormulaMetric):
            by_source.setdefault(metric.source, []).append(name)
    for source_name in by_source:
        source = spec.sources[source_name]
        for dim in query.by:
            if dim not in source.dimensions and not _preset_path(source, dim):
                raise QueryError(f"dimension '{dim}' is not declared on source '{source_name}'."
                                 + (did_you_mean(dim, source.dimensions)
                                    or f" Declared dimensions: {known(source.dimensions)}."))
    if len(set(query.by)) != len(query.by):
        raise QueryError("a dimension is listed twice in `by`")
    if query.where:
        try:
            parsed = parse_condition(query.where)
        except ExpressionError as exc:
            raise QueryError(f"--where: {exc}") from None
        for source_name in by_source:
            dims = spec.sources[source_name].dimensions
            for column in parsed.columns:
                if column not in dims and not _preset_path(spec.sources[source_name], column):
                    raise QueryError(f"--where: '{column}' is not a dimension of source '{source_name}' (read by "
                                     f"{', '.join(by_source[source_name])}), so they cannot be filtered on it."
                                     + (did_you_mean(column, dims) or f" Declared dimensions: {known(dims)}."))
    if query.start and query.end and query.start > query.end:
        raise QueryError(f"--from {query.start} is after --to {query.end}")
    if query.windows:
        _check_windows(spec, query, order)
    return Plan(query=query, order=order, by_source={k: tuple(v) for k, v in by_source.items()})


def _check_windows(spec: Spec, query: MetricQuery, order: tuple[str, ...]) -> None:
    """A window query aggregates each metric over whole windows: counts, sums, distinct counts,
    averages, minima, maxima and formulas of them. A retention (a cohort of the period before)
    and a conversion (a look-ahead past the period) are defined on calendar periods, and a
    running total has no window: those are refused, naming the metric."""
    if query.start or query.end or query.compare:
        raise QueryError("--window: windows set their own dates; leave out --from, --to and --compare")
    for lo, hi in query.windows:
        if lo >= hi:
            raise QueryError(f"--window: a window from {lo} must end after it (got {hi})")
    ordered = sorted(query.windows)
    for (_lo, hi), (lo2, _hi2) in zip(ordered, ordered[1:]):
        if lo2 < hi:
            raise QueryError(f"--window: windows overlap ({lo2} starts before {hi})")
    for name in order:
        metric = spec.metrics[name]
        if isinstance(metric, RetentionMetric) or isinstance(metric, ConversionMetric):
            kind = "a retention" if isinstance(metric, RetentionMetric) else "a conversion"
            raise QueryError(f"--window: '{name}' is {kind}, defined on calendar periods, not rolling windows; "
                             "use --grain/--period for it")
        if isinstance(metric, AggregateMetric) and metric.cumulative:
            raise QueryError(f"--window: '{name}' is a running total, which has no value over a window; "
                             "use --grain/--period for it")
