"""The Click group, consoles and error handling shared by every command module."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click
from rich.console import Console

from northstar.errors import NorthstarError, QueryError, SpecError

FORMATS = click.Choice(["table", "csv", "json"])


def _console(err: bool = False) -> Console:
    probe = Console(stderr=err, soft_wrap=True)
    # Piped output gets a wide console (tables are not cut at 80 columns) and never wraps
    # a message: one error stays one line.
    return probe if probe.is_terminal else Console(stderr=err, width=200, soft_wrap=True)


stdout = _console()
stderr = _console(err=True)


class State:
    def __init__(self, spec: str, debug: bool, north_star: str | None = None) -> None:
        self.spec_path = spec
        self.debug = debug
        self.north_star = north_star  # the North Star to work on (`--north-star`); None: the primary

    def project(self) -> Any:
        """The spec's Project, for the North Star of `--north-star` (unknown: a one-line error)."""
        from northstar.project import Project

        return Project.load(self.spec_path).for_north_star(self.north_star)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--spec", default="northstar.yml", show_default=True, help="The spec file.")
@click.option("--north-star", "north_star", metavar="NAME", default=None,
              help="With several North Stars (`north_stars:` in the spec): the one to work on, by its name. "
                   "Default: the primary.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="northstar-metric", prog_name="northstar")
@click.pass_context
def cli(ctx: click.Context, spec: str, north_star: str | None, debug: bool) -> None:
    """Northstar: your North Star Metric, its tree, focus metrics and guardrails, as code."""
    ctx.obj = State(spec, debug, north_star)


def main(argv: list[str] | None = None) -> None:
    """Entry point: our errors become one red line and an exit code; tracebacks need --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="northstar", standalone_mode=False)
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        stderr.print("aborted", style="red")
        raise SystemExit(1) from None
    except NorthstarError as exc:
        if debug:
            traceback.print_exc()
        for line in str(exc).splitlines() or [type(exc).__name__]:
            stderr.print(f"error: {line}", style="red", markup=False, highlight=False)
        raise SystemExit(2 if isinstance(exc, SpecError | QueryError) else 1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if debug:
            traceback.print_exc()
        else:
            stderr.print(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
                         style="red", markup=False, highlight=False)
        raise SystemExit(1) from None

