"""Timestamps in the wild on every engine: each written style of test_timestamps.py (patterns
translated to PostgreSQL's to_timestamp, Spark's and ClickHouse's own syntax; yyyymmdd dates by
arithmetic; epoch units) gives the periods Python's parsing gives, on PostgreSQL (a server on
127.0.0.1), ClickHouse (the embedded chdb) and Spark (local); text that does not match its
pattern is the same one-line error as on DuckDB, whether the engine fails (PostgreSQL) or
returns NULL (ClickHouse's OrNull parse)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conftest import engine_for
from test_timestamps import STYLES, UTC, expected_counts, write_project

from northstar import Project
from northstar.errors import DataError

pytestmark = pytest.mark.engines

# A month's last microsecond, midnights, a leap day, an instant whose New York date differs.
INSTANTS = [dt.datetime(2011, 10, 11, 19, 50, 34, 123456, tzinfo=UTC),
            dt.datetime(2011, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), dt.datetime(2012, 1, 1, tzinfo=UTC),
            dt.datetime(2012, 2, 29, 4, 59, 59, tzinfo=UTC), dt.datetime(2012, 3, 1, 5, 0, 0, tzinfo=UTC)]


def _on(path: Path, engine: dict) -> Path:
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["engine"] = {**engine, "cache": False}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["postgres", "clickhouse", "pyspark"])
def test_every_style_on_the_engine(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    engine = engine_for(request, kind)
    offset = dt.timedelta(hours=-5)
    for style in sorted(STYLES):
        exact = style in ("epoch_us", "epoch_ns")
        cells: list[object] = [STYLES[style][1](i if exact else i.replace(microsecond=0), offset) for i in INSTANTS]
        cells.append(None)
        for zone in ("UTC", "America/New_York"):
            folder = tmp_path / f"{style}-{zone.replace('/', '_')}"
            folder.mkdir()
            spec = _on(write_project(folder, style, cells, zone), engine)
            frame = Project.load(spec).query("events", grain="day")
            got = {row.period: int(row.events) for row in frame.itertuples() if row.events}
            assert got == dict(expected_counts(style, cells, zone, "day")), (kind, style, zone)


@pytest.mark.parametrize("kind", ["postgres", "clickhouse"])
def test_text_that_does_not_match_its_pattern(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    cells: list[object] = ["11/10/2011 19:50", "12/10/2011 08:00", "2011-10-13 09:00"]
    spec = _on(write_project(tmp_path, "day_first", cells, "UTC"), engine_for(request, kind))
    with pytest.raises(DataError) as info:
        Project.load(spec).query("events")
    assert str(info.value) == ("source 'events': column 'ts': 1 of the first 3 values do not match "
                               "`time_format: '%d/%m/%Y %H:%M'` (e.g. '2011-10-13 09:00'); they are ISO 8601: "
                               "remove `time_format`")
