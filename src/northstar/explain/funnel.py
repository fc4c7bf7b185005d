"""The pirate funnel (AARRR) for a period: stages, conversions, the bottleneck and an OMTM for it.

The period is the review period (`Project.period_info`), the same as every other command's.
The bottleneck is not the biggest drop but the stage whose improvement would add most to the
North Star. Each stage's *reachable level* is the better of its own best *final* value over the
last `RECENT` periods the data covers completely (a closed week or a partial first period is
not a level to reach, a provisional conversion is not a level at all) and, for rates, its best
segment's rate (segments holding at least 5% of the stage and `MIN_SEGMENT_SIZE` of its
denominator); the *estimated gain* is what the NSM would gain if the stage reached that level:
- exactly, by re-evaluating the tree's formulas, when the stage metric is in the NSM's
  formula tree;
- otherwise from history, as an elasticity: the NSM's log growth regressed on the stage's log
  growth at the best lag (lags 0..k; periods where either is zero or empty, e.g. a closure, are
  left out rather than turning the whole series into plain differences), counted only when the
  link is significant (p < `checks.significance`); the gain is NSM x ((reachable / now)^slope - 1).
A stage whose value in the period is provisional (its window has not passed) gets no gain and
cannot be the bottleneck: it is shown, marked, with the day it becomes final. Every gain is
finite and at least 0.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from northstar.analysis.attribution import evaluate
from northstar.analysis.lead import growth, lead
from northstar.analysis.periods import PeriodInfo, first_whole
from northstar.analysis.tree import label_of
from northstar.checks.context import DEFAULT_MAX_LAG, is_money
from northstar.engine.time import shift_period
from northstar.explain.levels import RECENT, MIN_SEGMENT_SHARE, noise_p, reachable_level  # noqa: F401
from northstar.errors import QueryError
from northstar.explain.decompose import Node, decomposition
from northstar.explain.segments import dimensions_of
from northstar.numbers import number_or_none
from northstar.spec.expressions import parse_formula
from northstar.spec.model import (FUNNEL_STAGES, AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric,
                                  Spec)
from northstar.display import Displayable

STAGE_OWNERS = {"acquisition": "Growth", "activation": "Growth", "retention": "Product", "referral": "Growth",
                "revenue": "Monetisation"}


@dataclass(frozen=True)
class Stage:
    stage: str
    metric: str | None
    label: str | None = None
    value: float | None = None
    previous: float | None = None
    conversion: float | None = None  # from the previous stage, when both count the same entities
    reachable: float | None = None
    reachable_from: str | None = None  # "best recent", or "best segment: dim = value"
    nsm_gain: float | None = None
    gain_method: str | None = None  # "formula" (exact) or "history" (regression) or why none
    segments: dict[str, float] = field(default_factory=dict)  # with --by
    provisional_until: dt.date | None = None  # the value's window has not passed: final from this day
    noise_p: float | None = None  # chance that the reachable level beats the value now by noise alone

    @property
    def change_pct(self) -> float | None:
        if self.value is None or self.previous in (None, 0):
            return None
        return self.value / self.previous - 1

    def to_dict(self) -> dict[str, Any]:
        out = {**{k: v for k, v in self.__dict__.items()}, "change_pct": self.change_pct}
        out["provisional_until"] = self.provisional_until.isoformat() if self.provisional_until else None
        return out


@dataclass(frozen=True, repr=False)
class FunnelReport(Displayable):
    period: dt.date
    grain: str
    north_star: str
    stages: tuple[Stage, ...]
    bottleneck: str | None
    proposal: dict[str, Any] | None
    summary: str
    review: PeriodInfo | None = None  # the period shown and why
    where: str | None = None  # the customers it is for (`country = 'DE'`); None: all

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "grain": self.grain, "north_star": self.north_star,
                "review": self.review.to_dict() if self.review else None, "where": self.where,
                "stages": [s.to_dict() for s in self.stages], "bottleneck": self.bottleneck,
                "proposal": self.proposal, "summary": self.summary}


def funnel(project: Any, period: object = None, by: str | None = None) -> FunnelReport:
    spec: Spec = project.spec
    if spec.funnel is None or not any(spec.funnel.stages().values()):
        raise QueryError("the spec has no `funnel:`: map each AARRR stage to a metric first")
    grain, nsm = spec.north_star.grain, spec.north_star.metric
    mapped = {s: m for s, m in spec.funnel.stages().items() if m}
    tree = decomposition(spec, nsm)
    names = list(dict.fromkeys([nsm, *mapped.values(), *tree.names()]))
    info = project.period_info(period)
    current = info.period
    raw = project.query(names, grain=grain, end=current)
    raw = raw[raw["period"] <= current]
    if not len(raw) or raw["period"].iloc[-1] != current:
        raise QueryError(f"--period: no data in the {grain} of {current}")
    # What may be used as final: each metric's provisional values removed, and only the periods
    # the data covers completely (a partial first or last period is not a level).
    coverage = project.coverage(names)
    first = first_whole(grain, coverage) if coverage is not None else current
    history = project.final_only(raw, names, grain).set_index("period")
    history = history[(history.index >= first) & (history.index <= current)]
    raw = raw.set_index("period")
    row, before = raw.loc[current], raw.iloc[-2] if len(raw) > 1 else None
    stages, previous_metric = [], None
    for stage in FUNNEL_STAGES:
        metric = mapped.get(stage)
        if metric is None:
            stages.append(Stage(stage, None))
            continue
        value, prior = _f(row[metric]), _f(before[metric]) if before is not None else None
        conversion = None
        if previous_metric and _same_entities(spec, previous_metric, metric) and _f(row[previous_metric]):
            conversion = value / _f(row[previous_metric]) if value is not None else None  # type: ignore[operator]
        segments = _by(project, metric, by, current) if by else {}
        if info.is_provisional(metric):
            until = info.provisional[metric]
            stages.append(Stage(stage, metric, label_of(spec, metric), value, prior, conversion, None, None, None,
                                f"provisional until the data reaches {until.isoformat()}: not judged", segments,
                                provisional_until=until))
            previous_metric = metric
            continue
        level = reachable_level(project, spec, metric, history, current)
        reachable, source = (level.value, level.source) if level else (None, None)
        gain, method = _gain(spec, tree, metric, reachable, row, history)
        chance = None
        if gain and level is not None and value is not None:
            chance = noise_p(project, spec, metric, level, current, value)
            if chance is not None and chance >= spec.checks.significance:
                method += (f"; within the noise of the numbers: {reachable:,.4g} against {value:,.4g} can happen "
                           f"by chance (p = {chance:.2f}), so it is not named the bottleneck")
        stages.append(Stage(stage, metric, label_of(spec, metric), value, prior, conversion, reachable, source,
                            gain, method, segments, noise_p=chance))
        previous_metric = metric
    significance = spec.checks.significance
    ranked = sorted((s for s in stages if s.nsm_gain and (s.noise_p is None or s.noise_p < significance)),
                    key=lambda s: -(s.nsm_gain or 0))
    bottleneck = ranked[0] if ranked else None
    proposal = _proposal(spec, bottleneck, current, grain) if bottleneck else None
    return FunnelReport(current, grain, nsm, tuple(stages), bottleneck.stage if bottleneck else None, proposal,
                        _summary(spec, stages, bottleneck, proposal), info)


_f = number_or_none


def _same_entities(spec: Spec, a: str, b: str) -> bool:
    ma, mb = spec.metrics[a], spec.metrics[b]
    if not (isinstance(ma, AggregateMetric) and isinstance(mb, AggregateMetric)):
        return False
    if ma.agg != "count_distinct" or mb.agg != "count_distinct" or ma.expr or mb.expr:
        return False
    return spec.sources[ma.source].entity == spec.sources[mb.source].entity is not None


def _better(spec: Spec, metric: str, a: float, b: float) -> bool:
    return a > b if spec.metrics[metric].direction == "up" else a < b


def _gain(spec: Spec, tree: Node, metric: str, reachable: float | None, row: Any, history: Any) -> tuple[float | None, str]:
    current = _f(row[metric])
    if reachable is None or current is None:
        return None, "no data"
    if not _better(spec, metric, reachable, current):
        return 0.0, "at its best level"
    if metric in tree.names():
        values = {n: _f(row[n]) for n in tree.names()}
        if all(v is not None for v in values.values()):
            before = _evaluate_tree(tree, values)  # type: ignore[arg-type]
            after = _evaluate_tree(tree, {**values, metric: reachable})  # type: ignore[dict-item]
            gain = after - before
            if not math.isfinite(gain):
                return None, "the tree's formula has no value here"
            return max(gain, 0.0), "formula"
    nsm = spec.north_star.metric
    if is_money(spec, metric):
        # money is what the North Star should lead: its correlation with the NSM runs the other
        # way, and raising prices is no lever for the value customers get
        return None, "revenue follows the North Star (it should lead revenue): not a lever for it"
    now = _f(row[nsm])
    if not now or now <= 0 or current <= 0 or reachable <= 0:
        return 0.0, "no measured link to the North Star (not positive: no elasticity)"
    sign = 1 if spec.metrics[metric].direction == "up" else -1
    x, y = _positive(history[metric]), _positive(history[nsm])
    found = lead(x, y, DEFAULT_MAX_LAG[spec.north_star.grain], sign=sign)
    if found is None or sign * found.correlation <= 0 or _p(found) >= spec.checks.significance:
        return 0.0, "no measured link to the North Star"
    gx, gy = growth(x).shift(found.lag), growth(y)
    pair = np.array([(a, b) for a, b in zip(gx, gy) if math.isfinite(a) and math.isfinite(b)])
    slope = float(np.polyfit(pair[:, 0], pair[:, 1], 1)[0])
    gain = now * ((reachable / current) ** slope - 1)
    if not math.isfinite(gain):
        return None, "no measured link to the North Star"
    return max(gain, 0.0), f"history (elasticity {slope:.2f} at lag {found.lag}, r={found.correlation:+.2f})"


def _positive(series: Any) -> Any:
    """The series with zero, negative and empty values left out (NaN): growth is then a log
    difference wherever it exists, and a closure drops out instead of breaking the scale."""
    values = series.astype(float)
    return values.where(values > 0)


def _p(found: Any) -> float:
    """The link's p-value, corrected for the lags tried when the lead analysis says so."""
    corrected = getattr(found, "corrected_p", None)
    return float(corrected if corrected is not None else found.correlation_p)


