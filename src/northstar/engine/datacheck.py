"""Checks of a spec against its data: files readable, columns present and of the right type,
timestamps that parse, expressions that type-check, joins that do not fan out."""

from __future__ import annotations

import datetime as dt

from northstar.engine.compile import LOCAL, aggregate_value
from northstar.engine.sql_to_ibis import to_ibis
from northstar.errors import DataError, Problem, first_line
from northstar.spec.expressions import short
from northstar.spec.model import AggregateMetric, FormulaMetric, Source
from northstar.spec.validate import metric_expressions, time_format_path
from northstar.spec.validate_columns import validate_columns
from northstar.engine.sources import csv_text_sample
from northstar.engine.timeguess import (PLAUSIBLE_YEARS, describe_year, epoch_datetime, iso_like, plausible_units,
                                        text_advice, yyyymmdd_date)
from northstar.engine.timestamps import SAMPLE

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from northstar.engine.engine import MetricEngine


SAMPLE_ROWS = 1_000  # rows each metric is run on by `validate`: enough to meet a CAST that cannot read the data


def implausible_times(source: Source, name: str, bounds: tuple[dt.datetime, dt.datetime] | None) -> str | None:
    """Why a source's first or last time cannot be an event (year 1, 9999: placeholders or typos
    that would make a query cut two thousand years into periods, or run off the calendar), or
    None. `bounds` None: a time so near the calendar's edge that moving it into the spec's zone
    overflowed."""
    low, high = PLAUSIBLE_YEARS
    advice = (f"fix those rows, or leave them out with a `sql:` source (SELECT * FROM ... WHERE {source.timestamp} "
              f">= '{low}-01-01' AND {source.timestamp} < '{high}-01-01')")
    if bounds is None:
        return (f"source '{name}': column '{source.timestamp}' holds a time at the edge of the calendar (year 1 or "
                f"9999), outside {low}-{high}: {advice}")
    odd = [t for t in bounds if not low <= t.year < high]
    if not odd:
        return None
    return (f"source '{name}': column '{source.timestamp}' holds {odd[0].isoformat(sep=' ')}, outside {low}-{high} "
            f"(a placeholder date or a typo?): {advice}")


def _location_field(source: object) -> str:
    return "path" if getattr(source, "path", None) else ("table" if getattr(source, "table", None) else "sql")


def check_data(engine: "MetricEngine") -> list[Problem]:
    spec, lines = engine.spec, engine.loaded.lines
    problems: list[Problem] = []
    columns: dict[str, dict[str, str]] = {}
    for name, source in spec.sources.items():
        try:
            columns[name] = engine.source(name).columns
        except DataError as exc:
            problems.append(lines.problem(("sources", name, _location_field(source)), str(exc)))
    column_problems = validate_columns(spec, lines, columns)
    problems += column_problems
    # A source whose own columns are wrong is not checked further; the others still are.
    broken = {name for name in spec.sources
              if any(p.severity == "error" and p.line in _source_lines(lines, name) for p in column_problems)}
    for name, source in spec.sources.items():
        if name not in columns or name in broken:
            continue
        for check in (_check_times, _check_key):
            try:
                problems += check(engine, name)
            except Exception as exc:  # one failing check must not hide the others
                problems.append(lines.problem(("sources", name), f"source '{name}': {check.__name__} failed: {exc}"))
    column_errors = {p.line for p in column_problems if p.severity == "error"}
    problems += [p for p in _check_expressions(engine, set(columns) - broken) if p.line not in column_errors]
    return problems


def _source_lines(lines: object, name: str) -> set[int | None]:
    """Lines of a source's own fields (timestamp, entity, key, dimensions...)."""
    table = getattr(lines, "lines", {})
    return {line for path, line in table.items() if len(path) >= 2 and path[0] == "sources" and path[1] == name}


