"""Query results kept on disk, keyed by the spec, the query and the data's version.

A result is stored under `.northstar/cache/` beside the spec, as a pandas pickle (an exact
round trip of the frame, dtypes included; the folder is the project's own), named by a SHA-256
of: the Northstar, pandas, Ibis and DuckDB versions and a hash of Northstar's own source code,
the whole spec (any change to it is a new key),
the query, and the version of the data: for every `path:` source the size and modification
time (ns) of each file its glob matches now. Sources that are engine tables have no version
Northstar can see, so a spec with a `table:` source is not cached on disk. When the data or
the spec change, the key changes and the old entries are simply never read again; the
folder can be deleted at any time. Writes go to a temporary file renamed into place.
`engine: {cache: false}` in the spec, or `NORTHSTAR_CACHE=0` in the environment, turns it off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from northstar.engine.sources import source_files
from northstar.fileio import write_atomic
from northstar.spec.model import Spec

_VERSIONS = {p: version(p) for p in ("northstar-metric", "pandas", "ibis-framework", "duckdb")}


def _code_version() -> str:
    """A hash of Northstar's own source: a fixed bug must not be served from an old result."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_CODE = _code_version()


def data_version(spec: Spec, base_dir: Path) -> list[Any] | None:
    """Size and mtime of every data file, or None when some source's version is unknowable."""
    out: list[Any] = []
    for name, source in sorted(spec.sources.items()):
        if source.table is not None:
            return None
        if source.path is not None:
            for path in source_files(source, base_dir):
                try:
                    stat = os.stat(path)
                except OSError:
                    return None
                out.append([name, path, stat.st_size, stat.st_mtime_ns])
    return out


class ResultCache:
    """Result files named by the hash of everything a result depends on."""

    def __init__(self, folder: Path, spec: Spec, base_dir: Path) -> None:
        self.folder = folder
        self.spec_json = spec.model_dump_json()
        self.base_dir = base_dir
        self.spec = spec

    def key(self, query: Any) -> str | None:
        data = data_version(self.spec, self.base_dir)
        if data is None:
            return None
        fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(query).items()}
        text = json.dumps([_VERSIONS, _CODE, self.spec_json, fields, data], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> pd.DataFrame | None:
        try:
            return pd.read_pickle(self.folder / f"{key}.pkl")
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            return None

    def put(self, key: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_pickle(buffer)
        try:
            write_atomic(self.folder / f"{key}.pkl", buffer.getvalue())
        except OSError:  # a read-only project folder: caching is an optimisation, not a duty
            return
