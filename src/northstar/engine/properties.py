"""Read a property path (`properties.plan`, `event_params.page_location`) as an Ibis value.

A path is `container.key`; how the key is read follows from the container column's type, so
one rule serves every exporter and engine:

- a struct (Parquet, or a JSON object read by the engine): its field, with the field's type;
- a map: the value at the key;
- JSON, or text holding a JSON object: the value at the key, as text (the engine's own JSON
  reading: `Backend.json_text`);
- a list of key/value records (GA4's `event_params`: key, value.string_value/int_value/
  float_value/double_value): the value of the record with that key, as text;
- any other list of structs (Snowplow's `contexts_*`): the field of its first element.

Values read as text are compared as text and summed after a cast:
`cast(event_params.value as double)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from northstar.spec.expressions import ExpressionError
from northstar.spec.presets import computed_entity, split_path

JsonText = Callable[[ir.Value, str], ir.Value]


def json_text(value: ir.Value, key: str) -> ir.Value:
    """The value at `key` of a JSON object (JSON or its text) as text: a string unquoted, a
    number or boolean as written (DuckDB's and PostgreSQL's reading; ClickHouse has its own)."""
    item = (value if value.type().is_json() else value.cast("json"))[key]
    return ibis.coalesce(item.str, item.cast("string").nullif("null"))  # JSON null is NULL


def property_value(table: ir.Table, container: str, key: str, read_json: JsonText = json_text) -> ir.Value:
    column = table[container]
    dtype = column.type()
    if dtype.is_struct():
        return _field(column, dtype, container, key)
    if dtype.is_map():
        return column.get(key)
    if dtype.is_json() or dtype.is_string():
        return read_json(column, key)
    if dtype.is_array() and dtype.value_type.is_struct():
        record = dtype.value_type
        if "key" in record.names and "value" in record.names:
            matches = column.filter(lambda r: r["key"] == key).map(lambda r: _as_text(r["value"], record["value"]))
            return matches[0]
        return _field(column[0], record, container, key)
    raise ExpressionError(f"'{container}.{key}': column '{container}' is {dtype}; a property path reads a struct, "
                          "a map, JSON (or its text) or a list of key/value records")


def _field(value: Any, dtype: dt.Struct, container: str, key: str) -> ir.Value:
    if key not in dtype.names:
        raise ExpressionError(f"'{container}.{key}': '{container}' has no field '{key}'; its fields: "
                              + ", ".join(dtype.names))
    return value[key]


def _as_text(value: Any, dtype: dt.DataType) -> ir.Value:
    """A key/value record's value as text: the first of its typed values that is set."""
    if not dtype.is_struct():
        return value.cast("string")
    typed = [value[name] if dtype[name].is_string() else value[name].cast("string") for name in dtype.names]
    return ibis.coalesce(*typed) if len(typed) > 1 else typed[0]


def column_value(table: ir.Table, name: str, read_json: JsonText = json_text) -> ir.Value:
    """A column, or a property path not added to the table as a column (`with_paths`)."""
    if name in table.columns:
        return table[name]
    path = split_path(name)
    if path is not None and path[0] in table.columns:
        return property_value(table, path[0], path[1], read_json)
    return table[name]  # Ibis names the missing column


def with_paths(table: ir.Table, names: Iterable[str], read_json: JsonText = json_text) -> ir.Table:
    """The table with a column for each property path among `names` (named as the path, so
    `--by properties.plan` and a dimension `properties.plan` group by it like any column).
    Paths whose container is missing are left out: validation names them with their line."""
    added = {}
    for name in names:
        path = split_path(name)
        if path is None or name in table.columns or name in added or path[0] not in table.columns:
            continue
        try:
            added[name] = property_value(table, path[0], path[1], read_json)
        except ExpressionError:
            continue  # a struct without that field: validation names it with its line
    return table.mutate(**added) if added else table


def with_computed_entity(table: ir.Table, source: Any) -> ir.Table:
    """A preset source's entity column (`person`): its known user id, else its anonymous one."""
    computed = computed_entity(source)
    if computed is None or computed[0] in table.columns:
        return table
    name, candidates = computed
    present = [table[c].cast("string") for c in candidates if c in table.columns]
    if not present:
        return table  # validation reports the missing entity
    return table.mutate(**{name: ibis.coalesce(*present) if len(present) > 1 else present[0]})
