"""How the alerts of one run become messages: one per event. Anomalies of the same period on
metrics of one tree path (the North Star and the input that caused it) share a message, the
highest metric of the path first; guardrail, focus and target alerts are messages of their own."""

from __future__ import annotations

from collections.abc import Sequence

from northstar.alerts.model import Alert, AlertMessage
from northstar.analysis.targets.words import format_number
from northstar.spec.expressions import ExpressionError, parse_formula
from northstar.spec.model import FormulaMetric, Spec

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
MOVES = {"anomaly", "segment"}  # alerts about a move of a metric (grouped when related)


def inputs_graph(spec: Spec) -> dict[str, set[str]]:
    """metric -> the metrics it is built from (the tree's formulas and formula metrics)."""
    graph: dict[str, set[str]] = {}
    for name, node in spec.north_star.tree.items():
        kids = graph.setdefault(name, set())
        if node.formula:
            try:
                kids.update(parse_formula(node.formula).names)
            except ExpressionError:
                pass
    for name, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric):
            try:
                graph.setdefault(name, set()).update(parse_formula(metric.formula).names)
            except ExpressionError:
                pass
    return graph


def _descendants(graph: dict[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(name, ()))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(graph.get(n, ()))
    return seen


def group(spec: Spec, alerts: Sequence[Alert]) -> list[AlertMessage]:
    """One message per event: anomalies of the same period on metrics of one tree path (the NSM
    and the input that caused it) are grouped, the highest metric of the path first; guardrail,
    focus and target alerts are messages of their own."""
    graph = inputs_graph(spec)
    below = {a.metric: _descendants(graph, a.metric) for a in alerts}
    parent = list(range(len(alerts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(alerts):
        for j in range(i + 1, len(alerts)):
            b = alerts[j]
            related = b.metric in below[a.metric] or a.metric in below[b.metric] or a.metric == b.metric
            if {a.kind, b.kind} <= MOVES and a.period == b.period and (related or a.kind == b.kind == "segment"):
                parent[find(j)] = find(i)
    groups: dict[int, list[Alert]] = {}
    for i, a in enumerate(alerts):
        groups.setdefault(find(i), []).append(a)
    messages = []
    for members in groups.values():
        members.sort(key=lambda a: (-len(below[a.metric]), SEVERITY_ORDER.get(a.severity, 9), a.key))
        messages.append(message_of(members))
    messages.sort(key=lambda m: (m.alerts[0].period, SEVERITY_ORDER.get(m.alerts[0].severity, 9), m.key))
    return messages


def message_of(alerts: Sequence[Alert]) -> AlertMessage:
    lead = alerts[0]
    lines: list[str] = []
    for a in alerts:
        lines.append(f"[{a.severity}] {a.title}")
        if a.kind in MOVES and a.expected is not None:
            lines.append(f"  expected {format_number(a.expected)} (between {format_number(a.lower)} and "
                         f"{format_number(a.upper)}), got {format_number(a.value)}")
        for reason in a.why:
            lines.append(f"  why: {reason}")
        if a.link:
            lines.append(f"  {a.link}")
    title = lead.title if len(alerts) == 1 else f"{lead.title} (+{len(alerts) - 1} related)"
    return AlertMessage(key=lead.key, title=title, alerts=tuple(alerts), text="\n".join(lines))
