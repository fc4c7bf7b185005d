"""Property tests: ``Project.load(spec).query(...)`` against the brute-force reference.

Each example draws a small random event table (duplicate and null timestamps, nulls in the
dimension / value / entity columns, instants next to DST switches and local midnights in
Europe/Amsterdam and America/New_York), writes it as Parquet, CSV or JSON lines with the
timestamp as epoch seconds / milliseconds, naive (UTC or a source time zone) or zone-aware
timestamps, writes a spec next to it, runs the engine and compares every cell with
``tests/reference.py`` for every grain.

Segments: the semantics say a breakdown shows "every segment that appears in the query's
result". The check here is: every segment with a non-empty value in the output range must
be shown, and only segments present in the (filtered) data may be shown; each shown segment
gets every period and its values must equal the reference's.

Scale the number of examples with NORTHSTAR_PROPERTY_SCALE (a float, default 1).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import reference as ref

northstar = pytest.importorskip("northstar")
try:
    from northstar import Project
except ImportError:  # the engine is not written yet
    pytest.skip("northstar.Project is not available yet", allow_module_level=True)

UTC = timezone.utc
GRAINS = ref.GRAINS
TIMEZONES = ["UTC", "Europe/Amsterdam", "America/New_York"]
SCALE = float(os.environ.get("NORTHSTAR_PROPERTY_SCALE", "1"))


# The `engine:` block added to every spec (None: the default, DuckDB); test_properties_engines.py
# sets it to run the same properties on the other engines.
ENGINE: dict | None = None


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------------------------
# the time line: three windows of ~120 days, each with DST switches / a year or quarter end
# --------------------------------------------------------------------------------------------

SPAN = timedelta(days=120)
WINDOWS = [
    datetime(2023, 12, 1, tzinfo=UTC),  # year end, NY spring-forward 2024-03-10
    datetime(2024, 2, 10, tzinfo=UTC),  # both spring-forwards (03-10 NY, 03-31 AMS), quarter end
    datetime(2024, 9, 15, tzinfo=UTC),  # both fall-backs (10-27 AMS, 11-03 NY), year end
]
DST_SWITCHES = [
    datetime(2024, 3, 10, 7, tzinfo=UTC),  # New York 02:00 EST -> 03:00 EDT
    datetime(2024, 3, 31, 1, tzinfo=UTC),  # Amsterdam 02:00 CET -> 03:00 CEST
    datetime(2024, 10, 27, 1, tzinfo=UTC),  # Amsterdam 03:00 CEST -> 02:00 CET
    datetime(2024, 11, 3, 6, tzinfo=UTC),  # New York 02:00 EDT -> 01:00 EST
]
SWITCH_ZONES = ["America/New_York", "Europe/Amsterdam", "Europe/Amsterdam", "America/New_York"]
NEAR = [timedelta(0), timedelta(milliseconds=-1), timedelta(seconds=1), timedelta(minutes=-30),
        timedelta(hours=1), timedelta(hours=-1), timedelta(hours=23), timedelta(hours=-23)]
EDGE = [timedelta(0), timedelta(milliseconds=-1), timedelta(seconds=-1), timedelta(seconds=1),
        timedelta(hours=-1), timedelta(hours=1)]


@st.composite
def instants(draw, window: datetime, tz: str, span: timedelta = SPAN) -> datetime:
    """A UTC instant (ms precision) in or next to the window, biased to awkward moments.

    A ``span`` shorter than the window's 120 days concentrates the events (so that entities
    come back in consecutive periods) around a random moment of the window.
    """
    if span < SPAN:
        window = window + timedelta(days=draw(st.integers(0, (SPAN - span).days)))
    kind = draw(st.sampled_from(["uniform", "uniform", "uniform", "dst", "midnight", "boundary"]))
    inside = [d for d in DST_SWITCHES if window <= d <= window + span]
    if kind == "dst" and inside:
        return draw(st.sampled_from(inside)) + draw(st.sampled_from(NEAR))
    if kind in ("midnight", "boundary"):
        zone = ZoneInfo(draw(st.sampled_from([tz, tz, *TIMEZONES])))
        day = window.date() + timedelta(days=draw(st.integers(0, span.days)))
        if kind == "boundary":  # first day of a week / month / quarter
            day = ref.trunc(day, draw(st.sampled_from(["week", "month", "quarter"])))
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        return midnight + draw(st.sampled_from(EDGE))
    ms = draw(st.integers(0, int(span.total_seconds() * 1000)))
    return window + timedelta(milliseconds=ms)


# --------------------------------------------------------------------------------------------
# event tables
# --------------------------------------------------------------------------------------------

COLUMNS = ["ts", "user", "event", "country", "platform", "value"]
ENCODINGS = ["epoch_s", "epoch_ms", "naive_utc", "aware", "source_tz"]
FORMATS = ["parquet", "parquet", "parquet", "csv", "jsonl"]


@dataclass
class Table:
    tz: str
    encoding: str  # how the ts column holds time
    fmt: str  # parquet / csv / jsonl
    source_tz: str | None  # zone of naive timestamps (encoding source_tz)
    aware_tz: str | None  # zone the aware timestamps are written in
    value_type: str  # int64 / float64
    rows: list[dict]  # raw cells, as the reference and the file see them

    def source(self) -> dict:
        src: dict[str, Any] = {"path": f"events.{self.fmt}", "timestamp": "ts"}
        if self.encoding in ("epoch_s", "epoch_ms"):
            src["time_unit"] = "s" if self.encoding == "epoch_s" else "ms"
        if self.encoding == "source_tz":
            src["timezone"] = self.source_tz
        src["entity"] = "user"
        src["dimensions"] = ["country", "platform"]
        return src


def _encode(instant: datetime | None, encoding: str, source_tz: str | None, aware_tz: str | None):
    if instant is None:
        return None
    if encoding == "epoch_s":
        return int((instant - ref.EPOCH).total_seconds() // 1)
    if encoding == "epoch_ms":
        return (instant - ref.EPOCH) // timedelta(milliseconds=1)
    if encoding == "naive_utc":
        return instant.replace(tzinfo=None)
    if encoding == "aware":
        return instant.astimezone(ZoneInfo(aware_tz))
    if encoding == "source_tz":
        return instant.astimezone(ZoneInfo(source_tz)).replace(tzinfo=None)
    raise ValueError(encoding)


def _ambiguous(naive: datetime, zone: str) -> bool:
    z = ZoneInfo(zone)
    return naive.replace(tzinfo=z, fold=0).utcoffset() != naive.replace(tzinfo=z, fold=1).utcoffset()


@st.composite
def tables(draw, min_rows: int = 0, max_rows: int = 60, extra_rows=None, fmt: str | None = None,
           spans=(SPAN, SPAN, timedelta(days=28), timedelta(days=8))) -> Table:
    """A random event table. ``extra_rows(draw, window, tz, users)`` may add instants-rows."""
    tz = draw(st.sampled_from(TIMEZONES))
    window = draw(st.sampled_from(WINDOWS))
    encoding = draw(st.sampled_from(ENCODINGS))
    fmt = fmt or draw(st.sampled_from(FORMATS))
    source_tz = draw(st.sampled_from(TIMEZONES)) if encoding == "source_tz" else None
    aware_tz = draw(st.sampled_from(["UTC", "America/New_York", "Europe/Amsterdam"])) if encoding == "aware" else None
    value_type = draw(st.sampled_from(["int64", "float64"]))

    users = [f"u{i}" for i in range(1, draw(st.integers(1, 6)) + 1)]
    countries = draw(st.sampled_from([["NL", "DE"], ["NL", "DE", "US"]]))
    platforms = ["ios", "android"]
    span = draw(st.sampled_from(list(spans)))
    # a dense cluster of activity, plus a few instants anywhere in the window
    pool = draw(st.lists(instants(window, tz, span), min_size=1, max_size=40))
    pool += draw(st.lists(instants(window, tz), max_size=3))
    # bimodal row count: hypothesis favours tiny tables otherwise
    n = draw(st.integers(min_rows, max_rows) | st.integers(max(min_rows, max_rows // 2), max_rows))

    def cell(values, none_weight=1):
        return st.sampled_from(values * 4 + [None] * none_weight)

    events: list[tuple[datetime | None, dict]] = []
    for _ in range(n):
        instant = None if draw(st.integers(0, 19)) == 0 else pool[draw(st.integers(0, len(pool) - 1))]
        events.append((instant, {
            "user": draw(cell(users)),
            "event": draw(cell(["play", "play", "trial", "buy", "view"])),
            "country": draw(cell(countries, 2)),
            "platform": draw(cell(platforms, 2)),
            "value": draw(st.one_of(st.none(), st.integers(-20, 600))),
        }))
    if extra_rows is not None:
        events += extra_rows(draw, window, tz, users, countries, platforms)

    rows = []
    for instant, cells in events:
        ts = _encode(instant, encoding, source_tz, aware_tz)
        if encoding == "source_tz" and ts is not None and _ambiguous(ts, source_tz):
            continue  # a wall-clock time that occurs twice: not expressible as a naive timestamp
        r = {"ts": ts, **cells}
        if value_type == "float64" and r["value"] is not None:
            r["value"] = float(r["value"])
        rows.append(r)

    if fmt != "parquet":
        # text files carry no schema: make sure every column has a value to infer a type from
        if not rows:
            rows.append({"ts": _encode(window, encoding, source_tz, aware_tz), "user": users[0], "event": "view",
                         "country": countries[0], "platform": "ios", "value": None})
        defaults = {"ts": _encode(window + timedelta(hours=12), encoding, source_tz, aware_tz), "user": users[0],
                    "event": "view", "country": countries[0], "platform": "ios",
                    "value": 1.0 if value_type == "float64" else 1}
        for col in COLUMNS:
            if all(r[col] is None for r in rows):
                rows[0][col] = defaults[col]
    return Table(tz, encoding, fmt, source_tz, aware_tz, value_type, rows)


def _text(v, encoding: str) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            return v.isoformat(sep=" ", timespec="milliseconds")
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return v


def write_table(table: Table, directory: Path) -> Path:
    path = directory / f"events.{table.fmt}"
    rows = table.rows
    if table.fmt == "parquet":
        if table.encoding in ("epoch_s", "epoch_ms"):
            ts_type = pa.int64()
        elif table.encoding == "aware":
            ts_type = pa.timestamp("ms", tz=table.aware_tz)
        else:
            ts_type = pa.timestamp("ms")
        arrays = {
            "ts": pa.array([r["ts"] for r in rows], type=ts_type),
            "user": pa.array([r["user"] for r in rows], type=pa.string()),
            "event": pa.array([r["event"] for r in rows], type=pa.string()),
            "country": pa.array([r["country"] for r in rows], type=pa.string()),
            "platform": pa.array([r["platform"] for r in rows], type=pa.string()),
            "value": pa.array([r["value"] for r in rows], type=getattr(pa, table.value_type)()),
        }
        pq.write_table(pa.table(arrays), path)
    elif table.fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else _text(r[c], table.encoding) for c in COLUMNS])
        path.write_text(buf.getvalue())
    else:
        path.write_text("".join(json.dumps({c: _text(r[c], table.encoding) for c in COLUMNS}) + "\n" for r in rows))
    return path


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------

AGGREGATES = {
    "events_n": {"agg": "count"},
    "plays": {"where": "event = 'play'", "agg": "count"},
    "valued": {"agg": "count", "expr": "value"},
    "big_n": {"where": "value > 100", "agg": "count"},
    "nocountry_n": {"where": "country is null", "agg": "count", "expr": "coalesce(value, 0) * 2"},
    "users": {"agg": "count_distinct"},
    "listeners": {"where": "event = 'play'", "agg": "count_distinct"},
    "engaged": {"where": "event in ('play', 'trial')", "agg": "count_distinct"},
    "countries": {"agg": "count_distinct", "expr": "country"},
    "distinct_minutes": {"where": "not (platform = 'ios')", "agg": "count_distinct", "expr": "value / 60"},
    "minutes": {"where": "event = 'play'", "agg": "sum", "expr": "value / 60"},
    "total_value": {"agg": "sum", "expr": "value"},
    "doubled": {"where": "not (platform = 'ios')", "agg": "sum", "expr": "coalesce(value, 0) * 2"},
    "avg_value": {"agg": "avg", "expr": "value"},
    "avg_minutes": {"where": "event in ('play', 'trial')", "agg": "avg", "expr": "value / 60"},
    "avg_doubled": {"where": "country is null", "agg": "avg", "expr": "coalesce(value, 0) * 2"},
    "min_value": {"agg": "min", "expr": "value"},
    "min_big": {"where": "value > 100", "agg": "min", "expr": "value / 60"},
    "max_value": {"agg": "max", "expr": "value"},
    "max_doubled": {"where": "event = 'play'", "agg": "max", "expr": "coalesce(value, 0) * 2"},
}
CUMULATIVES = {
    "c_events": {"agg": "count", "cumulative": True},
    "c_plays": {"where": "event = 'play'", "agg": "count", "cumulative": True},
    "c_valued": {"agg": "count", "expr": "value", "cumulative": True},
    "c_value": {"agg": "sum", "expr": "value", "cumulative": True},
    "c_minutes": {"where": "event = 'play'", "agg": "sum", "expr": "value / 60", "cumulative": True},
    "c_users": {"agg": "count_distinct", "cumulative": True},
    "c_listeners": {"where": "event = 'play'", "agg": "count_distinct", "cumulative": True},
    "c_countries": {"agg": "count_distinct", "expr": "country", "cumulative": True},
    "c_min": {"agg": "min", "expr": "value", "cumulative": True},
    "c_max": {"where": "not (platform = 'ios')", "agg": "max", "expr": "coalesce(value, 0) * 2", "cumulative": True},
}
RETENTIONS = {
    "ret_play": {"type": "retention", "where": "event = 'play'"},
    "ret_all": {"type": "retention"},
    "ret_engaged": {"type": "retention", "where": "event in ('play', 'trial')"},
    "ret_android": {"type": "retention", "where": "not (platform = 'ios')"},
}
FORMULAS = {
    "per_listener": "minutes / listeners",
    "plays_minus_users": "plays - users",
    "scaled": "(plays + 1) * 2 / users",
    "avg_x2": "avg_value * 2",
    "per_listener_h": "per_listener * 60 / 3600",
    "share_big": "big_n / events_n",
    "zero_div": "plays / (users - users)",
    "ret_pct": "ret_play * 100",
    "c_gap": "c_events - events_n",
    "value_range": "max_value - min_value",
}
QUERY_FILTERS = [
    "country = 'NL'",
    "country in ('NL', 'DE')",
    "country is null",
    "not (platform = 'ios')",
    "platform = 'android' or country = 'US'",
    "platform = 'ios' and country is not null",
]
BREAKDOWNS = [["country"], ["platform"], ["country", "platform"], ["platform", "country"], [], [], []]


def with_source(defs: dict) -> dict:
    return {name: {"source": "events", **d} if "formula" not in d else d for name, d in defs.items()}


def all_metrics() -> dict:
    out = with_source({**AGGREGATES, **CUMULATIVES, **RETENTIONS})
    out.update({name: {"formula": text} for name, text in FORMULAS.items()})
    return out


def make_spec(table: Table, metrics: dict) -> dict:
    first = next(iter(metrics))
    spec = {
        "project": "Property test",
        "timezone": table.tz,
        "sources": {"events": table.source()},
        "metrics": metrics,
        "north_star": {"metric": first, "grain": "week"},
    }
    if ENGINE is not None:
        spec["engine"] = dict(ENGINE)
    return spec


def write_spec(spec: dict, directory: Path) -> Path:
    path = directory / "northstar.yml"
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(spec, buf)
    path.write_text(buf.getvalue())
    return path


# --------------------------------------------------------------------------------------------
# queries
# --------------------------------------------------------------------------------------------


@dataclass
class Query:
    metrics: list[str]
    by: list[str] = field(default_factory=list)
    where: str | None = None
    start: str | None = None
    end: str | None = None
    compare: bool = False

    def kwargs(self, grain: str) -> dict:
        return dict(grain=grain, by=self.by, where=self.where, start=self.start, end=self.end, compare=self.compare)


@st.composite
def ranges(draw, table: Table) -> tuple[str | None, str | None]:
    kind = draw(st.sampled_from(["both", "both", "start", "end", "none", "none", "none"]))
    if kind == "none":
        return None, None
    dates = [ref.to_utc(r["ts"], table.source().get("time_unit"), table.source_tz) for r in table.rows]
    dates = [d.astimezone(ZoneInfo(table.tz)).date() for d in dates if d is not None]
    lo = min(dates, default=date(2024, 1, 1)) - timedelta(days=10)
    hi = max(dates, default=date(2024, 3, 1)) + timedelta(days=10)
    a = lo + timedelta(days=draw(st.integers(0, (hi - lo).days)))
    b = a + timedelta(days=draw(st.integers(0, (hi - a).days)))
    start = a.isoformat() if kind in ("both", "start") else None
    end = b.isoformat() if kind in ("both", "end") else None
    return start, end


@st.composite
def queries(draw, table: Table, names: list[str], max_metrics: int = 5) -> Query:
    metrics = draw(st.lists(st.sampled_from(names), min_size=1, max_size=max_metrics, unique=True))
    by = draw(st.sampled_from(BREAKDOWNS))
    # (hypothesis leans towards the first element of a list: keep the plain case last)
    where = draw(st.sampled_from([*QUERY_FILTERS, None, None, None, None, None]))
    start, end = draw(ranges(table))
    return Query(metrics, list(by), where, start, end)


# --------------------------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------------------------


def is_null(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


def as_python(v):
    if is_null(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalar
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    return v


def as_date(v) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        return date.fromisoformat(v[:10])
    raise TypeError(f"period {v!r} of type {type(v).__name__} is not a date")


def same(expected, got) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected == got
    return math.isclose(float(expected), float(got), rel_tol=1e-9, abs_tol=1e-9)


def describe(spec: dict, table: Table, query: Query, grain: str) -> str:
    yaml = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    yaml.dump(spec, buf)
    lines = [f"--- northstar.yml\n{buf.getvalue()}--- {table.fmt} rows ({table.encoding}, value {table.value_type}):"]
    for r in table.rows:
        lines.append("  " + repr(r))
    lines.append(f"--- query({query.metrics!r}, **{query.kwargs(grain)!r})")
    return "\n".join(lines)


def run_engine(spec: dict, table: Table, query: Query, grain: str, directory: Path) -> pd.DataFrame:
    project = Project.load(str(directory / "northstar.yml"))
    return project.query(query.metrics, **query.kwargs(grain))


def check(df: pd.DataFrame, expected: ref.Result, spec: dict, query: Query) -> None:
    """Assert the engine's frame agrees with the reference (see the module docstring)."""
    problems: list[str] = []
    assert list(df.columns) == expected.columns, f"columns {list(df.columns)} != expected {expected.columns}"
    by = expected.by
    records = df.to_dict("records")
    periods = [as_date(r["period"]) for r in records]
    segs = [tuple(as_python(r[d]) for d in by) for r in records]

    # periods: each one of the expected list, in order, every segment the same
    distinct_periods = list(dict.fromkeys(periods))
    shown = list(dict.fromkeys(segs))
    if not by:
        assert periods == expected.periods, (
            f"periods {[p.isoformat() for p in periods]} != expected {[p.isoformat() for p in expected.periods]}"
        )
    else:
        if records or expected.required_segments:
            assert distinct_periods == expected.periods, (
                f"periods {[p.isoformat() for p in distinct_periods]} != "
                f"expected {[p.isoformat() for p in expected.periods]}"
            )
        assert set(shown) >= expected.required_segments, (
            f"segments with data missing: {sorted(expected.required_segments - set(shown), key=ref.seg_sort_key)}"
        )
        assert set(shown) <= expected.candidate_segments, (
            f"segments not in the data: {sorted(set(shown) - expected.candidate_segments, key=ref.seg_sort_key)}"
        )
        assert len(records) == len(distinct_periods) * len(shown), (
            f"not a full grid: {len(records)} rows for {len(distinct_periods)} periods x {len(shown)} segments"
        )
        for i, p in enumerate(distinct_periods):
            block = segs[i * len(shown):(i + 1) * len(shown)]
            assert all(x == p for x in periods[i * len(shown):(i + 1) * len(shown)]), "rows not grouped by period"
            assert block == shown, f"segment order differs in period {p}: {block} vs {shown}"
        nulls_last = sorted(shown, key=ref.seg_sort_key)
        nulls_first = sorted(shown, key=lambda s: tuple((v is not None, v or "") for v in s))
        assert shown in (nulls_last, nulls_first), f"segments not sorted: {shown}"

    # values
    value_columns = [c for c in expected.columns if c not in ("period", *by)]
    for r, p, s in zip(records, periods, segs):
        for c in value_columns:
            want = expected.value(c, p, s)
            got = as_python(r[c])
            if not same(want, got):
                problems.append(f"{p} {dict(zip(by, s))} {c}: expected {want!r}, got {got!r}")
    assert not problems, f"{len(problems)} wrong cells, e.g.:\n  " + "\n  ".join(problems[:12])

    # integer-valued metrics come back as integers
    for m in query.metrics:
        d = spec["metrics"][m]
        if d.get("agg") in ("count", "count_distinct") and len(df):
            assert pd.api.types.is_integer_dtype(df[m].dtype), f"{m} ({d['agg']}) has dtype {df[m].dtype}"


