"""Rolling windows (`--window 7d|28d|mtd|qtd`) against brute force over the raw events.

Each example draws events (instants next to DST switches and local midnights, null times,
null entities and values, a repeated entity), writes them as Parquet with a UTC timestamp,
writes a spec in one of several time zones, and compares `Project.query(..., window=...)`
with plain Python: the windows end on the local day of the data's last event; each metric is
its aggregate over the window's events (a distinct count over 7 days is the distinct users in
those 7 days, not a sum of daily distincts; a formula is the formula of the window's
aggregates); a window that begins before the data's first local day has no value.
Runs on DuckDB, and on chdb (ClickHouse) with fewer examples.
"""

from __future__ import annotations

import calendar
import math
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from northstar import Project
from northstar.analysis.windows import rolling_windows
from northstar.errors import QueryError

UTC = timezone.utc
ZONES = ["UTC", "Europe/Amsterdam", "America/Los_Angeles", "Asia/Kolkata"]
SCALE = float(os.environ.get("NORTHSTAR_PROPERTY_SCALE", "1"))
SETTINGS = dict(deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
# the last days of the data fall around these moments (DST switches in the zones above, month
# and quarter starts); a year earlier is drawn too, so that last-year windows have data
ENDS = [datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 3, 10, 10, tzinfo=UTC),
        datetime(2024, 11, 3, 9, tzinfo=UTC), datetime(2024, 10, 1, 0, tzinfo=UTC),
        datetime(2024, 3, 1, 5, tzinfo=UTC)]

SPEC = """\
project: Windows
timezone: {zone}
{engine}sources:
  events:
    path: data/events.parquet
    timestamp: ts
    entity: user
    dimensions: [event, country]
metrics:
  events: {{source: events, agg: count}}
  plays: {{source: events, agg: count, where: "event = 'play'"}}
  users: {{source: events, agg: count_distinct}}
  players: {{source: events, agg: count_distinct, where: "event = 'play'"}}
  minutes: {{source: events, agg: sum, expr: value}}
  typical: {{source: events, agg: avg, expr: value}}
  longest: {{source: events, agg: max, expr: value}}
  minutes_per_player: {{formula: minutes / players}}
  plays_per_user: {{formula: "plays / users * 100"}}
north_star:
  metric: minutes
  grain: week
  tree:
    minutes: {{formula: players * minutes_per_player}}
"""
METRICS = ["events", "plays", "users", "players", "minutes", "typical", "longest",
           "minutes_per_player", "plays_per_user"]


@st.composite
def instants(draw: st.DrawFn, end: datetime, zone: str) -> datetime:
    back = draw(st.sampled_from([timedelta(0), timedelta(0), timedelta(days=364), timedelta(days=365)]))
    kind = draw(st.sampled_from(["spread", "spread", "midnight", "edge"]))
    if kind == "spread":
        return end - back - timedelta(seconds=draw(st.integers(0, 100 * 86400)))
    day = (end - back).astimezone(ZoneInfo(zone)).date() - timedelta(days=draw(st.integers(0, 70)))
    if kind == "edge":  # a month's or quarter's first day
        day = day.replace(day=1)
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return midnight + draw(st.sampled_from([timedelta(0), timedelta(seconds=-1), timedelta(milliseconds=1),
                                            timedelta(hours=1), timedelta(hours=-1)]))


@st.composite
def datasets(draw: st.DrawFn) -> tuple[str, list[dict]]:
    zone = draw(st.sampled_from(ZONES))
    end = draw(st.sampled_from(ENDS))
    rows = draw(st.lists(st.fixed_dictionaries({
        "ts": st.one_of(instants(end, zone), instants(end, zone), instants(end, zone), st.none()),
        "user": st.one_of(st.sampled_from([f"u{i}" for i in range(8)]), st.none()),
        "event": st.sampled_from(["play", "play", "visit"]),
        "country": st.one_of(st.sampled_from(["NL", "US"]), st.none()),
        "value": st.one_of(st.integers(0, 50).map(float), st.none()),
    }), min_size=1, max_size=60))
    if not any(r["ts"] is not None for r in rows):
        rows.append({"ts": end, "user": "u1", "event": "play", "country": "NL", "value": 3.0})
    return zone, rows


