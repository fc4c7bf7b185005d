"""Incremental refresh equals a full recompute (issue 14).

For random event tables (test_properties' generator: DST switches, local midnights, nulls,
every timestamp encoding), split into several Parquet files under a glob, random specs (every
metric type: counts, distinct counts, sums, averages, min/max, running totals and running
distinct counts, retentions, conversions, formulas) and random queries (every grain, a
breakdown, a filter, a range, comparison columns), a project first answers from scratch and
stores its per-period results; then the data changes step by step (a new file of later events,
late events into old periods as a new file, a file replaced by one with other rows, a file
removed) and after each step the project answers again, reusing what is stored, and its answer
must equal a full recompute (`engine: {cache: false}`) of the same query on the same files.

Values are compared exactly except floating sums and averages, which may differ in the last
bits between any two runs of the same query (DuckDB's parallel aggregation sums in no fixed
order): those within 1e-12 relative.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

import test_properties as props
from northstar import Project

CONVERSIONS = {
    "conv": {"type": "conversion", "source": "events", "from": "event = 'trial'", "to": "event = 'buy'",
             "within": "3d"},
    "conv_play": {"type": "conversion", "source": "events", "from": "event in ('play', 'trial')",
                  "to": "event = 'play'", "within": "2w"},
}
NAMES = [*props.AGGREGATES, *props.CUMULATIVES, *props.RETENTIONS, *props.FORMULAS, *CONVERSIONS]


def metrics() -> dict[str, Any]:
    return {**props.all_metrics(), **CONVERSIONS}


def write_files(table: props.Table, rows_per_file: list[list[dict]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rows in enumerate(rows_per_file):
        paths.append(write_one(table, rows, folder, f"part-{i:03d}"))
    return paths


def write_one(table: props.Table, rows: list[dict], folder: Path, stem: str) -> Path:
    """One Parquet file of `rows`, written beside and renamed into place (a replaced file is a
    new file, as an export job writes it)."""
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        written = props.write_table(replace(table, rows=rows), Path(tmp))
        target = folder / f"{stem}.parquet"
        os.replace(written, target)
    return target


def spec_for(table: props.Table, engine: dict[str, Any] | None, cache: bool) -> dict[str, Any]:
    spec = props.make_spec(replace(table, fmt="parquet"), metrics())
    spec["sources"]["events"]["path"] = "events/*.parquet"
    spec["engine"] = {**(engine or {}), "cache": cache}
    return spec


def answer(folder: Path, query: props.Query, grain: str) -> pd.DataFrame:
    return Project.load(str(folder / "northstar.yml")).query(query.metrics, **query.kwargs(grain))


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want), f"{len(got)} rows, a full recompute has {len(want)}"
    for column in want.columns:
        a, b = got[column], want[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            assert np.array_equal(np.isnan(x), np.isnan(y)), f"{column}: nulls differ\n{got}\n{want}"
            ok = ~np.isnan(x)
            assert np.allclose(x[ok], y[ok], rtol=1e-12, atol=0), f"{column} differs\n{got}\n{want}"
        else:
            assert a.dtype == b.dtype, f"{column}: dtype {a.dtype}, a full recompute has {b.dtype}"
            assert a.tolist() == b.tolist(), f"{column} differs:\n{got}\n--- full recompute:\n{want}"


@st.composite
def changes(draw: Any, table: props.Table, files: int) -> list[tuple[str, Any]]:
    """Two or three changes: ('append'|'late', rows) as a new file, ('replace', i, rows), ('remove', i)."""
    out: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(2, 3))):
        kind = draw(st.sampled_from(["append", "late", "replace", "remove"]))
        more = draw(props.tables(min_rows=1, max_rows=25))
        rows = [dict(r, ts=_recode(r["ts"], more, table), value=_value(r["value"], table)) for r in more.rows]
        rows = [r for r in rows if not (table.encoding == "source_tz" and r["ts"] is not None
                                        and props._ambiguous(r["ts"], table.source_tz))]
        if kind == "append":  # later than the data: the same rows moved past its end
            out.append((kind, _shifted(rows, table, days=draw(st.integers(1, 40)))))
        elif kind == "late":
            out.append((kind, rows))
        elif kind == "replace":
            out.append((kind, draw(st.integers(0, files - 1)), rows))
        else:
            out.append((kind, draw(st.integers(0, files - 1))))
    return out


def _recode(ts: Any, came_from: props.Table, to: props.Table) -> Any:
    """A timestamp of one generated table written in another table's encoding."""
    import reference as ref
    instant = ref.to_utc(ts, came_from.source().get("time_unit"), came_from.source_tz)
    if instant is None:
        return None
    return props._encode(instant, to.encoding, to.source_tz, to.aware_tz)