def run_and_check(spec: dict, table: Table, query: Query, grains=GRAINS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_table(table, directory)
        write_spec(spec, directory)
        for grain in grains:
            note(describe(spec, table, query, grain))
            expected = ref.query(spec, {"events": table.rows}, query.metrics, grain, query.by, query.where,
                                 query.start, query.end, query.compare)
            df = run_engine(spec, table, query, grain, directory)
            try:
                check(df, expected, spec, query)
            except AssertionError as exc:
                raise AssertionError(f"[grain={grain}] {exc}\n--- engine returned:\n{df.to_string()}") from None


# --------------------------------------------------------------------------------------------
# the properties
# --------------------------------------------------------------------------------------------


@settings(max_examples=examples(50), **SETTINGS)
@given(st.data())
def test_aggregate_metrics(data):
    table = data.draw(tables())
    spec = make_spec(table, with_source(AGGREGATES))
    query = data.draw(queries(table, list(AGGREGATES)))
    run_and_check(spec, table, query)


@settings(max_examples=examples(35), **SETTINGS)
@given(st.data())
def test_cumulative_metrics(data):
    table = data.draw(tables())
    spec = make_spec(table, with_source({**CUMULATIVES, "events_n": AGGREGATES["events_n"]}))
    query = data.draw(queries(table, list(CUMULATIVES) + ["events_n"]))
    run_and_check(spec, table, query)


@settings(max_examples=examples(35), **SETTINGS)
@given(st.data())
def test_retention(data):
    dense = (SPAN, timedelta(days=40), timedelta(days=15), timedelta(days=4))  # people come back
    table = data.draw(tables(min_rows=1, max_rows=50, spans=dense))
    spec = make_spec(table, with_source(RETENTIONS))
    query = data.draw(queries(table, list(RETENTIONS), max_metrics=2))
    run_and_check(spec, table, query)


WITHINS = ["3d", "1d", "12h", "2w", "30m"]


# (from, to, cells of a generated `from` row, cells of a generated `to` row)
CONVERSIONS = [
    ("event = 'trial'", "event = 'buy'", {"event": ["trial"]}, {"event": ["buy"]}),
    ("event in ('play', 'trial')", "event = 'play'",  # a row can be both: it converts at once
     {"event": ["play", "trial"]}, {"event": ["play"]}),
    ("event = 'play'", "value > 100", {"event": ["play"], "value": [None, 5]}, {"event": ["view", "buy"], "value": [150]}),
]


def conversion_pairs(within: str, from_cells: dict, to_cells: dict):
    """Extra rows: `from` events followed (or preceded) by `to` events, often at the window's edge."""
    window = ref.parse_within(within)
    ms = timedelta(milliseconds=1)
    deltas = [timedelta(0), window, window, window - ms, window + ms, window + ms, window - timedelta(hours=1),
              window + timedelta(hours=1), -ms, window / 2, window * 3, timedelta(hours=1), timedelta(hours=1) + ms]

    def extra(draw, start, tz, users, countries, platforms):
        out = []
        pair_users = users[: draw(st.integers(1, len(users)))]
        for _ in range(draw(st.integers(1, 10))):
            own = [d for d, zone in zip(DST_SWITCHES, SWITCH_ZONES) if zone == tz] or DST_SWITCHES
            switches = [d for d in own if start <= d <= start + SPAN]
            if switches and draw(st.booleans()):  # the window straddles a DST switch
                f = draw(st.sampled_from(switches)) - draw(st.sampled_from([window / 2, timedelta(hours=1), ms]))
            else:
                f = draw(instants(start, tz, draw(st.sampled_from([SPAN, timedelta(days=10)]))))
            user = draw(st.sampled_from(pair_users * 4 + [None]))

            def cells(spec_cells):
                c = {"user": user, "event": None, "value": None,
                     "country": draw(st.sampled_from(countries + [None])),
                     "platform": draw(st.sampled_from(platforms + [None]))}
                c.update({k: draw(st.sampled_from(v)) for k, v in spec_cells.items()})
                return c

            out.append((f, cells(from_cells)))
            for _ in range(draw(st.integers(1, 2))):
                out.append((f + draw(st.sampled_from(deltas)), cells(to_cells)))
        return out

    return extra


@st.composite
def conversion_cases(draw):
    within = draw(st.sampled_from(WITHINS))
    frm, to, from_cells, to_cells = draw(st.sampled_from(CONVERSIONS))
    table = draw(tables(max_rows=30, extra_rows=conversion_pairs(within, from_cells, to_cells)))
    metrics = {
        "conv": {"type": "conversion", "source": "events", "from": frm, "to": to, "within": within},
        "conv_1h": {"type": "conversion", "source": "events", "from": frm, "to": to, "within": "1h"},
        "starters": {"source": "events", "where": frm, "agg": "count_distinct"},
    }
    return table, metrics


@settings(max_examples=examples(40), **SETTINGS)
@given(st.data())
def test_conversion(data):
    table, metrics = data.draw(conversion_cases())
    spec = make_spec(table, metrics)
    query = data.draw(queries(table, ["conv", "conv", "conv_1h", "starters"], max_metrics=3))
    run_and_check(spec, table, query)


@settings(max_examples=examples(35), **SETTINGS)
@given(st.data())
def test_formulas_and_mixed_kinds(data):
    table = data.draw(tables())
    spec = make_spec(table, all_metrics())
    names = list(FORMULAS) + list(FORMULAS) + ["plays", "users", "c_events", "ret_play", "avg_value"]
    query = data.draw(queries(table, names, max_metrics=4))
    run_and_check(spec, table, query)


@settings(max_examples=examples(25), **SETTINGS)
@given(st.data())
def test_same_answer_whatever_the_timestamp_encoding(data):
    """One set of instants written in every encoding and format gives one answer."""
    table = data.draw(tables(min_rows=1, fmt="csv"))  # csv: every column has a value
    if table.encoding == "source_tz":
        return
    spec_metrics = with_source({k: AGGREGATES[k] for k in ("events_n", "users", "minutes", "min_value")})
    query = data.draw(queries(table, list(spec_metrics)))
    grain = data.draw(st.sampled_from(GRAINS))
    instants_ = [ref.to_utc(r["ts"], table.source().get("time_unit"), table.source_tz) for r in table.rows]
    for encoding, fmt, aware_tz in [
        ("epoch_ms", "parquet", None), ("epoch_s", "csv", None), ("epoch_ms", "jsonl", None),
        ("naive_utc", "parquet", None), ("naive_utc", "csv", None), ("naive_utc", "jsonl", None),
        ("aware", "parquet", "UTC"), ("aware", "parquet", "Europe/Amsterdam"),
        ("aware", "csv", "America/New_York"), ("aware", "jsonl", "Europe/Amsterdam"),
    ]:
        rows = []
        for r, i in zip(table.rows, instants_):
            if encoding == "epoch_s" and i is not None:
                i = i.replace(microsecond=0)
            rows.append({**r, "ts": _encode(i, encoding, None, aware_tz)})
        other = Table(table.tz, encoding, fmt, None, aware_tz, table.value_type, rows)
        run_and_check(make_spec(other, spec_metrics), other, query, grains=[grain])


@settings(max_examples=examples(25), **SETTINGS)
@given(st.data())
def test_compare_columns(data):
    table = data.draw(tables(min_rows=1))
    spec = make_spec(table, with_source({k: AGGREGATES[k] for k in ("plays", "users", "total_value", "avg_value")}))
    query = data.draw(queries(table, ["plays", "users", "total_value", "avg_value"], max_metrics=2))
    query.compare = True
    query.by = data.draw(st.sampled_from([[], [], ["country"]]))
    run_and_check(spec, table, query)


def test_output_shape():
    """Types of the frame: `period` holds datetime.date, counts are integers, ratios floats."""
    rows = [
        {"ts": datetime(2024, 1, 1, 10), "user": "u1", "event": "play", "country": "NL", "platform": "ios", "value": 90},
        {"ts": datetime(2024, 1, 9, 10), "user": "u1", "event": "play", "country": None, "platform": "ios", "value": None},
        {"ts": datetime(2024, 1, 9, 11), "user": "u2", "event": "trial", "country": "DE", "platform": None, "value": 30},
    ]
    table = Table("UTC", "naive_utc", "parquet", None, None, "int64", rows)
    spec = make_spec(table, all_metrics())
    query = Query(["plays", "users", "avg_value", "ret_play", "per_listener"], by=["country"])
    with tempfile.TemporaryDirectory() as tmp:
        write_table(table, Path(tmp))
        write_spec(spec, Path(tmp))
        df = run_engine(spec, table, query, "week", Path(tmp))
    assert list(df.columns) == ["period", "country", "plays", "users", "avg_value", "ret_play", "per_listener"]
    assert all(type(p) is date for p in df["period"]), [type(p) for p in df["period"]]
    assert pd.api.types.is_integer_dtype(df["plays"].dtype) and pd.api.types.is_integer_dtype(df["users"].dtype)
    for c in ("avg_value", "ret_play", "per_listener"):
        assert pd.api.types.is_float_dtype(df[c].dtype) or df[c].dtype == object, (c, df[c].dtype)
    expected = ref.query(spec, {"events": rows}, query.metrics, "week", query.by)
    check(df, expected, spec, query)
