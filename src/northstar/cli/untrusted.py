"""`--untrusted` for `validate` and `check`: a spec from someone else (a fork's pull request in
CI) is checked for what could reach beyond its folder before any data is read, then its data
is read through a DuckDB confined to the spec's folder, without the result cache."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from northstar.errors import SpecError

if TYPE_CHECKING:
    from northstar.project import Project


def untrusted_project(spec_path: str) -> "Project":
    """The project of an untrusted spec; SpecError (each problem `file:line`) when the spec asks
    for files, functions or engines an untrusted spec may not use."""
    from northstar.engine.backends.duckdb import connect, sandbox
    from northstar.project import Project
    from northstar.spec.load import load_spec
    from northstar.spec.untrusted import untrusted_problems

    loaded = load_spec(spec_path)
    problems = untrusted_problems(loaded.spec, loaded.lines, loaded.base_dir)
    if problems:
        raise SpecError(problems)
    # A result cache beside the spec could have been planted with it: results are computed.
    engine = loaded.spec.engine.model_copy(update={"cache": False})
    loaded = dataclasses.replace(loaded, spec=loaded.spec.model_copy(update={"engine": engine}))
    backend = connect(engine, loaded.base_dir)
    sandbox(backend, loaded.base_dir)
    return Project(loaded, backend)
