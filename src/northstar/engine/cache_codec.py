"""Query results as Arrow IPC bytes, and back, exactly: data, never code.

The result cache used to keep pickles, and unpickling runs whatever the file says. Arrow IPC
holds only typed columns, so reading a file can at worst give wrong numbers (which the seal in
`cache_seal` rules out), never run code.

A frame comes back equal to the one stored, dtypes included, and so do the Python types of the
values in object columns (the engine's `period` column holds `datetime.date` objects, its
segment columns `str` with `None`): each column is written with a small description of how to
rebuild it (the column metadata below). A frame this module cannot rebuild exactly (an object
column mixing kinds of values, a categorical, a non-default index, `attrs`) is not encoded at
all (`encode` returns None): the result is then computed again next time, never served changed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionDtype

FORMAT = 1  # bump when the layout changes: older files then fail to decode and are recomputed

# Python types an object column may hold (one of them per column, besides missing values),
# with the Arrow type that stores them exactly.
_OBJECT_TYPES: dict[type, pa.DataType] = {
    str: pa.large_string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64(),
    dt.date: pa.date32(), dt.datetime: pa.timestamp("us"), bytes: pa.large_binary(),
}
_OBJECT_NAMES = {t: t.__name__ for t in _OBJECT_TYPES} | {dt.date: "date", dt.datetime: "datetime"}
_OBJECT_BY_NAME = {name: t for t, name in _OBJECT_NAMES.items()}

# The missing values an object column may hold, each kept as itself (None is not NaN).
_MISSING: list[Any] = [None, float("nan"), pd.NA, pd.NaT]


class Unencodable(Exception):
    """The frame holds something this format cannot give back exactly."""


def encode(frame: pd.DataFrame) -> bytes | None:
    """Arrow IPC bytes for `frame`, or None when it could not come back exactly."""
    try:
        return _encode(frame)
    except (Unencodable, pa.ArrowException, OverflowError, TypeError, ValueError):
        return None


def decode(payload: bytes) -> pd.DataFrame:
    """The frame `encode` wrote. Raises ValueError on anything else (the caller recomputes)."""
    try:
        table = pa.ipc.open_file(pa.py_buffer(payload)).read_all()
        meta = json.loads((table.schema.metadata or {})[b"northstar"])
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, not {FORMAT}")
        index = pd.RangeIndex(*meta["index"], name=meta["index_name"])
        arrays = [_decode_column(table.column(spec["at"]).combine_chunks(), spec, table) for spec in meta["columns"]]
        # an object column as a Series of that dtype, or pandas would read strings as `str`
        columns = {i: pd.Series(a, index=index, dtype=object, copy=False) if a.dtype == object else a
                   for i, a in enumerate(arrays)}
        frame = pd.DataFrame(columns, index=index)
        labels = meta["names_dtype"]
        frame.columns = (pd.RangeIndex(0) if labels == "range"
                         else pd.Index(meta["names"], dtype=pd.api.types.pandas_dtype(labels)))
        return frame
    except (pa.ArrowException, KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a cached result: {exc}") from None


# ---- writing -----------------------------------------------------------------------------


def _encode(frame: pd.DataFrame) -> bytes:
    index = frame.index
    if not isinstance(index, pd.RangeIndex) or not isinstance(index.name, (str, type(None))):
        raise Unencodable("index")
    names = list(frame.columns)
    labels = "range" if isinstance(frame.columns, pd.RangeIndex) and not names else str(frame.columns.dtype)
    if frame.attrs or frame.columns.name is not None or labels not in ("object", "str", "range"):
        raise Unencodable("attrs or column labels")
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise Unencodable("column names")
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    specs: list[dict[str, Any]] = []
    for i in range(len(names)):
        column = frame.iloc[:, i]
        array, spec, extra = _encode_column(column)
        spec["at"] = len(arrays)
        arrays.append(array)
        fields.append(pa.field(f"c{i}", array.type))
        specs.append(spec)
        if extra is not None:  # which missing value each row held, when a column mixes them
            spec["missing_column"] = len(arrays)
            arrays.append(extra)
            fields.append(pa.field(f"m{i}", extra.type))
    meta = {"format": FORMAT, "names": names, "names_dtype": labels, "columns": specs,
            "index": [index.start, index.stop, index.step], "index_name": index.name}
    schema = pa.schema(fields, metadata={"northstar": json.dumps(meta)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return sink.getvalue().to_pybytes()


def _encode_column(column: pd.Series) -> tuple[pa.Array, dict[str, Any], pa.Array | None]:
    dtype = column.dtype
    if isinstance(dtype, ExtensionDtype):
        # pandas' own nullable, string and time-zone dtypes know their Arrow form both ways
        if not hasattr(dtype, "__from_arrow__") or pd.api.types.pandas_dtype(str(dtype)) != dtype:
            raise Unencodable(f"dtype {dtype}")
        return pa.array(column.array), {"kind": "extension", "dtype": str(dtype)}, None
    if dtype == object:
        return _encode_objects(column.to_numpy())
    if dtype.kind not in "biufmM":  # complex, void, ...
        raise Unencodable(f"dtype {dtype}")
    return pa.array(column.to_numpy()), {"kind": "numpy", "dtype": dtype.str}, None


def _encode_objects(values: np.ndarray) -> tuple[pa.Array, dict[str, Any], pa.Array | None]:
    missing = pd.isna(values)
    present = values[~missing]
    kinds = set(map(type, present))
    if len(kinds) > 1:
        raise Unencodable(f"an object column mixing {sorted(k.__name__ for k in kinds)}")
    kind = kinds.pop() if kinds else None
    if kind is not None and kind not in _OBJECT_TYPES:
        raise Unencodable(f"an object column of {kind.__name__}")
    if kind is dt.datetime and any(v.tzinfo is not None for v in present):
        raise Unencodable("an object column of aware datetimes")
    codes = _missing_codes(values[missing])
    spec: dict[str, Any] = {"kind": "object", "of": _OBJECT_NAMES[kind] if kind else None}
    if len(codes) and (codes == codes[0]).all():
        spec["missing"] = int(codes[0])
    extra = None
    if len(codes) and "missing" not in spec:
        per_row = np.full(len(values), -1, dtype=np.int8)
        per_row[missing] = codes
        extra = pa.array(per_row)
    if kind is None:
        return pa.nulls(len(values)), spec, extra
    cleaned = values.copy()
    cleaned[missing] = None
    return pa.array(cleaned, type=_OBJECT_TYPES[kind]), spec, extra


def _missing_codes(nulls: np.ndarray) -> np.ndarray:
    codes = np.empty(len(nulls), dtype=np.int8)
    for i, value in enumerate(nulls):
        if value is None:
            codes[i] = 0
        elif type(value) is float:  # NaN: `pd.isna` said so
            codes[i] = 1
        elif value is pd.NA:
            codes[i] = 2
        elif value is pd.NaT:
            codes[i] = 3
        else:  # numpy's NaN or NaT scalars, Decimal('NaN'): kept only by a pickle
            raise Unencodable(f"a missing value of type {type(value).__name__}")
    return codes


# ---- reading -----------------------------------------------------------------------------


def _decode_column(array: pa.Array, spec: dict[str, Any], table: pa.Table) -> Any:
    """The column's values as a numpy or pandas array of its original dtype (writable)."""
    kind = spec["kind"]
    if kind == "numpy":
        return array.to_numpy(zero_copy_only=False).astype(np.dtype(spec["dtype"]), copy=True)
    if kind == "extension":
        return pd.api.types.pandas_dtype(spec["dtype"]).__from_arrow__(array)  # type: ignore[union-attr]
    if kind != "object":
        raise ValueError(f"unknown column kind {kind!r}")
    out = _objects(array, spec["of"])
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else None
    if valid is not None or "missing_column" in spec:
        if "missing_column" in spec:
            codes = table.column(spec["missing_column"]).combine_chunks().to_numpy()
            for code, value in enumerate(_MISSING):
                out[codes == code] = value
        else:
            out[~valid] = _MISSING[spec["missing"]]
    return out


def _objects(array: pa.Array, of: str | None) -> np.ndarray:
    """An object array of the Python values `of` names (missing rows are overwritten)."""
    if of is None:
        return np.full(len(array), None, dtype=object)
    kind = _OBJECT_BY_NAME[of]
    if kind in (str, bytes):
        return array.to_numpy(zero_copy_only=False).astype(object, copy=False)
    if kind in (dt.date, dt.datetime):  # datetime64[D] or [us] -> datetime.date or datetime.datetime
        return array.to_numpy(zero_copy_only=False).astype(object)
    zero = {bool: False, int: 0, float: 0.0}[kind]
    return array.fill_null(zero).to_numpy(zero_copy_only=False).astype(object)
