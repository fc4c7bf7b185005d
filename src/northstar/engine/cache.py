"""Query results kept on disk, keyed by the spec, the query and the data's version.

A result is stored under `.northstar/cache/` beside the spec, named by a SHA-256 of: the
Northstar, pandas, Ibis and DuckDB versions and a hash of Northstar's own source code, the
whole spec (any change to it is a new key), the query, and the version of the data: for every
`path:` source the size and modification time (ns) of each file its glob matches now. Sources
that are engine tables have no version Northstar can see, so a spec with a `table:` source is
not cached on disk. When the data or the spec change, the key changes and the old entries are
simply never read again; the folder can be deleted at any time.

The folder may be shared or restored from elsewhere, so what is in it is not trusted: an entry
is Arrow data, never a pickle (`cache_codec`: reading it cannot run code), sealed with an
HMAC under a per-user key kept outside the folder (`cache_seal`). An entry that fails the seal
is logged, removed and computed again, never served. Pickles left by older versions are never
opened, only removed. Writes go to a temporary file renamed into place, so a reader sees a
whole entry or none, whoever writes at the same time.

The folder is bounded: past `engine.cache_max_mb` (500 MB by default) the entries read or
written least recently are removed (a read touches the entry's time), so a server that runs for
months does not fill the disk. `engine: {cache: false}` in the spec, or `NORTHSTAR_CACHE=0` in
the environment, turns the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from northstar.engine import cache_codec, cache_seal
from northstar.engine.sources import source_files
from northstar.fileio import write_atomic
from northstar.spec.model import Spec

log = logging.getLogger("northstar.engine.cache")

_VERSIONS = {p: version(p) for p in ("northstar-metric", "pandas", "ibis-framework", "duckdb")}
SUFFIX = ".result"
_ENTRY = re.compile(r"^[0-9a-f]{64}\.result$")
_TEMPORARY = re.compile(r"^\.[0-9a-f]{64}\.result\.")  # write_atomic's, left by a killed writer
_STALE_TEMPORARY = 3600.0  # seconds: older temporary files are a killed writer's
_RESCAN = 60.0  # seconds between scans of the folder's size while under the bound
_KEEP = 0.8  # after trimming, the folder holds at most this share of the bound


def _code_version() -> str:
    """A hash of Northstar's own source: a fixed bug must not be served from an old result."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_CODE = _code_version()


def signature(path: str) -> list[int] | None:
    """A data file's version: size, modification time (ns) and inode (a file replaced by a
    rename is a new inode); None when it cannot be read."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def data_version(spec: Spec, base_dir: Path) -> list[Any] | None:
    """The signature of every data file, or None when some source's version is unknowable."""
    out: list[Any] = []
    for name, source in sorted(spec.sources.items()):
        if source.table is not None:
            return None
        if source.path is not None:
            for path in source_files(source, base_dir):
                version_ = signature(path)
                if version_ is None:
                    return None
                out.append([name, path, *version_])
    return out


@dataclasses.dataclass
class _Usage:
    """What this process knows of a folder's size (shared by every cache on the folder)."""

    scanned: bool = False  # pickles removed, size measured at least once
    bytes: int = 0  # at the last scan, plus what this process wrote since
    at: float = 0.0  # when it was last scanned (monotonic)


_usage: dict[Path, _Usage] = {}
_usage_lock = threading.Lock()


