"""Checks of a spec against its data: files readable, columns present and of the right type,
timestamps that parse, expressions that type-check, joins that do not fan out."""

from __future__ import annotations

from northstar.engine.compile import aggregate_value
from northstar.engine.sql_to_ibis import to_ibis
from northstar.errors import DataError, Problem, first_line
from northstar.spec.model import AggregateMetric, FormulaMetric
from northstar.spec.validate import metric_expressions, validate_columns

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from northstar.engine.engine import MetricEngine


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
    bound = engine.source(name)
    source, table, lines = bound.source, bound.table, engine.loaded.lines
    if source.timestamp is None:
        return []
    column = table[source.timestamp]
    path = ("sources", name, "timestamp")
    if column.type().is_string():
        bad = table.filter(column.notnull() & column.try_cast("timestamp").isnull())
        try:
            count = int(engine.backend.execute(bad.count()))
            sample = engine.backend.execute(bad.select(column).limit(1)).iloc[0, 0] if count else None
        except Exception as exc:  # pragma: no cover - engine-specific failures
            return [lines.problem(path, f"source '{name}': cannot check timestamps: {exc}")]
        if count:
            return [lines.problem(path, f"source '{name}': {count:,} values of column '{source.timestamp}' do not "
                                  f"parse as timestamps (e.g. '{sample}'); use ISO 8601 such as 2024-01-31 12:00:00")]
    try:
        bounds = engine.data_bounds(name)
    except DataError as exc:
        return [lines.problem(path, str(exc))]
    if bounds is None:
        return [lines.problem(path, f"source '{name}': no rows with a timestamp: the data is empty")]
    first, last = bounds
    if source.time_unit and (first.year < 1990 or last.year > 2100):
        hint = {"ms": "s", "s": "ms"}.get(source.time_unit, "s")
        return [lines.problem(("sources", name, "time_unit"), f"source '{name}': with time_unit {source.time_unit} "
                              f"the events run from {first:%Y-%m-%d} to {last:%Y-%m-%d}; is the unit '{hint}'?",
                              "warning")]
    return []


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
    spec, lines = engine.spec, engine.loaded.lines
    problems: list[Problem] = []
    for name, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric) or metric.source not in readable:
            continue
        table = engine.source(metric.source).table
        entity = spec.sources[metric.source].entity
        for field_name, text in metric_expressions(metric):
            try:
                value = to_ibis(text, table)
                if field_name in ("where", "from", "to") and not value.type().is_boolean():
                    problems.append(lines.problem(("metrics", name, field_name),
                                    f"metric '{name}' field '{field_name}': '{text}' is {value.type()}, not a condition"))
            except Exception as exc:
                problems.append(lines.problem(("metrics", name, field_name),
                                f"metric '{name}' field '{field_name}': '{text}' does not fit the column types: "
                                f"{first_line(exc)}"))
        if isinstance(metric, AggregateMetric) and not any(p.line == lines.line(("metrics", name, "expr")) for p in problems):
            try:
                aggregate_value(table, metric, entity)
            except Exception as exc:
                problems.append(lines.problem(("metrics", name, "agg"), f"metric '{name}': cannot {metric.agg} "
                                f"'{metric.expr}': {first_line(exc)}"))
    return problems
