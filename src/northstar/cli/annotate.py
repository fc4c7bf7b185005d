"""`northstar annotate add|list|remove`: releases, campaigns, outages and holidays beside the spec
(for CI pipelines that deploy; see `northstar/annotations.py`)."""

from __future__ import annotations

import click

from northstar.cli.app import State, cli, stdout
from northstar.spec.annotations import KINDS


@cli.group()
def annotate() -> None:
    """Annotations: add one (a deploy from CI), list them, remove one."""


@annotate.command("add")
@click.argument("title")
@click.option("--date", "date", required=True, help="The day it happened (or began), YYYY-MM-DD, local to the spec's time zone.")
@click.option("--to", "to", help="The last day of a range, YYYY-MM-DD (inclusive); default: the same day.")
@click.option("--kind", type=click.Choice(KINDS), default="other", show_default=True, help="What it was.")
@click.option("--metric", "metrics", multiple=True, help="A metric it is about (repeat); default: all metrics.")
@click.option("--where", help="The customers it is about, a filter over dimensions (platform = 'android').")
@click.option("--expected", is_flag=True, help="Planned (a campaign, a closure): monitor does not alert on "
                                               "what it covers, forecasts leave it out.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def annotate_add(state: State, title: str, date: str, to: str | None, kind: str, metrics: tuple[str, ...],
                 where: str | None, expected: bool, fmt: str) -> None:
    """Add an annotation TITLE to the annotations file beside the spec; prints its id."""
    from northstar.annotations import add, parse_new, store_path
    from northstar.output import json_text

    project = state.project()
    made = add(project.loaded, parse_new(title, date, to, kind, metrics, where, expected))
    if fmt == "json":
        click.echo(json_text(made.to_dict(), indent=2))
        return
    stdout.print(f"added {made.id}: {made.words()} to {store_path(project.path).name}", markup=False,
                 highlight=False)


@annotate.command("list")
@click.option("--metric", help="Only those about this metric.")
@click.option("--from", "start", help="Only those with a day on or after this date, YYYY-MM-DD.")
@click.option("--to", "end", help="Only those with a day on or before this date, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def annotate_list(state: State, metric: str | None, start: str | None, end: str | None, fmt: str) -> None:
    """The annotations of the spec and of the file beside it, earliest first."""
    from northstar.output import json_text

    project = state.project()
    if metric is not None and metric not in project.spec.metrics:
        from northstar.engine.plan import unknown_metric

        raise unknown_metric(project.spec, metric)
    found = project.annotations(metric, start, end)
    if fmt == "json":
        click.echo(json_text([a.to_dict() for a in found], indent=2))
        return
    if not found:
        stdout.print("no annotations", markup=False, highlight=False)
        return
    from rich.table import Table

    table = Table("id", "when", "kind", "title", "metrics", "where", "expected")
    for a in found:
        table.add_row(a.id or "", a.span(), a.kind, a.title, ", ".join(a.metrics) if a.metrics else "all",
                      a.where or "all", "yes" if a.expected else "")
    stdout.print(table)


@annotate.command("remove")
@click.argument("annotation_id", metavar="ID")
@click.pass_obj
def annotate_remove(state: State, annotation_id: str) -> None:
    """Remove the added annotation ID (those written in the spec are removed there)."""
    from northstar.annotations import remove

    gone = remove(state.project().loaded, annotation_id)
    stdout.print(f"removed {gone.id}: {gone.words()}", markup=False, highlight=False)
