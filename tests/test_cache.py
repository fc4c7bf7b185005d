"""The on-disk result cache: same numbers, refreshed when the data or the spec change."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from realdata import DATASETS_UNDER_TEST

from northstar.engine.cache import ResultCache
from northstar.engine.cache_codec import decode, encode
from northstar.engine.plan import MetricQuery
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
    assert len(list((tmp_path / ".northstar" / "cache").glob("*.result"))) == 1
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


# ---- the stored form gives back exactly the frame computed -----------------------------------
# Results are kept as Arrow data (never a pickle); these tests hold that format to what the
# pickle gave: the same values, dtypes, index, and the same Python objects in object columns
# (`datetime.date` periods, `str` segments, None kept apart from NaN).



@pytest.fixture(autouse=True)
def _own_key(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test signs with a key of its own (never the user's ~/.cache one)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))


def assert_identical(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Equal as `assert_frame_equal` says with exact numbers, and more: the same Python type for
    every value of an object column (None is not NaN, a date is not a Timestamp), and the
    same sign of every zero."""
    assert_frame_equal(expected, got, check_exact=True, check_index_type=True, check_column_type=True)
    assert list(expected.columns) == list(got.columns) and expected.columns.dtype == got.columns.dtype
    assert expected.index.equals(got.index) and expected.index.name == got.index.name
    for i in range(expected.shape[1]):
        a, b = expected.iloc[:, i], got.iloc[:, i]
        assert a.dtype == b.dtype, (expected.columns[i], a.dtype, b.dtype)
        if a.dtype == object:
            assert [type(v) for v in a] == [type(v) for v in b], expected.columns[i]
            assert [v is None for v in a] == [v is None for v in b], expected.columns[i]
        elif a.dtype.kind == "f":
            assert (np.signbit(a.to_numpy()) == np.signbit(b.to_numpy())).all(), expected.columns[i]


NOTHING = st.sampled_from([None, float("nan")])
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
MOMENTS = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2250, 12, 31))


def _column(kind: str, n: int) -> st.SearchStrategy[pd.Series]:
    """One column of `n` values of a kind the engine's results hold, or pandas could hand it."""
    def of(values: st.SearchStrategy, build, missing: st.SearchStrategy = NOTHING) -> st.SearchStrategy:
        return st.lists(st.one_of(values, missing), min_size=n, max_size=n).map(build)

    def objects(values: list) -> pd.Series:
        return pd.Series(values, dtype=object)

    if kind == "period":  # the engine's periods: datetime.date objects
        return of(st.dates(), objects, st.none())
    if kind == "segment":  # a dimension's values, None for a missing one (NaN after a merge)
        return of(st.text(max_size=6), objects)
    if kind == "int64":
        return st.lists(INT64, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="int64"))
    if kind == "float64":
        return st.lists(st.floats(), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="float64"))
    if kind == "float32":
        return st.lists(st.floats(width=32), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="float32"))
    if kind == "bool":
        return st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype=bool))
    if kind in ("datetime64[ns]", "datetime64[us]"):
        stamps = MOMENTS.filter(lambda d: dt.datetime(1678, 1, 1) < d < dt.datetime(2262, 1, 1))
        return of(stamps, lambda v: pd.Series(v, dtype=kind), st.none())
    if kind == "object ints":
        return of(INT64, objects)
    if kind == "object floats":
        return of(st.floats(allow_nan=False), objects)
    if kind == "object bools":
        return of(st.booleans(), objects)
    if kind == "object datetimes":
        return of(MOMENTS, objects)
    if kind == "nothing":
        return of(st.nothing(), objects)
    if kind == "Int64":
        return of(st.integers(-(2**40), 2**40), lambda v: pd.Series(pd.array(v, dtype="Int64")), st.none())
    if kind == "str":
        return of(st.text(max_size=6), lambda v: pd.Series(v, dtype="str"), st.none())
    if kind == "aware":
        return st.lists(st.integers(0, 4_000_000_000), min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.to_datetime(v, unit="s", utc=True).tz_convert("Europe/Amsterdam")))
    raise AssertionError(kind)


KINDS = ["period", "segment", "int64", "float64", "float32", "bool", "datetime64[ns]", "datetime64[us]",
         "object ints", "object floats", "object bools", "object datetimes", "nothing", "Int64", "str", "aware"]


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    kinds = draw(st.lists(st.sampled_from(KINDS), max_size=7))
    names = draw(st.lists(st.text(max_size=5), min_size=len(kinds), max_size=len(kinds), unique=True))
    start, step = draw(st.integers(-5, 5)), draw(st.sampled_from([1, 1, 2, -1]))
    frame = pd.DataFrame({name: draw(_column(kind, n)) for name, kind in zip(names, kinds)}, index=pd.RangeIndex(n))
    return frame.set_axis(pd.RangeIndex(start, start + n * step, step), axis=0)


@given(frames())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_any_result_frame_comes_back_exactly(frame: pd.DataFrame) -> None:
    payload = encode(frame)
    assert payload is not None, frame.dtypes
    assert_identical(frame, decode(payload))


