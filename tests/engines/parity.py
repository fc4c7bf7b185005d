"""The same spec on two engines: build the copies (only the `engine:` block differs) and
compare what they give, exactly for integers, to a relative 1e-9 for floats."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parents[1]
GRAINS = ("day", "week", "month")
REL = 1e-9


def engine_block(engine: dict[str, Any]) -> str:
    """`engine:` in YAML flow style; the disk cache is off so that every engine computes."""
    items = {**engine, "cache": False}
    return "engine: {" + ", ".join(f"{k}: {_yaml(v)}" for k, v in items.items()) + "}\n"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def with_engine(text: str, engine: dict[str, Any]) -> str:
    """The spec text with its `engine:` block replaced (or added)."""
    lines = [line for line in text.splitlines() if not line.startswith("engine:")]
    return "\n".join(lines) + "\n" + engine_block(engine)


def sparkify_spec(folder: Path, engine: dict[str, Any], events: Path) -> Path:
    """tests/sparkify.yml (the issue's example) in `folder`, with its events under data/."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    shutil.copy(events, folder / "data" / "events.jsonl")
    path = folder / "northstar.yml"
    path.write_text(with_engine((TESTS / "sparkify.yml").read_text(encoding="utf-8"), engine), encoding="utf-8")
    return path


def olist_spec(folder: Path, engine: dict[str, Any]) -> Path:
    """The Olist spec of tests/test_olist.py, reading the shared dataset in place."""
    from test_olist import _spec_text  # tests/ is on sys.path (rootdir conftest)

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "northstar.yml"
    path.write_text(with_engine(_spec_text(), engine), encoding="utf-8")
    return path


def metric_names(project: Any) -> list[str]:
    return list(project.spec.metrics)


# ---- comparison -------------------------------------------------------------------------

def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame, what: str = "") -> None:
    """Same columns, rows, periods; int columns stay int; values equal (floats to 1e-9)."""
    assert list(got.columns) == list(want.columns), what
    assert len(got) == len(want), f"{what}: {len(got)} rows, DuckDB {len(want)}"
    for column in want.columns:
        a, b = got[column], want[column]
        if pd.api.types.is_integer_dtype(b):
            assert pd.api.types.is_integer_dtype(a), f"{what} {column}: {a.dtype}, DuckDB {b.dtype}"
        if pd.api.types.is_float_dtype(b):
            assert pd.api.types.is_float_dtype(a), f"{what} {column}: {a.dtype}, DuckDB {b.dtype}"
        for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
            assert same(x, y), f"{what} {column} row {i} ({want.iloc[i, 0]}): {x!r}, DuckDB {y!r}"


def same(x: Any, y: Any) -> bool:
    """Equal values: numbers to REL, nulls (None, NaN, NaT) equal to each other."""
    if _null(x) or _null(y):
        return _null(x) and _null(y)
    if isinstance(x, (bool, np.bool_)) or isinstance(y, (bool, np.bool_)):
        return bool(x) == bool(y)
    if isinstance(x, (int, np.integer)) and isinstance(y, (int, np.integer)):
        return int(x) == int(y)
    if isinstance(x, (int, float, np.number)) and isinstance(y, (int, float, np.number)):
        return math.isclose(float(x), float(y), rel_tol=REL, abs_tol=1e-9)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if isinstance(x, (dt.date, pd.Timestamp)) or isinstance(y, (dt.date, pd.Timestamp)):
        return pd.Timestamp(x) == pd.Timestamp(y)
    return x == y


def assert_same(got: Any, want: Any, path: str = "") -> None:
    """Deep equality of reports' dicts, pointing at the first difference."""
    if isinstance(want, dict) and isinstance(got, dict):
        assert got.keys() == want.keys(), f"{path}: keys {sorted(got)} vs DuckDB {sorted(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}")
        return
    if isinstance(want, (list, tuple)) and isinstance(got, (list, tuple)):
        assert len(got) == len(want), f"{path}: {len(got)} items, DuckDB {len(want)}"
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same(a, b, f"{path}[{i}]")
        return
    assert same(got, want), f"{path}: {got!r}, DuckDB {want!r}"


