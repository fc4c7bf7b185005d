"""The spec against its data's real columns: every column a metric, source or dimension names
exists, with a type the use needs (the checks that need no data are in `validate`)."""

from __future__ import annotations

from collections.abc import Mapping

from northstar.errors import Problem
from northstar.spec.expressions import ExpressionError, parse_sql
from northstar.spec.model import FormulaMetric, Spec
from northstar.spec.suggest import did_you_mean, known
from northstar.spec.validate import Path_, _Collector, metric_expressions, time_format_path
from northstar.spec.yamlsource import LineMap


def validate_columns(spec: Spec, lines: LineMap, columns: Mapping[str, Mapping[str, str]]) -> list[Problem]:
    """Check every column a spec names against the sources' real columns.

    `columns` maps a source name to {column: type-kind} for the sources whose schema could be
    read; kinds are 'numeric', 'string', 'temporal', 'boolean' or 'other'.
    """
    c = _Collector(lines)
    for name, source in spec.sources.items():
        cols = columns.get(name)
        if cols is None:
            continue
        path: Path_ = ("sources", name)

        def need(field: str, column: str | None, sub: Path_ = ()) -> None:
            if column is not None and column not in cols:
                where = path + (field,) + sub
                by_preset = (f" (set by `preset: {source.preset}`; give `{field}:` to choose another)"
                             if source.preset and where not in c.lines.lines else "")
                c.error(where, f"source '{name}' field '{field}': {missing_column(column, cols)}{by_preset}")

        need("timestamp", source.timestamp)
        need("entity", source.entity)
        need("key", source.key)
        for index, dim in enumerate(source.dimensions):
            need("dimensions", dim, (index,))
        kind = cols.get(source.timestamp)
        if kind is not None:
            # Numbers without a unit (yyyymmdd dates, or epochs that need `time_unit`) are told
            # apart by their values: the data check does that, with the unit that fits.
            if source.time_unit and kind != "numeric":
                c.error(path + ("time_unit",), f"source '{name}': `time_unit: {source.time_unit}` needs a numeric "
                        f"epoch column, but '{source.timestamp}' is {kind}; remove `time_unit`")
            elif source.time_format and kind == "temporal":
                c.warning(time_format_path(c.lines, name), f"source '{name}': column '{source.timestamp}' is read "
                          f"as a date or timestamp already, so `time_format` is not used; remove it")
            elif source.time_format and kind not in ("string", "numeric"):
                c.error(time_format_path(c.lines, name), f"source '{name}': `time_format` reads text, but column "
                        f"'{source.timestamp}' is {kind}")
            elif not source.time_unit and kind not in ("temporal", "string", "numeric"):
                c.error(path + ("timestamp",), f"source '{name}': column '{source.timestamp}' is {kind}, not a timestamp")
    for mname, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric):
            continue
        cols = columns.get(metric.source)
        if cols is None:
            continue
        for field_name, text in metric_expressions(metric):
            try:
                parsed = parse_sql(text)
            except ExpressionError:
                continue
            for column in parsed.columns:
                if column not in cols:
                    c.error(("metrics", mname, field_name), f"metric '{mname}' field '{field_name}' (source "
                            f"'{metric.source}'): {missing_column(column, cols)}")
    return c.problems


def missing_column(column: str, cols: Mapping[str, str]) -> str:
    """Why `column` (a name, or a property path `container.key`) cannot be read, and what can."""
    container, dot, _key = column.partition(".")
    if dot and container in cols:
        return (f"property path '{column}' cannot be read: column '{container}' has no field '{_key}', or is not "
                "a struct, a map, JSON (text) or a list of key/value records")
    if dot:
        return (f"property path '{column}' reads column '{container}', which does not exist."
                + (did_you_mean(container, cols) or f" Columns: {known(cols)}."))
    return f"column '{column}' does not exist." + (did_you_mean(column, cols) or f" Columns: {known(cols)}.")
