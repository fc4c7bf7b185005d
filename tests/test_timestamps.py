"""Timestamps in the wild: every way a time column is written, read into the right period.

The property test writes generated instants as text in the styles found in real exports (ISO
with and without an offset, day-first, month-first, RFC 2822 and Twitter style, yyyymmdd
integers and text, epoch s/ms/us/ns), runs the real engine (DuckDB, through `Project`) and
compares each period's count with the period Python's own `datetime` parsing gives the
written text. The pure helpers (pattern guessing, epoch units, engine patterns) are checked
against hand-written expectations; the CLI cases are in test_timestamps_cli.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from conftest import DATASETS
from pydantic import ValidationError

from northstar import Project
from northstar.engine.backends.timeformats import clickhouse_format, postgres_template, spark_pattern
from northstar.engine.timeguess import guess_pattern, number_advice, text_advice, wrong_unit, yyyymmdd_date
from northstar.errors import DataError, SpecError
from northstar.spec.model import Source
from northstar.spec.timeformat import has_offset, has_time_of_day, pattern_problem

UTC = dt.timezone.utc
GRAINS = ("day", "week", "month", "quarter", "year")


# ---- brute force: periods from Python's own calendar ------------------------------------------

def period_of(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return dt.date(day.year, day.month, 1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


# ---- the styles: how a generated instant is written, and how Python reads it back ----------------
# Each: (settings for the source, writer(instant, offset) -> cell, reader(cell) -> aware datetime
# or date (a calendar date: no zone conversion), file format).

def _wall(instant: dt.datetime, offset: dt.timedelta) -> dt.datetime:
    return instant.astimezone(dt.timezone(offset))


def _epoch(unit: int):  # noqa: ANN202
    def write(instant: dt.datetime, _offset: dt.timedelta) -> int:
        delta = instant - dt.datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
        # nanoseconds: the last 999 of the microsecond, so that 23:59:59.999999999 tests the
        # division (as doubles, it rounded to the next day)
        return micros * unit // 10**6 + (999 if unit == 10**9 else 0)

    def read(cell: int) -> dt.datetime:
        return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=cell * 10**6 // unit)
    return write, read


STYLES = {
    "iso_offset": ({}, lambda i, o: _wall(i, o).isoformat(), dt.datetime.fromisoformat, "csv"),
    "iso_naive_utc": ({}, lambda i, o: i.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                      lambda c: dt.datetime.strptime(c, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC), "json"),
    "day_first": ({"time_format": "%d/%m/%Y %H:%M"}, lambda i, o: i.astimezone(UTC).strftime("%d/%m/%Y %H:%M"),
                  lambda c: dt.datetime.strptime(c, "%d/%m/%Y %H:%M").replace(tzinfo=UTC), "csv"),
    # written as the issue writes it: a pattern in `format:`
    "month_first": ({"format": "%m/%d/%Y %H:%M:%S"}, lambda i, o: i.astimezone(UTC).strftime("%m/%d/%Y %H:%M:%S"),
                    lambda c: dt.datetime.strptime(c, "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC), "csv"),
    "twitter": ({"time_format": "%a %b %d %H:%M:%S %z %Y"},
                lambda i, o: _wall(i, o).strftime("%a %b %d %H:%M:%S %z %Y"),
                lambda c: dt.datetime.strptime(c, "%a %b %d %H:%M:%S %z %Y"), "json"),
    "rfc2822": ({"time_format": "%a, %d %b %Y %H:%M:%S %z"},
                lambda i, o: _wall(i, o).strftime("%a, %d %b %Y %H:%M:%S %z"),
                lambda c: dt.datetime.strptime(c, "%a, %d %b %Y %H:%M:%S %z"), "csv"),
    "day_first_in_zone": ({"time_format": "%d.%m.%Y %H:%M:%S", "timezone": "Asia/Kolkata"},
                          lambda i, o: i.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%d.%m.%Y %H:%M:%S"),
                          lambda c: dt.datetime.strptime(c, "%d.%m.%Y %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Kolkata")),
                          "csv"),
    "yyyymmdd_int": ({}, lambda i, o: int(_wall(i, o).strftime("%Y%m%d")),
                     lambda c: dt.datetime.strptime(str(c), "%Y%m%d").date(), "csv"),
    "yyyymmdd_text": ({"time_format": "%Y%m%d"}, lambda i, o: _wall(i, o).strftime("%Y%m%d"),
                      lambda c: dt.datetime.strptime(c, "%Y%m%d").date(), "json"),
    "epoch_s": ({"time_unit": "s"}, *_epoch(1), "json"),
    "epoch_ms": ({"time_unit": "ms"}, *_epoch(10**3), "csv"),
    "epoch_us": ({"time_unit": "us"}, *_epoch(10**6), "json"),
    "epoch_ns": ({"time_unit": "ns"}, *_epoch(10**9), "csv"),
}
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]


def write_project(folder: Path, style: str, cells: list[object], zone: str) -> Path:
    extra, _write, _read, fmt = STYLES[style]
    path = folder / f"events.{'csv' if fmt == 'csv' else 'jsonl'}"
    rows = [{"ts": cell, "user": f"u{index % 7}"} for index, cell in enumerate(cells)]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["ts", "user"])
            writer.writeheader()
            writer.writerows({"ts": "" if r["ts"] is None else r["ts"], "user": r["user"]} for r in rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    source = {"path": path.name, "timestamp": "ts", "entity": "user", **extra}
    spec = {"project": "wild", "timezone": zone, "sources": {"events": source},
            "metrics": {"events": {"source": "events", "agg": "count"}},
            "north_star": {"metric": "events", "grain": "month"}, "engine": {"cache": False}}
    (folder / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    return folder / "northstar.yml"


def expected_counts(style: str, cells: list[object], zone: str, grain: str) -> Counter:
    read = STYLES[style][2]
    counts: Counter = Counter()
    for cell in cells:
        if cell is None:
            continue
        value = read(cell)
        day = value if not isinstance(value, dt.datetime) else value.astimezone(ZoneInfo(zone)).date()
        counts[period_of(day, grain)] += 1
    return counts


def _boundaries(zone: str) -> list[dt.datetime]:
    """Instants a second (and a microsecond) either side of local midnight on 1 January and
    1 April (year, quarter, month and day boundaries at once) in the spec's zone."""
    out = []
    for year in (2011, 2012, 2024):
        for month in (1, 4):
            midnight = dt.datetime(year, month, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
            out += [midnight - dt.timedelta(seconds=1), midnight - dt.timedelta(microseconds=1), midnight,
                    midnight + dt.timedelta(seconds=1)]
    return out


@st.composite
def wild_cases(draw: st.DrawFn) -> tuple[str, str, str, list[object]]:
    style = draw(st.sampled_from(sorted(STYLES)))
    zone = draw(st.sampled_from(ZONES))
    grain = draw(st.sampled_from(GRAINS))
    anywhere = st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2035, 12, 31),
                            timezones=st.just(UTC))
    instants = draw(st.lists(st.one_of(anywhere, st.sampled_from(_boundaries(zone))), min_size=1, max_size=25))
    if not style.startswith("epoch_us") and not style.startswith("epoch_ns"):
        instants = [i.replace(microsecond=0) for i in instants]  # the text styles write whole seconds
    offsets = st.sampled_from([dt.timedelta(0), dt.timedelta(hours=2), dt.timedelta(hours=-5),
                               dt.timedelta(hours=5, minutes=30), dt.timedelta(hours=13)])
    write = STYLES[style][1]
    cells: list[object] = [write(i, draw(offsets)) for i in instants]
    if draw(st.booleans()) and style not in ("yyyymmdd_int",):
        cells.append(None)  # a row without a time: in no period
    return style, zone, grain, cells


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=wild_cases())
def test_every_style_lands_in_the_period_python_reads(case: tuple[str, str, str, list[object]]) -> None:
    style, zone, grain, cells = case
    note(f"{style} {zone} {grain} {cells}")
    with tempfile.TemporaryDirectory() as folder:
        frame = Project.load(write_project(Path(folder), style, cells, zone)).query("events", grain=grain)
    got = {row.period: int(row.events) for row in frame.itertuples() if row.events}
    assert got == dict(expected_counts(style, cells, zone, grain))
    assert sum(frame["events"]) == sum(1 for c in cells if c is not None)


