"""`northstar cohorts`: retention by cohort of an entity metric."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click
from rich.table import Table

from northstar.cli.app import FORMATS, State, cli, stdout

if TYPE_CHECKING:
    from northstar.analysis.cohorts import CohortReport

TABLE_OFFSETS = 12  # offset columns shown in the table; csv and json have them all


@cli.command()
@click.argument("metric")
@click.option("--grain", help="day, week, month, quarter or year (default: the North Star's).")
@click.option("--from", "start", help="First cohort (YYYY-MM-DD): the period containing it.")
@click.option("--to", "end", help="Last cohort (YYYY-MM-DD): periods starting on or before it.")
@click.option("--partial", is_flag=True, help="Include the data's last period even when it is incomplete.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def cohorts(state: State, metric: str, grain: str | None, start: str | None, end: str | None, partial: bool,
            fmt: str) -> None:
    """Retention by cohort: for the entities whose first METRIC activity fell in a period,
    the share active again each later period.

    METRIC counts entities: `agg: count_distinct` without `expr`, or `type: retention`.
    """
    from northstar.limits import cohort_range
    from northstar.output import json_text

    project = state.project()
    first, last = cohort_range(project, metric, grain, start, end)  # clipped; at most limits.MAX_ROWS rows
    report = project.cohorts(metric, grain=grain, start=first, end=last, partial=partial)
    if fmt == "json":
        click.echo(json_text(report.records(), indent=2))
    elif fmt == "csv":
        frame = report.to_frame()
        frame["cohort"] = [c.isoformat() for c in frame["cohort"]]
        click.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
    else:
        stdout.print(cohort_table(report))


def cohort_table(report: "CohortReport") -> Table:
    """The triangle: one row per cohort (its size), one column per offset (the rate in %)."""
    grain = report.grain
    offsets = max((r.offset for r in report.rows), default=0)
    shown = min(offsets, TABLE_OFFSETS)
    notes = [f"% of each cohort (entities whose first '{report.metric}' activity fell in that {grain}) "
             f"active again k {grain}s later"]
    if offsets > shown:
        notes.append(f"offsets {shown + 1}–{offsets} are in --format csv/json")
    end = report.data_end.isoformat() if report.data_end else "?"
    if report.skipped is not None:
        notes.append(f"the {grain} of {report.skipped.isoformat()} is left out: the data ends on {end} "
                     "(--partial shows it)")
    if report.partial and report.last_period is not None:
        notes.append(f"the {grain} of {report.last_period.isoformat()} is incomplete (the data ends on {end})")
    table = Table(title=f"Cohorts of {report.metric} by {grain}", caption="; ".join(notes), caption_justify="left")
    table.add_column("cohort", justify="left")
    table.add_column("entities", justify="right")
    for k in range(1, shown + 1):
        table.add_column(f"+{k}", justify="right")
    by_cohort: dict[dt.date, list[str]] = {}
    for row in report.rows:
        cells = by_cohort.setdefault(row.cohort, [row.cohort.isoformat(), f"{row.entities:,}"])
        if 1 <= row.offset <= shown:
            cells.append(f"{row.rate * 100:.1f}%")
    for cells in by_cohort.values():
        table.add_row(*cells, *[""] * (shown + 2 - len(cells)))
    if not report.rows:
        table.caption = (f"no cohort: no entity has a '{report.metric}' event in a complete {grain} of the cohorts "
                         "asked for" + (" (--partial shows the incomplete last one)" if report.skipped else ""))
    return table
