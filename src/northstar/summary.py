"""Terminal overview under the tree: guardrails and focus metrics (used by `demo`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from northstar.output import number


def print_overview(console: Console, project: Any) -> None:
    guards = project.guardrails()
    if guards:
        table = Table(title="Guardrails (each in its last complete period)")
        for col in ("metric", "period", "value", "min", "max", "status"):
            table.add_column(col, justify="left" if col in ("metric", "status") else "right")
        for g in guards:
            mark = {"ok": "✔ ok", "breached": "✖ breached", "no data": "? no data"}[g.status]
            table.add_row(g.metric, g.period.isoformat() if g.period else "–", number(g.value, 2), number(g.min, 2), number(g.max, 2), mark)
        console.print(table)
    focus = project.focus()
    if focus:
        table = Table(title="Focus: One Metric That Matters per team")
        for col in ("team", "metric", "value", "baseline", "target", "deadline", "progress", "status"):
            table.add_column(col, justify="right" if col in ("value", "baseline", "target", "progress") else "left")
        for f in focus:
            progress = f"{f.progress * 100:.0f}%" if f.progress is not None else "–"
            table.add_row(f.team, f.metric, number(f.value, 2), number(f.baseline, 2), number(f.target, 2),
                          f.deadline.isoformat() if f.deadline else "–", progress, f.status)
        console.print(table)