# ---- the pure helpers -------------------------------------------------------------------------

def test_guessing_day_first_month_first_and_the_ambiguous_case() -> None:
    assert text_advice(["25/10/2011 08:00", "11/10/2011 19:50"], 2).endswith("add `time_format: '%d/%m/%Y %H:%M'`")
    assert "day-first" in text_advice(["25/10/2011 08:00"], 1)
    assert text_advice(["10/25/2011 08:00:01"], 1) == "looks like month-first dates: add `time_format: '%m/%d/%Y %H:%M:%S'`"
    # 11/10 is 11 October or 10 November: both are offered, and the message says so
    advice = text_advice(["11/10/2011 19:50", "01/02/2012 08:00"], 2)
    assert "day-first and month-first both fit the first 2 values" in advice
    assert "`time_format: '%d/%m/%Y %H:%M'` for day-first" in advice
    assert "`time_format: '%m/%d/%Y %H:%M'` for month-first" in advice


def test_guessing_named_styles() -> None:
    assert guess_pattern(["Tue Oct 11 19:50:34 +0000 2011"]).patterns[0] == "%a %b %d %H:%M:%S %z %Y"
    assert guess_pattern(["Tue, 11 Oct 2011 19:50:34 +0200"]).patterns[0] == "%a, %d %b %Y %H:%M:%S %z"
    assert guess_pattern(["11/Oct/2011:19:50:34 -0500"]).patterns[0] == "%d/%b/%Y:%H:%M:%S %z"
    assert guess_pattern(["20111011"]).patterns == ("%Y%m%d",)
    assert guess_pattern(["yesterday noon"]).patterns == ()
    assert "strptime pattern" in text_advice(["yesterday noon"], 1)
    assert text_advice(["2011-10-11 19:50:34"], 1) == "they are ISO 8601: remove `time_format`"


