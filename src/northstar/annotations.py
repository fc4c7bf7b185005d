"""The annotations of a project: the spec's `annotations:` and those added by `northstar annotate
add` or `POST /api/annotations`, kept in a file beside the spec.

The file is `<spec stem>.annotations.yml` next to the spec (`northstar.annotations.yml` beside
`northstar.yml`): YAML a person can read, review and commit, of the same shape as the spec's
block (`annotations: [{id, title, date, to, kind, metrics, where, expected}]`). It is checked
like the spec (an error names the file, the line and the field), and changed only under the
lock of `alerts/statefile.py` and written whole (temp file + rename), so two writers (a CI
deploy and a person on the dashboard) never lose each other's annotation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from northstar.errors import Problem, QueryError, SpecError
from northstar.spec.annotations import KINDS, MAX_TITLE, Annotation, annotation_problems, with_ids
from northstar.spec.load import LoadedSpec
from northstar.spec.model import Spec
from northstar.spec.model_base import Model

HEADER = ("# Annotations added by `northstar annotate add` and POST /api/annotations (see the docs:\n"
          "# reference/spec.md#annotations). Safe to edit by hand; Northstar rewrites it whole.\n")


class _Store(Model):
    annotations: tuple[Annotation, ...] = ()


def store_path(spec_path: Path) -> Path:
    """`northstar.annotations.yml` beside `northstar.yml`."""
    return spec_path.with_name(f"{spec_path.stem}.annotations.yml")


def _dimensions(spec: Spec) -> list[str]:
    return sorted({d for s in spec.sources.values() for d in s.dimensions})


def read_store(loaded: LoadedSpec) -> tuple[Annotation, ...]:
    """The added annotations (none when the file does not exist); SpecError naming file:line."""
    from northstar.spec.load import _pydantic_problems
    from northstar.spec.yamlsource import read_yaml_file

    spec, path = loaded.spec, store_path(loaded.path)
    if not path.exists():
        return ()
    raw, lines = read_yaml_file(path)
    if raw is None:
        return ()
    if not isinstance(raw, dict) or set(raw) - {"annotations"}:
        raise SpecError([Problem("an annotations file holds one key, `annotations:`, a list", str(path), 1)])
    found: tuple[Annotation, ...] = ()
    problems: list[Problem] = []
    try:
        found = _Store.model_validate(raw).annotations
    except ValidationError as exc:
        problems = _pydantic_problems(exc, raw, lines)
    if not problems:
        problems = annotation_problems(found, spec.metrics, _dimensions(spec), lines.problem)
        problems += [lines.problem(("annotations", i), f"annotation '{a.title}' has no id") for i, a in enumerate(found)
                     if a.id is None]
    if problems:
        raise SpecError(problems)
    return tuple(found)


def all_annotations(loaded: LoadedSpec) -> tuple[Annotation, ...]:
    """The spec's annotations (with their ids) and the added ones, earliest first."""
    added = read_store(loaded)
    own = with_ids(loaded.spec.annotations, taken=[a.id for a in added if a.id])
    return tuple(sorted(own + added, key=lambda a: (a.start, a.end, a.id or "")))


def _write(path: Path, items: Sequence[Annotation]) -> None:
    import io

    from ruamel.yaml import YAML

    from northstar.fileio import write_atomic

    rows = []
    for a in items:
        row: dict[str, Any] = {"id": a.id, "title": a.title, "date": a.start.isoformat()}
        if a.to is not None and a.to != a.date:
            row["to"] = a.end.isoformat()
        row["kind"] = a.kind
        if a.metrics is not None:
            row["metrics"] = list(a.metrics)
        if a.where is not None:
            row["where"] = a.where
        if a.expected:
            row["expected"] = True
        rows.append(row)
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # id, title, date first: as people write them
    buffer = io.StringIO()
    yaml.dump({"annotations": rows}, buffer)
    write_atomic(path, HEADER + buffer.getvalue())


