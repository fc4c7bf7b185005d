"""The answers file of `northstar discover --answers FILE`: the 9 steps answered in YAML.

A mapping of step keys to answers (see `steps.ANSWER_KEYS` and docs/guides/discover.md). Unknown keys and
wrong types are errors at load, one line naming the file, the line and the key; answers that
need the data (an event that does not exist, an unknown metric) are reported the same way
when the guide reaches them, through `Answers.error`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from northstar.discover.steps import ANSWER_KEYS, COLUMN_KEYS
from northstar.errors import Problem, SpecError
from northstar.spec.model import FUNNEL_STAGES, GRAINS, Metric
from northstar.spec.suggest import did_you_mean
from northstar.spec.yamlsource import LineMap, load_yaml

KeyPath = tuple[str | int, ...]
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TEXT_KEYS = ("data", "project", "job", "end_result", "target_group", "north_star", "grain", "change_frequency",
             "change_reason")
_METRIC = TypeAdapter(Metric)


@dataclass(frozen=True)
class Answers:
    """Answers read from a file (or none: every step takes its proposal)."""

    file: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    lines: LineMap | None = None

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file (`data:`) are relative to the file's folder."""
        return Path(self.file).resolve().parent if self.file else Path.cwd()

    def has(self, path: KeyPath) -> bool:
        node: Any = self.values
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def get(self, path: KeyPath, default: Any = None) -> Any:
        node: Any = self.values
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def error(self, path: KeyPath, message: str) -> SpecError:
        """A one-line error `file:line: 'key': message` for the answer at `path`."""
        where = ".".join(str(p) for p in path)
        if self.lines is None:
            return SpecError([Problem(f"'{where}': {message}")])
        return SpecError([self.lines.problem(path, f"'{where}': {message}")])


NO_ANSWERS = Answers()


def load_answers(path: str | Path) -> Answers:
    """Read and check the shape of an answers file; SpecError (one line) on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(f"answers file not found: {path}", str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(f"cannot read answers file: {exc}", str(path))]) from None
    raw, lines = load_yaml(text, str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError([Problem("the answers file must be a YAML mapping of step keys to answers "
                                 f"({', '.join(ANSWER_KEYS)})", str(path), 1)])
    answers = Answers(str(path), raw, lines)
    check_shape(answers)
    return answers


def _unknown(answers: Answers, path: KeyPath, key: str, allowed: tuple[str, ...], what: str) -> SpecError:
    hint = did_you_mean(key, allowed) or f" Expected one of: {', '.join(allowed)}."
    return answers.error(path + (key,), f"unknown {what}.{hint}")


def check_shape(answers: Answers) -> None:
    """Keys known, values of the right type; the first problem is raised."""
    for key, value in answers.values.items():
        if key not in ANSWER_KEYS:
            raise _unknown(answers, (), str(key), ANSWER_KEYS, "key")
        path = (key,)
        if key == "data" and isinstance(value, list):  # several files
            for index, item in enumerate(value):
                _expect_text(answers, path + (index,), item)
        elif key in TEXT_KEYS:
            _expect_text(answers, path, value, nullable=key in ("target_group", "end_result"))
        elif key == "segments_ok" and not isinstance(value, bool):
            raise answers.error(path, f"expected true or false, not {_show(value)}")
        elif key == "revenue":
            _expect_text(answers, path, value, nullable=True)
        elif key == "external":
            _check_list(answers, path, value)
        elif key == "funnel":
            _check_mapping(answers, path, value, FUNNEL_STAGES, "funnel stage", nullable=True)
        elif key == "columns":
            _check_columns(answers, path, value)
        elif key == "metrics":
            _check_metrics(answers, value)
    grain = answers.values.get("grain")
    if grain is not None and grain not in GRAINS:
        raise answers.error(("grain",), f"'{grain}' is not a grain; expected {', '.join(GRAINS)}."
                            + did_you_mean(str(grain), GRAINS))


def _show(value: Any) -> str:
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else repr(value)


def _expect_text(answers: Answers, path: KeyPath, value: Any, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise answers.error(path, f"expected a text, not {_show(value)}" + (" (or null)" if nullable else ""))


def _check_list(answers: Answers, path: KeyPath, value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise answers.error(path, f"expected a list of names, not {_show(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise answers.error(path + (index,), f"expected a name, not {_show(item)}")


def _check_mapping(answers: Answers, path: KeyPath, value: Any, keys: tuple[str, ...], what: str,
                   nullable: bool) -> None:
    if not isinstance(value, dict):
        raise answers.error(path, f"expected a mapping of {', '.join(keys)}, not {_show(value)}")
    for key, item in value.items():
        if key not in keys:
            raise _unknown(answers, path, str(key), keys, what)
        _expect_text(answers, path + (key,), item, nullable=nullable)


def _check_columns(answers: Answers, path: KeyPath, value: Any) -> None:
    """`columns: {timestamp: ..., entity: ..., event: ...}` for one file, or the same per source
    (`columns: {posts: {entity: OwnerUserId}}`) for several."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()) \
            and not set(value) & set(COLUMN_KEYS):
        for source, roles in value.items():
            _check_mapping(answers, path + (str(source),), roles, COLUMN_KEYS, "column role", nullable=True)
        return
    _check_mapping(answers, path, value, COLUMN_KEYS, "column role", nullable=True)


def _check_metrics(answers: Answers, value: Any) -> None:
    """Each metric in `metrics:` is a valid spec metric (its `source` defaults to the data's)."""
    if not isinstance(value, dict):
        raise answers.error(("metrics",), f"expected a mapping of metric names to definitions, not {_show(value)}")
    for name, body in value.items():
        path = ("metrics", str(name))
        if not NAME.match(str(name)):
            raise answers.error(path, "a metric name is letters, digits and _ (not starting with a digit)")
        if not isinstance(body, dict):
            raise answers.error(path, f"expected a metric definition (a mapping), not {_show(body)}")
        probe = dict(body) if "formula" in body or "source" in body else {**body, "source": "data"}
        try:
            _METRIC.validate_python(probe)
        except ValidationError as exc:
            raise _metric_error(answers, path, body, exc) from None


def _metric_error(answers: Answers, path: KeyPath, body: dict[str, Any], exc: ValidationError) -> SpecError:
    item = exc.errors()[0]
    loc = [str(p) for p in item["loc"] if str(p) not in ("aggregate", "retention", "conversion", "formula")]
    if item["type"] == "extra_forbidden" and loc:
        from northstar.spec import model

        kind = model._metric_kind(body)
        cls = {"retention": model.RetentionMetric, "conversion": model.ConversionMetric,
               "formula": model.FormulaMetric}.get(kind, model.AggregateMetric)
        allowed = tuple(f.alias or n for n, f in cls.model_fields.items())
        return _unknown(answers, path, loc[-1], allowed, "metric key")
    if item["type"] == "missing" and loc:
        return answers.error(path, f"missing required field '{loc[-1]}'")
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "literal_error" and isinstance(item.get("input"), str):
        expected = str(item.get("ctx", {}).get("expected", ""))
        options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip(" '")]
        message = f"'{item['input']}' is not allowed; expected {expected}.{did_you_mean(item['input'], options)}"
    return answers.error(path + tuple(loc), message)
