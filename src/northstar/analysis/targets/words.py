"""The targets report in words: numbers and changes as people read them, and the requirement
of each formula level in one sentence (alerts and the CLI format numbers with it too)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from northstar.analysis.targets.report import NodeTarget

__all__ = ["format_number", "format_pct", "lower_first", "summarise"]


def format_number(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def format_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}%"


def lower_first(label: str) -> str:
    return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


def _rate(node: NodeTarget, grain: str) -> str:
    growth = node.growth
    return "" if growth is None else f", {growth * 100:.1f}%/{grain}"


def summarise(root: NodeTarget, method: str, by: dt.date, periods: int, grain: str, projection: str = "") -> str:
    """The requirement in plain words, one sentence per formula level under the North Star;
    `projection` names how the trend was projected ("trend of the last 26 weeks")."""
    unit = grain + ("s" if periods != 1 else "")
    how = f" ({projection})" if projection else ""
    if root.status == "on trend":
        trend = f"the trend reaches it: {format_number(root.trend)}{how}"
    elif root.gap is not None:
        trend = f"the trend gives {format_number(root.trend)}{how}, {format_number(abs(root.gap))} short"
    else:
        trend = "no trend: too little data"
    head = (f"To reach {format_number(root.required)} {lower_first(root.label)} by {by.isoformat()} "
            f"({format_pct(root.change_pct)} in {periods} {unit}{_rate(root, grain)}; {trend})")
    inputs = [c for c in root.children if c.link == "formula"]
    if not inputs:
        return head + ": its tree has no formula to split it."
    if method == "proportional":
        parts = [f"{lower_first(c.label)} to {format_number(c.required)} ({format_pct(c.change_pct)}{_rate(c, grain)})" for c in inputs]
        return head + ", sharing the effort proportionally: " + ", ".join(parts) + "."
    parts = []
    for c in inputs:
        others = [o for o in inputs if o is not c]
        if c.required is None:
            parts.append(f"{lower_first(c.label)} alone cannot get there with the others on trend")
            continue
        if c.status == "unreachable":
            parts.append(f"{lower_first(c.label)} alone would have to reach {format_number(c.required)}, a value it "
                         "cannot take (unreachable)")
            continue
        rest = " and ".join(lower_first(o.label) for o in others)
        parts.append(f"{lower_first(c.label)} must reach {format_number(c.required)} ({format_pct(c.change_pct)}{_rate(c, grain)}, "
                     f"{c.status})" + (f" with {rest} on trend" if rest else ""))
    return head + ", " + "; or ".join(parts) + "."
