"""ClickHouse (the embedded chdb) gives DuckDB's numbers for the same spec.

Each spec here is the real-dataset spec of the core tests (tests/sparkify.yml, the Olist spec
of tests/test_olist.py) with only an `engine:` block added. Integers must be equal and of an
integer type, floats equal to a relative 1e-9.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SPARKIFY_EVENTS, SPARKIFY_SPEC

chdb = pytest.importorskip("chdb")

from northstar import Project  # noqa: E402
from northstar.engine.backends import clickhouse as ch  # noqa: E402

SPARKIFY_METRICS = ["listening_minutes", "active_listeners", "minutes_per_listener", "paid_listeners", "upgrades",
                    "listener_retention", "upgrade_conversion", "all_time_listeners", "revenue"]
OLIST_METRICS = ["placed_orders", "buyers", "customer_ids", "payments", "payment_rows", "delivered_orders",
                 "good_orders", "good_order_rate", "orders_per_buyer"]
ENGINE = "engine: {type: clickhouse}\n"


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORTHSTAR_CACHE", "0")  # every query runs on its engine


def _with_engine(text: str, zone: str = "UTC") -> str:
    """The spec with its time zone set and (second spec) the ClickHouse engine block."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("timezone:"))
    lines[at] = f"timezone: {zone}\n"
    return "".join(lines[:at + 1]) + ENGINE + "".join(lines[at + 1:])


