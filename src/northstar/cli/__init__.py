"""The `northstar` command: thin Click layers over `northstar.Project`, one module per area."""

from northstar.cli.app import cli, main
from northstar.cli import core as _core  # noqa: F401  (registers the commands)
from northstar.cli import checks as _checks  # noqa: F401
from northstar.cli import discover as _discover  # noqa: F401
from northstar.cli import explain as _explain  # noqa: F401
from northstar.cli import cohorts as _cohorts  # noqa: F401
from northstar.cli import targets as _targets  # noqa: F401
from northstar.cli import web as _web  # noqa: F401
from northstar.cli import report as _report  # noqa: F401
from northstar.cli import alerts as _alerts  # noqa: F401
from northstar.cli import importers as _importers  # noqa: F401
from northstar.cli import annotate as _annotate  # noqa: F401

__all__ = ["cli", "main"]
