"""Shared fixtures: where the real datasets are, and a Sparkify project in a temp folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NORTHSTAR_DATASETS", ROOT.parent / "shared" / "datasets"))
SPARKIFY_EVENTS = DATASETS / "sparkify" / "events.jsonl"
# The example spec, verbatim but for the data path (relative to the spec file).
SPARKIFY_SPEC = Path(__file__).with_name("sparkify.yml")


# The engines every real-dataset test runs on: the same spec, only its `engine:` block differs.
ENGINE_KINDS = ("duckdb", "clickhouse", "postgres", "pyspark")


def engine_for(request: pytest.FixtureRequest, kind: str) -> dict:
    """The `engine:` block for `kind` (PostgreSQL: the session's server on 127.0.0.1)."""
    if kind == "postgres":
        return {"type": "postgres", "url": request.getfixturevalue("postgres_server").url}
    if kind == "pyspark":
        return {"type": "pyspark", "master": "local[2]"}
    return {"type": kind}


@pytest.fixture(params=ENGINE_KINDS)
def sparkify_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A folder with the example spec and a copy of the Sparkify events under data/, on each
    engine (the spec's `engine:` block only; DuckDB keeps the spec verbatim)."""
    if not SPARKIFY_EVENTS.exists():
        pytest.fail(f"the Sparkify dataset is missing at {SPARKIFY_EVENTS}: CI must have ../shared beside the project")
    (tmp_path / "data").mkdir()
    shutil.copy(SPARKIFY_EVENTS, tmp_path / "data" / "events.jsonl")
    shutil.copy(SPARKIFY_SPEC, tmp_path / "northstar.yml")
    if request.param != "duckdb":
        from engines.parity import with_engine

        spec = tmp_path / "northstar.yml"
        spec.write_text(with_engine(spec.read_text(encoding="utf-8"), engine_for(request, request.param)))
    return tmp_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL on 127.0.0.1 for the whole session (see tests/engines/postgres_server.py)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