def _pair(folder: Path, text: str, zone: str = "UTC") -> tuple[Project, Project]:
    """(DuckDB, ClickHouse) projects of the same spec in the same folder."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("timezone:"))
    lines[at] = f"timezone: {zone}\n"
    (folder / "duckdb.yml").write_text("".join(lines), encoding="utf-8")
    (folder / "clickhouse.yml").write_text(_with_engine(text, zone), encoding="utf-8")
    duck, house = Project.load(folder / "duckdb.yml"), Project.load(folder / "clickhouse.yml")
    assert house.spec.engine.type == "clickhouse" and duck.spec.engine.type == "duckdb"
    return duck, house


def assert_same_report(expected: dict, got: dict) -> None:
    """Two `check` reports agree: the same findings, numbers in evidence to a relative 1e-9."""
    assert {k: v for k, v in got.items() if k != "findings"} == {k: v for k, v in expected.items() if k != "findings"}
    # Findings that tie in rank may come in another order (the engine's group order differs).
    key = lambda f: (f["severity"], f["rule"], f["subject"])  # noqa: E731
    mine, theirs = sorted(got["findings"], key=key), sorted(expected["findings"], key=key)
    assert [key(f) for f in mine] == [key(f) for f in theirs]
    for a, b in zip(theirs, mine):
        assert _approx(b) == _approx(a), a["rule"]


def _approx(value):  # noqa: ANN001, ANN202
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx(v) for v in value]
    if isinstance(value, float) and not math.isnan(value):
        return pytest.approx(value, rel=1e-9, abs=1e-12)
    return value


def assert_same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        a, b = expected[column].reset_index(drop=True), got[column].reset_index(drop=True)
        if pd.api.types.is_integer_dtype(a):
            assert pd.api.types.is_integer_dtype(b), (column, b.dtype)
            assert a.tolist() == b.tolist(), column
        elif pd.api.types.is_float_dtype(a):
            assert pd.api.types.is_float_dtype(b), (column, b.dtype)
            for x, y in zip(a, b):
                if x is None or (isinstance(x, float) and math.isnan(x)):
                    assert y is None or (isinstance(y, float) and math.isnan(y)), column
                else:
                    assert y == pytest.approx(x, rel=1e-9, abs=1e-12), column
        else:
            assert a.tolist() == b.tolist(), column


# ---- Sparkify --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sparkify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sparkify")
    (folder / "data").mkdir()
    shutil.copy(SPARKIFY_EVENTS, folder / "data" / "events.jsonl")
    return folder


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_sparkify_same_numbers(sparkify: Path, zone: str, tmp_path: Path) -> None:
    shutil.copytree(sparkify / "data", tmp_path / "data")
    duck, house = _pair(tmp_path, SPARKIFY_SPEC.read_text(encoding="utf-8"), zone)
    for grain in ("day", "week", "month"):
        expected = duck.query(SPARKIFY_METRICS, grain=grain)
        assert len(expected) > 0
        assert_same(expected, house.query(SPARKIFY_METRICS, grain=grain))
    for by in ("level", "gender"):
        assert_same(duck.query(SPARKIFY_METRICS, grain="week", by=by, compare=True),
                    house.query(SPARKIFY_METRICS, grain="week", by=by, compare=True))
    where = "level = 'paid'"
    assert_same(duck.query(SPARKIFY_METRICS, grain="day", where=where, start="2018-11-03", end="2018-11-17"),
                house.query(SPARKIFY_METRICS, grain="day", where=where, start="2018-11-03", end="2018-11-17"))


def test_sparkify_check_explain_cohorts_agree(sparkify: Path, tmp_path: Path) -> None:
    shutil.copytree(sparkify / "data", tmp_path / "data")
    duck, house = _pair(tmp_path, SPARKIFY_SPEC.read_text(encoding="utf-8"))
    assert house.validate() == duck.validate()
    assert_same_report(duck.check().to_dict(), house.check().to_dict())
    assert house.explain(period="2018-11-19", by=["level"]).to_dict() == \
        _approx(duck.explain(period="2018-11-19", by=["level"]).to_dict())
    for metric in ("active_listeners", "listener_retention", "paid_listeners"):
        for grain in ("day", "week"):
            assert house.cohorts(metric, grain=grain).records() == duck.cohorts(metric, grain=grain).records()
    assert house.tree("2018-11-19").to_dict() == _approx(duck.tree("2018-11-19").to_dict())


def test_only_aggregated_rows_come_back(sparkify: Path, tmp_path: Path) -> None:
    shutil.copytree(sparkify / "data", tmp_path / "data")
    _duck, house = _pair(tmp_path, SPARKIFY_SPEC.read_text(encoding="utf-8"))
    backend = house.engine.backend
    assert isinstance(backend, ch.ChdbBackend)
    fetched: list[tuple[str, int]] = []
    run = backend._run

    def counting(query: str, fmt: str = "CSV"):  # noqa: ANN202
        result = run(query, fmt)
        if fmt == "ArrowTable":
            fetched.append((query, result.num_rows))
        return result

    backend._run = counting  # type: ignore[method-assign]
    frame = house.query(["listening_minutes", "active_listeners", "paid_listeners", "upgrades"], grain="day")
    events = sum(1 for _ in SPARKIFY_EVENTS.open())
    assert len(frame) == 30 and events > 8000  # November 2018, 8,056 events
    # One statement for the four metrics of the source (fused), plus the data bounds.
    metric_queries = [(q, n) for q, n in fetched if "uniqExact" in q]
    assert len(metric_queries) == 1
    assert metric_queries[0][1] == 30  # one row per day with events
    assert max(n for _q, n in fetched) <= 30


# ---- Olist -----------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo"])
def test_olist_same_numbers(zone: str, tmp_path: Path) -> None:
    from test_olist import ORDERS, _spec_text

    if not ORDERS.exists():
        pytest.fail(f"the Olist dataset is missing at {ORDERS.parent}")
    duck, house = _pair(tmp_path, _spec_text(), zone)
    for grain in ("day", "week", "month"):
        assert_same(duck.query(OLIST_METRICS, grain=grain), house.query(OLIST_METRICS, grain=grain))
    args = dict(grain="month", by=["customer_state"], start="2018-03-01", end="2018-05-31")
    assert_same(duck.query(["placed_orders", "buyers", "good_orders"], **args),
                house.query(["placed_orders", "buyers", "good_orders"], **args))
    assert_same(duck.query("placed_orders", grain="month", compare=True, start="2018-03-01", end="2018-03-01"),
                house.query("placed_orders", grain="month", compare=True, start="2018-03-01", end="2018-03-01"))
    if zone == "UTC":
        assert house.validate() == duck.validate()
        assert_same_report(duck.check().to_dict(), house.check().to_dict())
        assert house.explain(period="2018-05-20").to_dict() == _approx(duck.explain(period="2018-05-20").to_dict())
        assert house.cohorts("buyers", grain="month").records() == duck.cohorts("buyers", grain="month").records()


# ---- semantics ClickHouse differs in ---------------------------------------------------------

def test_count_distinct_is_exact_where_uniq_is_not(tmp_path: Path) -> None:
    n = 250_000
    start = dt.datetime(2024, 3, 4)  # a Monday
    table = pa.table({
        "user": [f"u{i}" for i in range(n)] + [f"u{i}" for i in range(0, n, 7)],
        "ts": [start + dt.timedelta(seconds=i % 86_400 * 5) for i in range(n)]
              + [start + dt.timedelta(days=1) for _ in range(0, n, 7)],
    })
    pq.write_table(table, tmp_path / "events.parquet")
    spec = """\
