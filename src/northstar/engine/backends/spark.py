"""Apache Spark through PySpark: `engine: {type: pyspark, master: ..., config: {...}}`.

`master` is `local[*]` by default (`local[N]` with `threads: N`), `spark://host:7077` for a
standalone cluster, or `sc://host:15002` for Spark Connect; it may hold `${VAR}` references.
`config` is applied to the session as given (e.g. `spark.executor.memory`), over Northstar's
defaults: session time zone UTC (naive timestamps are UTC instants, as on every engine), no
console progress bar and no web UI, log level ERROR. `SPARK_LOCAL_IP=127.0.0.1` is set before
the JVM starts unless the environment has it (Spark otherwise resolves the machine's name).

Spark reads the files itself (Parquet, JSON lines, CSV with a header, quoted fields that may
span lines, `""` as the escaped quote, as DuckDB reads them). One SparkContext lives per
process: every engine opened in it shares it, each with its own SparkSession (`newSession`)
so that two specs' temporary views never collide. A session already running with another
master is stopped first.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from northstar.engine.backends.base import Backend, expand_env, file_functions, first_line
from northstar.engine.backends.timeformats import SPARK_WEEKDAYS, has_weekday, spark_pattern
from northstar.errors import DataError
from northstar.spec.model import Engine

LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")

DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

# How Spark's CSV reader matches DuckDB's: a header row, types inferred, RFC 4180 quoting.
CSV_OPTIONS = {"header": True, "inferSchema": True, "multiLine": True, "escape": '"'}


@ibis.udf.scalar.builtin(name="from_utc_timestamp", signature=((dt.Timestamp(), dt.string), dt.Timestamp()))
def _spark_utc_to_local(ts, zone):  # type: ignore[no-untyped-def]
    """Spark's from_utc_timestamp(instant, zone): the wall-clock time in `zone`."""


@ibis.udf.scalar.builtin(name="to_utc_timestamp", signature=((dt.Timestamp(), dt.string), dt.Timestamp()))
def _spark_local_to_utc(ts, zone):  # type: ignore[no-untyped-def]
    """Spark's to_utc_timestamp(wall clock, zone): the instant (session time zone UTC)."""


@ibis.udf.scalar.builtin(name="timestamp_seconds", signature=((dt.int64,), dt.Timestamp()))
def _timestamp_seconds(value):  # type: ignore[no-untyped-def]
    """Spark's timestamp_seconds(epoch seconds)."""


@ibis.udf.scalar.builtin(name="timestamp_millis", signature=((dt.int64,), dt.Timestamp()))
def _timestamp_millis(value):  # type: ignore[no-untyped-def]
    """Spark's timestamp_millis(epoch milliseconds)."""


@ibis.udf.scalar.builtin(name="timestamp_micros", signature=((dt.int64,), dt.Timestamp()))
def _timestamp_micros(value):  # type: ignore[no-untyped-def]
    """Spark's timestamp_micros(epoch microseconds)."""


@ibis.udf.scalar.builtin(name="to_timestamp", signature=((dt.string, dt.string), dt.Timestamp(timezone="UTC")))
def _spark_to_timestamp(text, pattern):  # type: ignore[no-untyped-def]
    """Spark's to_timestamp(text, datetime pattern), in the session's zone (UTC)."""


@ibis.udf.scalar.builtin(name="regexp_replace", signature=((dt.string, dt.string, dt.string), dt.string))
def _spark_regexp_replace(text, pattern, replacement):  # type: ignore[no-untyped-def]
    """Spark's regexp_replace (every match)."""


