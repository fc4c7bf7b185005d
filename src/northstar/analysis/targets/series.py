"""A target series on the North Star pushed down the tree, period by period, and the metric
targets set on the tree's inputs compared with what the North Star's target requires.

- **Push-down of a series.** For every period of `north_star.target: {series: ...}` after the
  last complete period, the North Star's target in the last period of the North Star's grain
  wholly within it (the last whole week of a month) (`analysis.progress.target_at`: the period's own target, or a coarser one prorated
  or carried as the module there says) is pushed down the tree by `build_targets`, with `by`
  the series period's last day: one report per series period, each recombining exactly through
  the tree's formulas.
- **Metric targets against requirements.** For every formula input with a `target:` of its
  own, its target in the target period is compared with what the North Star's target requires
  of it there: "enough" when it is at least the requirement in the direction that helps the
  North Star, else "not enough" ("the activation rate target of 0.7 is below the 0.74 the
  North Star's target needs").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from northstar.analysis.progress import is_additive, metric_target, target_at, target_period
from northstar.analysis.targets.calendar import period_of
from northstar.analysis.targets.report import NodeTarget, TargetsReport
from northstar.analysis.targets.words import format_number, lower_first
from northstar.errors import QueryError
from northstar.spec.model import Spec, TargetSeries
from northstar.spec.targets import next_start

__all__ = ["SeriesTargets", "TargetCheck", "series_points", "target_checks"]


@dataclass(frozen=True)
class TargetCheck:
    """A tree input's own target in a target period against what the North Star's target requires."""

    metric: str
    label: str
    period: dt.date  # the target period (at the North Star's grain)
    target: float | None  # the metric's own target there (None: its target names no such period)
    required: float | None
    helps: str | None  # up | down: which way helps the North Star
    status: str  # enough | not enough | no target then | no requirement
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": self.label, "period": self.period.isoformat(), "target": self.target,
                "required": self.required, "helps": self.helps, "status": self.status, "note": self.note}


def target_checks(spec: Spec, report: TargetsReport,
                  baselines: dict[str, float | None] | None = None) -> tuple[TargetCheck, ...]:
    """Each formula input of the report's tree that has a `target:`, judged against its requirement
    (`baselines`: the values that start target lines given `from` without `baseline`)."""
    grain, period = report.grain, report.target_period
    out: list[TargetCheck] = []
    seen: set[str] = set()
    for node in report.nodes():
        own = metric_target(spec, node.metric)
        if node.link != "formula" or own is None or node.metric in seen:
            continue
        seen.add(node.metric)
        goal = target_at(own, period, grain, is_additive(spec, node.metric), (baselines or {}).get(node.metric))
        out.append(_check(spec, node, goal, period))
    return tuple(out)


def _check(spec: Spec, node: NodeTarget, goal: float | None, period: dt.date) -> TargetCheck:
    base = dict(metric=node.metric, label=node.label, period=period, target=goal, required=node.required,
                helps=node.helps)
    name = lower_first(node.label)
    when = f"the {spec.north_star.grain} of {period.isoformat()}"
    if goal is None:
        return TargetCheck(**base, status="no target then", note=f"its target sets no value for {when}")
    if node.required is None:
        return TargetCheck(**base, status="no requirement",
                           note="the North Star's target gives it no requirement (no data, or out of its inputs' reach)")
    helps = 1 if node.helps != "down" else -1
    enough = helps * (goal - node.required) >= -1e-12 * max(abs(node.required), 1.0)
    if enough:
        note = (f"the {name} target of {format_number(goal)} for {when} is enough: the North Star's target "
                f"needs {format_number(node.required)}")
    else:
        side = "below" if helps > 0 else "above"
        note = (f"the {name} target of {format_number(goal)} for {when} is {side} the "
                f"{format_number(node.required)} the North Star's target needs")
    return TargetCheck(**base, status="enough" if enough else "not enough", note=note)


def series_points(spec: Spec, series: TargetSeries, last_period: dt.date) -> list[tuple[dt.date, dt.date, float]]:
    """(series period's first day, the target date, the North Star's target then) for each series
    period whose target period is after `last_period`. The target period is the last period of the
    North Star's grain wholly inside the series period (the last whole week of a month), the
    target date its last day."""
    grain, coarse = spec.north_star.grain, series.period_grain
    additive = is_additive(spec, spec.north_star.metric)
    out = []
    for start, _value in series.periods():
        last_day = next_start(start, coarse) - dt.timedelta(days=1)
        period = target_period(start, coarse, grain)  # the last whole week of the month
        if period != period_of(last_day, grain):
            last_day = next_start(period, grain) - dt.timedelta(days=1)
        value = target_at(series, period, grain, additive)
        if period > last_period and value is not None:
            out.append((start, last_day, value))
    if not out:
        raise QueryError(f"north_star.target: every period of its series ends by the last complete {grain} "
                         f"({last_period.isoformat()}): add later periods, or pass --target and --by")
    return out


@dataclass(frozen=True)
class SeriesTargets:
    """One targets report per period of the North Star's target series (after the last complete
    period). `to_dict` is the last period's report (the shape of a single target) with `series`:
    every period's, and `target_checks`."""

    reports: tuple[TargetsReport, ...]
    starts: tuple[dt.date, ...]  # the first day of each series period
    series_grain: str
    checks: tuple[TargetCheck, ...]

    def __getattr__(self, name: str) -> Any:  # project, grain, method, summary, root...: the last period's
        if name.startswith("_") or name in ("reports", "starts", "series_grain", "checks"):
            raise AttributeError(name)
        return getattr(self.reports[-1], name)

    def to_dict(self) -> dict[str, Any]:
        out = self.reports[-1].to_dict()
        out["series"] = [{"period": start.isoformat(), "series_grain": self.series_grain, **_period_dict(r)}
                         for start, r in zip(self.starts, self.reports)]
        out["target_checks"] = [c.to_dict() for c in self.checks]
        return out


def _period_dict(report: TargetsReport) -> dict[str, Any]:
    return {"target": report.target, "by": report.by.isoformat(), "target_period": report.target_period.isoformat(),
            "periods": report.periods, "summary": report.summary, "root": report.root.to_dict()}


def build_series_targets(spec: Spec, series: TargetSeries, last_period: dt.date,
                         build: Callable[[float, dt.date], TargetsReport],
                         baselines: dict[str, float | None] | None = None) -> SeriesTargets:
    """`build(target, by)` (a `build_targets` over the same history) for every series period ahead."""
    points = series_points(spec, series, last_period)
    reports = tuple(build(value, by) for _start, by, value in points)
    checks: Sequence[TargetCheck] = [c for r in reports for c in target_checks(spec, r, baselines)]
    return SeriesTargets(reports=reports, starts=tuple(s for s, _b, _v in points),
                         series_grain=series.period_grain, checks=tuple(checks))
