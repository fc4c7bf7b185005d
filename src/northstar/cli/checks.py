"""Commands that judge the North Star: check, candidates."""

from __future__ import annotations

import os

import click
from rich.console import Console

from northstar.cli.app import State, cli, stdout


def _report_console() -> Console:
    """The terminal, or for piped output a console as wide as `COLUMNS` says when set (the shared
    piped console is 200 wide), so `COLUMNS=80 northstar check | less` wraps at 80 (check and
    candidates)."""
    columns = os.environ.get("COLUMNS", "")
    if not stdout.is_terminal and columns.isdigit() and int(columns) > 0:
        return Console(width=int(columns), soft_wrap=False)
    return stdout


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@click.option("--rule", "rules", multiple=True, help="Run only this rule (repeatable); see `--list`.")
@click.option("--no-data", is_flag=True, help="Run the spec rules only, without reading data.")
@click.option("--list", "list_only", is_flag=True, help="List the rules and what each checks.")
@click.option("--untrusted", is_flag=True, help="The spec is not yours: check it as `validate --untrusted` does "
              "first (exit 2 when it reaches beyond its folder), then read its data confined to its folder.")
@click.pass_obj
def check(state: State, fmt: str, rules: tuple[str, ...], no_data: bool, list_only: bool, untrusted: bool) -> None:
    """Judge the North Star, tree, OMTMs and funnel against the method, from the spec and the data.

    Exit 0 when no finding is an error, 1 when one is (for CI), 2 when the spec is invalid.
    """
    from northstar.checks import RULES
    from northstar.checks.render import print_report, report_json, report_markdown

    if list_only:
        for rule in RULES.values():
            stdout.print(f"{rule.id:24} {rule.kind:5} {rule.summary}", markup=False, highlight=False)
        return
    from northstar.cli.untrusted import untrusted_project

    project = untrusted_project(state.spec_path).for_north_star(state.north_star) if untrusted else state.project()
    project.debug = state.debug
    # several North Stars and no --north-star: each is judged, the primary first
    projects = [project] if state.north_star else project.north_stars()
    reports = []
    for each in projects:
        each.debug = state.debug
        reports.append(each.check(data=not no_data, only=rules))
    if len(reports) > 1:
        _print_reports(fmt, [p.north_star_name for p in projects], reports)
    elif fmt == "json":
        click.echo(report_json(reports[0]))
    elif fmt == "markdown":
        click.echo(report_markdown(reports[0]), nl=False)
    else:
        print_report(_report_console(), reports[0])
    if any(report.has_errors for report in reports):
        raise SystemExit(1)


def _print_reports(fmt: str, names: list[str | None], reports: list) -> None:
    """The reports of several North Stars: JSON `{"north_stars": [{"name", ...report}]}`, else
    one report after the other under the North Star's name."""
    from northstar.checks.render import print_report, report_markdown
    from northstar.output import json_text

    if fmt == "json":
        click.echo(json_text({"north_stars": [{"name": n, **r.to_dict()} for n, r in zip(names, reports)]},
                             indent=2, default=str))
        return
    for index, (name, report) in enumerate(zip(names, reports)):
        title = f"North Star '{name}'" + (" (primary)" if index == 0 else "")
        if fmt == "markdown":
            click.echo(f"# {title}\n\n" + report_markdown(report), nl=False)
        else:
            stdout.print(("\n" if index else "") + title, style="bold", markup=False, highlight=False)
            print_report(_report_console(), report)


@cli.command()
@click.argument("metrics", nargs=-1)
@click.option("--against", help="The metric candidates should lead (default: `checks.revenue` or a metric tagged "
                                "revenue); every label names it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@click.pass_obj
def candidates(state: State, metrics: tuple[str, ...], against: str | None, fmt: str) -> None:
    """Rank candidate North Stars (the METRICS given, or every fit metric) on your data."""
    from northstar.checks.render_candidates import candidates_json, candidates_markdown, print_candidates

    report = state.project().candidates(metrics, against)
    if fmt == "json":
        click.echo(candidates_json(report))
    elif fmt == "markdown":
        click.echo(candidates_markdown(report), nl=False)
    else:
        print_candidates(_report_console(), report)
