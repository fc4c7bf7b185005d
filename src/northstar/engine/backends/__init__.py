"""Engines behind one small interface (`base.Backend`); each lives in its own module and its
driver is imported only when a spec asks for it."""

from __future__ import annotations

import importlib
from pathlib import Path

from northstar.engine.backends.base import Backend, expand_env, first_line
from northstar.errors import DataError
from northstar.spec.model import Engine

__all__ = ["Backend", "connect", "expand_env", "first_line"]

MODULES = {"duckdb": "duckdb", "pyspark": "spark", "clickhouse": "clickhouse", "postgres": "postgres"}
DRIVERS = {"duckdb": "duckdb", "pyspark": "pyspark", "clickhouse": "chdb or clickhouse-connect",
           "postgres": "psycopg"}


def connect(engine: Engine, base_dir: Path) -> Backend:
    """Open the engine a spec's `engine:` block asks for."""
    name = MODULES.get(engine.type)
    if name is None:  # pragma: no cover - the model forbids it
        raise DataError(f"engine type '{engine.type}' is not supported")
    try:
        module = importlib.import_module(f"northstar.engine.backends.{name}")
    except ImportError as exc:
        raise DataError(f"engine type '{engine.type}' needs {DRIVERS[engine.type]}: pip install "
                        f"'northstar-metric[{engine.type}]' ({first_line(exc)})") from None
    return module.connect(engine, base_dir)
