"""The North Star tree for one period: every node's value, previous value, change and owner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from northstar.spec.expressions import parse_formula
from northstar.analysis.periods import PeriodInfo
from northstar.analysis.progress import Progress, has_metric_targets, progress_of
from northstar.analysis.windows import WindowComparison
from northstar.spec.model import FormulaMetric, Spec
from northstar.numbers import number_or_none
from northstar.display import Displayable


@dataclass(frozen=True)
class TreeNodeValue:
    metric: str
    label: str
    value: float | None
    previous: float | None
    owner: str | None = None
    formula: str | None = None
    link: str = "root"  # root | formula | driver
    direction: str | None = None  # for driver links: the hypothesised direction
    lag: int | None = None
    children: tuple["TreeNodeValue", ...] = field(default_factory=tuple)
    status: str = "final"  # final | provisional | partial (see `northstar.analysis.periods`)
    note: str | None = None  # why the value is not final
    previous_status: str = "final"
    # with metric targets in the spec (`analysis.progress`): the period's target, % and band
    progress: Progress | None = None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_pct(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return self.change / abs(self.previous)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "label": self.label, "value": self.value, "previous": self.previous,
            "change": self.change, "change_pct": self.change_pct, "owner": self.owner,
            "formula": self.formula, "link": self.link, "direction": self.direction, "lag": self.lag,
            "status": self.status, "note": self.note, "previous_status": self.previous_status,
            **(self.progress.to_dict() if self.progress is not None else {}),
            "children": [c.to_dict() for c in self.children],
        }


@dataclass(frozen=True, repr=False)
class TreeReport(Displayable):
    project: str
    north_star: str
    customer_value: str | None
    grain: str
    period: dt.date
    previous_period: dt.date
    root: TreeNodeValue
    review: PeriodInfo | None = None  # the period shown, how complete, and why it is the one shown
    where: str | None = None  # the customers it is for (`country = 'DE'`); None: all
    # with a rolling window: the windows compared (`period`/`previous_period` are their first days)
    window: WindowComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "north_star": self.north_star, "customer_value": self.customer_value,
                "grain": self.grain, "period": self.period.isoformat(),
                "previous_period": self.previous_period.isoformat(),
                "review": self.review.to_dict() if self.review else None, "where": self.where,
                "window": self.window.to_dict() if self.window else None, "root": self.root.to_dict()}


def tree_metrics(spec: Spec) -> list[str]:
    """Every metric in the NSM's tree, root first, each once."""
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.append(name)
        node = spec.north_star.tree.get(name)
        if node is None:
            return
        if node.formula:
            for child in parse_formula(node.formula).names:
                visit(child)
        for driver in node.drivers:
            visit(driver.metric)

    visit(spec.north_star.metric)
    return seen


def reviewed_metrics(spec: Spec) -> list[str]:
    """The metrics a review shows: the North Star and its tree, the guardrails, the OMTMs, the
    funnel's stages, and the inputs of those last three's formulas."""
    names = list(tree_metrics(spec))
    others = [g.metric for g in spec.guardrails] + [f.metric for f in spec.focus]
    if spec.funnel is not None:
        others += [m for m in spec.funnel.stages().values() if m]
    names += others
    for name in others:  # a guardrail's or stage's own inputs (cost per sign-up: spend, sign-ups)
        metric = spec.metrics.get(name)
        if isinstance(metric, FormulaMetric):
            names += list(parse_formula(metric.formula).names)
    return [n for n in dict.fromkeys(names) if n in spec.metrics]


def label_of(spec: Spec, name: str) -> str:
    metric = spec.metrics.get(name)
    return (metric.label if metric is not None and metric.label else name.replace("_", " ").capitalize())


_clean = number_or_none


def build_tree(spec: Spec, values: dict[str, tuple[Any, Any]], period: dt.date, previous: dt.date,
               info: PeriodInfo | None = None, previous_info: PeriodInfo | None = None,
               targets: bool = False, baselines: dict[str, float | None] | None = None) -> TreeReport:
    """Assemble the tree from {metric: (value, previous value)}; `info`/`previous_info` mark what
    is provisional or partial in the two periods. With `targets` and metric targets in the spec,
    each node carries its target in `period`, % of target and band (`analysis.progress`);
    `baselines`: the values that start target lines given `from` without `baseline`."""
    targets = targets and has_metric_targets(spec)

    def node(name: str, link: str, path: tuple[str, ...], direction: str | None = None, lag: int | None = None) -> TreeNodeValue:
        spec_node = spec.north_star.tree.get(name)
        children: list[TreeNodeValue] = []
        if spec_node is not None and name not in path:
            if spec_node.formula:
                children += [node(c, "formula", path + (name,)) for c in parse_formula(spec_node.formula).names]
            children += [node(d.metric, "driver", path + (name,), d.direction, d.lag) for d in spec_node.drivers]
        value, prev = values.get(name, (None, None))
        value = _clean(value)
        return TreeNodeValue(metric=name, label=label_of(spec, name), value=value, previous=_clean(prev),
                             owner=spec_node.owner if spec_node else None,
                             formula=spec_node.formula if spec_node else None, link=link,
                             direction=direction, lag=lag, children=tuple(children),
                             status=info.status_of(name) if info else "final",
                             note=info.note_for(name) if info else None,
                             previous_status=previous_info.status_of(name) if previous_info else "final",
                             progress=progress_of(spec, name, value, period, baseline=(baselines or {}).get(name))
                             if targets else None)

    ns = spec.north_star
    return TreeReport(project=spec.project, north_star=ns.metric, customer_value=ns.customer_value,
                      grain=ns.grain, period=period, previous_period=previous,
                      root=node(ns.metric, "root", ()), review=info)