class SparkBackend(Backend):
    name = "pyspark"
    dialect = "spark"

    def __init__(self, con: Any, session: Any) -> None:
        super().__init__(con)
        self.session = session

    def read_files(self, name: str, paths: Sequence[str], fmt: str, text_columns: Sequence[str] = ()) -> ir.Table:
        # `text_columns` need nothing here: Spark infers a CSV timestamp from ISO 8601 text only
        # (its default timestampFormat), so text a pattern must read stays text.
        sources = list(paths)
        if fmt == "parquet":
            return self.con.read_parquet(sources if len(sources) > 1 else sources[0], table_name=name)
        if fmt == "csv":
            return self.con.read_csv(sources, table_name=name, **CSV_OPTIONS)
        if fmt == "json":
            return self.con.read_json(sources, table_name=name)
        raise DataError(f"unknown file format '{fmt}'")

    def sql(self, query: str) -> ir.Table:
        """A source's SQL; DuckDB's `read_csv('x.csv')` and the like become temporary views
        of the same files read by Spark (their options beyond the paths are not supported)."""
        rewritten, reads = file_functions(query)
        for read in reads:
            if not read.paths:
                raise DataError(f"{read.call}: on Spark, a file-reading function takes literal paths only")
            if read.options:
                raise DataError(f"{read.call}: on Spark, a file-reading function takes no options "
                                "(declare the file as a `path:` source instead)")
            self.read_files(read.name, list(read.paths), read.fmt)
        return super().sql(rewritten)

    def from_epoch(self, value: ir.IntegerValue, unit: str) -> ir.TimestampValue:
        # Ibis's PySpark backend converts epoch seconds only; Spark has exact functions for each unit.
        value = value.cast("int64")
        if unit == "s":
            return _timestamp_seconds(value)
        if unit == "ms":
            return _timestamp_millis(value)
        if unit == "us":
            return _timestamp_micros(value)
        # ns: Spark keeps microseconds. Divided as a decimal, exactly: Ibis's `//` divides as
        # doubles, which hold 16 digits (nanoseconds of our era have 19).
        return _timestamp_micros((value.cast(dt.Decimal(20, 0)) / 1000).cast("int64"))

    def parse_time(self, text: ir.StringValue, pattern: str) -> ir.TimestampValue:
        if has_weekday(pattern):  # Spark cannot parse a weekday name: it is taken out (see timeformats)
            text = _spark_regexp_replace(text, SPARK_WEEKDAYS, "")
        return _spark_to_timestamp(text, spark_pattern(pattern))

    def utc_to_local(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp())
        return _spark_utc_to_local(ts.cast(dt.Timestamp()), zone)

    def local_to_utc(self, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        if zone == "UTC":
            return ts.cast(dt.Timestamp(timezone="UTC"))
        return _spark_local_to_utc(ts.cast(dt.Timestamp()), zone).cast(dt.Timestamp(timezone="UTC"))

    @contextlib.contextmanager
    def cache(self, table: ir.Table) -> Iterator[ir.Table]:
        """A cached DataFrame as a temporary view (materialised on first use, then in memory)."""
        name = f"__northstar_cache_{uuid.uuid4().hex[:12]}"
        frame = self.session.sql(self.con.compile(table)).cache()
        frame.createOrReplaceTempView(name)
        try:
            yield self.con.table(name)
        finally:
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(name)
                frame.unpersist()

    def close(self) -> None:
        """Drops this engine's session state; the process's SparkContext stays for the next
        engine (stop it with `SparkSession.getActiveSession().stop()`)."""
        with contextlib.suppress(Exception):
            for view in self.session.catalog.listTables():
                if view.isTemporary:
                    self.session.catalog.dropTempView(view.name)


def _master(engine: Engine) -> str:
    if engine.master:
        return expand_env(engine.master, "engine master")
    return f"local[{engine.threads}]" if engine.threads else "local[*]"


def session_for(engine: Engine) -> Any:
    """The process's SparkSession for the engine's master (started if needed)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Executors run Python (Arrow conversion) with the same interpreter as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    master = _master(engine)
    settings = {**DEFAULTS, **{str(k): str(v) for k, v in engine.config.items()}}
    if engine.memory_limit and master.startswith("local"):
        settings.setdefault("spark.driver.memory", engine.memory_limit)
    if not master.startswith("sc://"):
        # Northstar only makes temporary views: Spark's warehouse folder (by default
        # `spark-warehouse/` in the working directory) stays out of the user's folder.
        settings.setdefault("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "northstar-spark-warehouse"))
        # Errors only from the JVM this process starts (Spark's default logs WARN lines on start).
        settings.setdefault("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}")
    if master.startswith("sc://"):
        builder = SparkSession.builder.remote(master)
        for key in ("spark.ui.enabled", "spark.ui.showConsoleProgress"):
            settings.pop(key, None)  # static settings of the server
    else:
        active = SparkSession.getActiveSession()
        if active is not None and active.sparkContext.master != master:
            active.stop()  # one SparkContext per process
        builder = SparkSession.builder.master(master)
    builder = builder.appName("northstar")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not master.startswith("sc://"):
        session.sparkContext.setLogLevel("ERROR")
    for key, value in settings.items():  # runtime settings of a session that was running already
        with contextlib.suppress(Exception):
            session.conf.set(key, value)
    return session


def connect(engine: Engine, base_dir: Path) -> SparkBackend:
    master = _master(engine)
    try:
        shared = session_for(engine)
        session = shared if master.startswith("sc://") else shared.newSession()
        for key, value in {**DEFAULTS, **engine.config}.items():
            with contextlib.suppress(Exception):
                session.conf.set(key, str(value))
        con = ibis.pyspark.connect(session)
    except DataError:
        raise
    except Exception as exc:
        # Only scheme and host: a Spark Connect URL may carry a token (";token=...").
        from urllib.parse import urlsplit
        where = master if master.startswith("local") else f"{master.split('://')[0]}://{urlsplit(master).hostname or ''}"
        raise DataError(f"cannot start Spark ({where}): {first_line(exc)}") from None
    return SparkBackend(con, session)
