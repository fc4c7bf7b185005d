"""Timestamps in the wild through the real command line: each column that cannot be read as
declared is one line naming the source, the column, a sample value and what would read it,
with a non-zero exit, from `validate`, `query` (also with `--from`) and `tree` alike; each
form that can be read gives the periods Python's own parsing gives.

Regression tests for the issue's four reports: a yyyymmdd integer column (advised to add
`time_unit`, then an internal AttributeError, and `query --from` printing only a header),
epoch milliseconds declared as seconds ("year 43747 is out of range"), day-first and RFC 2822
text (unreadable), and `time_unit: us` / `ns` (always failed).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

# Events of 2011-2012 at awkward times: the last second of a month, midnight, a leap day.
INSTANTS = [dt.datetime(2011, 10, 11, 19, 50, 34), dt.datetime(2011, 10, 31, 23, 59, 59),
            dt.datetime(2011, 11, 1, 0, 0, 0), dt.datetime(2011, 11, 5, 8, 5, 1),
            dt.datetime(2012, 2, 29, 12, 0, 0), dt.datetime(2012, 12, 31, 23, 59, 59)]
MONTHS = Counter(dt.date(i.year, i.month, 1) for i in INSTANTS)


def spec(source_extra: str = "") -> str:
    return f"""\
project: Wild times
sources:
  events:
    path: events.csv
    timestamp: ts
    entity: user
{source_extra}metrics:
  events:
    source: events
    agg: count
north_star:
  metric: events
  grain: month
