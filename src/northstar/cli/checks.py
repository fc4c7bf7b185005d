"""Commands that judge the North Star: check, candidates."""

from __future__ import annotations

import click

from northstar.cli.app import State, cli, stdout


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True)
@click.option("--rule", "rules", multiple=True, help="Run only this rule (repeatable); see `--list`.")
@click.option("--no-data", is_flag=True, help="Run the spec rules only, without reading data.")
@click.option("--list", "list_only", is_flag=True, help="List the rules and what each checks.")
@click.pass_obj
def check(state: State, fmt: str, rules: tuple[str, ...], no_data: bool, list_only: bool) -> None:
    """Judge the North Star, tree, OMTMs and funnel against the method, from the spec and the data.

    Exit 0 when no finding is an error, 1 when one is (for CI), 2 when the spec is invalid.
    """
    from northstar.checks import RULES
    from northstar.checks.render import print_report, report_json, report_markdown

    if list_only:
        for rule in RULES.values():
            stdout.print(f"{rule.id:24} {rule.kind:5} {rule.summary}", markup=False, highlight=False)
        return
    project = state.project()
    project.debug = state.debug
    report = project.check(data=not no_data, only=rules)
    if fmt == "json":
        click.echo(report_json(report))
    elif fmt == "markdown":
        click.echo(report_markdown(report), nl=False)
    else:
        print_report(stdout, report)
    if report.has_errors:
        raise SystemExit(1)


@cli.command()
@click.argument("metrics", nargs=-1)
@click.option("--against", help="The revenue metric to lead (default: `checks.revenue` or a metric tagged revenue).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def candidates(state: State, metrics: tuple[str, ...], against: str | None, fmt: str) -> None:
    """Rank candidate North Stars (the METRICS given, or every fit metric) on your data."""
    import json

    from rich.table import Table

    report = state.project().candidates(metrics, against)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    table = Table(title=f"North Star candidates against '{report.against}' ({report.grain}ly growth)")
    for column in ("#", "metric", "score", "leads revenue", "leads retention", "noise", "reach", "segments",
                   "funnel", "penalties"):
        table.add_column(column, justify="right" if column in ("#", "score", "noise", "reach", "segments") else "left")
    for rank, c in enumerate(report.candidates, 1):
        funnel = f"{sum(c.funnel.values())}/{len(c.funnel)}" if c.funnel else "-"
        table.add_row(str(rank), c.metric, f"{c.score:.0f}", _lead_text(c.lead), _lead_text(c.retention_lead),
                      "-" if c.noise is None else f"{c.noise:.1%}", _pct(c.coverage.get("customers")),
                      _pct(c.coverage.get("segments")), funnel,
                      ", ".join(f"{p['rule']} (-{p['points']})" for p in c.penalties) or "-")
    stdout.print(table)
    stdout.print(report.summary, markup=False, highlight=False)


def _lead_text(found: object) -> str:
    if found is None:
        return "-"
    p = getattr(found, "p_value")
    return (f"lag {found.lag}, r={found.correlation:+.2f}"  # type: ignore[attr-defined]
            + (f", p={p:.3f}" if p is not None else ""))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
