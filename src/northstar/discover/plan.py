"""From decisions to spec changes: what to add to `northstar.yml`, and what to set.

Only additions and settings: the sources the spec does not have yet (a file each, and the
union of files that record the same people's actions), the metrics the decisions use (with
the candidates their formulas need) that the spec does not have yet, tree nodes and driver
hypotheses for the North Star, a history entry when it replaces an earlier North Star, the
funnel and the checks settings. Nothing of the user's is removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from northstar.discover.guide import Decisions
from northstar.discover.propose import Candidate
from northstar.discover.setup import Setup
from northstar.spec.expressions import ExpressionError, parse_formula
from northstar.spec.model import FUNNEL_STAGES, Spec

# Step 8: growth in acquisition, activation, retention and referral should raise the North
# Star, so each of their metrics becomes a driver hypothesis in its tree (which `northstar
# check` tests). Revenue is not one of them: it is what the North Star leads (step 7), kept as
# the funnel's revenue stage and tagged `revenue`, never a driver of the value it follows.
DRIVER_STAGES = tuple(stage for stage in FUNNEL_STAGES if stage != "revenue")


@dataclass(frozen=True)
class Changes:
    project: str
    sources: tuple[tuple[str, dict[str, Any]], ...]
    metrics: dict[str, dict[str, Any]]
    north_star: dict[str, Any]
    tree: dict[str, dict[str, Any]]  # node -> {formula?, drivers: [...]}; drivers are appended to existing nodes
    history: dict[str, Any] | None
    funnel: dict[str, str | None]
    checks: dict[str, Any] = field(default_factory=dict)
    change_frequency: str = ""


def _formula_names(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        return list(parse_formula(text).names)
    except ExpressionError:
        return []


METRIC_KEY_ORDER = ("label", "description", "type", "source", "where", "from", "to", "within", "agg", "expr",
                    "formula", "cumulative", "unit", "direction", "tags")


def ordered(body: dict[str, Any]) -> dict[str, Any]:
    """A metric's keys in the order people read them (as in docs/reference/spec.md and the templates)."""
    rank = {key: i for i, key in enumerate(METRIC_KEY_ORDER)}
    return dict(sorted(body.items(), key=lambda item: rank.get(item[0], len(rank))))


class _MetricCollector:
    """Metrics to add, in the order they are needed, with what their formulas need."""

    def __init__(self, candidates: dict[str, Candidate], custom: dict[str, dict[str, Any]], spec: Spec | None) -> None:
        self.candidates, self.custom = candidates, custom
        self.existing = set(spec.metrics) if spec else set()
        self.out: dict[str, dict[str, Any]] = {}

    def need(self, name: str | None) -> None:
        if not name or name in self.existing or name in self.out:
            return
        if name in self.custom:
            body = dict(self.custom[name])
        elif name in self.candidates:
            cand = self.candidates[name]
            body = dict(cand.body)
            if "description" not in body and cand.role not in ("custom", "ratio"):
                body["description"] = cand.what[0].upper() + cand.what[1:] + "."
        else:
            return
        self.out[name] = ordered(body)
        for ref in _formula_names(body.get("formula")):
            self.need(ref)


def _tree(decisions: Decisions, spec: Spec | None) -> dict[str, dict[str, Any]]:
    """Nodes for a North Star new to the tree, and the funnel stages as drivers of it."""
    tree = dict(spec.north_star.tree) if spec else {}
    nsm = decisions.north_star
    cand = decisions.proposal.candidates.get(nsm)
    out: dict[str, dict[str, Any]] = {}
    target = nsm
    if nsm not in tree:
        out[nsm] = {"formula": cand.decomposition} if cand and cand.decomposition else {}
        parts = _formula_names(cand.decomposition if cand else None)
        target = parts[0] if parts else nsm
        in_tree = set(parts)
    else:
        in_tree = set()
    in_tree |= set(tree) | set(out) | {d.metric for node in tree.values() for d in node.drivers}
    in_tree |= {n for node in tree.values() for n in _formula_names(node.formula)}
    drivers = [decisions.funnel.get(stage) for stage in DRIVER_STAGES]
    drivers = [d for d in dict.fromkeys(drivers) if d and d not in in_tree]
    if drivers:
        out.setdefault(target, {})["drivers"] = [{"metric": d, "direction": "up", "lag": 1} for d in drivers]
    return out


def _history(decisions: Decisions, spec: Spec | None, today: dt.date) -> dict[str, Any] | None:
    if spec is None or spec.north_star.metric == decisions.north_star:
        return None
    last = max((h.until for h in spec.north_star.history), default=today)
    return {"metric": spec.north_star.metric, "until": max(today, last),
            "reason": decisions.change_reason or "replaced with northstar discover"}


def _tagged_revenue(name: str, spec: Spec | None, candidates: dict[str, Candidate]) -> bool:
    if spec is not None and name in spec.metrics:
        return "revenue" in spec.metrics[name].tags
    cand = candidates.get(name)
    return cand is not None and "revenue" in cand.body.get("tags", ())


def _checks(setup: Setup, decisions: Decisions) -> dict[str, Any]:
    """`external_dimensions` (step 6) and, for an untagged revenue metric, `revenue` (step 7)."""
    checks: dict[str, Any] = {}
    existing = setup.existing_external()
    if decisions.external != (existing or []) or (existing is not None and not decisions.external):
        checks["external_dimensions"] = decisions.external
    spec, revenue = setup.existing_spec, decisions.revenue
    listed = list(spec.checks.revenue) if spec else []
    if revenue and revenue not in listed and not _tagged_revenue(revenue, spec, decisions.proposal.candidates):
        checks["revenue"] = [*listed, revenue]
    return checks


def plan_changes(setup: Setup, decisions: Decisions, today: dt.date | None = None) -> Changes:
    """Everything the decisions add to or set in the spec."""
    spec = setup.existing_spec
    today = today or dt.date.today()
    tree = _tree(decisions, spec)
    collect = _MetricCollector(decisions.proposal.candidates, decisions.custom, spec)
    collect.need(decisions.north_star)
    for name, node in tree.items():
        collect.need(name)
        for ref in _formula_names(node.get("formula")):
            collect.need(ref)
        for driver in node.get("drivers", []):
            collect.need(driver["metric"])
    for name in [*decisions.funnel.values(), decisions.revenue, *decisions.custom, *decisions.others]:
        collect.need(name)
    north_star = {"metric": decisions.north_star, "grain": decisions.grain, "customer_value": decisions.job}
    return Changes(decisions.project, decisions.new_sources, collect.out, north_star, tree,
                   _history(decisions, spec, today), dict(decisions.funnel), _checks(setup, decisions),
                   decisions.change_frequency)
