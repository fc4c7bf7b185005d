"""Where `discover` starts from: the spec to write or update, the data, the answers.

`make_setup` finds the data (`--data`, given once or more, the answers file's `data:`, or the
first file source of the existing spec), splits a glob of different files into one input per
file (a glob of alike files is one partitioned table), and finds whether the spec already has
a source reading each (then that source's name, timestamp and entity are used as they are).
Its methods give the existing spec's answers, which become the defaults of the steps when a
spec is updated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from northstar.discover.answers import Answers
from northstar.discover.guess import slug
from northstar.discover.profile import DataProfile, data_files, file_format, profile_data, read_table
from northstar.errors import DataError, QueryError
from northstar.spec.expressions import ExpressionError, parse_sql
from northstar.spec.load import LoadedSpec, load_spec
from northstar.spec.model import Spec
from northstar.spec.suggest import did_you_mean, known

NO_DATA = ("no data to discover: pass --data FILE (CSV, Parquet or JSON lines, or a glob), write `data:` in the "
           "answers file, or run it on a spec that has a file source")


@dataclass(frozen=True)
class DataInput:
    """One file (or glob of alike files) to read: the source it becomes, or already is."""

    pattern: str  # absolute path or glob
    files: tuple[str, ...]
    source_name: str
    reuse_source: str | None  # the existing source that reads it, if any


@dataclass(frozen=True)
class Setup:
    spec_path: Path
    existing: LoadedSpec | None
    inputs: tuple[DataInput, ...]
    answers: Answers
    north_star: str | None = None  # with `north_stars:`, the one discover works on (None: the primary)

    @property
    def data(self) -> str:
        """The data as shown in messages and the spec's header: the file, or the files."""
        return ", ".join(i.pattern for i in self.inputs)

    @property
    def source_name(self) -> str:
        return self.inputs[0].source_name

    @property
    def reuse_source(self) -> str | None:
        return self.inputs[0].reuse_source

    @property
    def several(self) -> bool:
        return len(self.inputs) > 1

    @property
    def existing_spec(self) -> Spec | None:
        """The existing spec, seen from the North Star discover works on."""
        return self.existing.spec.for_north_star(self.north_star) if self.existing else None

    def source_columns(self, data: DataInput | None = None) -> dict[str, str | None]:
        """The timestamp and entity an existing source declares (they win over guesses; no entity
        there means none)."""
        spec = self.existing_spec
        reuse = (data or self.inputs[0]).reuse_source
        if spec is None or reuse is None:
            return {}
        source = spec.sources[reuse]
        return {"entity": source.entity} | ({"timestamp": source.timestamp} if source.timestamp else {})

    def profile(self, data: DataInput | None = None, overrides: dict[str, str | None] | None = None) -> DataProfile:
        data = data or self.inputs[0]
        return profile_data(data.pattern, {**self.source_columns(data), **(overrides or {})}, list(data.files))

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

    def dimensions(self, profile: DataProfile, reused: bool) -> list[str]:
        """Dimensions the spec will declare: the reused source's, else the profile's guesses."""
        spec = self.existing_spec
        if spec is not None and reused:
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


def _patterns(spec: LoadedSpec | None, option: str | Sequence[str] | None, answers: Answers) -> list[str]:
    """The data to read (absolute paths or globs): --data, the answers' `data:`, or the spec's first file."""
    if option:
        return [_absolute(p, Path.cwd()) for p in ([option] if isinstance(option, str) else option)]
    if answers.has(("data",)):
        given = answers.get(("data",))
        return [_absolute(str(p), answers.base_dir) for p in (given if isinstance(given, list) else [given])]
    if spec is not None:
        first = next(((n, s) for n, s in spec.spec.sources.items() if s.path), None)
        if first is None:
            raise QueryError(NO_DATA)
        return [_absolute(str(first[1].path), spec.base_dir)]
    raise QueryError(NO_DATA)


def _split(pattern: str) -> list[tuple[str, tuple[str, ...]]]:
    """A glob of alike files stays one input (a partitioned table); a glob of different files
    (Posts.csv, Comments.csv) becomes one input per file."""
    files = data_files(pattern)
    if len(files) == 1:
        return [(pattern, tuple(files))]
    shapes: dict[tuple[str, ...], list[str]] = {}
    for path in files:
        shapes.setdefault(tuple(read_table([path], file_format(path)).columns), []).append(path)
    if len(shapes) == 1:
        return [(pattern, tuple(files))]
    if any(len(group) > 1 for group in shapes.values()):
        raise DataError(f"'{pattern}' matches files of {len(shapes)} different column sets, some of them several "
                        "files: give each kind as its own --data (one glob per kind)")
    return [(path, (path,)) for path in files]