def _value(value: Any, table: props.Table) -> Any:
    if value is None:
        return None
    return float(value) if table.value_type == "float64" else int(value)


def _shifted(rows: list[dict], table: props.Table, days: int) -> list[dict]:
    import reference as ref
    out = []
    for r in rows:
        instant = ref.to_utc(r["ts"], table.source().get("time_unit"), table.source_tz)
        ts = None if instant is None else props._encode(instant + timedelta(days=days), table.encoding,
                                                        table.source_tz, table.aware_tz)
        if table.encoding == "source_tz" and ts is not None and props._ambiguous(ts, table.source_tz):
            continue
        out.append(dict(r, ts=ts))
    return out


def run_property(data: Any, engine: dict[str, Any] | None) -> None:
    table = data.draw(props.tables(min_rows=1, fmt="parquet"))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(table.rows)), min_size=1, max_size=3)))
    bounds = [0, *cuts, len(table.rows)]
    rows_per_file = [table.rows[a:b] for a, b in zip(bounds, bounds[1:])]
    queries = [data.draw(props.queries(table, NAMES, max_metrics=4)) for _ in range(2)]
    for q in queries:
        q.compare = data.draw(st.booleans())
    grains = data.draw(st.lists(st.sampled_from(props.GRAINS), min_size=1, max_size=2, unique=True))
    steps = data.draw(changes(table, len(rows_per_file)))
    note(f"tz {table.tz}, encoding {table.encoding}, files {[len(r) for r in rows_per_file]}, grains {grains}, "
         f"queries {queries}, changes {[s[0] for s in steps]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kept"
        full = Path(tmp) / "full"
        for where, cache in ((folder, True), (full, False)):
            where.mkdir()
            props.write_spec(spec_for(table, engine, cache), where)
            (where / "events").symlink_to(Path(tmp) / "events", target_is_directory=True)
        paths = write_files(table, rows_per_file, Path(tmp) / "events")

        def compare(step: str) -> None:
            for q in queries:
                for grain in grains:
                    got, want = answer(folder, q, grain), answer(full, q, grain)
                    try:
                        assert_same(got, want)
                    except AssertionError as exc:
                        raise AssertionError(f"after {step}, {q}, grain {grain}: {exc}") from None

        compare("the first answer")
        for n, step in enumerate(steps):
            kind = step[0]
            if kind in ("append", "late"):
                paths.append(write_one(table, step[1], Path(tmp) / "events", f"new-{n}"))
            elif kind == "replace" and paths:
                target = paths[step[1] % len(paths)]
                write_one(table, step[2], target.parent, target.stem)
            elif kind == "remove" and len(paths) > 1:
                paths.pop(step[1] % len(paths)).unlink()
            compare(f"change {n + 1} ({kind})")


# NORTHSTAR_NO_SHRINK=1: report the first failing example as found (shrinking one takes minutes)
PHASES = [p for p in Phase if p is not Phase.shrink] if os.environ.get("NORTHSTAR_NO_SHRINK") else list(Phase)


@settings(max_examples=props.examples(30), phases=PHASES, **props.SETTINGS)
@given(st.data())
def test_incremental_equals_full_on_duckdb(data: Any) -> None:
    run_property(data, None)


@pytest.mark.engines
@settings(max_examples=props.examples(8), phases=PHASES, **props.SETTINGS)
@given(st.data())
def test_incremental_equals_full_on_clickhouse(data: Any) -> None:
    run_property(data, {"type": "clickhouse"})
