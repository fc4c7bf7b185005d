"""A fast start (issue 14): the commands that need no data load no heavy library.

A property, not a timing: `northstar --help`, every command's `--help` and `validate --no-data`
run in a fresh interpreter that then lists the modules it imported; none of pandas, NumPy,
Ibis, DuckDB, SciPy, PyArrow, Plotly or the web stack may be among them. (bench/startup_bench.py
measures the time itself.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "ibis", "duckdb", "scipy", "pyarrow", "plotly", "fastapi", "starlette", "uvicorn",
         "jinja2")

# Runs `northstar ARGS` for each ARGS given (a JSON list of argument lists) in this one process,
# then writes each run's exit code and output, and the modules imported, to the file given.
RUNNER = """
import contextlib, io, json, sys
from northstar.cli import main
runs = []
for args in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
    runs.append({"args": args, "code": code, "out": out.getvalue(), "err": err.getvalue()})
with open(sys.argv[1], "w") as f:
    json.dump({"runs": runs, "modules": sorted(sys.modules)}, f)
"""

SPEC = """\
project: Tiny
sources:
  events:
    path: data/events.csv
    timestamp: ts
    entity: user_id
metrics:
  minutes:
    source: events
    agg: sum
    expr: seconds / 60
  listeners:
    source: events
    agg: count_distinct
  minutes_per_listener:
    formula: minutes / listeners
north_star:
  metric: minutes
  grain: week
  tree:
    minutes:
      formula: listeners * minutes_per_listener
"""


def run_cli(tmp_path: Path, *runs: list[str]) -> tuple[list[dict], list[str]]:
    """Each run's exit code and output, and the modules the interpreter imported for them all."""
    result = tmp_path / "result.json"
    subprocess.run([sys.executable, "-c", RUNNER, str(result), json.dumps(list(runs))], cwd=tmp_path, check=True,
                   timeout=120)
    data = json.loads(result.read_text())
    return data["runs"], data["modules"]


def heavy_in(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def commands_of(help_text: str) -> list[str]:
    """The command names listed under `Commands:` in `northstar --help`."""
    listing = help_text.split("Commands:", 1)[1]
    return re.findall(r"^  (\S+)", listing, flags=re.MULTILINE)


def test_help_loads_no_heavy_library(tmp_path: Path) -> None:
    [run], modules = run_cli(tmp_path, ["--help"])
    assert run["code"] == 0 and "Commands:" in run["out"], run
    assert heavy_in(modules) == []


def test_every_commands_help_works_and_stays_light(tmp_path: Path) -> None:
    [top], _ = run_cli(tmp_path, ["--help"])
    names = commands_of(top["out"])
    from northstar.cli import cli

    assert names == sorted(cli.commands)  # the listing parsed is the whole command tree
    runs, modules = run_cli(tmp_path, *[[name, "--help"] for name in names])
    for name, run in zip(names, runs):
        assert run["code"] == 0, run
        assert run["out"].startswith(f"Usage: northstar {name} "), run
    assert heavy_in(modules) == []


def test_validate_no_data_loads_no_engine(tmp_path: Path) -> None:
    (tmp_path / "northstar.yml").write_text(SPEC)
    [run], modules = run_cli(tmp_path, ["validate", "--no-data"])
    assert run["code"] == 0, run
    assert "northstar.yml: valid (3 metrics, 1 sources)" in run["out"]
    assert heavy_in(modules) == []


def test_validate_no_data_still_reports_every_problem(tmp_path: Path) -> None:
    (tmp_path / "northstar.yml").write_text(SPEC.replace("formula: minutes / listeners", "formula: minutes / listenrs"))
    [run], modules = run_cli(tmp_path, ["validate", "--no-data"])
    assert run["code"] == 2, run
    assert "northstar.yml:" in run["err"] and "listenrs" in run["err"] and "listeners" in run["err"], run
    assert heavy_in(modules) == []


def test_import_northstar_is_light_and_its_public_names_resolve(tmp_path: Path) -> None:
    script = ("import json, sys, northstar\n"
              "light = sorted(sys.modules)\n"
              "names = {n: type(getattr(northstar, n)).__name__ for n in northstar.__all__}\n"
              "from northstar import Project, SpecError\n"
              "print(json.dumps({'light': light, 'names': names, 'dir': sorted(set(northstar.__all__) - set(dir(northstar)))}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(done.stdout)
    assert heavy_in(data["light"]) == []
    assert data["names"]["Project"] == "type" and data["names"]["__version__"] == "str"
    assert set(data["names"]) == {"DataError", "NorthstarError", "Problem", "Project", "QueryError", "SpecError",
                                  "__version__"}
    assert data["dir"] == []
    import northstar

    with pytest.raises(AttributeError, match="no attribute 'Projet'"):
        northstar.Projet  # noqa: B018
