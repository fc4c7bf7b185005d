"""The errors Northstar raises to its users.

Every problem a user can fix carries where it is (file and line) and what to do, so that the
CLI, the web app and the alerts can show it in one line without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (a driver's error can run to pages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Problem:
    """One problem found in a spec or its data: `file:line: message`."""

    message: str
    file: str | None = None
    line: int | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{prefix}{self.message}"


class NorthstarError(Exception):
    """Base class of the errors a user can act on (shown without a traceback)."""


class SpecError(NorthstarError):
    """The spec is invalid; `problems` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [p for p in problems if p.severity == "error"] or problems
        self.warnings = [p for p in problems if p.severity == "warning"]
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(NorthstarError):
    """The data behind a source cannot be read or has the wrong shape."""


class QueryError(NorthstarError):
    """A query names something that does not exist or asks for something impossible."""


class FilterError(QueryError):
    """The caller's own filter (`--where`, the API's `where`) does not fit the columns or fails
    on the data (a CAST of text that is not a number): the caller's mistake (exit 2, HTTP 400),
    where a failure the spec or the data causes is a DataError."""