def _evaluate_tree(node: Node, values: dict[str, float]) -> float:
    """The node's value from its inputs, recomputed bottom-up (a changed leaf propagates)."""
    if node.formula is None or not node.inputs:
        return values[node.metric]
    inputs = {c.metric: _evaluate_tree(c, values) for c in node.inputs}
    # an input that is changed directly wins over its own recomputation
    return evaluate(node.formula, {**inputs, **{k: v for k, v in values.items() if k in inputs and
                                                 not _has_inputs(node, k)}})


def _has_inputs(node: Node, name: str) -> bool:
    return any(c.metric == name and c.inputs for c in node.inputs)


def _by(project: Any, metric: str, dim: str, current: dt.date) -> dict[str, float]:
    if dim not in dimensions_of(project.spec, metric):
        return {}
    frame = project.query([metric], grain=project.spec.north_star.grain, by=[dim], start=current, end=current)
    return {str(r[dim]): _f(r[metric]) for _i, r in frame.iterrows() if _f(r[metric]) is not None}


def _owner(spec: Spec, stage: str, metric: str) -> str:
    tree = spec.north_star.tree
    if metric in tree and tree[metric].owner:
        return tree[metric].owner  # type: ignore[return-value]
    for node in tree.values():
        if node.owner and any(d.metric == metric for d in node.drivers):
            return node.owner
    return next((f.team for f in spec.focus if f.metric == metric), STAGE_OWNERS[stage])