project: Exact
timezone: UTC
engine: {type: clickhouse}
sources:
  events: {path: events.parquet, timestamp: ts, entity: user}
metrics:
  users: {source: events, agg: count_distinct}
  rows: {source: events, agg: count}
north_star: {metric: users, grain: week, customer_value: x}
"""
    (tmp_path / "northstar.yml").write_text(spec)
    project = Project.load(tmp_path / "northstar.yml")
    frame = project.query(["users", "rows"], grain="week")
    assert frame["period"].tolist() == [dt.date(2024, 3, 4)]
    assert frame["users"].tolist() == [n] and frame["rows"].tolist() == [n + len(range(0, n, 7))]
    # The approximate count ClickHouse would give for Ibis's default `uniq` is not n.
    backend = project.engine.backend
    approx = backend._run(f"SELECT uniq(user) FROM {backend._q(backend.database)}.events", "DataFrame").iloc[0, 0]
    assert approx != n


def test_weeks_start_on_monday_and_sql_uses_exact_distinct() -> None:
    import ibis

    t = ibis.table({"ts": "timestamp", "u": "string"}, name="t")
    expr = t.group_by(p=t.ts.truncate("W").date()).aggregate(d=t.u.nunique())
    sql = ch.compile_sql(expr)
    assert "uniqExact(" in sql and "uniq(" not in sql
    session = chdb.session.Session()
    for day, monday in [("2024-03-10", "2024-03-04"), ("2024-03-04", "2024-03-04"), ("2024-03-11", "2024-03-11")]:
        q = sql.replace('FROM "t" AS "t0"', f"FROM (SELECT toDateTime64('{day} 23:59:59', 6) AS ts, 'a' AS u) AS \"t0\"")
        assert str(session.query(q, "DataFrame").iloc[0, 0])[:10] == monday


def test_time_zone_conversions_match_duckdb() -> None:
    """utc_to_local / local_to_utc give DuckDB's answers, also for wall-clock times that occur
    twice or never (DST changes), where ClickHouse's own parsing in a zone differs by an hour."""
    import ibis

    from northstar.engine.backends import duckdb as duck_module
    from northstar.spec.model import Engine

    house = ch.connect(Engine(type="clickhouse"), Path("."))
    duck = duck_module.connect(Engine(type="duckdb"), Path("."))
    try:
        zones = ["America/New_York", "Europe/Amsterdam", "Australia/Sydney", "Asia/Kolkata"]
        instants = [dt.datetime(2024, 3, 10, 6, 59, 59), dt.datetime(2024, 3, 10, 7), dt.datetime(2024, 11, 3, 5, 30),
                    dt.datetime(2024, 11, 3, 6, 30), dt.datetime(2024, 3, 31, 1, 30), dt.datetime(2024, 10, 27, 0, 30),
                    dt.datetime(2024, 10, 27, 1, 30), dt.datetime(2024, 4, 6, 16, 30), dt.datetime(2024, 7, 1, 12)]
        walls = [dt.datetime(2024, 3, 10, 2, 30), dt.datetime(2024, 11, 3, 1, 30), dt.datetime(2024, 3, 31, 2, 30),
                 dt.datetime(2024, 10, 27, 2, 30), dt.datetime(2024, 4, 7, 2, 30), dt.datetime(2024, 10, 6, 2, 30),
                 dt.datetime(2024, 7, 1, 12)]
        for zone in zones:
            for utc in instants:
                value = ibis.literal(pd.Timestamp(utc, tz="UTC"))
                got = pd.Timestamp(house.execute(house.utc_to_local(value, zone)))
                assert got == pd.Timestamp(duck.execute(duck.utc_to_local(value, zone))), (zone, utc)
            for wall in walls:
                value = ibis.literal(pd.Timestamp(wall))
                got = pd.Timestamp(house.execute(house.local_to_utc(value, zone)))
                assert got == pd.Timestamp(duck.execute(duck.local_to_utc(value, zone))), (zone, wall)
    finally:
        house.close()
        duck.close()


