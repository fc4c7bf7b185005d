"""Load a `northstar.yml`: YAML with lines -> pydantic model -> cross-field validation.

All problems are collected and raised together as one SpecError, each `file:line: message`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from northstar.errors import Problem, SpecError
from northstar.spec.model import METRIC_KINDS, Spec
from northstar.spec.suggest import did_you_mean
from northstar.spec.validate import validate_spec
from northstar.spec.yamlsource import LineMap, load_yaml, read_yaml_file


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec with where it came from (for relative paths and error lines)."""

    spec: Spec
    path: Path
    lines: LineMap
    warnings: tuple[Problem, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union tags (`aggregate`, ...) from an error location."""
    out: list[str | int] = []
    for index, part in enumerate(loc):
        if index == 2 and len(loc) > 2 and loc[0] == "metrics" and part in METRIC_KINDS:
            continue
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        out.append(part)
    return tuple(out)


def _error_loc(item: Any) -> tuple[str | int, ...]:
    """An error's location without pydantic's tags; an unknown key is the user's own text and
    is kept whatever it holds (`c[hecks` once looked like a tag and was dropped)."""
    loc = tuple(item["loc"])
    if item["type"] == "extra_forbidden" and loc:
        return _clean_loc(loc[:-1]) + (loc[-1],)
    return _clean_loc(loc)


def _describe(loc: tuple[str | int, ...]) -> str:
    if not loc:
        return "spec"
    if loc[0] in ("metrics", "sources") and len(loc) >= 2:
        kind = "metric" if loc[0] == "metrics" else "source"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{kind} '{loc[1]}'" + (f" field '{rest}'" if rest else "")
    if loc[0] == "north_stars" and len(loc) >= 4 and loc[2] == "tree":
        rest = ".".join(str(p) for p in loc[4:])
        return f"tree node '{loc[3]}' of north_stars[{loc[1]}]" + (f" field '{rest}'" if rest else "")
    if loc[0] == "north_star" and len(loc) >= 3 and loc[1] == "tree":
        rest = ".".join(str(p) for p in loc[3:])
        return f"tree node '{loc[2]}'" + (f" field '{rest}'" if rest else "")
    return "'" + ".".join(str(p) for p in loc) + "'"


def _allowed_keys(model_loc: tuple[str | int, ...], raw: Any) -> list[str]:
    """Field names (aliases) allowed at a location, for 'did you mean' on unknown keys."""
    from northstar.spec import model as m

    node: Any = raw
    for part in model_loc:
        node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    cls: Any = m.Spec
    path = list(model_loc)
    if path[:1] == ["north_stars"] and len(path) >= 2:  # an entry of north_stars: as a north_star: block
        if len(path) == 2:
            return [f.alias or name for name, f in m.NamedNorthStar.model_fields.items()]
        path = ["north_star"] + path[2:]
    mapping = {"sources": m.Source, "engine": m.Engine, "north_star": m.NorthStar, "funnel": m.Funnel,
               "focus": m.Focus, "guardrails": m.Guardrail, "web": m.Web, "alerts": m.Alerts,
               "annotations": m.Annotation}
    if not path:
        cls = m.Spec
    elif path[-1] == "target" and (path[0] == "metrics" and len(path) == 3 or path[:1] == ["north_star"] and len(path) == 2):
        cls = m.TargetSeries if isinstance(node, dict) and "series" in node else m.Target
    elif path == ["target_bands"]:
        cls = m.TargetBands
    elif path[0] == "metrics" and len(path) == 2:
        kind = m._metric_kind(node if isinstance(node, dict) else {})
        cls = {"aggregate": m.AggregateMetric, "retention": m.RetentionMetric,
               "conversion": m.ConversionMetric, "formula": m.FormulaMetric}.get(kind, m.AggregateMetric)
    elif path[0] == "north_star" and len(path) == 3 and path[1] == "tree":
        cls = m.TreeNode
    elif path[0] == "north_star" and len(path) >= 3 and path[1] == "tree":
        cls = m.Driver
    elif path[0] == "north_star" and len(path) == 2:
        cls = {"target": m.Target, "history": m.HistoryEntry}.get(str(path[1]), m.NorthStar)
    elif path[0] == "north_star" and len(path) == 3 and path[1] == "history":
        cls = m.HistoryEntry
    else:
        cls = mapping.get(str(path[0]), m.Spec)
    return [f.alias or name for name, f in cls.model_fields.items()]


def _copied(loc: tuple[str | int, ...], raw: Any) -> bool:
    """An error in `north_star`, which `north_stars:` fills in from its primary (see `Spec`): the same
    error is reported at the entry of `north_stars:` it came from."""
    return bool(loc) and loc[0] == "north_star" and isinstance(raw, dict) and "north_star" not in raw \
        and "north_stars" in raw


def _pydantic_problems(error: ValidationError, raw: Any, lines: LineMap) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors():
        loc = _error_loc(item)
        if _copied(loc, raw):
            continue
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            hint = did_you_mean(key, _allowed_keys(loc[:-1], raw))
            where = _describe(loc[:-1])
            message = f"unknown key '{key}' in {where}.{hint}"
        elif kind == "missing":
            message = f"{_describe(loc[:-1])} is missing required field '{loc[-1]}'"
        elif kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            got = item.get("input")
            hint = ""
            if isinstance(got, str):
                options = [o.strip(" '") for o in str(expected).replace(" or ", ",").split(",")]
                hint = did_you_mean(got, [o for o in options if o])
            message = f"{_describe(loc)}: '{got}' is not allowed; expected {expected}.{hint}"
        else:
            text = item["msg"]
            if text.startswith("Value error, "):
                text = text[len("Value error, "):]
            message = f"{_describe(loc)}: {text}"
        problems.append(lines.problem(loc, message))
    return problems


def _repaired(raw: dict[str, Any], error: ValidationError) -> dict[str, Any] | None:
    """A copy of `raw` with the rejected parts removed or replaced by neutral placeholders.

    Only used to run the cross-field checks after shape errors, so that one bad key does not
    hide a misspelt metric elsewhere; placeholders are chosen to raise no problems themselves.
    """
    fixed = copy.deepcopy(raw)
    first_source = next(iter(fixed.get("sources") or {}), None) if isinstance(fixed.get("sources"), dict) else None
    changed = False
    drops: dict[int, tuple[list[Any], set[int]]] = {}  # list items to drop, all at the end (indexes stay valid)
    for item in error.errors():
        loc = _error_loc(item)
        if _copied(loc, raw):  # repaired at its entry of north_stars:
            changed = True
            continue
        if len(loc) >= 2 and loc[0] == "metrics" and isinstance(fixed.get("metrics"), dict) and loc[1] in fixed["metrics"]:
            fixed["metrics"][loc[1]] = ({"source": first_source, "agg": "count"} if first_source
                                        else {"formula": "placeholder_metric"})
            changed = True
            continue
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(fixed.get("sources"), dict) and loc[1] in fixed["sources"]:
            fixed["sources"][loc[1]] = {"table": str(loc[1]), "timestamp": "ts", "entity": "id"}
            changed = True
            continue
        parent: Any = fixed
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if item["type"] != "missing" and isinstance(parent, dict) and loc and loc[-1] in parent:
            del parent[loc[-1]]
            changed = True
        elif isinstance(parent, list) and loc and isinstance(loc[-1], int) and loc[-1] < len(parent):
            drops.setdefault(id(parent), (parent, set()))[1].add(loc[-1])
            changed = True
        elif item["type"] == "missing" and len(loc) >= 2:
            grand: Any = fixed
            for part in loc[:-2]:
                grand = grand[part] if isinstance(grand, (dict, list)) else None
            if isinstance(grand, list) and isinstance(loc[-2], int) and loc[-2] < len(grand):
                drops.setdefault(id(grand), (grand, set()))[1].add(loc[-2])
                changed = True
            else:
                return None
        else:
            return None
    for items, indexes in drops.values():  # two bad items of one list: the later first
        for index in sorted(indexes, reverse=True):
            items.pop(index)
    return fixed if changed else None


def parse_spec(text: str, file: str = "northstar.yml", *, check_columns: bool = False) -> LoadedSpec:
    """Validate spec text (used by `load_spec` and by tests of spec snippets)."""
    raw, lines = load_yaml(text, file)
    return _build(raw, lines, Path(file))


def _build(raw: Any, lines: LineMap, path: Path) -> LoadedSpec:
    if not isinstance(raw, dict):
        raise SpecError([Problem("the spec must be a YAML mapping (project:, sources:, metrics:, ...)",
                                 lines.file, 1)])
    if "north_star" in raw and "north_stars" in raw:
        raise SpecError([lines.problem(("north_stars",), "give `north_star:` (one North Star) or `north_stars:` "
                                       "(several, each with a name), not both")])
    shape_problems: list[Problem] = []
    spec: Spec | None = None
    attempt = raw
    for _ in range(8):  # repair what pydantic rejects so the cross-field checks still run
        try:
            spec = Spec.model_validate(attempt)
            break
        except ValidationError as exc:
            if not shape_problems:
                shape_problems = _pydantic_problems(exc, raw, lines)
            attempt = _repaired(attempt, exc)
            if attempt is None:
                break
    if spec is None:
        raise SpecError(shape_problems)
    problems = shape_problems + validate_spec(spec, lines)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(problems)
    return LoadedSpec(spec=spec, path=path, lines=lines,
                      warnings=tuple(p for p in problems if p.severity == "warning"))


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and validate a spec file; raises SpecError listing every problem."""
    path = Path(path)
    raw, lines = read_yaml_file(path)
    return _build(raw, lines, path.resolve())
