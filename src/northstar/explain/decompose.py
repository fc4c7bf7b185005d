"""The formula tree under a metric, and the exact split of its change down that tree."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

from northstar.analysis.attribution import shapley
from northstar.analysis.tree import label_of
from northstar.explain.model import Contribution
from northstar.spec.expressions import parse_formula
from northstar.spec.model import FormulaMetric, Spec


@dataclass(frozen=True)
class Node:
    """A metric and, when it decomposes, the formula and its inputs."""

    metric: str
    formula: ast.expr | None = None
    inputs: tuple["Node", ...] = ()

    def names(self) -> list[str]:
        out = [self.metric]
        for child in self.inputs:
            out += [n for n in child.names() if n not in out]
        return out


def decomposition(spec: Spec, metric: str, ancestors: tuple[str, ...] = ()) -> Node:
    """The tree's formula for a metric, else the metric's own formula, recursively; a formula
    that would lead back to an ancestor (a node defined through its parent) stops there."""
    text = None
    node = spec.north_star.tree.get(metric)
    if node is not None and node.formula:
        text = node.formula
    elif isinstance(spec.metrics.get(metric), FormulaMetric):
        text = spec.metrics[metric].formula  # type: ignore[union-attr]
    if text is None:
        return Node(metric)
    parsed = parse_formula(text)
    chain = (*ancestors, metric)
    if any(name in chain for name in parsed.names):
        return Node(metric)
    return Node(metric, parsed.tree, tuple(decomposition(spec, n, chain) for n in parsed.names))


def attribute(spec: Spec, node: Node, baseline: Mapping[str, float], current: Mapping[str, float],
              amount: float | None = None, total: float | None = None) -> Contribution:
    """`node`'s contribution `amount` (the whole change at the root) split over its inputs with
    Shapley values, recursively; children always add up to their parent."""
    change = current[node.metric] - baseline[node.metric]
    amount = change if amount is None else amount
    total = change if total is None else total
    share = amount / total if total else None
    children: tuple[Contribution, ...] = ()
    names = [c.metric for c in node.inputs]
    usable = node.formula is not None and all(_finite(baseline[n]) and _finite(current[n]) for n in names)
    if usable and names:
        phi = shapley(node.formula, names, baseline, current)  # type: ignore[arg-type]
        spent = sum(phi.values())  # equals the formula's change; the node's own value may differ slightly
        scale = amount / spent if spent else 0.0
        children = tuple(attribute(spec, child, baseline, current, phi[child.metric] * scale, total)
                         for child in node.inputs)
    return Contribution(node.metric, label_of(spec, node.metric), _clean(baseline[node.metric]),
                        _clean(current[node.metric]), amount, share, "formula", children)


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _clean(value: object) -> float | None:
    return float(value) if _finite(value) else None  # type: ignore[arg-type]


def flatten(root: Contribution) -> list[Contribution]:
    out = []
    for child in root.children:
        out.append(child)
        out += flatten(child)
    return out
