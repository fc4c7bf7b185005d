"""Read YAML and keep the line of every node, so that errors can say `file:line`.

ruamel.yaml's round-trip loader records positions on its mappings and sequences; we turn
the document into plain Python data (what pydantic validates) plus a `LineMap` from a path
of keys and indexes to the line where that node starts.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from northstar.errors import Problem, SpecError

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class LineMap:
    """Line numbers (1-based) of YAML nodes, by their path from the document root."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of the node at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Path_, message: str, severity: str = "error") -> Problem:
        return Problem(message=message, file=self.file, line=self.line(path), severity=severity)  # type: ignore[arg-type]


def _plain(node: Any, path: Path_, lines: dict[Path_, int]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            try:
                line, _col = node.lc.key(key)
                lines[path + (str(key),)] = line + 1
            except (KeyError, TypeError):
                pass
            out[str(key) if not isinstance(key, str) else key] = _plain(value, path + (str(key),), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            try:
                line, _col = node.lc.item(index)
                lines[path + (index,)] = line + 1
            except (KeyError, TypeError, IndexError):
                pass
            items.append(_plain(value, path + (index,), lines))
        return items
    if isinstance(node, _dt.datetime):
        return node
    # ruamel scalar subclasses (ScalarFloat, LiteralScalarString, ...) become plain values.
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


class _Constructor(RoundTripConstructor):
    """Leaves dates as text: pydantic parses them, so a bad date is reported with its line."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


def load_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML text; a syntax error becomes a SpecError with its line."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise SpecError([Problem(f"invalid YAML: {reason}", file, line)]) from None
    except Exception as exc:  # ruamel raises a few non-Marked errors (e.g. duplicate keys)
        raise SpecError([Problem(f"invalid YAML: {exc}".splitlines()[0], file, None)]) from None
    lines: dict[Path_, int] = {(): 1}
    return _plain(document, (), lines), LineMap(file=file, lines=lines)


def read_yaml_file(path: Path) -> tuple[Any, LineMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(f"spec file not found: {path}", str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(f"cannot read spec file: {exc}", str(path))]) from None
    return load_yaml(text, str(path))