@given(frames())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
def test_a_frame_read_back_can_be_changed_like_a_computed_one(frame: pd.DataFrame) -> None:
    """Pickles gave writable arrays; so must Arrow (a caller may set values in place)."""
    got = decode(encode(frame))  # type: ignore[arg-type]
    for i in range(got.shape[1]):
        if len(got) and got.dtypes.iloc[i].kind in "if":
            got.iloc[0, i] = 1
            assert got.iloc[0, i] == 1


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"segment": pd.Series([1, "a"], dtype=object)}),  # mixed kinds
    pd.DataFrame({"segment": pd.Series([pd.Timestamp("2024-01-01")], dtype=object)}),  # Timestamp objects
    pd.DataFrame({"segment": pd.Series([np.float64("nan"), "a"], dtype=object)}),  # numpy's NaN, not Python's
    pd.DataFrame({"segment": pd.Series(["a", "b"], dtype="category")}),
    pd.DataFrame({"x": [1, 2]}, index=[5, 3]),
    pd.DataFrame([[1, 2]], columns=["x", "x"]),
    pd.DataFrame({"x": [1 + 2j]}),
], ids=["mixed", "timestamps", "numpy-nan", "category", "index", "duplicate-names", "complex"])
def test_a_frame_that_would_not_come_back_exactly_is_not_stored(frame: pd.DataFrame, tmp_path: Path) -> None:
    assert encode(frame) is None
    attrs = pd.DataFrame({"x": [1]})
    attrs.attrs["note"] = "kept only by a pickle"
    assert encode(attrs) is None
    project = _write_project(tmp_path)
    cache = ResultCache(tmp_path / "cache", project.spec, tmp_path)
    cache.put("0" * 64, frame)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    assert cache.get("0" * 64) is None


def _write_project(folder: Path) -> Project:
    (folder / "events.csv").write_text(ROWS)
    return _project(folder)


def _queries(project: Project) -> list[MetricQuery]:
    """Every metric alone and with its comparisons, by a dimension, at a finer grain, and a
    range after the data (an empty frame of object columns)."""
    spec = project.spec
    grain = spec.north_star.grain
    out = []
    for name, metric in spec.metrics.items():
        source = spec.sources.get(getattr(metric, "source", None) or "")
        dims = tuple(source.dimensions[:1]) if source is not None else ()
        out += [MetricQuery((name,), grain), MetricQuery((name,), grain, compare=True)]
        if dims:
            out.append(MetricQuery((name,), grain, by=dims, compare=True))
    out.append(MetricQuery(tuple(spec.metrics)[:3], "day"))
    out.append(MetricQuery((spec.north_star.metric,), grain, start=dt.date(2400, 1, 1), end=dt.date(2400, 12, 31)))
    return out


@pytest.mark.parametrize("dataset", DATASETS_UNDER_TEST, ids=lambda d: d.name)
def test_every_result_of_the_real_datasets_comes_back_from_disk_exactly(dataset, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the engine caches, on real data: each query computed without the cache, then stored
    and read back from disk by a separate cache object, identical (dtypes and value types)."""
    spec_path = dataset.write(tmp_path)
    monkeypatch.setenv("NORTHSTAR_CACHE", "0")
    fresh = Project.load(spec_path)
    monkeypatch.delenv("NORTHSTAR_CACHE")
    cached = Project.load(spec_path)
    reader = ResultCache(tmp_path / ".northstar" / "cache", cached.spec, tmp_path)
    seen_rows = seen_segments = 0
    for query in _queries(fresh):
        try:
            computed = fresh.engine.query(query)
        except Exception as exc:  # noqa: BLE001 -- a query the data cannot answer has nothing to cache
            assert type(exc).__module__.startswith("northstar"), exc
            continue
        cached.engine.query(query)  # computes and stores it
        got = reader.get(reader.key(query))  # type: ignore[arg-type]
        assert got is not None, query
        assert_identical(computed, got)
        seen_rows += len(got)
        seen_segments += bool(query.by) and len(got) > 0
    assert seen_rows > 200 and seen_segments > 0


MESSY = ("ts,user,country\n"  # a missing country, an empty week, a late partial week, one event a week
         "2024-01-01 10:00:00,a,NL\n2024-01-02 10:00:00,b,\n2024-01-03 23:59:59,c,Ísland\n"
         "2024-01-16 00:00:00,a,\n2024-01-29 08:00:00,d,NL\n")


def test_messy_data_comes_back_from_disk_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing segments (None), empty periods (zeros and NaN ratios), unicode segments: the
    frame read from disk by a new project is the one computed without any cache."""
    (tmp_path / "events.csv").write_text(MESSY, encoding="utf-8")
    calls = [{"metrics": ["plays", "users", "per_user"], "by": ["country"], "compare": True},
             {"metrics": ["per_user"], "grain": "day"}, {"metrics": ["users"], "grain": "month", "by": ["country"]}]
    monkeypatch.setenv("NORTHSTAR_CACHE", "0")
    expected = [_project(tmp_path).query(**c) for c in calls]
    monkeypatch.delenv("NORTHSTAR_CACHE")
    for c in calls:
        _project(tmp_path).query(**c)  # computes and stores
    assert len(list((tmp_path / ".northstar" / "cache").glob("*.result"))) == len(calls)
    for c, want in zip(calls, expected):
        assert_identical(want, _project(tmp_path).query(**c))
    by_country = expected[0]
    assert by_country["country"].map(lambda v: v is None).any() and "Ísland" in set(by_country["country"])
    assert by_country["per_user"].isna().any() and (by_country["plays"] == 0).any()
