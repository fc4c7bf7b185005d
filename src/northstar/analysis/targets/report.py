"""The targets report: what each node must reach, beside the OMTMs (said in words by `words`)."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from northstar.analysis.domain import Domain, domain_of
from northstar.analysis.projection import TREND_PERIODS
from northstar.analysis.targets.calendar import check_target_date, period_of, periods_apart
from northstar.analysis.targets.solve import helping_signs, solve_input, solve_proportional
from northstar.analysis.targets.trend import Trend, _num, fit_trend, growth_per_period, value_on_path
from northstar.analysis.targets.words import format_number, lower_first, summarise
from northstar.analysis.tree import label_of
from northstar.errors import QueryError
from northstar.spec.expressions import parse_formula
from northstar.spec.model import Spec

METHODS: tuple[str, ...] = ("trend", "proportional")
__all__ = ["METHODS", "TREND_PERIODS", "FocusTarget", "NodeTarget", "TargetsReport", "build_targets"]


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
    status: str  # on trend | gap | unreachable (no value, or none the metric can take) | no data | moves with
    driver_direction: str | None = None
    lag: int | None = None
    children: tuple["NodeTarget", ...] = field(default_factory=tuple)
    final_period: dt.date | None = None  # provisional in the last period: `current` is the last final value, of this period

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
            "final_period": self.final_period.isoformat() if self.final_period else None,
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
    projection: str = ""  # the trend's method in words: "trend of the last 26 weeks"
    review: Any = None  # the period reviewed (`PeriodInfo`), set by the Project
    where: str | None = None  # the customers it is for (`country = 'DE'`); None: all
    # with metric targets in the spec: each input's own target against its requirement (`series.py`)
    target_checks: tuple[Any, ...] | None = None

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
                "periods": self.periods, "trend_periods": self.trend_periods, "projection": self.projection,
                "summary": self.summary,
                "review": self.review.to_dict() if self.review is not None else None, "where": self.where,
                "root": self.root.to_dict(), "focus": [f.to_dict() for f in self.focus],
                **({"target_checks": [c.to_dict() for c in self.target_checks]}
                   if self.target_checks is not None else {})}


def _status(current: float | None, trend: float | None, required: float | None, helps: int,
            domain: Domain | None = None) -> str:
    if current is None or trend is None:
        return "no data"
    if required is None or (domain is not None and not domain.contains(required)):
        return "unreachable"  # no value, or one the metric cannot take (a share above 100%, a count below 0)
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


def _as_tree(spec: Spec) -> Spec:
    """The spec with each tree node that has a formula defined by that formula."""
    from northstar.spec.model import FormulaMetric

    nodes = {name: FormulaMetric(formula=node.formula) for name, node in spec.north_star.tree.items()
             if node.formula and name in spec.metrics}
    return spec.model_copy(update={"metrics": {**spec.metrics, **nodes}}) if nodes else spec


def build_targets(spec: Spec, history: pd.DataFrame, last_period: dt.date, target: float, by: dt.date,
                  method: str = "trend", domains: Mapping[str, Domain] | None = None,
                  provisional: Mapping[str, dt.date] | None = None,
                  left_out: Callable[[str, dt.date], bool] | None = None) -> TargetsReport:
    """The requirements down the North Star's tree for reaching `target` by `by`.

    `history`: a `period` column (the first day of each period, oldest first, ending at
    `last_period`) and one column per tree metric; the last `TREND_PERIODS[grain]` rows are used.
    `domains`: what each metric can be (`northstar.domains`); missing ones are read from the
    definitions, with the history's smallest value as the smallest value a sum is taken over.
    Trends stay inside the domains, and a requirement outside one is `unreachable`.
    `provisional`: metrics whose value in the last period is provisional (their window has not
    passed); the history holds their final values only, and their current value is the last final
    one (`final_period` says of which period).
    `left_out(metric, period)`: periods the trends leave out (an expected annotation covers
    them: `analysis.expected`); the current values are never left out.
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

    lows = {n: (float(pd.to_numeric(frame[n], errors="coerce").min()), None) for n in frame.columns
            if n != "period" and pd.to_numeric(frame[n], errors="coerce").notna().any()}

    tree_spec = _as_tree(spec)

    def domain(name: str) -> Domain:
        node = ns.tree.get(name)
        if node is not None and node.formula:
            # requirements move through the tree's formula: what it can reach is the formula's
            # domain (a node split as a difference can be negative whatever one period showed)
            return domain_of(tree_spec, name, observed=lows)
        if domains is not None and name in domains:
            return domains[name]
        return domain_of(spec, name, observed=lows)

    finals: dict[str, dt.date] = {}

    def facts(name: str) -> tuple[float | None, Trend]:
        if name not in trends:
            values = column(name)
            current[name] = _num(values[-1]) if values and has_last else None
            if provisional and name in provisional and "period" in window.columns:
                known = [(p, v) for p, v in zip(window["period"], values) if _num(v) is not None]
                if known:
                    finals[name], current[name] = known[-1][0], _num(known[-1][1])
            if left_out is not None and "period" in window.columns:
                values = [None if p < last_period and left_out(name, p) else v for p, v in zip(window["period"], values)]
            trends[name] = fit_trend(values, periods, domain(name), grain) if values else Trend(None, None, "none", 0)
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
        status = "moves with" if link == "driver" else _status(cur, trend.value, required, helps, domain(name))
        return NodeTarget(
            metric=name, label=label_of(spec, name), link=link, owner=spec_node.owner if spec_node else None,
            formula=spec_node.formula if spec_node else None, direction=direction_of(name),
            helps=None if link == "driver" else ("up" if helps > 0 else "down"), current=cur,
            trend=trend.value, trend_growth=trend.growth, required=required, periods=periods, status=status,
            driver_direction=driver.direction if driver is not None else None,
            lag=driver.lag if driver is not None else None, children=tuple(children), final_period=finals.get(name))

    root_helps = 1 if direction_of(ns.metric) == "up" else -1
    root = node(ns.metric, "root", float(target), root_helps, ())
    focus = tuple(_focus_target(f, root, by, last_period, periods, grain) for f in spec.focus)
    used = max((t.points for t in trends.values()), default=0)
    words = trends[ns.metric].method or "no trend"
    return TargetsReport(project=spec.project, north_star=ns.metric, grain=grain, method=method,
                         target=float(target), by=by, target_period=period_of(by, grain), last_period=last_period,
                         periods=periods, trend_periods=used, root=root, focus=focus,
                         summary=summarise(root, method, by, periods, grain, words), projection=words)


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
            words = f"; {lower_first(parent.label)} must reach {format_number(parent.required)} by {by.isoformat()}"
            if at < by and by_then is not None and ahead >= 1:
                words += f" ({format_number(by_then)} by {at.isoformat()} on the way)"
        return FocusTarget(**base, required=None, status="driver",
                           note=f"a driver (hypothesis) of {lower_first(parent.label) if parent else 'a node'}, not a "
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
                           note=f"the tree requires {format_number(required)} by {at.isoformat()}; set a `target`")
    helps = 1 if node.helps == "up" else -1
    enough = helps * (focus.target - required) >= -1e-12 * max(abs(required), 1.0)
    verb = "is enough" if enough else "is not enough"
    return FocusTarget(**base, required=required, status="enough" if enough else "not enough",
                       note=f"the target {format_number(focus.target)} {verb}: the tree requires {format_number(required)} "
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
