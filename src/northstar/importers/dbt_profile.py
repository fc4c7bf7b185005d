"""The engine block from the dbt profile: a DuckDB profile → that file; Postgres → its URL.

Secrets are never copied into the spec: a password becomes `${VAR}` (the variable the
profile reads with `env_var`, else `${PGPASSWORD}`), read from the environment when the
engine connects.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from northstar.importers.dbt_manifest import DbtProjectError, _read_yaml

_ENV_VAR = re.compile(r"""\{\{\s*env_var\(\s*['"](\w+)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)\s*\}\}""")


@dataclass(frozen=True)
class EngineChoice:
    engine: dict[str, Any] | None  # None: the profile says nothing Northstar can use
    note: str | None = None


def _resolve(value: Any) -> str:
    """A profile value with `{{ env_var('X', 'default') }}` read from the environment now."""
    return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), str(value))


def _secret(value: Any, fallback: str) -> str:
    match = _ENV_VAR.search(str(value or ""))
    return f"${{{match.group(1) if match else fallback}}}"


def _plain(value: Any, fallback: str) -> str:
    """A non-secret part of a URL: the profile's literal value, or `${VAR}` for an env_var."""
    text = str(value or "")
    match = _ENV_VAR.fullmatch(text.strip())
    return f"${{{match.group(1)}}}" if match else (text or f"${{{fallback}}}")


def profiles_file(root: Path, profiles_dir: str | Path | None) -> Path | None:
    candidates = [Path(profiles_dir)] if profiles_dir else []
    if os.environ.get("DBT_PROFILES_DIR"):
        candidates.append(Path(os.environ["DBT_PROFILES_DIR"]))
    candidates += [root, Path.home() / ".dbt"]
    return next((c / "profiles.yml" for c in candidates if (c / "profiles.yml").is_file()), None)


def engine_from_profile(root: Path, profile: str | None, target: str | None, profiles_dir: str | Path | None,
                        spec_dir: Path) -> EngineChoice:
    path = profiles_file(root, profiles_dir)
    if path is None or not profile:
        return EngineChoice(None, "no dbt profile found: set the spec's `engine:` yourself")
    data = _read_yaml(path)
    entry = data.get(profile) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        return EngineChoice(None, f"{path}: no profile '{profile}': set the spec's `engine:` yourself")
    name = target or _resolve(entry.get("target", "dev"))
    output = (entry.get("outputs") or {}).get(name)
    if not isinstance(output, dict):
        raise DbtProjectError(f"{path}: profile '{profile}' has no target '{name}'")
    kind = str(output.get("type", ""))
    if kind == "duckdb":
        database = _resolve(output.get("path") or ":memory:")
        if database != ":memory:" and not database.startswith(("md:", "motherduck:")):
            full = (root / database).resolve()
            database = os.path.relpath(full, spec_dir.resolve())
        return EngineChoice({"type": "duckdb", "database": database})
    if kind in ("postgres", "redshift"):
        user = _plain(output.get("user"), "PGUSER")
        password = _secret(output.get("password") or output.get("pass"), "PGPASSWORD")
        host, port = _plain(output.get("host"), "PGHOST"), _plain(output.get("port", 5432), "PGPORT")
        dbname = _plain(output.get("dbname") or output.get("database"), "PGDATABASE")
        return EngineChoice({"type": "postgres", "url": f"postgresql://{user}:{password}@{host}:{port}/{dbname}"},
                            f"the engine URL reads the password from {password} when it connects")
    return EngineChoice(None, f"dbt profile '{profile}' targets {kind or 'an unknown engine'}, which Northstar does "
                              "not connect to from a dbt profile: set the spec's `engine:` yourself")