def write_project(root: Path, zone: str, rows: list[dict], engine: str = "") -> Project:
    (root / "data").mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "ts": pa.array([r["ts"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "user": pa.array([r["user"] for r in rows], pa.string()),
        "event": pa.array([r["event"] for r in rows], pa.string()),
        "country": pa.array([r["country"] for r in rows], pa.string()),
        "value": pa.array([r["value"] for r in rows], pa.float64()),
    })
    pq.write_table(table, root / "data" / "events.parquet")
    (root / "northstar.yml").write_text(SPEC.format(zone=zone, engine=engine), encoding="utf-8")
    return Project.load(root / "northstar.yml")


# ---- brute force ---------------------------------------------------------------------------

def local_day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def expected_windows(kind: str, last: date) -> dict[str, tuple[date, date]]:
    """{side: (first day, last day)}, written out without the code under test."""
    if kind in ("7d", "28d"):
        n = int(kind[:-1])
        return {"current": (last - timedelta(days=n - 1), last),
                "previous": (last - timedelta(days=2 * n - 1), last - timedelta(days=n)),
                "last_year": (last - timedelta(days=n - 1 + 364), last - timedelta(days=364))}
    months = 1 if kind == "mtd" else 3
    start = date(last.year, last.month if months == 1 else 3 * ((last.month - 1) // 3) + 1, 1)
    days = (last - start).days + 1

    def span(back: int) -> tuple[date, date]:
        index = start.year * 12 + start.month - 1 - back
        first = date(index // 12, index % 12 + 1, 1)
        length = sum(calendar.monthrange((index + i) // 12, (index + i) % 12 + 1)[1] for i in range(months))
        return first, first + timedelta(days=min(days, length) - 1)

    return {"current": (start, last), "previous": span(months), "last_year": span(12)}


def brute(rows: list[dict], zone: str, first: date, last: date, country: object = "any") -> dict[str, float]:
    inside = [r for r in rows if r["ts"] is not None and first <= local_day(r["ts"], zone) <= last
              and (country == "any" or r["country"] == country)]
    plays = [r for r in inside if r["event"] == "play"]
    values = [r["value"] for r in inside if r["value"] is not None]
    out = {"events": len(inside), "plays": len(plays),
           "users": len({r["user"] for r in inside if r["user"] is not None}),
           "players": len({r["user"] for r in plays if r["user"] is not None}),
           "minutes": sum(values), "typical": sum(values) / len(values) if values else math.nan,
           "longest": max(values) if values else math.nan}
    out["minutes_per_player"] = out["minutes"] / out["players"] if out["players"] else math.nan
    out["plays_per_user"] = out["plays"] / out["users"] * 100 if out["users"] else math.nan
    return out


def same(got: object, want: float) -> bool:
    got = math.nan if got is None else float(got)  # type: ignore[arg-type]
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def check_example(root: Path, zone: str, rows: list[dict], kind: str, by_country: bool, engine: str = "") -> None:
    project = write_project(root, zone, rows, engine)
    timed = [r["ts"] for r in rows if r["ts"] is not None]
    last, data_first = local_day(max(timed), zone), local_day(min(timed), zone)
    windows = expected_windows(kind, last)
    frame = project.query(METRICS, window=kind, by=["country"] if by_country else [])
    assert list(frame["window"].drop_duplicates()) == ["current", "previous", "last_year"]
    segments = [None] if not by_country else list(dict.fromkeys(frame["country"]))
    if by_country:  # every country with events in a window is shown
        seen = {r["country"] for r in rows if r["ts"] is not None
                and any(a <= local_day(r["ts"], zone) <= b for a, b in windows.values())}
        assert seen <= set(segments), (seen, segments)
    for _i, row in frame.iterrows():
        first, last_day = windows[row["window"]]
        assert (row["first"], row["last"]) == (first, last_day), (kind, row["window"], row["first"], row["last"])
        if first < data_first:  # too little data: no number
            assert all(row[m] is None or math.isnan(float(row[m])) for m in METRICS), row.to_dict()
            continue
        want = brute(rows, zone, first, last_day, row["country"] if by_country else "any")
        for metric in METRICS:
            assert same(row[metric], want[metric]), (zone, kind, row["window"], row.get("country"), metric,
                                                     row[metric], want[metric])


@settings(max_examples=max(1, int(40 * SCALE)), **SETTINGS)
@given(data=datasets(), kind=st.sampled_from(["7d", "28d", "mtd", "qtd"]), by_country=st.booleans())
def test_windows_equal_brute_force(tmp_path_factory: pytest.TempPathFactory, data: tuple[str, list[dict]],
                                   kind: str, by_country: bool) -> None:
    zone, rows = data
    check_example(tmp_path_factory.mktemp("w"), zone, rows, kind, by_country)


@pytest.mark.engines
@settings(max_examples=max(1, int(8 * SCALE)), **SETTINGS)
@given(data=datasets(), kind=st.sampled_from(["7d", "28d", "mtd", "qtd"]))
def test_windows_equal_brute_force_on_chdb(tmp_path_factory: pytest.TempPathFactory, data: tuple[str, list[dict]],
                                           kind: str) -> None:
    pytest.importorskip("chdb")
    zone, rows = data
    check_example(tmp_path_factory.mktemp("c"), zone, rows, kind, False, "engine: {type: clickhouse, cache: false}\n")


def test_window_arithmetic_matches_the_written_out_rule() -> None:
    for last in [date(2024, 3, 31), date(2024, 2, 29), date(2025, 3, 31), date(2024, 5, 31), date(2024, 1, 1),
                 date(2024, 12, 31), date(2024, 7, 15)]:
        for kind in ("7d", "28d", "mtd", "qtd"):
            got = rolling_windows(kind, last).sides()
            assert {s: (w.first, w.last) for s, w in got.items()} == expected_windows(kind, last), (kind, last)


def test_unknown_window_and_refused_metrics(tmp_path: Path) -> None:
    rows = [{"ts": datetime(2024, 3, 1, tzinfo=UTC), "user": "a", "event": "play", "country": "NL", "value": 1.0}]
    project = write_project(tmp_path, "UTC", rows)
    with pytest.raises(QueryError, match=r"^--window: '8d' is not one of 7d, 28d, mtd, qtd$"):
        project.query(["plays"], window="8d")
    with pytest.raises(QueryError, match="--window: windows set their own dates"):
        project.query(["plays"], window="7d", grain="day")
    spec = (tmp_path / "northstar.yml").read_text(encoding="utf-8")
    (tmp_path / "northstar.yml").write_text(spec.replace(
        "metrics:\n", "metrics:\n  back: {source: events, type: retention}\n"
        "  total: {source: events, agg: count, cumulative: true}\n"), encoding="utf-8")
    project = Project.load(tmp_path / "northstar.yml")
    with pytest.raises(QueryError, match=r"--window: 'back' is a retention"):
        project.query(["back"], window="7d")
    with pytest.raises(QueryError, match=r"--window: 'total' is a running total"):
        project.query(["total"], window="28d")


# ---- CLI and API ---------------------------------------------------------------------------

def _steady(root: Path) -> Path:
    """Ten weeks of events every 7 hours before 31 March 2024 03:00 in Amsterdam."""
    rows = [{"ts": datetime(2024, 3, 31, 1, tzinfo=UTC) - timedelta(hours=7 * h), "user": f"u{h % 5}",
             "event": "play", "country": "NL", "value": float(h)} for h in range(300)]
    write_project(root, "Europe/Amsterdam", rows)
    return root / "northstar.yml"


def _cli(spec: Path, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(spec), *args], capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "200"})
    return run.returncode, run.stdout, run.stderr


def test_cli_query_and_tree_over_windows(tmp_path: Path) -> None:
    spec = _steady(tmp_path)
    code, out, err = _cli(spec, "query", "players", "minutes", "--window", "7d")
    assert code == 0, err
    assert out.startswith("7 days to 31 Mar 2024 vs the 7 days before; a year before: 27 Mar-2 Apr 2023 "
                          "(the data starts on 2024-01-03")
    code, out, err = _cli(spec, "query", "players", "--window", "28d", "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[:3] == ["window,first,last,players", "current,2024-03-04,2024-03-31,5",
                                    "previous,2024-02-05,2024-03-03,5"]
    code, out, err = _cli(spec, "tree", "--window", "28d", "--format", "json")
    assert code == 0, err
    import json

    report = json.loads(out)
    assert report["window"]["description"] == "28 days to 31 Mar 2024 vs the 28 days before"
    frame = Project.load(spec).query(["minutes", "players"], window="28d")
    assert report["root"]["value"] == frame.iloc[0]["minutes"] and report["root"]["previous"] == frame.iloc[1]["minutes"]


@pytest.mark.parametrize("args", [("query", "plays", "--window", "8d"), ("tree", "--window", "week")])
def test_cli_unknown_window_is_one_line_naming_the_option(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out, err = _cli(_steady(tmp_path), *args)
    assert code == 2 and not out
    assert err.strip().splitlines() == [f"error: --window: '{args[-1]}' is not one of 7d, 28d, mtd, qtd"]


def test_api_tree_over_a_window_and_a_bad_window(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from northstar.web import create_app

    spec = _steady(tmp_path)
    client = TestClient(create_app(spec), raise_server_exceptions=False)
    answer = client.get("/api/tree", params={"window": "mtd"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["window"]["description"].startswith("month to date (1-31 Mar 2024) vs the same days of the month")
    assert body["root"]["value"] == Project.load(spec).tree(window="mtd").root.value
    bad = client.get("/api/tree", params={"window": "9d"})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "window: '9d' is not one of 7d, 28d, mtd, qtd"


@pytest.mark.parametrize("kind", ["7d", "28d", "mtd"])
def test_explain_over_a_window_adds_up_to_the_change(tmp_path: Path, kind: str) -> None:
    project = Project.load(_steady(tmp_path))
    result = project.explain(window=kind)
    frame = project.query(["minutes"], window=kind)
    assert (result.value, result.baseline) == (frame.iloc[0]["minutes"], frame.iloc[1]["minutes"])
    assert math.isclose(sum(c.contribution for c in result.root.children), result.value - result.baseline)
    assert result.to_dict()["window"]["window"] == kind
    with pytest.raises(QueryError, match="^--vs: with --window, '2024-01-01' is not previous or year$"):
        project.explain(window=kind, vs="2024-01-01")


def test_explain_over_a_window_names_the_windows_not_their_first_days(tmp_path: Path) -> None:
    """The table's title and the markdown heading name each side by its days: the windows'
    starts alone (2024-03-25 → ...) would read as weeks."""
    spec = _steady(tmp_path)
    result = Project.load(spec).explain(window="7d")
    assert result.spans() == {"period": (date(2024, 3, 25), date(2024, 3, 31)),
                              "baseline": (date(2024, 3, 18), date(2024, 3, 24))}
    code, out, err = _cli(spec, "explain", "--window", "7d")
    assert code == 0, err
    assert "Minutes: 2024-03-18 to 2024-03-24 → 2024-03-25 to 2024-03-31" in out
    code, out, err = _cli(spec, "explain", "--window", "7d", "--format", "markdown")
    assert code == 0, err
    assert out.splitlines()[0] == "## Minutes: 2024-03-25 to 2024-03-31 against 2024-03-18 to 2024-03-24"
    weekly = Project.load(spec).explain()
    assert weekly.side_names() == {"period": weekly.period.isoformat(), "baseline": weekly.baseline_period.isoformat()}