def test_a_sql_source_reads_files_with_duckdb_functions(sparkify: Path, tmp_path: Path) -> None:
    path = sparkify / "data" / "events.jsonl"
    spec = f"""\
project: SQL
timezone: UTC
engine: {{type: clickhouse}}
sources:
  songs:
    sql: select userId, ts, length from read_json('{path}') where page = 'NextSong'
    timestamp: ts
    time_unit: ms
    entity: userId
metrics:
  listeners: {{source: songs, agg: count_distinct}}
  minutes: {{source: songs, agg: sum, expr: length / 60}}
north_star: {{metric: listeners, grain: week, customer_value: x}}
"""
    (tmp_path / "clickhouse.yml").write_text(spec)
    (tmp_path / "duckdb.yml").write_text(spec.replace(ENGINE.replace("{", "{{").replace("}", "}}").format(), ""))
    assert_same(Project.load(tmp_path / "duckdb.yml").query(["listeners", "minutes"], grain="week"),
                Project.load(tmp_path / "clickhouse.yml").query(["listeners", "minutes"], grain="week"))


def test_backends_do_not_see_each_others_tables(sparkify: Path, tmp_path: Path) -> None:
    shutil.copytree(sparkify / "data", tmp_path / "data")
    _duck, one = _pair(tmp_path, SPARKIFY_SPEC.read_text(encoding="utf-8"))
    two = Project.load(tmp_path / "clickhouse.yml")
    a = one.query("upgrades", grain="month")
    b = two.query("upgrades", grain="month")
    assert one.engine.backend.database != two.engine.backend.database
    assert_same(a, b)
    one.engine.backend.close()
    assert_same(b, two.query("upgrades", grain="week").pipe(lambda f: b))


def test_sub_second_precision_survives_the_time_zone_conversion(tmp_path: Path) -> None:
    """Found by the property tests: a trial at 01:00 and a purchase at 02:00:00.001 (Amsterdam
    wall-clock times) are 1 h 1 ms apart, outside a 1 h window. A cast to a timestamp of no
    stated precision must not become ClickHouse's whole-second `DateTime`."""
    times = [dt.datetime(2023, 12, 1, 1, 0), dt.datetime(2023, 12, 1, 2, 0, 0, 1000)]
    pq.write_table(pa.table({"ts": pa.array(times, pa.timestamp("us")), "user": ["u1", "u1"],
                             "event": ["trial", "buy"]}), tmp_path / "cv.parquet")
    results = {}
    for kind in ("duckdb", "clickhouse"):
        spec = tmp_path / f"{kind}.yml"
        spec.write_text(f"""project: precision
engine: {{type: {kind}, cache: false}}
sources:
  events: {{path: cv.parquet, timestamp: ts, timezone: Europe/Amsterdam, entity: user}}
metrics:
  conv_1h: {{type: conversion, source: events, from: "event = 'trial'", to: "event = 'buy'", within: 1h}}
north_star: {{metric: conv_1h, grain: week}}
""")
        results[kind] = Project.load(spec).query("conv_1h", grain="quarter")["conv_1h"].tolist()
    assert results["duckdb"] == results["clickhouse"] == [0.0]
