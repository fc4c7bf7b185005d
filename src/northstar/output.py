"""Render API results for the terminal (Rich), CSV and JSON. No computation here."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from northstar.analysis.tree import TreeNodeValue, TreeReport


def plain(value: Any) -> Any:
    """JSON-safe Python value: dates as ISO strings, NaN and ±infinity as None (JSON has neither:
    `Infinity` breaks every strict parser), numpy scalars unwrapped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float, at any depth, as None (and tuples as lists)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(value: Any, *, default: Any = None, **options: Any) -> str:
    """Strict JSON for `--format json`: NaN and infinity written as null, never as `NaN` or
    `Infinity` (`allow_nan=False` makes a missed one an error here, not in the reader).
    `default` encodes other objects (by default: `plain`, then their text)."""
    return json.dumps(json_safe(value), allow_nan=False, default=default or _encode, **options)


def _encode(value: Any) -> Any:
    found = plain(value)
    return str(found) if found is value else found


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{col: plain(row[i]) for i, col in enumerate(frame.columns)} for row in frame.itertuples(index=False)]


def frame_json(frame: pd.DataFrame) -> str:
    return json_text(frame_records(frame), indent=2)


def frame_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    out = frame.copy()
    for column in ("period", "first", "last"):  # dates (a window query has first and last)
        if column in out.columns:
            out[column] = [plain(p) for p in out[column]]
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def number(value: Any, digits: int = 1) -> str:
    value = plain(value)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        if abs(value) < 1 and value != 0:
            return f"{value:.3f}"
        return f"{value:,.{digits}f}"
    return str(value)


def frame_table(frame: pd.DataFrame, title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(col, justify="left" if col == "period" or frame[col].dtype == object else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*[number(v) if not isinstance(v, str) else v for v in row])
    return table


def change_words(node: TreeNodeValue) -> str:
    """Change shown by sign, arrow and words, not by colour alone."""
    pct = node.change_pct
    if node.change is None:  # a side has no value (a rate over nothing, a period without data)
        if node.value is None:
            return "no value in this period" if node.previous is not None else "no value"
        return "no previous value"
    if node.change == 0:
        return "→ unchanged"
    arrow, word = ("▲", "up") if node.change > 0 else ("▼", "down")
    amount = f"{abs(pct) * 100:.1f}%" if pct is not None else number(abs(node.change))
    return f"{arrow} {word} {amount}"


def _node_label(node: TreeNodeValue) -> str:
    link = {"root": "★ ", "formula": "", "driver": f"⇢ driver ({node.direction}, lag {node.lag}): "}[node.link]
    owner = f"  [dim]owner: {node.owner}[/dim]" if node.owner else ""
    formula = f"  [dim]= {node.formula}[/dim]" if node.formula else ""
    mark = ""
    if node.status != "final" and node.note:
        mark = f"  [yellow]({escape(node.note)})[/yellow]"
    elif node.previous_status == "provisional":
        mark = "  [yellow](the previous value is provisional)[/yellow]"
    return (f"{link}[bold]{escape(node.label)}[/bold] {number(node.value)}  "
            f"(previous {number(node.previous)}, {change_words(node)}){target_words(node)}{owner}{formula}{mark}")


BAND_STYLES = {"green": "green", "amber": "yellow", "red": "red"}


def target_words(node: TreeNodeValue) -> str:
    """`  92.5% of target 1,200 (amber)`: the band in words and colour; '' without a target."""
    p = node.progress
    if p is None or p.target is None:
        return ""
    if p.progress is None:
        return f"  [dim]target {number(p.target)}, no % (undefined)[/dim]"
    style = BAND_STYLES[p.band or "red"]
    return f"  [{style}]{p.progress * 100:.1f}% of target {number(p.target)} ({p.band})[/{style}]"


def tree_renderable(report: TreeReport) -> Tree:
    title = (f"[bold]{report.project}[/bold] North Star, {report.grain} of {report.period.isoformat()} "
             f"vs {report.previous_period.isoformat()}")
    if report.window is not None:
        title = f"[bold]{report.project}[/bold] North Star, {escape(report.window.description())}"
    if report.where:
        title += f", for {escape(report.where)}"
    if report.review is not None and report.review.why:
        title += f"\n[dim]{escape(report.review.why)}[/dim]"
    if report.review is not None and report.review.partial_reason:
        title += f"\n[yellow]partial {report.grain}: {escape(report.review.partial_reason)}[/yellow]"
    if report.customer_value:
        title += f"\n[italic]{escape(report.customer_value)}[/italic]"
    root = Tree(title)

    def add(parent: Tree, node: TreeNodeValue) -> None:
        branch = parent.add(_node_label(node))
        for child in node.children:
            add(branch, child)

    add(root, report.root)
    return root


def print_tree(console: Console, report: TreeReport) -> None:
    console.print(tree_renderable(report))


def tree_json(report: TreeReport) -> str:
    return json_text(report.to_dict(), indent=2)