def _reused(spec: LoadedSpec | None, pattern: str) -> str | None:
    if spec is None:
        return None
    for name, source in spec.spec.sources.items():
        if source.path and _absolute(source.path, spec.base_dir) == pattern:
            return name
    return None


def _file_source_name(pattern: str) -> str:
    path = Path(pattern)
    return slug(path.parent.name) if "*" in path.stem else slug(path.name.split(".")[0])


def _inputs(spec: LoadedSpec | None, patterns: list[str]) -> tuple[DataInput, ...]:
    """Each file or glob with its source: the spec's source reading it, else a new name (one
    input: `events`, as before; several: the file's name, `posts`, `comments`)."""
    split = list(dict.fromkeys(item for pattern in patterns for item in _split(pattern)))
    taken = set(spec.spec.sources) if spec else set()
    out = []
    for pattern, files in split:
        reuse = _reused(spec, pattern)
        if reuse is not None:
            name = reuse
        elif len(split) == 1:
            name = _new_source_name(spec.spec if spec else None, pattern)
        else:
            name = free_name(_file_source_name(pattern), taken)
        taken.add(name)
        out.append(DataInput(pattern, files, name, reuse))
    return tuple(out)


def free_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3` ... when it is taken."""
    if name not in taken:
        return name
    index = 2
    while f"{name}_{index}" in taken:
        index += 1
    return f"{name}_{index}"


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


def make_setup(spec_path: str | Path, data: str | Sequence[str] | None, answers: Answers,
               north_star: str | None = None) -> Setup:
    """Load the existing spec (if any), find the data, and check the answers that depend on them.
    `north_star`: with `north_stars:`, the one to work on (QueryError naming `--north-star` for
    a name the spec does not have)."""
    spec_path = Path(spec_path)
    existing = load_spec(spec_path) if spec_path.exists() else None
    if existing is not None:
        existing.spec.for_north_star(north_star)  # an unknown name fails here, before any question
    elif north_star is not None:
        raise QueryError(f"--north-star {north_star}: there is no spec at {spec_path} yet; discover writes "
                         "one North Star (`north_star:`), run it without --north-star")
    inputs = _inputs(existing, _patterns(existing, data, answers))
    setup = Setup(spec_path, existing, inputs, answers, north_star)
    for item in inputs:
        if item.reuse_source is None:
            continue
        fixed = setup.source_columns(item)
        base = column_answers_path(setup, item.source_name)
        for role in ("timestamp", "entity"):
            given = answers.get(base + (role,))
            if answers.has(base + (role,)) and given != fixed.get(role):
                raise answers.error(base + (role,), f"source '{item.reuse_source}' of {spec_path} already says "
                                    f"`{role}: {fixed.get(role)}`; change it there")
    return setup


def column_answers_path(setup: Setup, source: str) -> tuple[str, ...]:
    """Where the answers file fixes a source's columns: `columns:` for one input, else
    `columns: {<source>: ...}`."""
    return ("columns",) if not setup.several else ("columns", source)


def custom_metrics(setup: Setup, profiles: dict[str, DataProfile], primary: str) -> dict[str, dict[str, Any]]:
    """The answers file's `metrics:`, with `source` defaulting to the source the steps run on,
    checked against the data's columns and the existing spec (whose metrics are never replaced)."""
    answers = setup.answers
    out: dict[str, dict[str, Any]] = {}
    for name, body in (answers.get(("metrics",)) or {}).items():
        if name in setup.existing_names():
            raise answers.error(("metrics", name), f"metric '{name}' is already defined in {setup.spec_path}; "
                                "edit it there, or give this one another name")
        body = dict(body)
        if "formula" not in body:
            body = {"source": primary, **body}
            spec_sources = setup.existing_spec.sources if setup.existing_spec else {}
            sources = list(dict.fromkeys([*profiles, *spec_sources]))
            if body["source"] not in sources:
                hint = did_you_mean(str(body["source"]), sources) or f" Sources: {known(sources)}."
                raise answers.error(("metrics", name, "source"), f"source '{body['source']}' is not defined.{hint}")
            if body["source"] in profiles:
                _check_columns(setup, ("metrics", name), body, profiles[body["source"]])
        out[name] = body
    return out


def _check_columns(setup: Setup, path: tuple[str, ...], body: dict[str, Any], profile: DataProfile) -> None:
    columns = list(profile.columns)
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
                raise setup.answers.error(path + (key,), f"column '{column}' does not exist in {profile.path}.{hint}")