def test_epoch_units_that_give_plausible_dates() -> None:
    ms = 1318362634000
    assert wrong_unit(ms, ms, "ms") is None
    assert wrong_unit(ms, ms, "s") == ("the year 43747 for 1318362634000; `time_unit: ms` gives 2011-10-11 to "
                                       "2011-10-11: use that")
    # nanoseconds read as microseconds, and microseconds as nanoseconds (all in January 1970)
    assert "`time_unit: ns` gives 2011-10-11" in wrong_unit(ms * 10**6, ms * 10**6, "us")
    assert wrong_unit(ms * 1000, ms * 1000, "ns") == ("1970-01-16 to 1970-01-16, all in 1970; `time_unit: us` "
                                                      "gives 2011-10-11 to 2011-10-11: use that")
    assert "look like yyyymmdd dates: remove `time_unit`" in wrong_unit(20111011, 20120101, "s")
    # small epochs of 1970 itself (no other unit gives our era) are left alone
    assert wrong_unit(0, 86_400, "s") is None
    assert number_advice("ts", ms, ms + 5) .startswith("add `time_unit: ms` (epoch milliseconds: 2011-10-11")
    assert "is 'ts' a time at all?" in number_advice("ts", -10**30, 10**30)


def test_yyyymmdd_dates() -> None:
    assert yyyymmdd_date(20111011) == dt.date(2011, 10, 11)
    assert yyyymmdd_date(20120229) == dt.date(2012, 2, 29)
    for bad in (20110229, 20111301, 20111000, 18991231, 21010101, 1318362634):
        assert yyyymmdd_date(bad) is None


