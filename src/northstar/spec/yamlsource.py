"""Read YAML and keep the line of every node, so that errors can say `file:line`.

The document is composed into ruamel.yaml's node graph (the pure-Python safe pipeline: it
skips comments in linear time, where the round-trip scanner is quadratic in a run of comment
lines), then walked into plain Python data (what pydantic validates) plus a `LineMap` from a
path of keys and indexes to the line where that node starts.

A spec is read by every command and by `serve` on each change, so reading one is bounded:
a file over `MAX_SPEC_BYTES`, nesting deeper than `MAX_DEPTH`, or aliases that expand the
document past `MAX_VALUES` values (a "billion laughs": 272 bytes that expand to 4.8 million
values) are refused with a one-line error naming the line, before anything is expanded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from northstar.errors import Problem, SpecError

Path_ = tuple[str | int, ...]

MAX_SPEC_BYTES = 5 * 1024 * 1024  # a hand-written spec is a few kB; 5 MB still reads in ~1.5 s
MAX_VALUES = 200_000  # mappings, lists and scalars in the document once its aliases are expanded
MAX_DEPTH = 64  # nesting of mappings and lists (a spec needs about 6)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


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


class _BoundedComposer(Composer):
    """ruamel's composer, counting the values the document holds once aliases are expanded.

    An alias is composed as a reference to its anchor's node, so the graph stays small while
    its expansion (what the walk to plain data would build) grows exponentially with nesting;
    the count is checked at each alias, where the expansion happens.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            node = super().compose_node(parent, index)
            self.expanded += self._size(node)
            if self.expanded > MAX_VALUES:
                raise ComposerError(None, None, f"the alias *{event.anchor} expands the spec past {MAX_VALUES:,} "
                                    "values (nested aliases); write the values out instead", event.start_mark)
            return node
        self.expanded += 1
        if self.expanded > MAX_VALUES:
            raise ComposerError(None, None, f"the spec holds more than {MAX_VALUES:,} values",
                                self.parser.peek_event().start_mark)
        return super().compose_node(parent, index)

    def _size(self, node: Node) -> int:
        """Values in `node` once expanded (memoised per node: shared nodes are counted once each)."""
        key = id(node)
        if key not in self._sizes:
            if isinstance(node, MappingNode):
                size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            elif isinstance(node, SequenceNode):
                size = 1 + sum(self._size(v) for v in node.value)
            else:
                size = 1
            self._sizes[key] = size
        return self._sizes[key]


class _Walker:
    """Plain data from the node graph, recording each key's and item's line."""

    def __init__(self, yaml: YAML, file: str) -> None:
        self.constructor = yaml.constructor
        self.file = file
        self.lines: dict[Path_, int] = {(): 1}

    def error(self, node: Node, message: str) -> SpecError:
        return SpecError([Problem(f"invalid YAML: {message}", self.file, node.start_mark.line + 1)])

    def plain(self, node: Node, path: Path_) -> Any:
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in self.pairs(node):
                key = self.key(key_node)
                if key in out:
                    raise self.error(key_node, f"the key '{key}' appears twice in this mapping")
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self.plain(value_node, path + (key,))
            return out
        if isinstance(node, SequenceNode):
            items = []
            for index, value in enumerate(node.value):
                self.lines[path + (index,)] = value.start_mark.line + 1
                items.append(self.plain(value, path + (index,)))
            return items
        return self.scalar(node)

    def scalar(self, node: Node) -> Any:
        # Dates stay text: pydantic parses them, so a bad date is reported with its line.
        if node.tag == _TIMESTAMP_TAG:
            return str(node.value)
        return self.constructor.construct_object(node, deep=True)

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise self.error(node, "a key must be a name, not a list or a mapping")
        key = self.scalar(node)
        if key is None:
            raise self.error(node, f"a key is empty ('{node.value or '~'}' is null): write a name")
        return key if isinstance(key, str) else str(key)

    def pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        """The mapping's own pairs, then those merged in with `<<:` that it does not set itself."""
        own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        merged: list[tuple[Node, Node]] = []
        for key_node, value in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise self.error(source, "`<<:` merges a mapping (or a list of mappings) only")
                merged += self.pairs(source)
        if not merged:
            return own
        seen = {self.key(k) for k, _v in own}
        for key_node, value in merged:
            name = self.key(key_node)
            if name not in seen:
                seen.add(name)
                own.append((key_node, value))
        return own


def load_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML text; a syntax error, or a document over the limits, becomes a SpecError with
    its line."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_SPEC_BYTES:
        raise _too_big(size, file)
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _BoundedComposer
    yaml.max_depth = MAX_DEPTH
    walker = _Walker(yaml, file)
    try:
        with warnings.catch_warnings():  # an anchor defined twice is valid YAML (the later wins):
            warnings.simplefilter("ignore", ReusedAnchorWarning)  # not a page of text on stderr
            node = yaml.compose(text)
        document = walker.plain(node, ()) if node is not None else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        if reason.startswith("maximum depth"):
            reason = f"nesting deeper than {MAX_DEPTH} levels"
        raise SpecError([Problem(f"invalid YAML: {reason}", file, line)]) from None
    except SpecError:
        raise
    except ReaderError as exc:  # a character YAML does not allow (NUL, other controls)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise SpecError([Problem("invalid YAML: character "
                                 + (f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character))
                                 + " is not allowed in YAML text (a NUL byte or another control character)",
                                 file, line)]) from None
    except RecursionError:
        raise SpecError([Problem(f"invalid YAML: nesting deeper than {MAX_DEPTH} levels", file, None)]) from None
    except Exception as exc:  # ruamel raises a few non-Marked errors
        raise SpecError([Problem(f"invalid YAML: {exc}".splitlines()[0], file, None)]) from None
    return document, LineMap(file=file, lines=walker.lines)


def _too_big(size: int, file: str) -> SpecError:
    return SpecError([Problem(f"the spec is {size / 1024 / 1024:.1f} MB or more; a spec may be at most "
                              f"{MAX_SPEC_BYTES // 1024 // 1024} MB", file, None)])


def read_yaml_file(path: Path) -> tuple[Any, LineMap]:
    """Read a spec file (never more than the limit, whatever the file is) and parse it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(f"spec file not found: {path}", str(path))]) from None
    except OSError as exc:
        raise SpecError([Problem(f"cannot read spec file: {exc.strerror or exc}", str(path))]) from None
    if len(data) > MAX_SPEC_BYTES:
        raise _too_big(len(data), str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError([Problem(f"the spec is not UTF-8 text (byte {data[exc.start]:#04x})", str(path),
                                 line)]) from None
    return load_yaml(text, str(path))