def _check_times(engine: "MetricEngine", name: str) -> list[Problem]:
    """The time column reads as declared (the engine's own bounds read says why not, the
    same error a query gives), and the dates it gives are plausible."""
    bound = engine.source(name)
    source, lines = bound.source, engine.loaded.lines
    if source.timestamp is None:
        return []
    path = ("sources", name, "timestamp")
    try:
        bounds = engine.data_bounds(name)
    except DataError as exc:
        field = "time_unit" if source.time_unit else ("time_format" if source.time_format else "timestamp")
        at = time_format_path(lines, name) if field == "time_format" else ("sources", name, field)
        return [lines.problem(at, str(exc))]
    if bounds is None:
        return [lines.problem(path, f"source '{name}': no rows with a timestamp: the data is empty")]
    first, last = bounds
    missing = _rows_without_time(engine, name)
    found = [lines.problem(path, missing, "warning")] if missing is not None else []  # beside, not instead of, the rest
    if source.time_unit and (first.year < 1990 or last.year > 2100):
        return found + [lines.problem(("sources", name, "time_unit"), _odd_epoch_dates(engine, name, first, last),
                                      "warning")]
    dtype = bound.table[source.timestamp].type()
    if not source.time_format and (dtype.is_date() or dtype.is_timestamp()):
        guessed = _dates_guessed_by_the_reader(engine, name)
        if guessed:
            return found + [lines.problem(path, guessed, "warning")]
    return found


def _rows_without_time(engine: "MetricEngine", name: str) -> str | None:
    """How many rows have no time (their column is empty): every metric leaves them out, which
    a user must hear of (1,200 of 60,000 rows were dropped without a word)."""
    source = engine.source(name).source
    table = engine.prepared(name, None, "day", [source.timestamp or ""])
    row = engine.backend.execute(table.aggregate(rows=table.count(), missing=table.count(where=table[LOCAL].isnull())))
    rows, missing = int(row["rows"].iloc[0]), int(row["missing"].iloc[0])
    if not missing:
        return None
    return (f"source '{name}': {missing:,} of {rows:,} rows ({missing / rows:.1%}) have no time (column "
            f"'{source.timestamp}' is empty): every metric leaves them out")


def _dates_guessed_by_the_reader(engine: "MetricEngine", name: str) -> str | None:
    """A CSV column of text such as 01/02/2011 that the reader made dates of by its own guess:
    DuckDB takes it day-first when both fit, ClickHouse decides value by value, so the same
    file can give other dates on another engine. A `time_format` says which is meant."""
    source = engine.source(name).source
    values = csv_text_sample(source, engine.loaded.base_dir, SAMPLE)
    if not values or all(iso_like(v) for v in values):
        return None
    example = next(v for v in values if not iso_like(v))
    return (f"source '{name}': column '{source.timestamp}' is text such as '{example}' in the file, which the "
            f"CSV reader turned into dates by its own guess (engines guess differently); "
            f"{text_advice([v for v in values if not iso_like(v)], len(values))}")


def _odd_epoch_dates(engine: "MetricEngine", name: str, first: dt.datetime, last: dt.datetime) -> str:
    """Plausible but unusual dates from epoch numbers (1900-1990, 2100-2200): which unit, or
    yyyymmdd, the numbers look like instead."""
    bound = engine.source(name)
    source = bound.source
    column = bound.table[source.timestamp]
    row = engine.backend.execute(bound.table.aggregate(lo=column.min(), hi=column.max())).iloc[0]
    lo, hi = (value.item() if hasattr(value, "item") else value for value in (row["lo"], row["hi"]))
    start = f"source '{name}': with `time_unit: {source.time_unit}` the events run from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    if yyyymmdd_date(lo) is not None and yyyymmdd_date(hi) is not None:
        return f"{start}; the values (e.g. {hi}) look like yyyymmdd dates: remove `time_unit`"
    others = [u for u in plausible_units(lo, hi) if u != source.time_unit]
    nearer = [u for u in others if _in_recent_era(lo, hi, u)]
    if nearer:
        return f"{start}; is the unit '{nearer[0]}'? ({describe_year(lo, nearer[0])} to {describe_year(hi, nearer[0])})"
    return f"{start}; check the unit"


def _in_recent_era(lo: object, hi: object, unit: str) -> bool:
    first, last = epoch_datetime(lo, unit), epoch_datetime(hi, unit)  # type: ignore[arg-type]
    return first is not None and last is not None and first.year >= 1990 and last.year <= 2100