def unordered(report: Any) -> Any:
    """Every list of dicts sorted by content: `check` and `explain` rank findings and segments
    by score, and rows whose scores tie come in the engine's row order, which differs."""
    import json

    def key(item: Any) -> str:
        return json.dumps(_rounded(item), sort_keys=True, default=str)

    if isinstance(report, dict):
        return {k: unordered(v) for k, v in report.items()}
    if isinstance(report, list):
        items = [unordered(v) for v in report]
        return sorted(items, key=key) if items and all(isinstance(v, dict) for v in items) else items
    return report


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _null(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# ---- the shared tests -------------------------------------------------------------------

DATASETS = ("sparkify", "olist")
ENTITY_METRIC = {"sparkify": "active_listeners", "olist": "buyers"}
DIMENSION = {"sparkify": "level", "olist": "customer_state"}


def olist_zones_text(engine: dict[str, Any]) -> str:
    """The Olist spec with its times recorded in São Paulo and periods cut in New York: the
    engine's own time-zone conversions (both ways) are used."""
    from test_olist import _spec_text

    text = _spec_text().replace("timezone: UTC", "timezone: America/New_York")
    text = "\n".join(line + ("\n    timezone: America/Sao_Paulo" if line.startswith("    timestamp: ") else "")
                     for line in text.splitlines())
    return with_engine(text, engine)


def build(kind: str, folder: Path, engine: dict[str, Any]) -> Path:
    from conftest import SPARKIFY_EVENTS

    if kind == "sparkify":
        return sparkify_spec(folder, engine, SPARKIFY_EVENTS)
    if kind == "olist":
        return olist_spec(folder, engine)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "northstar.yml"
    path.write_text(olist_zones_text(engine), encoding="utf-8")
    return path


def _portable(report: Any, *folders: Path) -> Any:
    """A report's dict with the spec folders taken out (they differ between the copies)."""
    import json

    text = json.dumps(report.to_dict(), default=str)
    for folder in folders:
        text = text.replace(str(folder), "<spec>")
    return json.loads(text)


class EngineParity:
    """Subclassed by each engine's test module, which provides the `engine` fixture (the
    `engine:` block as a dict). Each dataset's two projects are built once per class."""

    @pytest.fixture(scope="class", params=DATASETS)
    @classmethod
    def pair(cls, request: pytest.FixtureRequest, engine: dict[str, Any],
             tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any, Any]:
        from northstar import Project

        kind = request.param
        folder = tmp_path_factory.mktemp(kind)
        duck = Project.load(build(kind, folder / "duckdb", {"type": "duckdb"}))
        other = Project.load(build(kind, folder / engine["type"], engine))
        return kind, duck, other

    @pytest.mark.parametrize("grain", GRAINS)
    def test_every_metric_equals_duckdb(self, pair: tuple[str, Any, Any], grain: str) -> None:
        kind, duck, other = pair
        metrics = metric_names(duck)
        want = duck.query(metrics, grain=grain)
        assert len(want) > 0
        assert_same_frame(other.query(metrics, grain=grain), want, f"{kind} {grain}")

    def test_breakdown_with_comparisons_equals_duckdb(self, pair: tuple[str, Any, Any]) -> None:
        kind, duck, other = pair
        sources = {n for n, s in duck.spec.sources.items() if DIMENSION[kind] in s.dimensions}
        metrics = [m for m, d in duck.spec.metrics.items() if getattr(d, "agg", None) and d.source in sources]
        args = {"grain": "week", "by": [DIMENSION[kind]], "compare": True}
        want = duck.query(metrics, **args)
        assert_same_frame(other.query(metrics, **args), want, f"{kind} by {DIMENSION[kind]}")

    def test_check_agrees(self, pair: tuple[str, Any, Any]) -> None:
        _kind, duck, other = pair
        got = _portable(other.check(), other.path.parent)
        want = _portable(duck.check(), duck.path.parent)
        assert want["findings"]
        assert_same(unordered(got), unordered(want))

    def test_explain_agrees(self, pair: tuple[str, Any, Any]) -> None:
        _kind, duck, other = pair
        want = _portable(duck.explain())
        assert want["metric"] if "metric" in want else want
        assert_same(unordered(_portable(other.explain())), unordered(want))

    def test_cohorts_agree(self, pair: tuple[str, Any, Any]) -> None:
        kind, duck, other = pair
        grain = "week" if kind == "sparkify" else "month"
        want = _portable(duck.cohorts(ENTITY_METRIC[kind], grain=grain))
        assert want["rows"]
        assert_same(_portable(other.cohorts(ENTITY_METRIC[kind], grain=grain)), want)

    def test_time_zones_equal_duckdb(self, engine: dict[str, Any], tmp_path: Path) -> None:
        from northstar import Project

        duck = Project.load(build("olist_zones", tmp_path / "duckdb", {"type": "duckdb"}))
        other = Project.load(build("olist_zones", tmp_path / "other", engine))
        metrics = ["placed_orders", "buyers", "payments", "good_orders", "good_order_rate"]
        for grain in ("day", "month"):
            want = duck.query(metrics, grain=grain)
            assert_same_frame(other.query(metrics, grain=grain), want, f"zones {grain}")
