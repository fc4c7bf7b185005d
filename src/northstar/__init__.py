"""Northstar: the North Star Metric framework as code.

    from northstar import Project
    project = Project.load("northstar.yml")
    project.query(["listening_minutes"], grain="week")

The public names are imported on first use (PEP 562), so `import northstar` (and the
`northstar` command, whose package sits below it) does not load pandas, Ibis or DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from northstar.errors import DataError, NorthstarError, Problem, QueryError, SpecError
    from northstar.project import Project

__version__ = "0.1.0"
__all__ = ["DataError", "NorthstarError", "Problem", "Project", "QueryError", "SpecError", "__version__"]

_LAZY = {"DataError": "northstar.errors", "NorthstarError": "northstar.errors", "Problem": "northstar.errors",
         "QueryError": "northstar.errors", "SpecError": "northstar.errors", "Project": "northstar.project"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'northstar' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
