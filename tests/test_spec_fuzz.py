"""The spec fuzzer (issue 13): hypothesis mutates the real specs (tests/sparkify.yml, the demo
spec, every template, and the small CSV project of tests/hostile.py with its data) and asserts
that each mutant either loads and validates or fails with `NorthstarError` lines that name the
file, hold no traceback and no "unexpected"/"internal" text, within a few seconds and without
the process growing past a bound.

The CI run is short (about 30 s); `NORTHSTAR_FUZZ=long` runs many more examples on demand.
Counts are printed at the end of each test (`pytest -s`): tried, clean errors, valid.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from hostile import SPEC, project_dir

ROOT = Path(__file__).resolve().parents[1]
BASES = {
    "sparkify": (Path(__file__).with_name("sparkify.yml")).read_text(encoding="utf-8"),
    "demo": (ROOT / "src" / "northstar" / "demo" / "northstar.yml").read_text(encoding="utf-8"),
    **{f"template:{p.stem}": p.read_text(encoding="utf-8")
       for p in sorted((ROOT / "src" / "northstar" / "templates").glob("*.yml"))},
}
LONG = os.environ.get("NORTHSTAR_FUZZ") == "long"
SPEC_EXAMPLES = 3_000 if LONG else 150
DATA_EXAMPLES = 400 if LONG else 25
SECONDS = 10.0  # one example: load, validate (and with data: read it)
MAX_GROWTH_MB = 1_000  # how much the fuzzing may raise the process's peak memory

# The CLI's wrapper for an exception it did not expect says "unexpected SomethingError"; the
# YAML parser's own "found unexpected end of stream" is a clean message.
_BAD = re.compile(r"Traceback|unexpected \w*(Error|Exception)\b|internal error|RecursionError|OverflowError|"
                  r"MemoryError|object has no attribute|NoneType")

HOSTILE_VALUES = [
    None, "", "~", -1, 0, 10**400, -10**30, 1e308, math.inf, -math.inf, math.nan, True, [], {}, [[[]]],
    "'a'", "-1", "1%0", "1 % 0 = 1", "TRY_CAST(x AS int) > 1", "CAST(event AS int)", "a" * 5_000,
    "x\x00y", "\u202e", "DATE '2024-01-01'", "9999-12-31", "0001-01-01", "99999999999999w", "0s", "lots",
    100_000, "read_csv('/etc/hostname')", "SELECT * FROM read_csv('/etc/hostname')", "../../etc/passwd",
    "/etc/hostname", "*", "x IN (" + ", ".join(str(i) for i in range(2_000)) + ")",
    " OR ".join(["a = 1"] * 3_000), "(" * 300 + "1" + ")" * 300, {"<<": 1}, {"a": {"b": {"c": None}}},
]
HOSTILE_LINES = [
    "~: 1", "? [a, b]\n: 1", "a: &x [1]\nb: *x", "<<: *nothing", "- stray", "\t tab: 1", "key: 'unclosed",
    "key: [1, 2", "!!python/object:os.system ls", "!!binary AAAA", "a: !!float nan", "%YAML 9.9", "---",
    "...", "x: |\n  block", "\x00", "\ufeff", "# " + "c" * 10_000,
    'a: &a ["l","l","l","l","l","l","l","l","l"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
]
COUNTS: dict[str, Counter] = {"spec": Counter(), "data": Counter()}


def _peak_mb() -> float:
    """The process's peak resident size (it only grows: other tests in the session may have
    set it; the bound is on how much the fuzzing adds)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


START_PEAK_MB = {"before": 0.0}


@pytest.fixture(autouse=True)
def _peak_before_each_test() -> None:
    """The bound is on what one fuzzing test adds to the peak, so it is read when the test
    starts: read at import, it counted what the rest of the suite (Spark, the demos) had added
    meanwhile (1,183 MB in a full run)."""
    START_PEAK_MB["before"] = _peak_mb()


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, path + (index,))
    return found


def _set(document: object, path: tuple, value: object, delete: bool = False) -> object:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]  # type: ignore[index]
    if delete:
        del parent[path[-1]]  # type: ignore[attr-defined]
    else:
        parent[path[-1]] = value  # type: ignore[index]
    return document


def _dump(document: object) -> str:
    import io

    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.width = 10**6
    yaml.dump(document, out)
    return out.getvalue()


