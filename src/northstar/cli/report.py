"""`northstar report`: the weekly North Star review as one HTML file or a short Markdown text."""

from __future__ import annotations

from pathlib import Path

import click

from northstar.cli.app import State, cli, stdout
from northstar.errors import NorthstarError


class ReportError(NorthstarError):
    """The review cannot be written where `--out` says."""


@cli.command()
@click.option("--period", help="A date in the period to review (default: the last complete period).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write, or - for stdout (default: northstar-report-<period>.html or .md; "
                   "Markdown without --out goes to stdout).")
@click.option("--format", "fmt", type=click.Choice(["html", "markdown"]), default="html", show_default=True)
@click.option("--where", help="Only the customers matching a filter on dimensions, e.g. \"country = 'DE'\" "
              "(same review period as the whole; a source without the dimension is refused).")
@click.option("--lang", default="en", show_default=True, help="The review's language: en, nl or sv.")
@click.pass_obj
def report(state: State, period: str | None, out: Path | None, fmt: str, lang: str, where: str | None) -> None:
    """The weekly North Star review: value, change, why, tree, guardrails, OMTMs, checks, history."""
    from northstar.fileio import write_atomic
    from northstar.report import build_report, check_lang, default_filename, render

    check_lang(lang)  # before any computing: a wrong language is a one-line error
    result = build_report(state.project().where(where), period=period, lang=lang)
    content = render(result, fmt)
    if (fmt == "markdown" and out is None) or str(out) == "-":
        click.echo(content, nl=False)
        return
    path = out or Path(default_filename(result, fmt))
    try:
        write_atomic(path, content)
    except OSError as exc:  # a folder that cannot be made or written: say where, not "unexpected"
        raise ReportError(f"--out: cannot write {path}: {exc.strerror or exc}") from None
    stdout.print(f"wrote {path} ({result.north_star.label}, {result.period.isoformat()})", markup=False,
                 highlight=False)