"""


def project(tmp_path: Path, cells: list[object], source_extra: str = "") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ts", "user"])
    writer.writerows([cell, f"u{index % 3}"] for index, cell in enumerate(cells))
    (tmp_path / "events.csv").write_text(buffer.getvalue(), encoding="utf-8")
    (tmp_path / "northstar.yml").write_text(spec(source_extra), encoding="utf-8")
    return tmp_path


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    env["NORTHSTAR_CACHE"] = "0"
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, "COLUMNS": "400"}, timeout=120)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Non-zero exit, nothing on stdout, exactly one line on stderr, no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def every_command_says(folder: Path, *needles: str, line: int | None = None) -> None:
    """`validate` (exit 2, `file:line:`), `query`, `query --from` and `tree` (exit 1) all give
    the same one-line error."""
    message = one_line_error(run(folder, "validate"))
    assert run(folder, "validate").returncode == 2
    if line is not None:
        assert message.startswith(f"northstar.yml:{line}: "), message
    for needle in needles:
        assert needle in message, message
    for args in (["query", "events"], ["query", "events", "--from", "2011-10-01", "--format", "csv"], ["tree"]):
        result = run(folder, *args)
        error = one_line_error(result)
        assert result.returncode == 1 and error.startswith("error: "), error
        for needle in needles:
            assert needle in error, (args, error)


def monthly(folder: Path, *extra: str) -> dict[dt.date, int]:
    result = run(folder, "query", "events", "--format", "csv", *extra)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows, "a header only"
    return {dt.date.fromisoformat(r["period"]): int(r["events"]) for r in rows if int(r["events"])}


# ---- readable forms --------------------------------------------------------------------------

def test_yyyymmdd_integers_are_read_as_dates(tmp_path: Path) -> None:
    """Was: 'add time_unit', then AttributeError in query/tree, and a header only with --from."""
    folder = project(tmp_path, [int(i.strftime("%Y%m%d")) for i in INSTANTS])
    result = run(folder, "validate")
    assert result.returncode == 0 and "time_unit" not in result.stderr, result.stderr
    assert monthly(folder) == MONTHS
    assert monthly(folder, "--from", "2011-10-01", "--to", "2011-11-30") == {
        dt.date(2011, 10, 1): 2, dt.date(2011, 11, 1): 2}
    tree = run(folder, "tree")
    assert tree.returncode == 0 and "Traceback" not in tree.stderr, tree.stderr
    assert monthly(folder, "--grain", "year") == {dt.date(2011, 1, 1): 4, dt.date(2012, 1, 1): 2}


def test_yyyymmdd_text_with_a_pattern_and_integers_with_the_pattern(tmp_path: Path) -> None:
    folder = project(tmp_path, [int(i.strftime("%Y%m%d")) for i in INSTANTS], "    time_format: '%Y%m%d'\n")
    assert run(folder, "validate").returncode == 0
    assert monthly(folder) == MONTHS


@pytest.mark.parametrize("pattern, key", [("%d/%m/%Y %H:%M", "time_format"), ("%m/%d/%Y %H:%M:%S", "format"),
                                          ("%a %b %d %H:%M:%S %z %Y", "format"),
                                          ("%a, %d %b %Y %H:%M:%S %z", "time_format")])
def test_text_read_with_a_pattern(tmp_path: Path, pattern: str, key: str) -> None:
    """Was: day-first, month-first and RFC 2822 text could not be read at all. `format:` with a
    pattern (as the issue writes it) is `time_format:`."""
    offset = dt.timezone(dt.timedelta(hours=-5))
    cells = [i.replace(tzinfo=dt.timezone.utc).astimezone(offset).strftime(pattern) if "%z" in pattern
             else i.strftime(pattern) for i in INSTANTS]
    folder = project(tmp_path, cells, f"    {key}: '{pattern}'\n")
    result = run(folder, "validate")
    assert result.returncode == 0, result.stderr
    assert monthly(folder) == MONTHS  # an offset is applied: 23:59:59 UTC stays in its month


@pytest.mark.parametrize("unit, per_second", [("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9)])
def test_every_epoch_unit(tmp_path: Path, unit: str, per_second: int) -> None:
    """Was: `time_unit: us` and `ns` always failed ("'us' unit is not supported!")."""
    cells = [int(i.replace(tzinfo=dt.timezone.utc).timestamp()) * per_second + (per_second - 1) for i in INSTANTS]
    folder = project(tmp_path, cells, f"    time_unit: {unit}\n")
    assert run(folder, "validate").returncode == 0
    assert monthly(folder) == MONTHS  # 23:59:59.999... stays in its month


# ---- unreadable forms: one line, everywhere --------------------------------------------------

def test_epoch_milliseconds_declared_as_seconds(tmp_path: Path) -> None:
    """Was: 'year 43747 is out of range' (an internal error)."""
    cells = [int(i.replace(tzinfo=dt.timezone.utc).timestamp() * 1000) for i in INSTANTS]
    folder = project(tmp_path, cells, "    time_unit: s\n")
    every_command_says(folder, "source 'events'", "column 'ts'", "the year 44972 for 1356998399000",
                       "`time_unit: ms` gives 2011-10-11 to 2012-12-31: use that", line=7)


def test_yyyymmdd_declared_as_seconds(tmp_path: Path) -> None:
    folder = project(tmp_path, [int(i.strftime("%Y%m%d")) for i in INSTANTS], "    time_unit: s\n")
    every_command_says(folder, "column 'ts'", "all in 1970", "(e.g. 20121231) look like yyyymmdd dates: "
                       "remove `time_unit`", line=7)


def test_epoch_numbers_without_a_unit(tmp_path: Path) -> None:
    cells = [int(i.replace(tzinfo=dt.timezone.utc).timestamp() * 1000) for i in INSTANTS]
    folder = project(tmp_path, cells)
    every_command_says(folder, "column 'ts' holds numbers (e.g. ", "not yyyymmdd dates",
                       "add `time_unit: ms` (epoch milliseconds: 2011-10-11 to 2012-12-31)", line=5)


def test_day_first_text_without_a_pattern(tmp_path: Path) -> None:
    folder = project(tmp_path, [i.strftime("%d/%m/%Y %H:%M") for i in INSTANTS])
    every_command_says(folder, "column 'ts'", "not ISO 8601 timestamps (e.g. '11/10/2011 19:50')",
                       "looks like day-first dates: add `time_format: '%d/%m/%Y %H:%M'`", line=5)


def test_ambiguous_day_and_month_are_both_offered(tmp_path: Path) -> None:
    folder = project(tmp_path, ["01/02/2011 10:00", "03/04/2011 11:00", "12/11/2011 09:30"])
    every_command_says(folder, "day-first and month-first both fit the first 3 values (e.g. '01/02/2011 10:00')",
                       "`time_format: '%d/%m/%Y %H:%M'` for day-first",
                       "`time_format: '%m/%d/%Y %H:%M'` for month-first")


def test_rfc_2822_text_without_a_pattern(tmp_path: Path) -> None:
    folder = project(tmp_path, ["Tue Oct 11 19:50:34 +0000 2011", "Wed Oct 12 01:00:00 +0200 2011"])
    every_command_says(folder, "(e.g. 'Tue Oct 11 19:50:34 +0000 2011')",
                       "add `time_format: '%a %b %d %H:%M:%S %z %Y'`")


def test_a_pattern_that_does_not_match(tmp_path: Path) -> None:
    folder = project(tmp_path, ["11/10/2011 19:50", "12/10/2011 19:50", "13-10-2011 19:50"],
                     "    time_format: '%d/%m/%Y %H:%M'\n")
    every_command_says(folder, "column 'ts': 1 of the first 3 values do not match `time_format: '%d/%m/%Y %H:%M'` "
                       "(e.g. '13-10-2011 19:50'); looks like day-first dates: add `time_format: '%d-%m-%Y %H:%M'`",
                       line=7)


def test_a_pattern_written_in_format_is_reported_at_its_line(tmp_path: Path) -> None:
    folder = project(tmp_path, ["2011-10-11"], "    format: '%d/%m/%Y'\n")
    every_command_says(folder, "do not match `time_format: '%d/%m/%Y'` (e.g. '2011-10-11')",
                       "they are ISO 8601: remove `time_format`", line=7)


def test_spec_errors_in_the_pattern(tmp_path: Path) -> None:
    folder = project(tmp_path, ["11/10/2011"], "    time_format: '%d/%m/%Q'\n")
    message = one_line_error(run(folder, "validate", "--no-data"))
    assert message.startswith("error: northstar.yml:7: ") and "directive %Q" in message, message
    folder = project(tmp_path, ["11/10/2011"], "    format: '%d/%m/%Y'\n    time_format: '%d/%m/%Y'\n")
    assert "give the timestamp pattern once" in one_line_error(run(folder, "validate", "--no-data"))
