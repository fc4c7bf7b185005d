"""A corpus of bad data files (issue 13, findings 10 and 11): each gives a clear one-line error
naming the source (and the row where one is to blame) or an answer, never an internal error,
within seconds; rows without a time are counted and named by `validate`.

Expected counts are computed from the rows written here, with plain Python.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hostile import EVENTS, HEADER, SPEC, assert_clean_error, csv_text, make_events, project_dir, run_cli


def _rows(change) -> str:  # type: ignore[no-untyped-def]
    rows = [list(r) for r in make_events(blank_every=0)]
    change(rows)
    return csv_text(rows)


def _set(index: int, column: int, value: str):  # type: ignore[no-untyped-def]
    def change(rows: list[list[str]]) -> None:
        rows[index][column] = value
    return change


def _ragged(index: int, extra: bool):  # type: ignore[no-untyped-def]
    def change(rows: list[list[str]]) -> None:
        rows[index] = rows[index] + ["x"] if extra else rows[index][:-1]
    return change


# name -> (file content, what the error must say; None: any clean outcome, success included)
CORPUS: dict[str, tuple[str | bytes, tuple[str, ...] | None]] = {
    "year 1": (_rows(_set(10, 0, "0001-01-03 10:00:00")), ("column 'ts' holds 0001-01-03", "outside")),
    "year 9999": (_rows(_set(10, 0, "9999-12-30 10:00:00")), ("column 'ts' holds 9999-12-30", "outside")),
    "a row with a field too many": (_rows(_ragged(500, True)), ("events.csv line 502 has 5 fields", "header has 4")),
    "a row with a field too few": (_rows(_ragged(7, False)), ("events.csv line 9 has 3 fields",)),
    "empty file": ("", ("empty",)),
    "header only": (",".join(HEADER) + "\n", ("the data",)),
    "binary junk": (bytes(range(256)) * 40, ("binary",)),
    "NUL bytes in a row": (_rows(_set(3, 2, "pl\x00ay")), None),
    "text in the amount column": (_rows(_set(5, 3, "twelve")), None),
    "a 400-digit amount": (_rows(_set(5, 3, "9" * 400)), None),
    "1e400 amount": (_rows(_set(5, 3, "1e400")), None),
    "a date that is not one": (_rows(_set(4, 0, "yesterday")), None),
    "latin-1 text": (_rows(_set(6, 2, "caf\xe9")).encode("latin-1"), None),
    "one column only": ("ts\n2024-01-02\n2024-01-03\n", None),
    "CRLF line ends": (_rows(lambda rows: None).replace("\n", "\r\n"), None),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_data_gives_a_clean_answer_or_a_clean_error(tmp_path: Path, name: str) -> None:
    content, needles = CORPUS[name]
    project = project_dir(tmp_path, SPEC, content)
    for command in (["validate"], ["query", "plays", "--grain", "month"], ["query", "amount", "--format", "json"]):
        started = time.perf_counter()
        run = run_cli(project, *command)
        assert time.perf_counter() - started < 30, (name, command)
        if needles is None:
            if run.code != 0:
                assert_clean_error(run)
            continue
        if command == ["validate"]:
            assert_clean_error(run, "source 'events'", *needles, code=2)
        else:
            assert_clean_error(run, *needles)


def test_rows_without_a_time_are_counted_by_validate(tmp_path: Path) -> None:
    """1,200 of 60,000 rows without a time were dropped without a word; validate now names
    how many (a warning: the spec is still valid), counted here from the rows."""
    missing = sum(1 for r in EVENTS if not r[0])
    assert missing > 0
    run = run_cli(project_dir(tmp_path, SPEC), "validate")
    assert run.code == 0, run.err
    assert "valid" in run.out
    assert (f"northstar.yml:6: warning: source 'events': {missing:,} of {len(EVENTS):,} rows "
            f"({missing / len(EVENTS):.1%}) have no time") in run.err


def test_no_warning_when_every_row_has_a_time(tmp_path: Path) -> None:
    run = run_cli(project_dir(tmp_path, SPEC, csv_text(make_events(blank_every=0))), "validate")
    assert run.code == 0 and "have no time" not in run.err, run.err


def test_the_real_sparkify_events_have_every_time(tmp_path: Path) -> None:
    """On the real Sparkify events (every row timed, counted here with json) no warning."""
    import json

    from conftest import SPARKIFY_EVENTS, SPARKIFY_SPEC

    with SPARKIFY_EVENTS.open() as handle:
        untimed = sum(1 for line in handle if json.loads(line).get("ts") is None)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.jsonl").symlink_to(SPARKIFY_EVENTS)
    (tmp_path / "northstar.yml").write_text(SPARKIFY_SPEC.read_text())
    run = run_cli(tmp_path, "validate")
    assert run.code == 0, run.err
    assert ("have no time" in run.err) == (untimed > 0)


def test_rows_without_a_time_do_not_hide_the_other_time_warnings(tmp_path: Path) -> None:
    """The count of rows without a time was returned instead of the other warnings on the time
    column: dates the CSV reader guessed day-first (01/02/2024) went unsaid once a row had no time."""
    rows = [[f"{d:02d}/{m:02d}/2024 10:00:00", f"u{d}", "play", "3"] for m in range(1, 7) for d in range(1, 13)]
    rows.append(["", "u1", "play", "1"])
    run = run_cli(project_dir(tmp_path, SPEC, csv_text(rows)), "validate")
    assert run.code == 0, run.err
    assert "1 of 73 rows" in run.err
    assert "01/02" in run.err or "day" in run.err, run.err
    assert len(run.err.strip().splitlines()) == 2, run.err