def test_patterns_for_each_engine() -> None:
    # literal letters are quoted (a bare T reads as a field in PostgreSQL and Spark)
    assert postgres_template("%Y-%m-%dT%H:%M:%S.%f%z") == 'YYYY-MM-DD"T"HH24:MI:SS.USTZHTZM'
    assert spark_pattern("%Y-%m-%dT%H:%M:%S.%f%z") == "yyyy'-'M'-'d'T'H':'m':'s'.'SSSSSS[XXX][XX]"
    assert spark_pattern("%Y%m%d") == "yyyyMMdd"  # fields side by side need fixed widths
    # Spark parses no weekday: its field goes (and the name is taken out of the text)
    assert spark_pattern("%a, %d %b %Y") == "', 'd' 'MMM' 'yyyy"
    assert clickhouse_format("%d/%m/%Y %H:%M:%S") == "%d/%m/%Y %H:%i:%s"
    assert clickhouse_format("%a, %d %b %Y 100%%") == "%a, %d %b %Y 100%%"
    assert postgres_template("%a %b %d %I:%M %p %Y") == "Dy Mon DD HH12:MI AM YYYY"
    assert has_offset("%d/%m/%Y %H:%M %z") and not has_offset("%d/%m/%Y")
    assert has_time_of_day("%Y%m%d %H") and not has_time_of_day("%Y%m%d")


def test_pattern_problems() -> None:
    assert pattern_problem("%d/%m/%Y %H:%M") is None
    assert "%Q" in pattern_problem("%d/%m/%Q")  # type: ignore[operator]
    assert "no year" in pattern_problem("%d/%m %H:%M")  # type: ignore[operator]
    assert "12-hour clock" in pattern_problem("%d/%m/%Y %I:%M")  # type: ignore[operator]
    assert "lone '%'" in pattern_problem("%d/%m/%Y %")  # type: ignore[operator]


def test_a_pattern_in_format_is_a_time_format() -> None:
    source = Source(path="e.csv", timestamp="ts", format="%d/%m/%Y %H:%M")
    assert (source.format, source.time_format) == (None, "%d/%m/%Y %H:%M")
    assert Source(path="e.txt", timestamp="ts", format="csv", time_format="%Y%m%d").format == "csv"
    with pytest.raises(ValidationError, match="give the timestamp pattern once"):
        Source(path="e.csv", timestamp="ts", format="%d/%m/%Y", time_format="%d/%m/%Y")
    with pytest.raises(ValidationError, match="exclude each other"):
        Source(path="e.csv", timestamp="ts", time_unit="s", time_format="%Y%m%d")


# ---- the engine: errors on the Project API ------------------------------------------------------