def _proposal(spec: Spec, stage: Stage, current: dt.date, grain: str) -> dict[str, Any]:
    """A SMART OMTM for the bottleneck: a rate, an owner, a target and a 3-month window."""
    metric, rate_defined = stage.metric or "", True
    if not is_rate(spec, metric):
        rates = [n for n, m in spec.metrics.items() if isinstance(m, FormulaMetric)
                 and metric in parse_formula(m.formula).names and is_rate(spec, n)]
        if rates:
            metric = rates[0]
        else:
            rate_defined = False
    start = shift_period(current, grain, 1)
    end = dt.date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1) - dt.timedelta(days=1)
    target = stage.reachable if rate_defined and metric == stage.metric else None
    proposal = {"team": _owner(spec, stage.stage, stage.metric or ""), "metric": metric,
                "baseline": _round(stage.value if metric == stage.metric else None),
                "target": _round(target), "from": start.isoformat(), "to": end.isoformat(),
                "why": f"{stage.stage} is the bottleneck: reaching {stage.reachable_from} would add about "
                       f"{stage.nsm_gain:,.0f} to {spec.north_star.metric} per {grain}"}
    if not rate_defined:
        proposal["define"] = f"{metric}_rate: {{formula: {metric} / <the population it comes from>}}"
    return proposal


def is_rate(spec: Spec, name: str) -> bool:
    metric = spec.metrics[name]
    if isinstance(metric, RetentionMetric | ConversionMetric):
        return True
    if isinstance(metric, AggregateMetric):
        return metric.agg == "avg"
    return isinstance(metric, FormulaMetric) and any(isinstance(n, ast.Div)
                                                     for n in ast.walk(parse_formula(metric.formula).tree))


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _summary(spec: Spec, stages: list[Stage], bottleneck: Stage | None, proposal: dict | None) -> str:
    if bottleneck is None:
        noisy = [s for s in stages if s.nsm_gain and s.noise_p is not None]
        if noisy:
            return ("No bottleneck to name: every stage's gap to a level it has reached is within the noise of "
                    "the numbers (" + ", ".join(f"{s.stage} p = {s.noise_p:.2f}" for s in noisy) + "); judge again "
                    "over a longer period or a coarser grain.")
        return "No stage has a measured path to more North Star: map the funnel to metrics in the tree."
    text = (f"The bottleneck is {bottleneck.stage} ({bottleneck.label}): reaching its {bottleneck.reachable_from} "
            f"({bottleneck.reachable:,.4g}, now {bottleneck.value:,.4g}) would add about {bottleneck.nsm_gain:,.0f} "
            f"to {label_of(spec, spec.north_star.metric).lower()} per {spec.north_star.grain}.")
    if proposal:
        text += (f" Proposed OMTM for {proposal['team']}: {proposal['metric']}"
                 + (f" from {proposal['baseline']:g} to {proposal['target']:g}" if proposal.get("baseline") is not None
                    and proposal.get("target") is not None else "")
                 + f", {proposal['from']} to {proposal['to']}.")
    return text
