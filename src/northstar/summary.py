"""Terminal overview under the tree: guardrails and focus metrics (used by `demo`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from northstar.output import number


MARKS = {"ok": "✔ ok", "breached": "✖ breached", "no data": "? no data", "on track": "✔ on track",
         "behind": "▼ behind", "reached": "★ reached", "not started": "… not started", "ended": "■ ended"}


def status_mark(item: Any) -> str:
    """A guardrail's or OMTM's status in words; a provisional one says until when, and its last final verdict."""
    if item.status != "provisional":
        return MARKS.get(item.status, item.status)
    text = f"⧗ provisional until the data reaches {item.provisional_until.isoformat()}"
    if item.last_final is not None and item.last_final.period is not None:
        text += f" (last final: {MARKS.get(item.last_final.status, item.last_final.status)} in {item.last_final.period})"
    return text


def print_overview(console: Console, project: Any) -> None:
    guards = project.guardrails()
    if guards:
        table = Table(title=f"Guardrails in the {project.spec.north_star.grain} of {guards[0].period}")
        for col in ("metric", "period", "value", "min", "max", "status"):
            table.add_column(col, justify="left" if col in ("metric", "status") else "right")
        for g in guards:
            mark = status_mark(g)
            value = number(g.value, 2) + (" so far" if g.status == "provisional" else "")
            table.add_row(g.metric, g.period.isoformat() if g.period else "–", value, number(g.min, 2), number(g.max, 2), mark)
        console.print(table)
    focus = project.focus()
    if focus:
        table = Table(title="Focus: One Metric That Matters per team")
        for col in ("team", "metric", "value", "baseline", "target", "deadline", "progress", "status"):
            table.add_column(col, justify="right" if col in ("value", "baseline", "target", "progress") else "left")
        for f in focus:
            progress = f"{f.progress * 100:.0f}%" if f.progress is not None else "–"
            table.add_row(f.team, f.metric, number(f.value, 2) + (" so far" if f.status == "provisional" else ""), number(f.baseline, 2), number(f.target, 2),
                          f.deadline.isoformat() if f.deadline else "–", progress, status_mark(f))
        console.print(table)