def _project(tmp_path: Path, header: str, rows: list[str], **source: object) -> Project:
    (tmp_path / "events.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    spec = {"project": "t", "sources": {"events": {"path": "events.csv", "timestamp": "ts", "entity": "user",
                                                   **source}},
            "metrics": {"events": {"source": "events", "agg": "count"}},
            "north_star": {"metric": "events", "grain": "month"}, "engine": {"cache": False}}
    (tmp_path / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    return Project.load(tmp_path / "northstar.yml")


def test_integers_that_are_not_all_dates_say_which_unit_reads_them(tmp_path: Path) -> None:
    project = _project(tmp_path, "ts,user", ["20111011,a", "20111341,b"])
    with pytest.raises(DataError) as info:
        project.query("events")
    assert str(info.value) == ("source 'events': column 'ts' holds numbers (e.g. 20111341) that are not yyyymmdd "
                               "dates; add `time_unit: s` (epoch seconds: 1970-08-21 to 1970-08-21)")


def test_a_pattern_that_does_not_match_names_a_value_and_what_fits(tmp_path: Path) -> None:
    project = _project(tmp_path, "ts,user", ["11/10/2011 19:50,a", "2011-10-12 08:00,b"],
                       time_format="%d/%m/%Y %H:%M")
    with pytest.raises(DataError) as info:
        project.query("events")
    assert str(info.value) == ("source 'events': column 'ts': 1 of the first 2 values do not match "
                               "`time_format: '%d/%m/%Y %H:%M'` (e.g. '2011-10-12 08:00'); they are ISO 8601: "
                               "remove `time_format`")


def test_the_csv_reader_does_not_guess_the_day_first(tmp_path: Path) -> None:
    """DuckDB's CSV sniffer reads 01/02/2011 as 1 February on its own; with a month-first
    `time_format` it is 2 January (the column is read as text, for the pattern)."""
    project = _project(tmp_path, "ts,user", ["01/02/2011,a", "03/04/2011,b"], time_format="%m/%d/%Y")
    frame = project.query("events", grain="month")
    assert {row.period: row.events for row in frame.itertuples() if row.events} == {
        dt.date(2011, 1, 1): 1, dt.date(2011, 3, 1): 1}


def test_validate_warns_of_dates_the_csv_reader_guessed(tmp_path: Path) -> None:
    """DuckDB's CSV reader makes 01/02/2011 1 February without a word (ClickHouse decides value
    by value): `validate` says so, and which `time_format` to write; ISO text is left alone."""
    project = _project(tmp_path, "ts,user", ["01/02/2011,a", "03/04/2011,b"])
    warnings = [p.message for p in project.validate() if p.severity == "warning"]
    assert warnings == ["source 'events': column 'ts' is text such as '01/02/2011' in the "
                        "file, which the CSV reader turned into dates by its own guess (engines guess "
                        "differently); day-first and month-first both fit the first 2 values (e.g. '01/02/2011'): "
                        "add `time_format: '%d/%m/%Y'` for day-first or `time_format: '%m/%d/%Y'` for month-first"]
    project = _project(tmp_path, "ts,user", ["2011-02-01,a", "2011-04-03 10:00:00,b"])
    assert [str(p) for p in project.validate()] == []


def test_a_time_format_on_a_parquet_timestamp_is_not_used(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"ts": pa.array([dt.datetime(2011, 10, 11, 19, 50)], pa.timestamp("us")),
                             "user": ["a"]}), tmp_path / "events.parquet")
    spec = {"project": "t", "sources": {"events": {"path": "events.parquet", "timestamp": "ts",
                                                   "time_format": "%d/%m/%Y"}},
            "metrics": {"events": {"source": "events", "agg": "count"}}, "north_star": {"metric": "events"}}
    (tmp_path / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    project = Project.load(tmp_path / "northstar.yml")
    problems = [str(p) for p in project.validate()]
    assert any("is read as a date or timestamp already, so `time_format` is not used" in p for p in problems)
    assert project.query("events", grain="year")["events"].tolist() == [1]


def test_an_unknown_directive_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="directive %Q"):
        _project(tmp_path, "ts,user", ["11/10/2011,a"], time_format="%d/%m/%Q").spec  # noqa: B018


# ---- the real datasets, rewritten the ways exports write time --------------------------------

SPARKIFY_STYLES = {
    "day_first": ({"time_format": "%d/%m/%Y %H:%M:%S"}, lambda ms: _utc(ms).strftime("%d/%m/%Y %H:%M:%S")),
    "rfc2822": ({"format": "%a, %d %b %Y %H:%M:%S %z"},
                lambda ms: _utc(ms).astimezone(dt.timezone(dt.timedelta(hours=-8))).strftime("%a, %d %b %Y %H:%M:%S %z")),
    "epoch_us": ({"time_unit": "us"}, lambda ms: ms * 1000),
    "epoch_ns": ({"time_unit": "ns"}, lambda ms: ms * 10**6 + 999_999),
}


def _utc(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)