def _check_key(engine: "MetricEngine", name: str) -> list[Problem]:
    """A declared `key` must be unique: otherwise a join in the source's SQL fans out."""
    bound = engine.source(name)
    source, lines = bound.source, engine.loaded.lines
    if source.key is None:
        if source.sql and " join " in f" {source.sql.lower()} ":
            return [lines.problem(("sources", name, "sql"), f"source '{name}' joins tables but declares no `key`: "
                                  "Northstar cannot check that the join does not repeat rows (count and sum "
                                  "metrics would double-count). Add `key:` with the column that identifies a row",
                                  "warning")]
        return []
    try:
        duplicates = engine.duplicate_keys(name)
    except DataError as exc:
        return [lines.problem(("sources", name, "key"), str(exc))]
    if duplicates:
        return [lines.problem(("sources", name, "key"), _fan_out_message(name, source.key, duplicates))]
    return []


def _fan_out_message(name: str, key: str, duplicates: int) -> str:
    return (f"source '{name}': key '{key}' is not unique ({duplicates:,} extra rows): its join fans out and "
            "counts and sums would double-count; aggregate the joined table per key in the SQL first")


def _check_expressions(engine: "MetricEngine", readable: set[str]) -> list[Problem]:
    """Each metric's expressions against the column types (without running them), then each
    metric run on a sample of its rows: a CAST that cannot read the data fails here, not at
    the first query."""
    spec, lines = engine.spec, engine.loaded.lines
    problems: list[Problem] = []
    for name, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric) or metric.source not in readable:
            continue
        table = engine.source(metric.source).table
        entity = spec.sources[metric.source].entity
        found = len(problems)
        for field_name, text in metric_expressions(metric):
            try:
                value = to_ibis(text, table)
                if field_name in ("where", "from", "to") and not value.type().is_boolean():
                    problems.append(lines.problem(("metrics", name, field_name), f"metric '{name}' field "
                                                  f"'{field_name}': '{short(text)}' is {value.type()}, not a condition"))
            except Exception as exc:
                problems.append(lines.problem(("metrics", name, field_name),
                                f"metric '{name}' field '{field_name}': '{short(text)}' does not fit the column "
                                f"types: {_reason(exc)}"))
        if len(problems) > found:  # the reduction or the sample would only repeat it
            continue
        if isinstance(metric, AggregateMetric):
            try:
                aggregate_value(table, metric, entity)
            except Exception as exc:
                problems.append(lines.problem(("metrics", name, "agg"), f"metric '{name}': cannot {metric.agg} "
                                f"'{short(metric.expr or '')}': {_not_reducible(table, metric, exc)}"))
                continue
        problems += _run_on_sample(engine, name)
    return problems


def _reason(exc: Exception) -> str:
    text = first_line(exc)
    return text.split(" does not fit the column types: ", 1)[-1]


def _not_reducible(table: object, metric: AggregateMetric, exc: Exception) -> str:
    """Why `agg` cannot reduce `expr`: its type in words (Ibis says "'StringColumn' object has no
    attribute 'sum'")."""
    try:
        kind = to_ibis(metric.expr, table).type() if metric.expr else None  # type: ignore[arg-type]
    except Exception:
        kind = None
    if kind is not None and not kind.is_numeric():
        return f"it is {kind}, not a number; CAST it, e.g. CAST({short(metric.expr or '', 40)} AS double)"
    return first_line(exc)


def _run_on_sample(engine: "MetricEngine", name: str) -> list[Problem]:
    """The metric's filters, then its value, run on the first SAMPLE_ROWS rows they select."""
    metric = engine.spec.metrics[name]
    lines = engine.loaded.lines
    bound = engine.source(metric.source)  # type: ignore[union-attr]
    table = bound.table
    for field_name, text in metric_expressions(metric):
        try:
            if field_name == "expr":
                rows = table.filter(to_ibis(metric.where, table)) if metric.where else table  # type: ignore[union-attr]
                sample = rows.limit(SAMPLE_ROWS)
                reduced = aggregate_value(sample, metric, bound.source.entity)  # type: ignore[arg-type]
                engine.backend.execute(sample.aggregate(value=reduced))
            else:
                engine.backend.execute(table.filter(to_ibis(text, table)).limit(SAMPLE_ROWS).count())
        except Exception as exc:
            return [lines.problem(("metrics", name, field_name), f"metric '{name}' field '{field_name}': "
                                  f"'{short(text)}' fails on the data: {first_line(exc)}")]
    return []
