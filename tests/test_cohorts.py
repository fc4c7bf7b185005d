"""`northstar cohorts`: retention by cohort, against brute-force computations written here.

Expected values never come from Northstar: plain Python loops over the rows with `datetime`
and `zoneinfo` (period arithmetic from `tests/reference.py`, itself engine-free). Definition:
cohort = the period of an entity's first qualifying event over all the data; offset k =
periods after it; entities = the cohort's entities with a qualifying event in period
cohort + k; rate = entities / cohort size; every offset up to the data's last complete period
(the last period too with `partial`); cohorts by their period between --from and --to.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import reference as ref
from conftest import SPARKIFY_EVENTS

from northstar import Project
from northstar.errors import QueryError

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


# ---- the brute force ---------------------------------------------------------------------

def brute_cohorts(rows: list[tuple[dt.datetime | None, Any, bool]], tz: str, grain: str, partial: bool = False,
                  start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
    """rows: (UTC instant or None, entity or None, qualifies). Returns the JSON records."""
    zone = ZoneInfo(tz)
    days = [t.astimezone(zone).date() for t, _e, _q in rows if t is not None]
    if not days:
        return []
    data_end = max(days)
    last = ref.trunc(data_end, grain)
    if not partial and ref.shift(last, grain, 1) - dt.timedelta(days=1) > data_end:
        last = ref.shift(last, grain, -1)  # the incomplete last period is left out
    active: set[tuple[Any, dt.date]] = set()
    for t, entity, qualifies in rows:
        if t is not None and entity is not None and qualifies:
            active.add((entity, ref.trunc(t.astimezone(zone).date(), grain)))
    first: dict[Any, dt.date] = {}
    for entity, period in active:
        if entity not in first or period < first[entity]:
            first[entity] = period
    out = []
    for cohort in sorted(set(first.values())):
        if cohort > last:
            continue
        if start is not None and cohort < ref.trunc(start, grain):
            continue
        if end is not None and cohort > ref.trunc(end, grain):
            continue
        members = {e for e, c in first.items() if c == cohort}
        offset, period = 0, cohort
        while period <= last:
            n = sum(1 for e in members if (e, period) in active)
            out.append({"cohort": cohort.isoformat(), "offset": offset, "entities": n, "rate": n / len(members)})
            offset, period = offset + 1, ref.shift(period, grain, 1)
    return out


# ---- property test on random small event sets --------------------------------------------

TIMEZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Sydney"]
WINDOWS = [dt.datetime(2023, 12, 1, tzinfo=UTC), dt.datetime(2024, 2, 20, tzinfo=UTC),
           dt.datetime(2024, 9, 20, tzinfo=UTC)]
DST_SWITCHES = [dt.datetime(2024, 3, 10, 7, tzinfo=UTC), dt.datetime(2024, 3, 31, 1, tzinfo=UTC),
                dt.datetime(2024, 4, 6, 16, tzinfo=UTC), dt.datetime(2024, 10, 5, 16, tzinfo=UTC),
                dt.datetime(2024, 10, 27, 1, tzinfo=UTC), dt.datetime(2024, 11, 3, 6, tzinfo=UTC)]
NEAR = [dt.timedelta(0), dt.timedelta(milliseconds=-1), dt.timedelta(hours=1), dt.timedelta(hours=-1),
        dt.timedelta(hours=-23), dt.timedelta(hours=23)]
METRICS = {  # name: (definition, the `where` in Python)
    "listeners": ({"agg": "count_distinct", "where": "event = 'play'"}, lambda e: e == "play"),
    "engaged": ({"agg": "count_distinct", "where": "event in ('play', 'view')"}, lambda e: e in ("play", "view")),
    "users": ({"agg": "count_distinct"}, lambda e: True),
    "returning": ({"type": "retention", "where": "event = 'play'"}, lambda e: e == "play"),
}


def _instant(rng: random.Random, window: dt.datetime, tz: str, days: int) -> dt.datetime:
    """A UTC instant in the window, biased to DST switches and local midnights (ms precision)."""
    kind = rng.choice(["uniform", "uniform", "uniform", "dst", "midnight"])
    inside = [d for d in DST_SWITCHES if window <= d <= window + dt.timedelta(days=days)]
    if kind == "dst" and inside:
        return rng.choice(inside) + rng.choice(NEAR)
    if kind == "midnight":  # local midnight (of a day, week or month start) give or take a millisecond
        day = window.date() + dt.timedelta(days=rng.randint(0, days))
        day = ref.trunc(day, rng.choice(["day", "week", "month"]))
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)
        return midnight + rng.choice([dt.timedelta(0), dt.timedelta(milliseconds=-1)])
    return window + dt.timedelta(milliseconds=rng.randint(0, days * 86_400_000))


@st.composite
def cases(draw) -> dict:
    """The shape is drawn by hypothesis; the rows by a seeded generator (hypothesis alone makes
    mostly tiny, uniform tables, where nobody comes back)."""
    tz = draw(st.sampled_from(TIMEZONES))
    grain = draw(st.sampled_from(["week", "month", "day", "week", "month", "quarter"]))
    window = draw(st.sampled_from(WINDOWS))
    # a span of a few periods, so that entities come back in later ones
    days = draw(st.sampled_from({"day": [20, 6], "week": [80, 30], "month": [200, 80], "quarter": [400, 200]}[grain]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    pool = [_instant(rng, window, tz, days) for _ in range(rng.randint(1, 25))]
    users = [f"u{i}" for i in range(draw(st.sampled_from([5, 8, 3, 1])))]
    rows = []
    for _ in range(draw(st.sampled_from([30, 60, 10, 3, 1, 0]))):
        instant = None if rng.randrange(15) == 0 else rng.choice(pool)
        rows.append((instant, rng.choice([*users, *users, None]), rng.choice(["play", "play", "view", "buy", None])))
    start = end = None
    if draw(st.integers(0, 3)) == 0:
        start = window.date() + dt.timedelta(days=draw(st.integers(-5, days // 2)))
        end = start + dt.timedelta(days=draw(st.integers(days // 4, days)))
    return {"tz": tz, "grain": grain, "rows": rows, "metric": draw(st.sampled_from(sorted(METRICS))),
            "encoding": draw(st.sampled_from(["epoch_ms", "timestamp"])), "partial": draw(st.booleans()),
            "start": start, "end": end}


def _write_case(case: dict, directory: Path) -> Path:
    instants_ = [t for t, _u, _e in case["rows"]]
    if case["encoding"] == "epoch_ms":
        ts = pa.array([None if t is None else (t - EPOCH) // dt.timedelta(milliseconds=1) for t in instants_],
                      type=pa.int64())
    else:
        ts = pa.array(instants_, type=pa.timestamp("ms", tz="UTC"))
    table = pa.table({"ts": ts, "user": pa.array([u for _t, u, _e in case["rows"]], type=pa.string()),
                      "event": pa.array([e for _t, _u, e in case["rows"]], type=pa.string())})
    pq.write_table(table, directory / "events.parquet")
    source: dict[str, Any] = {"path": "events.parquet", "timestamp": "ts", "entity": "user"}
    if case["encoding"] == "epoch_ms":
        source["time_unit"] = "ms"
    metrics = {name: {"source": "events", **definition} for name, (definition, _f) in METRICS.items()}
    spec = {"project": "Cohorts", "timezone": case["tz"], "sources": {"events": source}, "metrics": metrics,
            "north_star": {"metric": "listeners", "grain": "week"}}
    path = directory / "northstar.yml"
    path.write_text(json.dumps(spec, indent=2))  # JSON is YAML
    return path


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_cohorts_equal_brute_force(case: dict) -> None:
    qualifies = METRICS[case["metric"]][1]
    rows = [(t, u, bool(qualifies(e))) for t, u, e in case["rows"]]  # SQL: a null event is not 'play'

    expected = brute_cohorts(rows, case["tz"], case["grain"], case["partial"], case["start"], case["end"])
    note(f"expected: {expected}")
    event("no cohort" if not expected else "a later period" if any(r["offset"] for r in expected) else "offset 0 only")
    event("someone came back" if any(r["offset"] and r["entities"] for r in expected) else "nobody came back")
    with tempfile.TemporaryDirectory() as directory:
        project = Project.load(_write_case(case, Path(directory)))
        report = project.cohorts(case["metric"], grain=case["grain"], start=case["start"], end=case["end"],
                                 partial=case["partial"])
        got = report.records()
    assert got == expected
    # the frame has the same rows; offset 0 is the cohort's size at rate 1
    assert all(r["rate"] == 1.0 for r in got if r["offset"] == 0)


# ---- the pure part -----------------------------------------------------------------------

def test_build_cohorts_fills_zeros_and_leaves_out_an_incomplete_last_period() -> None:
    from northstar.analysis.cohorts import build_cohorts

    d = dt.date
    counts = [(d(2024, 1, 1), d(2024, 1, 1), 4), (d(2024, 1, 1), d(2024, 3, 1), 2), (d(2024, 2, 1), d(2024, 2, 1), 5),
              (d(2024, 1, 1), d(2024, 4, 1), 1), (d(2024, 4, 1), d(2024, 4, 1), 3)]
    report = build_cohorts("m", "month", counts, d(2024, 4, 1), d(2024, 4, 10))
    assert report.skipped == d(2024, 4, 1) and report.last_period == d(2024, 3, 1) and not report.partial
    assert [(r.cohort.month, r.offset, r.entities, r.rate) for r in report.rows] == [
        (1, 0, 4, 1.0), (1, 1, 0, 0.0), (1, 2, 2, 0.5), (2, 0, 5, 1.0), (2, 1, 0, 0.0)]
    assert report.sizes == {d(2024, 1, 1): 4, d(2024, 2, 1): 5}
    full = build_cohorts("m", "month", counts, d(2024, 4, 1), d(2024, 4, 10), partial=True)
    assert full.partial and full.skipped is None and full.rows[-1] == type(full.rows[0])(d(2024, 4, 1), 0, 3, 1.0)
    assert list(full.to_frame().columns) == ["cohort", "offset", "entities", "rate"]
    assert full.to_dict()["rows"] == full.records()
    complete = build_cohorts("m", "month", counts, d(2024, 4, 1), d(2024, 4, 30))
    assert complete.last_period == d(2024, 4, 1) and complete.skipped is None and not complete.partial


# ---- the real Sparkify data ----------------------------------------------------------------

def _sparkify() -> list[dict]:
    with SPARKIFY_EVENTS.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _sparkify_rows() -> list[tuple[dt.datetime, Any, bool]]:
    """(instant, userId, is NextSong) from the raw file, with json and datetime only."""
    return [(dt.datetime.fromtimestamp(e["ts"] / 1000, tz=UTC), e.get("userId"), e.get("page") == "NextSong")
            for e in _sparkify()]


def test_sparkify_weekly_cohorts_match_plain_python(sparkify_dir: Path) -> None:
    events = _sparkify()
    # Independent of brute_cohorts too: the weeks and sets by hand.
    def week(e: dict) -> dt.date:
        day = dt.datetime.fromtimestamp(e["ts"] / 1000, tz=UTC).date()
        return day - dt.timedelta(days=day.weekday())

    listened: dict[dt.date, set[str]] = defaultdict(set)
    for e in events:
        if e.get("page") == "NextSong" and e.get("userId") is not None:
            listened[week(e)].add(e["userId"])
    weeks = sorted(listened)
    assert weeks[0] == dt.date(2018, 10, 29) and weeks[-1] == dt.date(2018, 11, 26)
    first: dict[str, dt.date] = {}
    for w in weeks:
        for user in listened[w]:
            first.setdefault(user, w)
    project = Project.load(sparkify_dir / "northstar.yml")
    for metric in ("active_listeners", "listener_retention"):
        report = project.cohorts(metric)  # the North Star's grain: week
        assert report.grain == "week"
        # The data ends on Friday 2018-11-30: the week of Nov 26 is incomplete and left out.
        assert report.skipped == dt.date(2018, 11, 26) and report.last_period == dt.date(2018, 11, 19)
        expected = []
        for cohort in weeks[:-1]:
            members = {u for u, c in first.items() if c == cohort}
            for k, w in enumerate(weeks[weeks.index(cohort):-1]):
                n = len(members & listened[w])
                expected.append({"cohort": cohort.isoformat(), "offset": k, "entities": n, "rate": n / len(members)})
        assert report.records() == expected
    # every listener is in exactly one cohort (the week of Nov 26 has its own, shown with --partial)
    full = project.cohorts("active_listeners", partial=True)
    assert full.partial and sum(full.sizes.values()) == len(first)
    assert full.records() == brute_cohorts(_sparkify_rows(), "UTC", "week", partial=True)


def test_sparkify_month_day_and_a_dst_time_zone(sparkify_dir: Path) -> None:
    rows = _sparkify_rows()
    spec = sparkify_dir / "northstar.yml"
    project = Project.load(spec)
    month = project.cohorts("paid_listeners", grain="month").records()
    paid = [(t, u, ok and e.get("level") == "paid") for (t, u, ok), e in zip(rows, _sparkify())]
    assert month == brute_cohorts(paid, "UTC", "month")
    assert len(month) == 1 and month[0]["cohort"] == "2018-11-01"  # November is complete: data to the 30th
    assert project.cohorts("active_listeners", grain="day").records() == brute_cohorts(rows, "UTC", "day")
    # Los Angeles: the clocks go back on 2018-11-04, and days and weeks are cut 8 hours later.
    spec.write_text(spec.read_text().replace("timezone: UTC ", "timezone: America/Los_Angeles "))
    la = Project.load(spec)
    assert la.spec.timezone == "America/Los_Angeles"
    for grain in ("day", "week"):
        got = la.cohorts("active_listeners", grain=grain, start="2018-11-02", end="2018-11-20").records()
        assert got == brute_cohorts(rows, "America/Los_Angeles", grain, start=dt.date(2018, 11, 2),
                                    end=dt.date(2018, 11, 20))
        assert got


def test_a_source_without_entity_has_no_cohorts(sparkify_dir: Path) -> None:
    from northstar.engine.cohorts import check_entity_metric

    spec = Project.load(sparkify_dir / "northstar.yml").spec
    source = spec.sources["events"].model_copy(update={"entity": None})
    spec = spec.model_copy(update={"sources": {"events": source}})
    with pytest.raises(QueryError, match=r"metric 'active_listeners': source 'events' declares no `entity`"):
        check_entity_metric(spec, "active_listeners")


# ---- the command line ----------------------------------------------------------------------

def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_cli_json_csv_and_table(sparkify_dir: Path) -> None:
    expected = brute_cohorts(_sparkify_rows(), "UTC", "week")
    result = run(sparkify_dir, "cohorts", "active_listeners", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected

    result = run(sparkify_dir, "cohorts", "active_listeners", "--grain", "week", "--format", "csv")
    assert result.returncode == 0, result.stderr
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(records[0]) == ["cohort", "offset", "entities", "rate"]
    assert [(r["cohort"], int(r["offset"]), int(r["entities"]), float(r["rate"])) for r in records] == [
        (e["cohort"], e["offset"], e["entities"], e["rate"]) for e in expected]

    result = run(sparkify_dir, "cohorts", "active_listeners", "--from", "2018-11-05", "--to", "2018-11-12",
                 "--partial", "--format", "json")
    cohorts = {r["cohort"] for r in json.loads(result.stdout)}
    assert cohorts == {"2018-11-05", "2018-11-12"}
    assert max(r["offset"] for r in json.loads(result.stdout) if r["cohort"] == "2018-11-05") == 3

    result = run(sparkify_dir, "cohorts", "active_listeners")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Cohorts of active_listeners by week" in out
    first = [r for r in expected if r["cohort"] == "2018-10-29"]
    line = next(ln for ln in out.splitlines() if "2018-10-29" in ln)
    cells = [c.strip() for c in line.strip("│┃| ").split("│")]
    assert cells == ["2018-10-29", str(first[0]["entities"]), *[f"{r['rate'] * 100:.1f}%" for r in first[1:]]]
    last_line = next(ln for ln in out.splitlines() if "2018-11-19" in ln)
    assert "%" not in last_line  # the last cohort shown has no later period yet
    assert "2018-11-26 is left out" in out and "--partial" in out


def test_cli_errors_are_one_line_with_exit_2(sparkify_dir: Path) -> None:
    line = _one_error(run(sparkify_dir, "cohorts", "listening_minutes"))
    assert "'listening_minutes'" in line and "not an entity metric" in line
    for name in ("active_listeners", "paid_listeners", "listener_retention", "all_time_listeners"):
        assert name in line
    assert "upgrade_conversion" not in line.split("qualifying metrics:")[1]
    line = _one_error(run(sparkify_dir, "cohorts", "upgrade_conversion"))
    assert "'upgrade_conversion' is a conversion metric" in line
    line = _one_error(run(sparkify_dir, "cohorts", "active_listenrs"))
    assert "unknown metric 'active_listenrs'" in line and "Did you mean 'active_listeners'?" in line
    line = _one_error(run(sparkify_dir, "cohorts", "active_listeners", "--grain", "wek"))
    assert "unknown grain 'wek'" in line and "Did you mean 'week'?" in line
    line = _one_error(run(sparkify_dir, "cohorts", "active_listeners", "--from", "2018-11-20", "--to", "2018-11-01"))
    assert "--from 2018-11-20 is after --to 2018-11-01" in line
    line = _one_error(run(sparkify_dir, "cohorts", "active_listeners", "--from", "November"))
    assert "--from: 'November' is not a date" in line