@pytest.mark.parametrize("style", sorted(SPARKIFY_STYLES))
def test_sparkify_in_the_wild(tmp_path: Path, style: str) -> None:
    """Sparkify's epoch milliseconds rewritten as day-first text, RFC 2822 with a -08:00 offset,
    and epoch micro- and nanoseconds: the daily listening minutes and listeners in
    Europe/Amsterdam are those of the original timestamps (plain Python, to the second)."""
    extra, write = SPARKIFY_STYLES[style]
    events = [json.loads(line) for line in (DATASETS / "sparkify" / "events.jsonl").open(encoding="utf-8")]
    minutes: Counter = Counter()
    listeners: dict[dt.date, set] = {}
    for event in events:
        if event["page"] == "NextSong":
            day = _utc(event["ts"]).astimezone(ZoneInfo("Europe/Amsterdam")).date()
            minutes[day] += event["length"] / 60
            listeners.setdefault(day, set()).add(event["userId"])
    with (tmp_path / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps({**event, "ts": write(event["ts"])}) + "\n")
    spec = {"project": "Sparkify", "timezone": "Europe/Amsterdam",
            "sources": {"events": {"path": "events.jsonl", "timestamp": "ts", "entity": "userId", **extra}},
            "metrics": {"minutes": {"source": "events", "where": "page = 'NextSong'", "agg": "sum",
                                    "expr": "length / 60"},
                        "listeners": {"source": "events", "where": "page = 'NextSong'", "agg": "count_distinct"}},
            "north_star": {"metric": "minutes", "grain": "week"}, "engine": {"cache": False}}
    (tmp_path / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    project = Project.load(tmp_path / "northstar.yml")
    assert [p for p in project.validate() if p.severity == "error"] == []
    frame = project.query(["minutes", "listeners"], grain="day")
    got = {row.period: (row.minutes, row.listeners) for row in frame.itertuples() if row.listeners}
    assert set(got) == set(minutes)
    for day, (value, count) in got.items():
        assert value == pytest.approx(minutes[day], rel=1e-9) and count == len(listeners[day])


def test_stackexchange_votes_as_yyyymmdd_integers(tmp_path: Path) -> None:
    """History Meta's votes (dates only) with their dates written 20111011: read as dates
    without any setting, month by month as pandas counts them, in a zone far from UTC (a
    calendar date is local already: no shift)."""
    import pandas as pd

    votes = pd.read_csv(DATASETS / "stackexchange-history-meta" / "Votes.csv")
    days = pd.to_datetime(votes["CreationDate"]).dt.date
    votes = votes.assign(day=[int(d.strftime("%Y%m%d")) for d in days])
    votes[["Id", "VoteTypeId", "day"]].to_csv(tmp_path / "votes.csv", index=False)
    expected = Counter(dt.date(d.year, d.month, 1) for d in days)
    spec = {"project": "History Meta", "timezone": "Pacific/Auckland",
            "sources": {"votes": {"path": "votes.csv", "timestamp": "day"}},
            "metrics": {"votes": {"source": "votes", "agg": "count"}},
            "north_star": {"metric": "votes", "grain": "month"}, "engine": {"cache": False}}
    (tmp_path / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
    project = Project.load(tmp_path / "northstar.yml")
    assert [p for p in project.validate() if p.severity == "error"] == []
    frame = project.query("votes", grain="month")
    assert {row.period: row.votes for row in frame.itertuples() if row.votes} == dict(expected)
    assert frame["votes"].sum() == len(votes) == 12_410


def test_an_empty_text_cell_is_no_time(tmp_path: Path) -> None:
    """An empty string (JSON "", or a CSV reader that keeps text) is a row without a time, as
    a null is: in no period, and no error."""
    (tmp_path / "events.jsonl").write_text('{"ts": "2011-10-11 19:50:00", "user": "a"}\n{"ts": "", "user": "b"}\n'
                                           '{"ts": "2011-11-01 00:00:00", "user": "c"}\n', encoding="utf-8")
    for extra in ({}, {"time_format": "%Y-%m-%d %H:%M:%S"}):
        spec = {"project": "t", "sources": {"events": {"path": "events.jsonl", "timestamp": "ts", **extra}},
                "metrics": {"events": {"source": "events", "agg": "count"}}, "north_star": {"metric": "events"},
                "engine": {"cache": False}}
        (tmp_path / "northstar.yml").write_text(json.dumps(spec), encoding="utf-8")
        frame = Project.load(tmp_path / "northstar.yml").query("events", grain="month")
        assert frame["events"].tolist() == [1, 1], extra


def test_a_column_that_is_no_time_at_all(tmp_path: Path) -> None:
    project = _project(tmp_path, "ts,user", ["true,a", "false,b"])
    with pytest.raises(DataError, match="^source 'events': column 'ts' is boolean, not a time$"):
        project.query("events")
    assert any("is boolean, not a timestamp" in str(p) for p in project.validate())
