"""What changed in a source's data since a result was stored, as ranges of local time.

A stored per-period result (`parts`) records the state of its source's data when it was
computed; comparing that with the state now says which stretches of time may hold different
rows, and so which periods must be computed again:

- a `path:` source: per file, its size, modification time and inode (a file replaced by a
  rename is a new inode) and the range of its timestamps. A new, changed or removed file
  touches the time its old and new ranges cover. The range comes from the Parquet statistics
  of a timestamp column where every row group has them, else from one scan of that file alone
  (an embedded DuckDB reading it as the source would: its time format, unit and zone). Ranges
  are widened by `MARGIN` on both sides, which covers any difference between the file's own
  clock (UTC, a source zone) and the spec's zone;
- a `sql:` source: the files of every `path:` source (its inputs); any change to them changes
  everything, unless the source declares `late_data`;
- a `table:` source: nothing Northstar can see, unless it declares `late_data: 3d`: then the
  last three days before the data's end (the end before or now, whichever is earlier) are
  always computed again, and everything older is kept (the rule of GA4's daily export and of
  dbt's incremental models with a look-back). A `table:` source without it is computed in full
  every time (`Versions.unversioned` names it, and `northstar refresh` says so).

A state is plain JSON (kept inside the stored entries). `ALL` means: compute everything again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import Any

from northstar.engine.cache import data_version, signature
from northstar.engine.sources import source_files
from northstar.spec.load import LoadedSpec
from northstar.spec.model import parse_duration

log = logging.getLogger("northstar.engine.changes")

MARGIN = dt.timedelta(days=2)  # any zone offset (UTC-12 .. UTC+14) twice over
ALL = "all"
Range = tuple[dt.datetime, dt.datetime | None]  # local naive time; None: to the end of the data


class Versions:
    """The states of a spec's sources now, with the file ranges remembered (in this process and,
    through `remember`, in the result folder, so a new process does not scan old files again)."""

    def __init__(self, loaded: LoadedSpec, bounds: Any, index: Any = None) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self._bounds = bounds  # name -> local (first, last) of the whole source, or None
        self._index = index  # an object with load(name) -> dict and save(name, dict), or None
        self._ranges: dict[str, dict[str, Any]] = {}  # source -> {path: [size, mtime, ino, lo, hi]}
        self._lock = threading.Lock()
        self._duckdb: Any = None

    def late(self, name: str) -> dt.timedelta | None:
        text = self.spec.sources[name].late_data
        return parse_duration(text) if text else None

    def unversioned(self, name: str) -> bool:
        """Is every stored result of this source unusable (a table without a look-back rule)?"""
        source = self.spec.sources[name]
        return source.table is not None and source.late_data is None

    def state(self, name: str) -> dict[str, Any] | None:
        """The source's data now (None when it has no state worth storing)."""
        if self.unversioned(name):
            return None
        source = self.spec.sources[name]
        out: dict[str, Any] = {}
        if source.path is not None:  # its changes are seen file by file
            files = self._files(name)
            if files is None:
                return None
            return {"files": files}
        if source.sql is not None:
            inputs = data_version(self.spec, self.loaded.base_dir)  # the files its SQL may read
            if inputs is None:
                return None
            out["inputs"] = inputs
        bounds = self._bounds(name)  # where a look-back counts from
        out["bounds"] = None if bounds is None else [bounds[0].isoformat(), bounds[1].isoformat()]
        return out

    def changed(self, name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Range] | str:
        """The local time whose rows may differ between two states of a source, or ALL."""
        source = self.spec.sources[name]
        late = self.late(name)
        if source.table is not None:  # nothing to compare: the look-back is recomputed every time
            return ALL if late is None else _look_back(old, new, late)
        if old == new:
            return []
        if source.sql is not None:
            return ALL if late is None else _look_back(old, new, late)
        ranges: list[Range] = []
        before, now = old.get("files") or {}, new.get("files") or {}
        for path in set(before) | set(now):
            a, b = before.get(path), now.get(path)
            if a is not None and b is not None and a[:3] == b[:3]:
                continue
            for state in (a, b):
                if state is None:
                    continue
                if state[3] == ALL:  # a file whose times could not be read
                    return ALL
                if state[3] is not None:
                    ranges.append((_time(state[3]) - MARGIN, _time(state[4]) + MARGIN))
        return ranges

    # ---- files ---------------------------------------------------------------------------

    def _files(self, name: str) -> dict[str, Any] | None:
        source = self.spec.sources[name]
        with self._lock:
            known = self._ranges.get(name)
            if known is None:
                known = self._index.load(name) if self._index is not None else {}
                self._ranges[name] = known
            out: dict[str, Any] = {}
            added = False
            for path in source_files(source, self.loaded.base_dir):
                sig = signature(path)
                if sig is None:
                    return None
                seen = known.get(path)
                if seen is None or seen[:3] != sig:
                    lo, hi = self._file_range(name, path)
                    seen = [*sig, lo, hi]
                    known[path] = seen
                    added = True
                out[path] = seen
            if added and self._index is not None:
                self._index.save(name, {p: v for p, v in known.items() if p in out})
            return out

    def _file_range(self, name: str, path: str) -> tuple[Any, Any]:
        """The first and last time in one file (ISO text, widened later by MARGIN), (None, None)
        for a file without timed rows, (ALL, ALL) when they cannot be read."""
        source = self.spec.sources[name]
        found = _parquet_range(path, source.timestamp) if not (source.time_unit or source.time_format) else None
        if found is not None:
            return found
        try:
            return self._scan_range(name, path)
        except Exception as exc:  # the source's own queries report the data's errors
            log.info("file range of %s (source %s) not read: %s", path, name, exc)
            return ALL, ALL

    def _scan_range(self, name: str, path: str) -> tuple[Any, Any]:
        from northstar.engine.backends import connect
        from northstar.engine.sources import bind_sources
        from northstar.engine.timestamps import read_bounds
        from northstar.spec.model import Engine

        if self._duckdb is None:
            self._duckdb = connect(Engine(), self.loaded.base_dir)
        one = self.spec.sources[name].model_copy(update={"path": str(Path(path).resolve()), "late_data": None})
        spec = self.spec.model_copy(update={"sources": {name: one}})
        bound = bind_sources(self._duckdb, dataclasses.replace(self.loaded, spec=spec), [name])[name]
        found = read_bounds(self._duckdb, bound, self.spec.timezone)
        if found is None:
            return None, None
        return found.local[0].isoformat(), found.local[1].isoformat()


