"""Event-export presets: a file in each vendor's documented shape, a spec with only `preset:`
and `path:` plus metrics, and Northstar's numbers against a count in plain Python of the
rows written, on DuckDB and on ClickHouse (the embedded chdb).

Shapes written (vendors' export docs):
- segment: the warehouse tracks table (id, anonymous_id, user_id, event, event_text,
  timestamp, context_* columns) with a per-event table's flat property columns (plan, revenue);
- ga4: the BigQuery export (event_timestamp INT64 microseconds, event_name, user_pseudo_id,
  user_id, event_params and user_properties ARRAY<STRUCT<key, value STRUCT<string_value,
  int_value, float_value, double_value>>>, geo STRUCT);
- posthog: the batch export (uuid, event, distinct_id, person_id, timestamp, properties as
  JSON text);
- amplitude: the export's JSON lines (uuid, event_type, user_id, device_id, event_time
  'YYYY-MM-DD HH:MM:SS.ffffff', event_properties and user_properties objects);
- snowplow: atomic.events as the BigQuery/Snowflake loaders write it (event_id, event_name,
  derived_tstamp, domain_userid, user_id, contexts_* ARRAY<STRUCT>, unstruct_event_* STRUCT).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from northstar import Project
from northstar.errors import NorthstarError

ENGINES = ["duckdb", pytest.param("clickhouse", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("chdb") is None, reason="chdb is not installed"))]
EVENTS = ("Page Viewed", "Signed Up", "Order Completed")
PLANS = ("free", "pro", "team")


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NORTHSTAR_CACHE", "0")


@dataclass(frozen=True)
class Row:
    """One event as the test means it; each vendor writes it in its own shape."""

    id: str
    at: dt.datetime  # UTC
    event: str
    user_id: str | None
    anonymous_id: str
    plan: str | None
    revenue: float | None

    @property
    def person(self) -> str:
        return self.user_id or self.anonymous_id


def _rows(seed: int) -> list[Row]:
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
    rows = []
    for i in range(80):
        anonymous = f"anon-{rng.randrange(12)}"
        known = f"user-{anonymous[5:]}" if rng.random() < 0.6 else None
        event = rng.choice(EVENTS)
        revenue = round(rng.uniform(5, 120), 2) if event == "Order Completed" else None
        at = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 50), microseconds=rng.randrange(10**6))
        rows.append(Row(f"evt-{i}", at, event, known, anonymous, rng.choice(PLANS + (None,)), revenue))
    return rows


# ---- the vendors' shapes ---------------------------------------------------------------------

def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _write_segment(rows: list[Row], folder: Path) -> Path:
    table = pa.table({
        "id": [r.id for r in rows], "anonymous_id": [r.anonymous_id for r in rows],
        "user_id": [r.user_id for r in rows], "event": [r.event.lower().replace(" ", "_") for r in rows],
        "event_text": [r.event for r in rows],
        "timestamp": pa.array([r.at for r in rows], pa.timestamp("us", tz="UTC")),
        "received_at": pa.array([r.at + dt.timedelta(seconds=3) for r in rows], pa.timestamp("us", tz="UTC")),
        "context_library_name": ["analytics.js"] * len(rows),
        "context_page_path": [f"/p/{i % 4}" for i in range(len(rows))],
        "plan": [r.plan for r in rows], "revenue": [r.revenue for r in rows],
    })
    path = folder / "tracks.parquet"
    pq.write_table(table, path)
    return path


_GA4_VALUE = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()), ("float_value", pa.float64()),
                        ("double_value", pa.float64())])
_GA4_PARAMS = pa.list_(pa.struct([("key", pa.string()), ("value", _GA4_VALUE)]))


def _ga4_value(value: Any) -> dict[str, Any]:
    out = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}
    out["string_value" if isinstance(value, str) else "int_value" if isinstance(value, int) else "double_value"] = value
    return out


def _write_ga4(rows: list[Row], folder: Path) -> Path:
    params, users = [], []
    for i, r in enumerate(rows):
        p = {"page_location": f"https://shop.example/p/{i % 4}", "ga_session_id": 1000 + i, "engagement_time_msec": 250}
        if r.revenue is not None:
            p["value"] = r.revenue
            p["currency"] = "EUR"
        params.append([{"key": k, "value": _ga4_value(v)} for k, v in p.items()])
        users.append([] if r.plan is None else [{"key": "plan", "value": _ga4_value(r.plan)}])
    table = pa.table({
        "event_date": [r.at.strftime("%Y%m%d") for r in rows],
        "event_timestamp": pa.array([int(r.at.timestamp() * 1_000_000) for r in rows], pa.int64()),
        "event_name": [r.event.lower().replace(" ", "_") for r in rows],
        "event_params": pa.array(params, _GA4_PARAMS),
        "user_id": [r.user_id for r in rows], "user_pseudo_id": [r.anonymous_id for r in rows],
        "user_properties": pa.array(users, _GA4_PARAMS),
        "geo": pa.array([{"country": "Netherlands", "city": "Utrecht"}] * len(rows)),
    })
    path = folder / "events_20240103.parquet"
    pq.write_table(table, path)
    return path


def _write_posthog(rows: list[Row], folder: Path) -> Path:
    table = pa.table({
        "uuid": [r.id for r in rows], "event": [r.event for r in rows],
        "distinct_id": [r.anonymous_id for r in rows], "person_id": [r.user_id for r in rows],
        "timestamp": pa.array([r.at for r in rows], pa.timestamp("us", tz="UTC")),
        "properties": [json.dumps({"$current_url": "https://app.example/", "plan": r.plan, "revenue": r.revenue}
                                  if r.plan is not None else {"$current_url": "https://app.example/",
                                                              "revenue": r.revenue}) for r in rows],
    })
    path = folder / "posthog.parquet"
    pq.write_table(table, path)
    return path


def _write_amplitude(rows: list[Row], folder: Path) -> Path:
    path = folder / "amplitude.json"
    with path.open("w", encoding="utf-8") as out:
        for r in rows:
            event_properties: dict[str, Any] = {"revenue": r.revenue} if r.revenue is not None else {}
            out.write(json.dumps({
                "uuid": r.id, "event_type": r.event, "user_id": r.user_id, "device_id": r.anonymous_id,
                "event_time": _naive(r.at).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "event_properties": event_properties, "user_properties": {"plan": r.plan},
            }) + "\n")
    return path


def _write_snowplow(rows: list[Row], folder: Path) -> Path:
    table = pa.table({
        "event_id": [r.id for r in rows], "event_name": [r.event.lower().replace(" ", "_") for r in rows],
        "derived_tstamp": pa.array([_naive(r.at) for r in rows], pa.timestamp("us")),
        "collector_tstamp": pa.array([_naive(r.at) for r in rows], pa.timestamp("us")),
        "domain_userid": [r.anonymous_id for r in rows], "user_id": [r.user_id for r in rows],
        "contexts_com_acme_customer_1": pa.array([[{"plan": r.plan}] for r in rows],
                                                 pa.list_(pa.struct([("plan", pa.string())]))),
        "unstruct_event_com_acme_order_1": pa.array([{"revenue": r.revenue} for r in rows],
                                                    pa.struct([("revenue", pa.float64())])),
    })
    path = folder / "atomic_events.parquet"
    pq.write_table(table, path)
    return path


@dataclass(frozen=True)
class Vendor:
    write: Any
    order: str  # the event value of an order, as this vendor writes it
    plan: str  # the property path (or column) of the plan
    revenue: str  # the value to sum


VENDORS = {
    "segment": Vendor(_write_segment, "order_completed", "plan", "revenue"),
    "ga4": Vendor(_write_ga4, "order_completed", "user_properties.plan", "cast(event_params.value as double)"),
    "posthog": Vendor(_write_posthog, "Order Completed", "properties.plan", "cast(properties.revenue as double)"),
    "amplitude": Vendor(_write_amplitude, "Order Completed", "user_properties.plan", "event_properties.revenue"),
    "snowplow": Vendor(_write_snowplow, "order_completed", "contexts_com_acme_customer_1.plan",
                       "unstruct_event_com_acme_order_1.revenue"),
}
EVENT_COLUMN = {"segment": "event", "ga4": "event_name", "posthog": "event", "amplitude": "event_type",
                "snowplow": "event_name"}


def _spec(vendor: str, path: Path, engine: str) -> str:
    v = VENDORS[vendor]
    event = EVENT_COLUMN[vendor]
    return f"""project: {vendor}
