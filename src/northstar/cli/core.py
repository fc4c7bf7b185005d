"""Core commands: validate, query, tree, init, demo."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from northstar.cli.app import FORMATS, State, cli, stderr, stdout
from northstar.errors import QueryError


@cli.command()
@click.option("--no-data", is_flag=True, help="Check the spec only, without reading data.")
@click.option("--untrusted", is_flag=True, help="The spec is not yours (a fork's pull request): refuse file and "
              "system functions in `sql:`, paths outside its folder and server engines, then read its data "
              "through a DuckDB confined to its folder.")
@click.pass_obj
def validate(state: State, no_data: bool, untrusted: bool) -> None:
    """Check the spec (and its data): exit 0 when valid, 2 with the errors otherwise."""
    if no_data and not untrusted:
        # The spec alone (what `Project.validate(data=False)` returns): no engine is loaded, so
        # neither is pandas, Ibis or DuckDB, and the answer comes at once (issue 14).
        from northstar.spec.load import load_spec

        loaded = load_spec(state.spec_path)
        spec, problems = loaded.spec.for_north_star(state.north_star), list(loaded.warnings)
    else:
        from northstar.cli.untrusted import untrusted_project

        project = untrusted_project(state.spec_path).for_north_star(state.north_star) if untrusted else state.project()
        spec, problems = project.spec, project.validate(data=not no_data)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        stderr.print(str(problem), style="red" if problem.severity == "error" else "yellow", markup=False,
                     highlight=False)
    if errors:
        raise SystemExit(2)
    stdout.print(f"{state.spec_path}: valid ({len(spec.metrics)} metrics, "
                 f"{len(spec.sources)} sources)", markup=False, highlight=False)


@cli.command()
@click.argument("metrics", nargs=-1, required=True)
@click.option("--grain", type=click.Choice(["day", "week", "month", "quarter", "year"]), help="Default: the North Star's.")
@click.option("--by", "by", multiple=True, help="Break down by a dimension (repeatable).")
@click.option("--where", help="Filter on dimensions, e.g. \"country = 'NL'\".")
@click.option("--from", "start", help="First period (YYYY-MM-DD): the period containing it.")
@click.option("--to", "end", help="Last period (YYYY-MM-DD): periods starting on or before it.")
@click.option("--compare", is_flag=True, help="Add the previous period and the same period last year.")
@click.option("--window", help="A rolling window instead of periods: 7d, 28d, mtd or qtd, to the data's last "
              "complete day, with the window before and the same window a year before.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_obj
def query(state: State, metrics: tuple[str, ...], grain: str | None, by: tuple[str, ...], where: str | None,
          start: str | None, end: str | None, compare: bool, window: str | None, fmt: str) -> None:
    """Metric values per period: `period`, `period_status` (complete, partial: the data begins or ends
    inside the period, provisional: a conversion's window has not passed yet, no data), the --by
    dimensions, one column per metric."""
    from northstar import output
    from northstar.limits import query_range

    project = state.project()
    if window is not None:
        _window_query(project, metrics, grain, by, where, start, end, compare, window, fmt)
        return
    # clipped to the data, and at most limits.MAX_ROWS rows: a one-line error past it
    first, last = query_range(project, metrics, grain, by, where, start, end, compare)
    frame = project.query(list(metrics), grain=grain, by=list(by), where=where, start=first, end=last,
                          compare=compare)
    if not len(frame):  # never a bare header: say what the data covers
        coverage = project.coverage(list(metrics))
        span = (f"the data covers {coverage.first_day.isoformat()} to {coverage.last_day.isoformat()}"
                if coverage is not None else "the data holds no events")
        raise QueryError(f"--from/--to: no period from {start or 'the start'} to {end or 'the end'} has data: {span}")
    frame = project.with_status(frame, list(metrics), grain)
    if fmt == "json":
        click.echo(output.frame_json(frame))
    elif fmt == "csv":
        click.echo(output.frame_csv(frame), nl=False)
    else:
        stdout.print(output.frame_table(frame))


def _window_query(project: object, metrics: tuple[str, ...], grain: str | None, by: tuple[str, ...],
                  where: str | None, start: str | None, end: str | None, compare: bool, window: str,
                  fmt: str) -> None:
    """`query --window`: rows current, previous, last_year with their first and last day."""
    from northstar import output

    frame = project.query(list(metrics), grain=grain, by=list(by), where=where, start=start,  # type: ignore[attr-defined]
                          end=end, compare=compare, window=window)
    if fmt == "json":
        click.echo(output.frame_json(frame))
    elif fmt == "csv":
        click.echo(output.frame_csv(frame), nl=False)
    else:
        windows = project.rolling(window)  # type: ignore[attr-defined]
        stdout.print(f"{windows.description()}; a year before: {windows.last_year.label()}"
                     + ("" if windows.last_year.available else f" ({windows.last_year.reason})"),
                     markup=False, highlight=False)
        stdout.print(output.frame_table(frame))


@cli.command()
@click.option("--period", help="A date in the period to show (default: the last complete period).")
@click.option("--where", help="Only the customers matching a filter on dimensions, e.g. \"country = 'DE'\" "
              "(same review period as the whole; a source without the dimension is refused).")
@click.option("--window", help="A rolling window instead of the period: 7d, 28d, mtd or qtd, to the data's last "
              "complete day, against the window before.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def tree(state: State, period: str | None, where: str | None, window: str | None, fmt: str) -> None:
    """The North Star and its tree: value, previous value, change and owner of each node."""
    from northstar import output

    report = state.project().where(where).tree(period, window=window)
    if fmt == "json":
        click.echo(output.tree_json(report))
    else:
        output.print_tree(stdout, report)


@cli.command()
@click.option("--template", default="media_streaming", show_default=True,
              help="Sector template: see `northstar init --list`.")
@click.option("--preset", default=None, help="Data an event exporter wrote: segment, rudderstack, hightouch, ga4, "
              "posthog, amplitude or snowplow (instead of a sector template).")
@click.option("--list", "list_only", is_flag=True, help="List the templates and presets.")
@click.option("--force", is_flag=True, help="Overwrite an existing spec.")
@click.pass_obj
def init(state: State, template: str, preset: str | None, list_only: bool, force: bool) -> None:
    """Write a commented starting spec for your sector, or for an event export."""
    from northstar.spec.presets import PRESETS
    from northstar.templates import TEMPLATES, template_text
    from northstar.templates.presets import preset_template_text
    from northstar.fileio import write_atomic

    if list_only:
        for name, summary in TEMPLATES.items():
            stdout.print(f"{name:18} {summary}", markup=False, highlight=False)
        for name, row in PRESETS.items():
            stdout.print(f"--preset {name:9} {row.title}", markup=False, highlight=False)
        return
    # an unknown template or preset is reported before anything else
    text = preset_template_text(preset) if preset else template_text(template)
    origin = f"preset '{preset}'" if preset else f"template '{template}'"
    target = Path(state.spec_path)
    if target.exists() and not force:
        raise QueryError(f"{target} exists; pass --force to overwrite it, or -f to write another file")
    write_atomic(target, text)
    stdout.print(f"wrote {target} from {origin}: point its sources at your data, then run "
                 "`northstar validate`", markup=False, highlight=False)


@cli.command()
@click.option("--dir", "directory", default="northstar-demo", show_default=True, help="Where to write the demo.")
@click.option("--users", default=5000, show_default=True, type=click.IntRange(50, 5_000_000))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--serve", "serve_after", is_flag=True, help="Then serve its dashboard (like `northstar serve`).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="With --serve: the port (default 8000).")
@click.pass_obj
def demo(state: State, directory: str, users: int, seed: int, serve_after: bool, port: int | None) -> None:
    """Generate a demo music-streaming product, its data and spec, and show its North Star."""
    from northstar import output
    from northstar.demo import generate_demo
    from northstar.project import Project
    from northstar.summary import print_overview

    out = Path(directory)
    with stderr.status(f"generating {users:,} users of demo data in {out}/ ..."):
        summary = generate_demo(out, users=users, seed=seed)
    stdout.print(f"[bold]Demo written to {out}/[/bold]: {summary.events:,} events of {summary.users:,} users, "
                 f"{summary.start} to {summary.end}. Spec: {out / 'northstar.yml'}")
    project = Project.load(out / "northstar.yml")
    output.print_tree(stdout, project.tree())
    print_overview(stdout, project)
    command = "northstar"
    script = Path(sys.argv[0])
    if script.name == "northstar" and shutil.which("northstar") != str(script.resolve()) and script.exists():
        command = str(script.resolve())  # not on PATH (e.g. .venv/bin/northstar): say the full path
    stdout.print(f"\nNext: cd {out} && {command} check   (is listening minutes a good North Star?)\n"
                 f"      {command} query listening_minutes --grain week --by platform\n"
                 f"      {command} --north-star podcasts tree   (the second product line's North Star)",
                 markup=False, highlight=False)
    if serve_after:
        from northstar.cli.web import run_server

        run_server(out / "northstar.yml", port=port)


@cli.command()
@click.option("--since", help="Count every stored period from this date (YYYY-MM-DD) on as changed.")
@click.option("--full", is_flag=True, help="Forget everything stored and compute from the raw data.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def refresh(state: State, since: str | None, full: bool, fmt: str) -> None:
    """Bring the stored results up to date with new data (only the periods it touches), ahead of
    the day's commands and pages: the tree, the overview, explain, a monitor pass, the checks
    (for every North Star of the spec, unless --north-star names one)."""
    import json

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    project = state.project()
    # a bar on a terminal only: a pipe or a log gets the summary alone
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=stderr, disable=not stderr.is_terminal, transient=True) as bar:
        task = bar.add_task("refreshing", total=1)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=f"refreshing: {step}", completed=done, total=total)

        report = project.refresh(since=since, full=full, progress=progress, every=state.north_star is None)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    data = report.to_dict()
    how = "everything computed again (--full)" if full else (
        f"periods from {data['since']} on computed again" if since else "only what changed computed")
    stdout.print(f"refreshed in {data['total_seconds']:.1f} s (review period: the {data['review']}): {how}",
                 markup=False, highlight=False)
    for step, seconds in data["seconds"].items():
        stdout.print(f"  {step:<9} {seconds:6.2f} s", markup=False, highlight=False)
    if data["scanned"]:
        by_source: dict[str, list[dict]] = {}
        for scan in data["scanned"]:
            by_source.setdefault(scan["source"], []).append(scan)
        for name, scans in by_source.items():
            first, last = min(s["first"] for s in scans), max(s["last"] for s in scans)
            times = "once" if len(scans) == 1 else f"{len(scans)} times"
            stdout.print(f"  scanned {name} {times}: periods {first} to {last}", markup=False, highlight=False)
    else:
        stdout.print("  nothing scanned: every result was up to date", markup=False, highlight=False)
    for line in data["recomputed_in_full"]:
        stdout.print(f"  recomputed in full: {line}", markup=False, highlight=False)
