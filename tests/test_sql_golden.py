"""Golden SQL: what Northstar sends to each Ibis dialect, reviewed and kept in tests/golden/sql.

For engines the suite does not run (BigQuery, Snowflake, Trino, Databricks) this is the only
test; for the ones it runs (DuckDB, ClickHouse, PostgreSQL, PySpark) it shows a change in the
generated SQL in review. The statements are built by the real engine (`MetricEngine.statements`)
over *unbound* Ibis tables with the sources' real schemas, then compiled with
`ibis.to_sql(expr, dialect=...)` (ClickHouse: with Northstar's own compiler, which forces
exact distinct counts). Data bounds, which shape the statements, are read with DuckDB.

`NORTHSTAR_UPDATE_GOLDEN=1 pytest tests/test_sql_golden.py` rewrites the files; review the diff.
"""

from __future__ import annotations

from collections.abc import Iterator

import datetime as dt
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pytest

from conftest import SPARKIFY_EVENTS, SPARKIFY_SPEC
from northstar import Project
from northstar.engine.backends.base import Backend
from northstar.engine.engine import MetricEngine
from northstar.engine.plan import MetricQuery

GOLDEN = Path(__file__).with_name("golden") / "sql"
UPDATE = os.environ.get("NORTHSTAR_UPDATE_GOLDEN") == "1"
DIALECTS = ["duckdb", "clickhouse", "postgres", "pyspark", "bigquery", "snowflake", "trino", "databricks"]

# What a dialect's compiler cannot do in a case: (dialect, case) -> reason. Such a case is an
# expected failure (strict: when Ibis learns it, the marker must go).
UNSUPPORTED: dict[tuple[str, str], str] = {
    ("postgres", "sparkify_all_week"): "Ibis's Postgres compiler has no rule for TimestampFromUNIX (epoch `time_unit`)",
    ("pyspark", "sparkify_all_week"): "Ibis's PySpark compiler supports epoch seconds only, not `time_unit: ms` "
                                      "(Northstar's Spark engine uses timestamp_millis: tests/test_engine_spark.py)",
    ("databricks", "sparkify_all_week"): "Ibis's Databricks compiler supports epoch seconds only, not `time_unit: ms`",
    ("trino", "sparkify_all_week"): "Ibis's Trino compiler has no week interval (retention's next period at week grain)",
}


class SchemaBackend(Backend):
    """Sources as unbound Ibis tables (their real schemas); queries the engine runs to plan
    (data bounds) are compiled to DuckDB and run on the files, registered under the same names."""

    name = "schema"

    def __init__(self) -> None:
        super().__init__(duckdb.connect())
        self.con.execute("SET TimeZone = 'UTC'")

    def read_files(self, name: str, paths: Sequence[str], fmt: str) -> ir.Table:
        reader = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}[fmt]
        files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        self.con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {reader}({files})')
        return self.table(name)

    def table(self, name: str) -> ir.Table:
        rows = self.con.execute(f'DESCRIBE "{name}"').fetchall()
        from ibis.backends.sql.datatypes import DuckDBType

        return ibis.table({r[0]: DuckDBType.from_string(r[1]) for r in rows}, name=name)

    def sql(self, query: str) -> ir.Table:
        name = f"__sql_{abs(hash(query))}"
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {query}')
        return self.table(name)

    def utc_to_local(self, ts: Any, zone: str) -> Any:  # pragma: no cover - bounds are known
        raise AssertionError("the golden cases use sources whose instants are known")

    local_to_utc = utc_to_local

    def execute(self, expr: ir.Expr, what: str | None = None) -> Any:
        frame = self.con.execute(ibis.to_sql(expr.as_table(), dialect="duckdb")).df()
        return expr.__pandas_result__(frame)


def _demo(folder: Path) -> Path:
    from northstar.demo.generate import generate_demo

    return generate_demo(folder, users=100, seed=42).spec_path


def _sparkify(folder: Path) -> Path:
    (folder / "data").mkdir()
    shutil.copy(SPARKIFY_EVENTS, folder / "data" / "events.jsonl")
    shutil.copy(SPARKIFY_SPEC, folder / "northstar.yml")
    return folder / "northstar.yml"


