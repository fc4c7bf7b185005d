"""The same specs on Spark give what DuckDB gives: local mode (one session for the whole
test run) for every metric at day, week and month grains, breakdowns with comparisons,
`check`, `explain`, `cohorts` and time zones; and once on a standalone cluster (a master and
two workers on 127.0.0.1) and once through a Spark Connect server (`sc://`), each in a
subprocess since a process holds one SparkContext."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engines.parity import EngineParity, assert_same, assert_same_frame, build, metric_names
from engines.spark_cluster import SparkCluster, SparkConnectServer

from northstar import Project

pytestmark = [pytest.mark.engines,
              # pyspark 4.0's toPandas passes `copy=` that pandas 3 deprecates: not ours to fix.
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

# Small data: a few shuffle partitions instead of 200 (a setting of the engine block).
LOCAL = {"type": "pyspark", "master": "local[2]", "config": {"spark.sql.shuffle.partitions": "2"}}


@pytest.fixture(scope="session")
def engine() -> dict[str, Any]:
    return LOCAL


class TestSpark(EngineParity):
    pass


def test_a_standalone_cluster_with_two_workers_gives_duckdbs_numbers(tmp_path: Path) -> None:
    duck = Project.load(build("sparkify", tmp_path / "duckdb", {"type": "duckdb"}))
    metrics = metric_names(duck)
    with SparkCluster(workers=2) as cluster:
        engine = {"type": "pyspark", "master": cluster.url,
                  "config": {"spark.sql.shuffle.partitions": "2", "spark.executor.memory": "512m",
                             "spark.cores.max": "2"}}
        spec = build("sparkify", tmp_path / "cluster", engine)
        out = tmp_path / "frames.pickle"
        script = textwrap.dedent(f"""
            import pickle, sys
            from pyspark.sql import SparkSession
            from northstar import Project
            project = Project.load({str(spec)!r})
            frames = {{g: project.query({metrics!r}, grain=g) for g in ("day", "week", "month")}}
            workers = project.engine.backend.session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
            pickle.dump((frames, workers), open({str(out)!r}, "wb"))
        """)
        cwd = tmp_path / "cwd"
        cwd.mkdir()
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=cwd)
        assert result.returncode == 0, result.stderr[-3000:]
    assert list(cwd.iterdir()) == []  # no `spark-warehouse/` left where the user ran northstar
    # Spark's own start-up chatter stays out of a northstar command's output (errors only)
    assert "NativeCodeLoader" not in result.stderr and "log4j2-defaults" not in result.stderr, result.stderr
    frames, workers = pickle.loads(out.read_bytes())
    assert workers == 2  # both workers ran executors for the application
    for grain, frame in frames.items():
        assert_same_frame(frame, duck.query(metrics, grain=grain), f"cluster {grain}")


def test_spark_connect_gives_duckdbs_numbers(tmp_path: Path) -> None:
    """`master: sc://host:port`: the same spec through a Spark Connect server on 127.0.0.1."""
    duck = Project.load(build("sparkify", tmp_path / "duckdb", {"type": "duckdb"}))
    metrics = metric_names(duck)
    with SparkConnectServer() as server:
        engine = {"type": "pyspark", "master": server.url, "config": {"spark.sql.shuffle.partitions": "2"}}
        spec = build("sparkify", tmp_path / "connect", engine)
        out = tmp_path / "connect.pickle"
        script = textwrap.dedent(f"""
            import pickle
            from northstar import Project
            project = Project.load({str(spec)!r})
            frames = {{g: project.query({metrics!r}, grain=g) for g in ("day", "week", "month")}}
            by = project.query({metrics!r}, grain="week", by=["level"], compare=True)
            tree = project.tree("2018-11-19").to_dict()
            remote = type(project.engine.backend.session).__module__
            pickle.dump((frames, by, tree, remote), open({str(out)!r}, "wb"))
        """)
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                                cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    frames, by, tree, remote = pickle.loads(out.read_bytes())
    assert remote.startswith("pyspark.sql.connect")  # a Connect session, not a local one
    for grain, frame in frames.items():
        assert_same_frame(frame, duck.query(metrics, grain=grain), f"connect {grain}")
    assert_same_frame(by, duck.query(metrics, grain="week", by=["level"], compare=True), "connect by level")
    assert_same(tree, duck.tree("2018-11-19").to_dict())