def parse_new(title: str, date: object, to: object = None, kind: str | None = None,
              metrics: Sequence[str] | None = None, where: str | None = None, expected: bool = False,
              names: dict[str, str] | None = None) -> Annotation:
    """An annotation from a command's or a request's values; a bad one is a QueryError naming the
    option (`names` maps a field to its option: `date` -> `--date`)."""
    names = {"title": "TITLE", "date": "--date", "to": "--to", "kind": "--kind", "metrics": "--metric",
             "where": "--where", **(names or {})}

    def day(value: object, field: str) -> dt.date | None:
        if value is None or value == "":
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise QueryError(f"{names[field]}: '{str(value)[:40]}' is not a date; write YYYY-MM-DD") from None

    text = (title or "").strip()
    if not text or any(ord(c) < 32 for c in text):
        raise QueryError(f"{names['title']}: give a title of one line")
    if len(text) > MAX_TITLE:
        raise QueryError(f"{names['title']}: at most {MAX_TITLE} characters")
    first = day(date, "date")
    if first is None:
        raise QueryError(f"{names['date']}: give the day it happened (YYYY-MM-DD)")
    last = day(to, "to")
    if last is not None and last < first:
        raise QueryError(f"{names['to']}: {last} is before {names['date']} {first}")
    if kind is not None and kind not in KINDS:
        raise QueryError(f"{names['kind']}: '{kind}' is not one of {', '.join(KINDS)}")
    return Annotation(title=text, date=first, to=last if last != first else None, kind=kind or "other",
                      metrics=tuple(metrics) if metrics else None, where=(where or "").strip() or None,
                      expected=bool(expected))


def add(loaded: LoadedSpec, new: Annotation, names: dict[str, str] | None = None) -> Annotation:
    """Check `new` against the spec, give it an id and append it to the file (under its lock)."""
    from northstar.alerts.statefile import locked

    spec = loaded.spec
    names = {"metrics": "--metric", "where": "--where", **(names or {})}
    for p in annotation_problems([new], spec.metrics, _dimensions(spec), lambda path, m: Problem(m)):
        field = next((f for f in ("metrics", "where") if f"field '{f}'" in p.message), "metrics")
        raise QueryError(f"{names[field]}: {p.message.split(': ', 1)[1]}")
    path = store_path(loaded.path)
    with locked(path):
        added = read_store(loaded)
        taken = [a.id for a in added if a.id] + [a.id for a in with_ids(spec.annotations) if a.id]
        (made,) = with_ids([new.model_copy(update={"id": None})], taken=taken)
        _write(path, [*added, made])
    return made


def remove(loaded: LoadedSpec, annotation_id: str) -> Annotation:
    """Take the added annotation `annotation_id` out of the file; one of the spec's is an error
    naming its line (remove it there)."""
    from northstar.alerts.statefile import locked

    spec, path = loaded.spec, store_path(loaded.path)
    with locked(path):
        added = read_store(loaded)
        kept = [a for a in added if a.id != annotation_id]
        if len(kept) == len(added):
            own = [a.id for a in with_ids(spec.annotations, taken=[a.id for a in added if a.id])]
            if annotation_id in own:
                line = loaded.lines.line(("annotations", own.index(annotation_id)))
                raise QueryError(f"ID: '{annotation_id}' is written in the spec ({loaded.lines.file}:{line}); "
                                 "remove it there")
            raise QueryError(f"ID: no annotation '{annotation_id}'"
                             + (f" (ids: {', '.join(a.id for a in added if a.id)})" if added else ""))
        _write(path, kept)
    return next(a for a in added if a.id == annotation_id)


def overlapping(annotations: Sequence[Annotation], metric: str | None, first: dt.date | None,
                last: dt.date | None, segment: str | None = None) -> list[Annotation]:
    """Those about `metric` (and `segment`) that have a day between `first` and `last`."""
    low, high = first or dt.date.min, last or dt.date.max
    return [a for a in annotations if a.covers(metric, segment) and a.overlaps(low, high)]


def marks(annotations: Sequence[Annotation], grain: str) -> list[dict[str, Any]]:
    """Each annotation with the first and last period of `grain` it touches (what a chart marks:
    a day in a month chart marks that month)."""
    from northstar.engine.time import period_start

    return [{**a.to_dict(), "first_period": period_start(a.start, grain).isoformat(),
             "last_period": period_start(a.end, grain).isoformat()} for a in annotations]