# case -> (project maker, query). The demo's tree is in Europe/Amsterdam (a DST change in the
# range: 2025-03-30); Sparkify is UTC with epoch milliseconds and every kind of metric.
CASES = {
    "demo_tree_week": (_demo, MetricQuery(
        metrics=("listening_minutes", "active_listeners", "minutes_per_listener", "plays_per_listener",
                 "avg_song_minutes"), grain="week", start=dt.date(2025, 3, 3),
        end=dt.date(2025, 4, 28))),
    "sparkify_all_week": (_sparkify, MetricQuery(
        metrics=("listening_minutes", "active_listeners", "minutes_per_listener", "paid_listeners", "upgrades",
                 "listener_retention", "upgrade_conversion", "all_time_listeners"), grain="week")),
}


@pytest.fixture(scope="module")
def statements(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[ir.Table]]]:
    before = os.environ.get("NORTHSTAR_CACHE")
    os.environ["NORTHSTAR_CACHE"] = "0"  # restored below: later modules (test_cache) need the cache on
    out = {}
    for case, (make, query) in CASES.items():
        spec = make(tmp_path_factory.mktemp(case))
        project = Project.load(spec)
        engine = MetricEngine(project.loaded, SchemaBackend())
        out[case] = engine.statements(query)
        assert out[case], case
    yield out
    if before is None:
        os.environ.pop("NORTHSTAR_CACHE", None)
    else:
        os.environ["NORTHSTAR_CACHE"] = before


def _spark_session() -> None:
    """Ibis's PySpark compiler reads a setting of the active Spark session: open one as the
    Spark engine does (so the session other tests use is the same one)."""
    from northstar.engine.backends.spark import connect
    from northstar.spec.model import Engine

    connect(Engine(type="pyspark", master="local[2]"), GOLDEN)


def compile_sql(expr: ir.Table, dialect: str) -> str:
    if dialect == "pyspark":
        _spark_session()
    if dialect == "clickhouse":
        from northstar.engine.backends.clickhouse import compile_sql as clickhouse_sql

        return clickhouse_sql(expr, pretty=True)
    return str(ibis.to_sql(expr, dialect=dialect, pretty=True))


def _params() -> list[Any]:
    params = []
    for dialect in DIALECTS:
        for case in CASES:
            reason = UNSUPPORTED.get((dialect, case))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(dialect, case, marks=marks, id=f"{dialect}-{case}"))
    return params


@pytest.mark.parametrize(("dialect", "case"), _params())
def test_golden_sql(statements: dict[str, list[ir.Table]], dialect: str, case: str) -> None:
    text = "\n\n".join(f"-- statement {i + 1} of {len(statements[case])}\n{compile_sql(expr, dialect)};"
                       for i, expr in enumerate(statements[case])) + "\n"
    path = GOLDEN / dialect / f"{case}.sql"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} did not exist: written; review it and run again")
    assert text == path.read_text(encoding="utf-8"), (
        f"the SQL for {dialect} changed: review it and run with NORTHSTAR_UPDATE_GOLDEN=1 ({path})")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_golden_semantics(dialect: str) -> None:
    """What the review checks, asserted on the stored files: exact distinct counts (no
    approximate function), Monday weeks, and no engine time-zone function (local time is the
    UTC instant plus the offsets of the spec's zone, a CASE over instants)."""
    paths = [p for case in CASES if (p := GOLDEN / dialect / f"{case}.sql").exists()]
    if not paths:
        pytest.skip(f"no golden SQL for {dialect} (see UNSUPPORTED)")
    for path in paths:
        case = path.stem
        sql = path.read_text(encoding="utf-8")
        lowered = sql.lower()
        for approx in ("approx_count_distinct", "approx_distinct", "hll", "uniqcombined", "uniqhll"):
            assert approx not in lowered, (dialect, case, approx)
        assert not re.search(r"\buniq(if)?\(", sql), (dialect, case)
        if dialect == "clickhouse":
            assert "uniqExact" in sql
        else:
            assert re.search(r"count\(\s*distinct", lowered), (dialect, case)
        assert "at time zone" not in lowered and "from_utc_timestamp" not in lowered, (dialect, case)