class ResultCache:
    """Result files named by the hash of everything a result depends on."""

    def __init__(self, folder: Path, spec: Spec, base_dir: Path) -> None:
        self.folder = folder
        self.spec_json = spec.model_dump_json()
        self.base_dir = base_dir
        self.spec = spec
        self.max_bytes = spec.engine.cache_max_mb * 1024 * 1024

    def key(self, query: Any) -> str | None:
        data = data_version(self.spec, self.base_dir)
        if data is None or cache_seal.user_key() is None:
            return None
        fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(query).items()}
        text = json.dumps([_VERSIONS, _CODE, self.spec_json, fields, data], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> pd.DataFrame | None:
        """The stored frame when its seal holds; None (compute it) otherwise."""
        payload = self.get_bytes(key)
        if payload is None:
            return None
        try:
            frame = cache_codec.decode(payload)
        except ValueError as exc:  # sealed by us, so an older format: compute it again
            log.warning("result cache: %s could not be read (%s): computed again", key, exc)
            _remove(self.folder / f"{key}{SUFFIX}")
            return None
        return frame

    def put(self, key: str, frame: pd.DataFrame) -> None:
        payload = cache_codec.encode(frame)
        if payload is not None:  # None: a frame that would not come back exactly
            self.put_bytes(key, payload)

    def get_bytes(self, key: str) -> bytes | None:
        """The stored payload when its seal holds (a read marks it recently used); None otherwise."""
        secret = cache_seal.user_key()
        if secret is None:
            return None
        self._first_look()
        path = self.folder / f"{key}{SUFFIX}"
        sealed = _read_regular(path, self.max_bytes)
        if sealed is None:
            return None
        payload = cache_seal.unseal(secret, key, sealed)
        if payload is None:
            log.warning("result cache: %s failed its integrity check (forged, truncated or written under "
                        "another user's key): ignored, removed and computed again", path)
            _remove(path)
            return None
        try:
            os.utime(path)  # the least recently used entries go first when the folder is full
        except OSError:
            pass
        return payload

    def put_bytes(self, key: str, payload: bytes) -> None:
        """Seal and store a payload under `key` (a whole entry or none, whoever writes at once)."""
        secret = cache_seal.user_key()
        if secret is None:
            return
        sealed = cache_seal.seal(secret, key, payload)
        if len(sealed) > self.max_bytes * _KEEP:  # it would push out everything else
            return
        self._first_look()
        try:
            write_atomic(self.folder / f"{key}{SUFFIX}", sealed)
        except OSError:  # a read-only project folder: caching is an optimisation, not a duty
            return
        with _usage_lock:
            usage = _usage.setdefault(self.folder, _Usage())
            usage.bytes += len(sealed)
            due = usage.bytes > self.max_bytes or time.monotonic() - usage.at > _RESCAN
        if due:
            self.trim()

    def hashed(self, *parts: Any) -> str:
        """A key for anything else kept here (stored periods, file ranges): the versions, the
        code and `parts` (which name what of the spec the thing depends on)."""
        text = json.dumps([_VERSIONS, _CODE, parts], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def trim(self) -> int:
        """Remove the least recently used entries until the folder is within its bound again
        (and killed writers' temporary files, and old pickles); returns the bytes kept."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            listing = []
        for entry in listing:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            old_pickle = entry.name.endswith(".pkl")  # an older version's: never opened
            if old_pickle or (_TEMPORARY.match(entry.name) and now - info.st_mtime > _STALE_TEMPORARY):
                _remove(Path(entry.path))
            elif _ENTRY.match(entry.name) or _TEMPORARY.match(entry.name):
                entries.append((info.st_mtime, info.st_size if stat.S_ISREG(info.st_mode) else 0, Path(entry.path)))
        total = sum(size for _, size, _ in entries)
        if total > self.max_bytes:
            entries.sort()
            for _, size, path in entries:
                if total <= self.max_bytes * _KEEP:
                    break
                if _ENTRY.match(path.name) and _remove(path):
                    total -= size
        with _usage_lock:
            _usage[self.folder] = _Usage(scanned=True, bytes=total, at=time.monotonic())
        return total

    def _first_look(self) -> None:
        """Once per process and folder: remove old pickles and measure the folder."""
        with _usage_lock:
            done = _usage.get(self.folder, _Usage()).scanned
        if not done and self.folder.is_dir():
            self.trim()


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The file's bytes when it is a regular file no larger than the folder's bound (a planted
    FIFO, device or symbolic link, or a huge file, is not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symbolic link (ELOOP), a file we may not read
        log.warning("result cache: %s cannot be read (%s): ignored", path, exc.strerror or exc)
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            log.warning("result cache: %s is not a cache entry (not a regular file, or larger than the "
                        "cache's bound): ignored", path)
            return None
        chunks, left = [], info.st_size
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
