"""The `discover` command: the method's 9 steps as a guide that writes `northstar.yml`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from northstar.cli.app import State, cli, stderr, stdout
from northstar.errors import NorthstarError, QueryError

T = TypeVar("T")


class TerminalAsker:
    """A person at a terminal: each step shows its question, the method's hint and the data's
    evidence; the proposal is the default, so Enter accepts it. A bad answer is asked again."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def show(self, step: Any, title: str, lines: Callable[[], list[str]]) -> None:
        from northstar.discover.steps import STEPS

        self.console.print()
        if step is None:
            self.console.rule(f"[bold]{title}[/bold]", align="left")
        else:
            self.console.rule(f"[bold]Step {step.number}/{len(STEPS)}: {title}[/bold]", align="left")
            self.console.print(step.hint, style="dim", markup=False, highlight=False)
            self.console.print(f"sets: {step.sets}", style="dim", markup=False, highlight=False)
        for line in lines():
            self.console.print(f"  {line}", markup=False, highlight=False)

    def ask(self, path: tuple[str | int, ...], prompt: str, default: str, parse: Callable[[Any], T]) -> T:
        def convert(value: Any) -> T:
            try:
                return parse(value)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None

        return click.prompt(prompt, default=default, value_proc=convert)


@cli.command()
@click.option("--data", metavar="PATH", multiple=True, help="The event data: a CSV, Parquet or JSON-lines file, "
              "or a glob; give it more than once for several files, each its own source (default: the first file "
              "source of the existing spec).")
@click.option("--answers", "answers_file", metavar="FILE", help="Answer the steps from a YAML file instead of "
              "asking (steps it does not answer take the proposal).")
@click.option("--yes", is_flag=True, help="Accept every proposal without asking.")
@click.pass_obj
def discover(state: State, data: tuple[str, ...], answers_file: str | None, yes: bool) -> None:
    """Find your North Star with the method's 9 steps; write or update the spec, then check it."""
    from northstar.discover import NO_ANSWERS, load_answers, run_discover

    answers = load_answers(answers_file) if answers_file else NO_ANSWERS
    interactive = not answers_file and not yes
    if interactive and not sys.stdin.isatty():
        raise QueryError("discover asks questions, but the input is not a terminal: pass --answers FILE or --yes")
    if interactive:
        stdout.print("[bold]Northstar discover[/bold]: the 9 steps to your North Star Metric. "
                     "Press Enter to accept a proposal.")
    result = run_discover(state.spec_path, list(data) or None, answers, TerminalAsker(stdout) if interactive else None,
                          state.north_star)
    decisions, changes = result.decisions, result.changes
    stdout.print()
    for note in decisions.notes:
        stdout.print(f"note: {note}", markup=False, highlight=False)
    stdout.print(f"{'wrote' if result.created else 'updated'} {result.path}: North Star '{decisions.north_star}' "
                 f"per {decisions.grain}, {len(changes.metrics)} metric(s) added", markup=False, highlight=False)
    _run_checks(state, result.path)


def _run_checks(state: State, path: Any) -> None:
    """Run `northstar check` on the written spec; its findings never change discover's exit code."""
    from northstar.checks import run_checks
    from northstar.checks.render import print_report
    from northstar.project import Project

    try:
        project = Project.load(path)
        project.debug = state.debug
        report = run_checks(project)
    except NorthstarError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        stderr.print(f"the spec is written, but the checks could not run: {first}; fix it and run "
                     "`northstar check`", style="yellow", markup=False, highlight=False)
        return
    print_report(stdout, report)
    if report.has_errors:
        stdout.print("The checks found errors (above): the spec is written; fix them and run `northstar check`.",
                     style="yellow", markup=False, highlight=False)
