"""The on-disk result cache: same numbers, refreshed when the data or the spec change."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

from northstar.project import Project

SPEC = """\
project: Cache
sources:
  events: {{path: events.csv, timestamp: ts, entity: user, dimensions: [country]}}
metrics:
  plays: {{source: events, agg: count}}
  users: {{source: events, agg: count_distinct}}
  per_user: {{formula: plays / users}}
north_star: {{metric: {nsm}, grain: week}}
"""

ROWS = "ts,user,country\n2024-01-01 10:00:00,a,NL\n2024-01-02 10:00:00,b,SE\n2024-01-09 11:00:00,a,NL\n"


def _project(folder: Path, nsm: str = "plays") -> Project:
    (folder / "northstar.yml").write_text(SPEC.format(nsm=nsm))
    return Project.load(folder / "northstar.yml")


def test_a_cached_result_is_the_computed_one(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(ROWS)
    first = _project(tmp_path).query(["plays", "users", "per_user"], by=["country"], compare=True)
    assert len(list((tmp_path / ".northstar" / "cache").glob("*.pkl"))) == 1
    again = _project(tmp_path).query(["plays", "users", "per_user"], by=["country"], compare=True)
    assert_frame_equal(first, again)
    os.environ["NORTHSTAR_CACHE"] = "0"
    try:
        fresh = _project(tmp_path).query(["plays", "users", "per_user"], by=["country"], compare=True)
    finally:
        del os.environ["NORTHSTAR_CACHE"]
    assert_frame_equal(first, fresh)
    assert isinstance(first["period"].iloc[0], type(fresh["period"].iloc[0]))


def test_new_data_or_a_new_spec_is_computed_again(tmp_path: Path) -> None:
    data = tmp_path / "events.csv"
    data.write_text(ROWS)
    assert _project(tmp_path).query("plays")["plays"].tolist() == [2, 1]
    time.sleep(0.01)
    data.write_text(ROWS + "2024-01-10 09:00:00,c,SE\n")
    assert _project(tmp_path).query("plays")["plays"].tolist() == [2, 2]
    spec = (tmp_path / "northstar.yml")
    spec.write_text(SPEC.format(nsm="plays").replace("agg: count}", "agg: count, where: \"country = 'SE'\"}"))
    assert Project.load(spec).query("plays")["plays"].tolist() == [1, 1]


def test_cache_off_in_the_spec_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(ROWS)
    spec = tmp_path / "northstar.yml"
    spec.write_text(SPEC.format(nsm="plays") + "engine: {cache: false}\n")
    assert pd.notna(Project.load(spec).query("plays")["plays"]).all()
    assert not (tmp_path / ".northstar").exists()
