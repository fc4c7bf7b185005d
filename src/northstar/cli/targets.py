"""`northstar targets`: from the North Star's target to what each input of its tree must reach."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from northstar.cli.app import State, cli, stdout

if TYPE_CHECKING:
    from collections.abc import Sequence

    from northstar.analysis.targets import NodeTarget, TargetsReport
    from northstar.analysis.targets.series import SeriesTargets, TargetCheck

METHOD_WORDS = {"trend": "each input alone, the other inputs of its formula on trend",
                "proportional": "the inputs of each formula share the effort: all change by the same factor"}


@cli.command()
@click.option("--target", "value", type=float, help="The North Star's target value (default: north_star.target.value).")
@click.option("--by", "by", help="The target date, YYYY-MM-DD (default: north_star.target.by).")
@click.option("--method", type=click.Choice(["trend", "proportional"]), default="trend", show_default=True,
              help="trend: each input alone, the others on trend; proportional: all inputs by the same factor.")
@click.option("--where", help="Only the customers matching a filter on dimensions, e.g. \"country = 'DE'\" "
              "(same review period as the whole; a source without the dimension is refused).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def targets(state: State, value: float | None, by: str | None, method: str, where: str | None, fmt: str) -> None:
    """What each input of the North Star's tree must reach for it to hit its target, and the
    growth per period that implies; beside the teams' OMTMs."""
    from northstar.output import json_text

    from northstar.analysis.targets.series import SeriesTargets

    report = state.project().where(where).targets(target=value, by=by, method=method)
    if fmt == "json":
        click.echo(json_text(_safe(report.to_dict()), indent=2))
        return
    if isinstance(report, SeriesTargets):
        for part in report.reports:
            stdout.print(part.summary, markup=False, highlight=False)
        stdout.print(series_table(report))
    else:
        stdout.print(report.summary, markup=False, highlight=False)
        stdout.print(tree_table(report))
    checks = report.checks if isinstance(report, SeriesTargets) else report.target_checks
    if checks:
        stdout.print(checks_table(checks, report.grain))
    if report.focus:
        stdout.print(focus_table(report))


def _safe(value: Any) -> Any:
    """JSON without NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def tree_table(report: "TargetsReport") -> Table:
    from northstar.analysis.targets.words import format_number, format_pct

    grain = report.grain
    title = (f"{report.project}: {report.root.label} {format_number(report.target)} by {report.by.isoformat()} "
             f"({grain} of {report.target_period.isoformat()}, {report.periods} {grain}s after "
             f"{report.last_period.isoformat()}); method {report.method}: {METHOD_WORDS[report.method]}")
    table = Table(title=title, title_justify="left")
    for col in ("metric", "owner", "current", f"trend ({report.trend_periods} {grain}s)", "required", "change",
                f"per {grain}", "status"):
        table.add_column(col, justify="left" if col in ("metric", "owner", "status") else "right")

    def add(node: "NodeTarget", depth: int) -> None:
        indent = "  " * depth
        if node.link == "driver":
            label = f"{indent}⇢ moves with: {node.label} ({node.driver_direction}, lag {node.lag})"
            table.add_row(label, node.owner or "", format_number(node.current), format_number(node.trend), "", "", "",
                          node.status, style="dim")
            return
        mark = "★ " if node.link == "root" else ""
        growth = "–" if node.growth is None else f"{node.growth * 100:+.1f}%"
        status = node.status if node.status != "gap" or node.gap is None else f"gap {format_number(abs(node.gap))}"
        table.add_row(f"{indent}{mark}{node.label}", node.owner or "", format_number(node.current), format_number(node.trend),
                      format_number(node.required), format_pct(node.change_pct), growth, status)
        for child in node.children:
            add(child, depth + 1)

    add(report.root, 0)
    return table


def focus_table(report: "TargetsReport") -> Table:
    from northstar.analysis.targets.words import format_number

    table = Table(title="Beside the OMTMs: is each team's target enough for the tree's requirement?",
                  title_justify="left")
    for col in ("team", "metric", "target", "deadline", "tree requires", "verdict", "why"):
        table.add_column(col, justify="right" if col in ("target", "tree requires") else "left")
    for f in report.focus:
        table.add_row(f.team, f.metric, format_number(f.target), f.deadline.isoformat() if f.deadline else "–",
                      format_number(f.required), f.status, f.note)
    return table


def series_table(report: "SeriesTargets") -> Table:
    """A row per formula input per period of the North Star's target series."""
    from northstar.analysis.targets.words import format_number, format_pct, lower_first

    last = report.reports[-1]
    grain = last.grain
    title = (f"{last.project}: the target of {lower_first(last.root.label)} per {report.series_grain}, pushed down the tree "
             f"(from the last complete {grain}, {last.last_period.isoformat()}); method {last.method}: "
             f"{METHOD_WORDS[last.method]}")
    table = Table(title=title, title_justify="left")
    for col in ("period", "metric", "owner", "current", "trend", "required", "change", f"per {grain}", "status"):
        table.add_column(col, justify="left" if col in ("period", "metric", "owner", "status") else "right")
    for start, part in zip(report.starts, report.reports):
        for node in part.nodes():
            if node.link == "driver":
                continue
            depth = _depth(part.root, node)
            mark = "★ " if node.link == "root" else ""
            growth = "–" if node.growth is None else f"{node.growth * 100:+.1f}%"
            status = node.status if node.status != "gap" or node.gap is None else f"gap {format_number(abs(node.gap))}"
            table.add_row(start.isoformat(), "  " * depth + mark + node.label, node.owner or "",
                          format_number(node.current), format_number(node.trend), format_number(node.required),
                          format_pct(node.change_pct), growth, status)
        table.add_section()
    return table


def _depth(root: "NodeTarget", target: "NodeTarget") -> int:
    def walk(node: "NodeTarget", depth: int) -> int | None:
        if node is target:
            return depth
        for child in node.children:
            found = walk(child, depth + 1)
            if found is not None:
                return found
        return None

    return walk(root, 0) or 0


def checks_table(checks: "Sequence[TargetCheck]", grain: str) -> Table:
    from northstar.analysis.targets.words import format_number

    table = Table(title="The inputs' own targets against what the North Star's target needs", title_justify="left")
    for col in (f"{grain} of", "metric", "target", "needed", "verdict", "why"):
        table.add_column(col, justify="right" if col in ("target", "needed") else "left")
    for c in checks:
        table.add_row(c.period.isoformat(), c.label, format_number(c.target), format_number(c.required), c.status,
                      c.note)
    return table
