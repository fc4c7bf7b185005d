"""Project results as plain text: what `repr()` shows in a REPL and Jupyter's text/plain.

Short on purpose: the headline sentences and one line per node, stage or finding, with the
report's number words (`report/text.py`). The full data is in each result's `to_dict()`
(and `CohortReport.to_frame()`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from northstar.analysis.cohorts import CohortReport
from northstar.analysis.tree import TreeNodeValue, TreeReport
from northstar.checks.findings import CheckReport
from northstar.explain.funnel import FunnelReport
from northstar.explain.model import Explanation
from northstar.report.text import change_words, number, percent, signed
from northstar.spec.model import FUNNEL_STAGES

STAGE_NAMES = {stage: stage.capitalize() for stage in FUNNEL_STAGES}
MARKS = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}
LINKS = {"root": "★ ", "formula": "", "driver": "⇢ "}
SHOWN = 10  # segments, findings and cohorts listed before "… and N more"


def _more(items: tuple[Any, ...] | list[Any], shown: int = SHOWN) -> list[str]:
    return [f"  … and {len(items) - shown} more"] if len(items) > shown else []


def tree_text(r: TreeReport) -> str:
    lines = [f"{r.project}: North Star {r.north_star}, {r.grain} of {r.period.isoformat()} "
             f"vs {r.previous_period.isoformat()}"]
    if r.customer_value:
        lines.append(r.customer_value)

    def add(node: TreeNodeValue, depth: int) -> None:
        extra = f"  owner: {node.owner}" if node.owner else ""
        if node.formula:
            extra += f"  = {node.formula}"
        if node.status != "final":
            extra += f"  ({node.status})"
        lines.append(f"{'  ' * (depth + 1)}{LINKS.get(node.link, '')}{node.label} ({node.metric}): "
                     f"{number(node.value)} (previous {number(node.previous)}, "
                     f"{change_words(node.value, node.previous)}){extra}")
        for child in node.children:
            add(child, depth + 1)

    add(r.root, 0)
    return "\n".join(lines)


def explanation_text(e: Explanation) -> str:
    names = e.side_names()
    when = (f"{names['period']} vs {names['baseline']}" if e.window is not None
            else f"{e.grain} of {names['period']} vs {names['baseline']}")
    lines = [f"Explanation of {e.metric}, {when}", e.summary]
    for c in sorted(e.root.children, key=lambda c: -abs(c.contribution)):
        share = f", {percent(c.share, 'en', 0)} of the change" if c.share is not None else ""
        lines.append(f"  {c.label}: {number(c.baseline)} → {number(c.value)} "
                     f"({signed(c.contribution, None)}{share})")
    if e.segments:
        lines.append("  segments:")
        for s in e.segments[:SHOWN]:
            where = ", ".join(f"{k} = {v}" for k, v in s.dimensions.items())
            lines.append(f"    {s.metric} where {where}: {change_words(s.value, s.baseline)} "
                         f"({signed(s.contribution, None)})")
        lines += _more(e.segments)
    lines += [f"  note: {n}" for n in e.notes]
    return "\n".join(lines)


def checks_text(r: CheckReport) -> str:
    from northstar.checks.render import summary_line

    lines = [summary_line(r)]
    for f in r.findings[:SHOWN]:
        lines.append(f"  {MARKS[f.severity]}  {f.rule}  {f.subject}: {f.message}")
    lines += _more(r.findings)
    return "\n".join(lines)


def funnel_text(r: FunnelReport) -> str:
    lines = [f"Funnel of {r.north_star}, {r.grain} of {r.period.isoformat()}", r.summary]
    for s in r.stages:
        mark = "  ◆ bottleneck" if s.stage == r.bottleneck else ""
        metric = s.metric or "not mapped"
        lines.append(f"  {STAGE_NAMES.get(s.stage, s.stage)}: {metric} {number(s.value)} "
                     f"({change_words(s.value, s.previous)}), gain in North Star {number(s.nsm_gain)}{mark}")
    return "\n".join(lines)


def cohorts_text(r: CohortReport) -> str:
    sizes = r.sizes
    if not sizes:
        return f"Cohorts of {r.metric} by {r.grain}: none (the data holds no events for it)"
    last = r.last_period.isoformat() if r.last_period else "–"
    lines = [f"Cohorts of {r.metric} by {r.grain}: {len(sizes)} cohorts, last {r.grain} shown {last}",
             "  latest cohorts (size; rate +1, +2, +3 …):"]
    rates: dict[Any, list[float]] = {}
    for row in r.rows:
        if row.offset:
            rates.setdefault(row.cohort, []).append(row.rate)
    for cohort in sorted(sizes)[-SHOWN:]:
        shown = ", ".join(percent(v, "en", 0) for v in rates.get(cohort, [])[:6])
        lines.append(f"    {cohort.isoformat()}  ({sizes[cohort]}; {shown or '–'})")
    lines.append("  .to_frame() has every cohort and offset")
    return "\n".join(lines)


_TEXT: dict[type, Callable[[Any], str]] = {
    TreeReport: tree_text, Explanation: explanation_text, CheckReport: checks_text, FunnelReport: funnel_text,
    CohortReport: cohorts_text,
}


def render_view(views: dict[type, Callable[[Any], str]], result: object, kind: str) -> str:
    """`result` through the view for its type (TypeError naming the types that have one)."""
    render = views.get(type(result))
    if render is None:
        raise TypeError(f"no {kind} view for {type(result).__name__}: expected one of "
                        f"{', '.join(t.__name__ for t in views)}")
    return render(result)


def text_of(result: object) -> str:
    """The readable text of a Project result."""
    return render_view(_TEXT, result, "text")