def _look_back(old: dict[str, Any], new: dict[str, Any], late: dt.timedelta) -> list[Range]:
    """The declared look-back before the data's end (the earlier of the two ends), and any
    change of the data's start."""
    bounds = [s["bounds"] for s in (old, new) if s.get("bounds")]
    if not bounds:
        return []
    ranges: list[Range] = [(min(_time(b[1]) for b in bounds) - late - MARGIN, None)]
    starts = sorted({_time(b[0]) for b in bounds})
    if len(starts) == 2:
        ranges.append((starts[0] - MARGIN, starts[1] + MARGIN))
    return ranges


def _parquet_range(path: str, column: str | None) -> tuple[Any, Any] | None:
    """A Parquet file's first and last time from its statistics (no scan), when the column is a
    timestamp and every row group has them; None otherwise."""
    if column is None or not path.lower().endswith((".parquet", ".pq")):
        return None
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
        if column not in schema.names or not pa.types.is_timestamp(schema.field(column).type):
            return None
        at = meta.schema.names.index(column) if column in meta.schema.names else None
        if at is None:
            return None
        lows, highs = [], []
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            if group.num_rows == 0:
                continue
            stats = group.column(at).statistics
            if stats is None or not stats.has_min_max:
                return None
            if stats.null_count == group.num_rows:
                continue
            lows.append(_naive(stats.min))
            highs.append(_naive(stats.max))
        if not lows:
            return None, None
        return min(lows).isoformat(), max(highs).isoformat()
    except Exception:
        return None


def _naive(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    raise TypeError(f"not a time: {value!r}")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


class FileIndex:
    """File ranges kept in the result folder (sealed like any entry), one per source."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def _key(self, name: str) -> str:
        source = self.cache.spec.sources[name].model_dump(mode="json", exclude={"label", "description", "north_star"})
        return self.cache.hashed("files", name, source, str(self.cache.base_dir))

    def load(self, name: str) -> dict[str, Any]:
        payload = self.cache.get_bytes(self._key(name))
        if payload is None:
            return {}
        try:
            found = json.loads(payload)
            return found if isinstance(found, dict) else {}
        except ValueError:
            return {}

    def save(self, name: str, files: dict[str, Any]) -> None:
        self.cache.put_bytes(self._key(name), json.dumps(files, sort_keys=True).encode())
