"""Where `discover` starts from: the spec to write or update, the data, the answers.

`make_setup` finds the data (`--data`, the answers file's `data:`, or the first file source
of the existing spec), and whether the spec already has a source reading it (then that
source's name, timestamp and entity are used as they are). Its methods give the existing
spec's answers, which become the defaults of the steps when a spec is updated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from northstar.discover.answers import Answers
from northstar.discover.guess import slug
from northstar.discover.profile import DataProfile, profile_data
from northstar.errors import QueryError
from northstar.spec.expressions import ExpressionError, parse_sql
from northstar.spec.load import LoadedSpec, load_spec
from northstar.spec.model import Spec
from northstar.spec.suggest import did_you_mean, known

NO_DATA = ("no data to discover: pass --data FILE (CSV, Parquet or JSON lines, or a glob), write `data:` in the "
           "answers file, or run it on a spec that has a file source")


@dataclass(frozen=True)
class Setup:
    spec_path: Path
    existing: LoadedSpec | None
    data: str  # absolute path or glob
    answers: Answers
    source_name: str
    reuse_source: str | None  # the existing source that reads `data`, if any

    @property
    def existing_spec(self) -> Spec | None:
        return self.existing.spec if self.existing else None

    def source_columns(self) -> dict[str, str | None]:
        """The timestamp and entity an existing source declares (they win over guesses; no entity
        there means none)."""
        spec = self.existing_spec
        if spec is None or self.reuse_source is None:
            return {}
        source = spec.sources[self.reuse_source]
        return {"entity": source.entity} | ({"timestamp": source.timestamp} if source.timestamp else {})

    def profile(self) -> DataProfile:
        return profile_data(self.data, self.source_columns())

    def default_project(self) -> str:
        if self.existing_spec is not None:
            return self.existing_spec.project
        name = self.spec_path.resolve().parent.name
        return " ".join(w.capitalize() for w in re.split(r"[-_ ]+", name) if w) or "My product"

    def existing_value(self, field: str) -> Any:
        spec = self.existing_spec
        return getattr(spec.north_star, field) if spec is not None else None

    def existing_north_star(self) -> str | None:
        return self.existing_value("metric")

    def existing_names(self) -> list[str]:
        return list(self.existing_spec.metrics) if self.existing_spec else []

    def existing_revenue_metrics(self) -> list[str]:
        spec = self.existing_spec
        if spec is None:
            return []
        tagged = [n for n, m in spec.metrics.items() if "revenue" in m.tags]
        return list(dict.fromkeys([*spec.checks.revenue, *tagged]))

    def existing_external(self) -> list[str] | None:
        spec = self.existing_spec
        return list(spec.checks.external_dimensions) if spec and spec.checks.external_dimensions is not None else None

    def existing_funnel(self) -> dict[str, str | None] | None:
        spec = self.existing_spec
        return spec.funnel.stages() if spec is not None and spec.funnel is not None else None

    def dimensions(self, profile: DataProfile) -> list[str]:
        """Dimensions the spec will declare: the reused source's, else the profile's guesses."""
        spec = self.existing_spec
        if spec is not None and self.reuse_source is not None:
            return list(dict.fromkeys(d for s in spec.sources.values() for d in s.dimensions))
        return list(profile.dimensions)

    def history_lines(self) -> list[str]:
        spec = self.existing_spec
        if spec is None:
            return ["a new spec: no earlier North Star"]
        lines = [f"current North Star: {spec.north_star.metric}"]
        lines += [f"until {h.until}: {h.metric} ({h.reason})" for h in spec.north_star.history]
        return lines


def _absolute(pattern: str, base: Path) -> str:
    return pattern if os.path.isabs(pattern) else os.path.normpath(str(base / pattern))


def _data(spec: LoadedSpec | None, option: str | None, answers: Answers) -> tuple[str, str | None]:
    """The data to read (absolute) and the existing source that reads it."""
    if option:
        pattern = _absolute(option, Path.cwd())
    elif answers.has(("data",)):
        pattern = _absolute(str(answers.get(("data",))), answers.base_dir)
    elif spec is not None:
        first = next(((n, s) for n, s in spec.spec.sources.items() if s.path), None)
        if first is None:
            raise QueryError(NO_DATA)
        pattern = _absolute(str(first[1].path), spec.base_dir)
    else:
        raise QueryError(NO_DATA)
    if spec is None:
        return pattern, None
    for name, source in spec.spec.sources.items():
        if source.path and _absolute(source.path, spec.base_dir) == pattern:
            return pattern, name
    return pattern, None


def _new_source_name(spec: Spec | None, pattern: str) -> str:
    taken = set(spec.sources) if spec else set()
    stem = slug(Path(pattern).name.split(".")[0].replace("*", "")) if "*" not in Path(pattern).stem else "events"
    for name in ("events", stem):
        if name not in taken:
            return name
    index = 2
    while f"events_{index}" in taken:
        index += 1
    return f"events_{index}"


def make_setup(spec_path: str | Path, data: str | None, answers: Answers) -> Setup:
    """Load the existing spec (if any), find the data, and check the answers that depend on them."""
    spec_path = Path(spec_path)
    existing = load_spec(spec_path) if spec_path.exists() else None
    pattern, reuse = _data(existing, data, answers)
    name = reuse or _new_source_name(existing.spec if existing else None, pattern)
    setup = Setup(spec_path, existing, pattern, answers, name, reuse)
    if reuse is not None:
        fixed = setup.source_columns()
        for role in ("timestamp", "entity"):
            given = answers.get(("columns", role))
            if answers.has(("columns", role)) and given != fixed.get(role):
                raise answers.error(("columns", role), f"source '{reuse}' of {spec_path} already says "
                                    f"`{role}: {fixed.get(role)}`; change it there")
    return setup


def custom_metrics(setup: Setup, profile: DataProfile) -> dict[str, dict[str, Any]]:
    """The answers file's `metrics:`, with `source` defaulting to the data's source, checked
    against the data's columns and the existing spec (whose metrics are never replaced)."""
    answers = setup.answers
    out: dict[str, dict[str, Any]] = {}
    for name, body in (answers.get(("metrics",)) or {}).items():
        if name in setup.existing_names():
            raise answers.error(("metrics", name), f"metric '{name}' is already defined in {setup.spec_path}; "
                                "edit it there, or give this one another name")
        body = dict(body)
        if "formula" not in body:
            body = {"source": setup.source_name, **body}
            spec_sources = setup.existing_spec.sources if setup.existing_spec else {}
            sources = list(dict.fromkeys([setup.source_name, *spec_sources]))
            if body["source"] not in sources:
                hint = did_you_mean(str(body["source"]), sources) or f" Sources: {known(sources)}."
                raise answers.error(("metrics", name, "source"), f"source '{body['source']}' is not defined.{hint}")
            if body["source"] == setup.source_name:
                _check_columns(setup, ("metrics", name), body, list(profile.columns))
        out[name] = body
    return out


def _check_columns(setup: Setup, path: tuple[str, ...], body: dict[str, Any], columns: list[str]) -> None:
    for key in ("where", "expr", "from", "to"):
        if body.get(key) is None:
            continue
        try:
            parsed = parse_sql(str(body[key]))
        except ExpressionError as exc:
            raise setup.answers.error(path + (key,), str(exc)) from None
        for column in parsed.columns:
            if column not in columns:
                hint = did_you_mean(column, columns) or f" Columns: {known(columns)}."
                raise setup.answers.error(path + (key,), f"column '{column}' does not exist in {setup.data}.{hint}")