@st.composite
def mutants(draw: st.DrawFn, bases: dict[str, str]) -> str:
    """A base spec with one to three mutations: of its data (a value replaced by a hostile
    one, a key deleted or added) or of its text (a hostile line inserted, a cut, bytes)."""
    name = draw(st.sampled_from(sorted(bases)))
    text = bases[name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "value", "delete", "add", "line", "cut", "chars"]))
        if kind in ("value", "delete", "add"):
            try:
                document = YAML(typ="safe", pure=True).load(text)
            except Exception:
                kind = "line"
            else:
                paths = _paths(document)
                path = draw(st.sampled_from(paths))
                if kind == "delete" and path:
                    document = _set(document, path, None, delete=True)
                elif kind == "add" and (containers := [p for p in paths if isinstance(_get(document, p), dict)]):
                    target = draw(st.sampled_from(containers))
                    key = draw(st.sampled_from(["metric", "where", "zzz", "type", "source", "agg", "1", "true"]))
                    _get(document, target)[key] = draw(st.sampled_from(HOSTILE_VALUES))
                else:
                    document = _set(document, path, draw(st.sampled_from(HOSTILE_VALUES)))
                text = _dump(document)
                continue
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        if kind == "line":
            indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
            lines.insert(at, indent + draw(st.sampled_from(HOSTILE_LINES)))
            text = "\n".join(lines) + "\n"
        elif kind == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        else:
            junk = draw(st.text(min_size=1, max_size=8))
            position = draw(st.integers(0, len(text)))
            text = text[:position] + junk + text[position:]
    return text


def _get(document: object, path: tuple) -> object:
    for step in path:
        document = document[step]  # type: ignore[index]
    return document


def _judge(folder: Path, text: str, data: bool, counts: Counter) -> None:
    """Load and validate `text` as folder/northstar.yml: valid, or clean NorthstarError lines."""
    from northstar.errors import NorthstarError
    from northstar.project import Project

    spec = folder / "northstar.yml"
    spec.write_bytes(text.encode("utf-8", errors="replace"))  # a lone surrogate from hypothesis: "?"
    counts["tried"] += 1
    started = time.perf_counter()
    try:
        project = Project.load(spec)
        problems = project.validate(data=data)
    except NorthstarError as exc:
        message = str(exc)
        assert message.strip(), "an empty error"
        assert not _BAD.search(message), message
        assert all(line.strip() for line in message.splitlines()), message
        counts["clean errors"] += 1
    except Exception as exc:  # anything else is what the fuzzer is here to find
        counts["internal errors"] += 1
        raise AssertionError(f"internal error {type(exc).__name__}: {exc}\n--- spec ---\n{text[:3000]}") from exc
    else:
        for problem in problems:
            assert not _BAD.search(problem.message), problem.message
            assert "\n" not in problem.message.strip(), problem.message
        counts["clean errors" if any(p.severity == "error" for p in problems) else "valid"] += 1
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"{elapsed:.1f} s for\n{text[:2000]}"
    grown = _peak_mb() - START_PEAK_MB["before"]
    assert grown < MAX_GROWTH_MB, f"the process's peak grew by {grown:.0f} MB"



@settings(max_examples=SPEC_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(text=mutants(BASES))
# what the fuzzer found, kept as fixed examples: the alias bomb, a key with '[', a 300-character
# time zone, two bad entries of one list, a NaN target, a null key
@example(text=BASES["sparkify"] + HOSTILE_LINES[-1] + "\n")
@example(text=BASES["sparkify"] + "c[hecks: null\n")
@example(text=BASES["sparkify"].replace("timezone: UTC", "timezone: '" + "(" * 300 + "'"))
@example(text=BASES["sparkify"].replace("\nguardrails:", "  - {team: null, metric: upgrades}\n  - {team: B, metric: null}\n"
                                        "\nguardrails:"))
@example(text=BASES["sparkify"].replace("grain: week  ", "target: {value: .nan, by: 2019-01-01}\n  grain: week  "))
@example(text=BASES["sparkify"].replace("  upgrades:", "  ~:\n    source: events\n    agg: count\n  upgrades:"))
def test_mutated_real_specs_load_or_fail_cleanly(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    _judge(folder, text, data=False, counts=COUNTS["spec"])


@settings(max_examples=DATA_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(text=mutants({"hostile": SPEC}))
def test_mutated_specs_with_their_data_validate_or_fail_cleanly(tmp_path_factory: pytest.TempPathFactory,
                                                                text: str) -> None:
    folder = project_dir(tmp_path_factory.mktemp("fuzzdata"), SPEC)
    _judge(folder, text, data=True, counts=COUNTS["data"])


def test_report_counts() -> None:
    """Runs last in this file: prints what the fuzzers tried (for the figures in docs/contributing/tests.md)."""
    for name, counts in COUNTS.items():
        if counts["tried"]:
            print(f"\nspec fuzzer ({name}): " + json.dumps(dict(counts)))
            assert counts["internal errors"] == 0
