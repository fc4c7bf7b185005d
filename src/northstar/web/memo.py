"""The dashboard's memo of computed results: an LRU bounded in entries *and* in bytes.

The server keeps results for as long as the spec and the data stay the same, so without a
bound in bytes 512 large answers (a daily series by four dimensions is 30 MB of JSON and
ten times that as Python objects) once kept 3 GB alive after a single hostile request. Each
entry's size is estimated when it is stored (`approx_size`); the oldest entries go first
when the total passes `max_bytes`, and a value larger than `max_bytes // 4` is handed back
without being kept (it is recomputed when asked again: bounded by the row limit, it costs
seconds, and one such answer cannot push every other entry out).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from itertools import islice
from typing import Any

MAX_ENTRIES = 512
MAX_BYTES = 128 * 1024 * 1024
_SAMPLE = 32  # items of a long list or dict measured; the rest are assumed alike

MISSING = object()


def approx_size(value: Any, depth: int = 0) -> int:
    """Bytes a value holds, roughly: exact for bytes and strings, pandas' own count for a
    frame, and for JSON-like containers a walk that measures the first items of a long
    list or dict and extrapolates (results are lists of records that look alike)."""
    if isinstance(value, (bytes, bytearray, str)):
        return sys.getsizeof(value)
    if hasattr(value, "memory_usage") and hasattr(value, "columns"):  # a pandas DataFrame
        return int(value.memory_usage(index=True, deep=True).sum())
    if depth > 32:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        pairs = list(islice(value.items(), _SAMPLE))
        inner = sum(approx_size(k, depth + 1) + approx_size(v, depth + 1) for k, v in pairs)
        return sys.getsizeof(value) + inner * len(value) // max(len(pairs), 1)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(islice(value, _SAMPLE))
        inner = sum(approx_size(v, depth + 1) for v in items)
        return sys.getsizeof(value) + inner * len(value) // max(len(items), 1)
    return sys.getsizeof(value)


class Memo:
    """(key) -> (version, value, size), least recently used first; thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[str, Any, int]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, version: str) -> Any:
        """The value stored for `key` at `version`, else MISSING. No lock: a dictionary read
        is atomic, and a warm request should not wait behind another thread's store."""
        hit = self._items.get(key)
        if hit is None or hit[0] != version:
            return MISSING
        try:
            self._items.move_to_end(key)  # one C call: atomic under the GIL
        except KeyError:  # dropped by another thread meanwhile: still a valid answer
            pass
        return hit[1]

    def put(self, key: Hashable, version: str, value: Any) -> bool:
        """Keep `value` (False when it is too large to keep: it is not stored)."""
        size = approx_size(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[2]
            if size > self.max_bytes // 4:
                return False
            self._items[key] = (version, value, size)
            self.bytes += size
            while self._items and (len(self._items) > self.max_entries or self.bytes > self.max_bytes):
                _key, (_version, _value, dropped) = self._items.popitem(last=False)
                self.bytes -= dropped
            return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0
