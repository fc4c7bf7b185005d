"""A spec with only sources, metrics and a North Star (no tree, funnel, focus, guardrails,
target or alerts) is valid: every command either answers or says in one line what it needs.

`report` once failed on such a spec with "unexpected UndefinedError: 'dict object' has no
attribute 'contributions'" (the template asked for a waterfall chart a spec without a tree
does not have), and `targets` said "no a target value".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile import SPEC, project_dir, run_cli

COMMANDS = [
    ("validate",), ("check",), ("tree",), ("explain",), ("query", "plays"), ("digest",),
    ("monitor", "--dry-run"), ("candidates",),
    ("report", "--out", "report.html"), ("report", "--out", "report.md"),
    ("funnel",), ("targets",), ("cohorts", "plays"), ("cohorts", "buyers"),
]
NEEDS = {  # what a command says it needs, when the spec does not have it
    "funnel": "`funnel:`",
    "targets": "no target value: pass --target VALUE --by DATE",
    "cohorts plays": "not an entity metric",
    "candidates": "no revenue metric to rank against: pass --against METRIC",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_dir(tmp_path_factory.mktemp("minimal"), SPEC)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_command_answers_or_says_what_it_needs(folder: Path, args: tuple[str, ...]) -> None:
    run = run_cli(folder, *args)
    words = " ".join(args[:2])
    assert "unexpected" not in run.err and "Traceback" not in run.err, run.err
    if words in NEEDS:
        assert run.code == 2 and NEEDS[words] in run.err and len(run.err.strip().splitlines()) == 1, run.err
        return
    assert run.code == 0, run.err
    if args[0] == "report":
        written = folder / args[2]
        assert written.stat().st_size > 0 and "Plays" in written.read_text(encoding="utf-8")
    else:
        assert run.out.strip(), f"{words}: no output"