timezone: UTC
{"engine: {type: clickhouse}" if engine == "clickhouse" else ""}
sources:
  events:
    preset: {vendor}
    path: {path.name}
{"    dimensions: [event, plan]  # a tracks table's properties are its columns" if vendor == "segment" else ""}
metrics:
  events: {{agg: count, source: events}}
  people: {{agg: count_distinct, source: events}}
  revenue: {{agg: sum, source: events, expr: "{v.revenue}"}}
  pro_orders: {{agg: count, source: events, where: "{event} = '{v.order}' and {v.plan} = 'pro'"}}
north_star: {{metric: people, grain: month}}
"""


def _project(vendor: str, engine: str, folder: Path) -> Project:
    path = VENDORS[vendor].write(_rows(7), folder)
    spec = folder / f"{vendor}_{engine}.yml"
    spec.write_text(_spec(vendor, path, engine), encoding="utf-8")
    return Project.load(spec)


def _month(moment: dt.datetime) -> dt.date:
    return moment.date().replace(day=1)


def _expected(rows: list[Row]) -> dict[dt.date, dict[str, float]]:
    out: dict[dt.date, dict[str, Any]] = defaultdict(lambda: {"events": 0, "people": set(), "revenue": 0.0,
                                                              "pro_orders": 0})
    for r in rows:
        cell = out[_month(r.at)]
        cell["events"] += 1
        cell["people"].add(r.person)
        cell["revenue"] += r.revenue or 0.0
        cell["pro_orders"] += r.event == "Order Completed" and r.plan == "pro"
    return {month: {**cell, "people": len(cell["people"])} for month, cell in out.items()}


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("vendor", list(VENDORS))
def test_preset_numbers_match_the_rows_written(vendor: str, engine: str, tmp_path: Path) -> None:
    project = _project(vendor, engine, tmp_path)
    assert [p for p in project.validate() if p.severity == "error"] == []
    frame = project.query(["events", "people", "revenue", "pro_orders"], grain="month")
    expected = _expected(_rows(7))
    assert sorted(frame["period"]) == sorted(expected)
    for _, got in frame.iterrows():
        want = expected[got["period"]]
        for metric in ("events", "people", "revenue", "pro_orders"):
            assert _close(got[metric], want[metric]), (vendor, engine, got["period"], metric, got[metric], want[metric])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("vendor", list(VENDORS))
def test_preset_breakdown_and_filter_by_a_property(vendor: str, engine: str, tmp_path: Path) -> None:
    project = _project(vendor, engine, tmp_path)
    plan = VENDORS[vendor].plan
    rows = _rows(7)
    by_plan = project.query("events", grain="month", by=plan)
    want = Counter((_month(r.at), r.plan) for r in rows)
    got = {(p, None if pd.isna(v) else v): n for p, v, n in by_plan[["period", plan, "events"]].itertuples(index=False)}
    assert {k: int(v) for k, v in got.items() if v} == dict(want)
    filtered = project.query("people", grain="month", where=f"{plan} = 'team'")
    people: dict[dt.date, set[str]] = defaultdict(set)
    for r in rows:
        if r.plan == "team":
            people[_month(r.at)].add(r.person)
    assert {p: int(n) for p, n in filtered[["period", "people"]].itertuples(index=False) if n} == \
        {m: len(s) for m, s in people.items()}


def test_a_preset_fills_in_what_the_source_does_not_say(tmp_path: Path) -> None:
    project = _project("ga4", "duckdb", tmp_path)
    source = project.spec.sources["events"]
    assert (source.timestamp, source.time_unit, source.entity, source.late_data) == \
        ("event_timestamp", "us", "person", "3d")
    assert source.dimensions == ("event_name",)
    spec = tmp_path / "own.yml"
    spec.write_text(_spec("ga4", tmp_path / "events_20240103.parquet", "duckdb").replace(
        "    preset: ga4\n", "    preset: ga4\n    entity: user_pseudo_id\n    dimensions: [event_name, geo.country]\n"),
        encoding="utf-8")
    own = Project.load(spec)
    assert own.spec.sources["events"].entity == "user_pseudo_id"
    frame = own.query("people", grain="month", by="geo.country")
    assert set(frame["geo.country"]) == {"Netherlands"}
    assert int(frame["people"].sum()) == sum(len({r.anonymous_id for r in _rows(7) if _month(r.at) == m})
                                             for m in {_month(r.at) for r in _rows(7)})


def test_a_path_into_a_missing_container_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write_posthog(_rows(7), tmp_path)
    spec = tmp_path / "northstar.yml"
    spec.write_text(_spec("posthog", path, "duckdb").replace("properties.plan", "propertes.plan"), encoding="utf-8")
    problems = [p for p in Project.load(spec).validate() if p.severity == "error"]
    assert len(problems) == 1, problems
    text = str(problems[0])
    assert "northstar.yml:13" in text and "pro_orders" in text and "'propertes'" in text and "properties" in text


def test_a_path_needs_one_dot(tmp_path: Path) -> None:
    path = _write_posthog(_rows(7), tmp_path)
    spec = tmp_path / "northstar.yml"
    spec.write_text(_spec("posthog", path, "duckdb").replace("properties.plan", "a.properties.plan"), encoding="utf-8")
    with pytest.raises(NorthstarError, match=r"northstar.yml:13.*one dot"):
        Project.load(spec)


# ---- init --preset and discover offer the presets -----------------------------------------------

def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from northstar.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_init_preset_writes_a_spec_that_reads_the_export(vendor: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "northstar.yml"
    code, out, err = _cli(capsys, "-f", str(target), "init", "--preset", vendor)
    assert code == 0 and "preset" in out, err
    data = VENDORS[vendor].write(_rows(7), tmp_path)
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace(next(line for line in text.splitlines() if line.startswith("    path: ")),
                                   f"    path: {data.name}"), encoding="utf-8")
    project = Project.load(target)
    assert [p for p in project.validate() if p.severity == "error"] == []
    frame = project.query(["events", "active_people"], grain="month")
    want = _expected(_rows(7))
    assert {p: (int(e), int(n)) for p, e, n in frame[["period", "events", "active_people"]].itertuples(index=False)} \
        == {m: (w["events"], w["people"]) for m, w in want.items()}


def test_init_unknown_preset_suggests_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(capsys, "-f", str(tmp_path / "n.yml"), "init", "--preset", "posthg")
    assert code != 0 and "Did you mean 'posthog'" in err
    code, out, _err = _cli(capsys, "init", "--list")
    assert code == 0 and all(f"--preset {name}" in out for name in ("segment", "ga4", "posthog", "amplitude",
                                                                       "snowplow"))


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_discover_recognises_the_export_and_proposes_the_preset(vendor: str, tmp_path: Path) -> None:
    from northstar.discover import run_discover

    data = VENDORS[vendor].write(_rows(7), tmp_path)
    result = run_discover(tmp_path / "northstar.yml", str(data))
    project = Project.load(result.path)
    source = next(iter(project.spec.sources.values()))
    assert source.preset == vendor and source.entity == "person"
    assert [p for p in project.validate() if p.severity == "error"] == []
    assert not project.query(project.spec.north_star.metric, grain="month").empty
