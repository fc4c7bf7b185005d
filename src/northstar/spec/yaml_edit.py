"""Edit a YAML document in place with ruamel.yaml's round-trip mode, keeping the user's
comments, key order, quoting, flow style and sequence indentation: what `discover` and
`import dbt` use to update `northstar.yml` without losing what the team wrote.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

TOP_ORDER = ("project", "timezone", "engine", "sources", "metrics", "north_star", "focus", "guardrails", "funnel",
             "checks")
FLOW_KEYS = ("dimensions", "tags", "external_dimensions", "revenue", "skip")


def round_trip(text: str | None = None) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    offset = _sequence_offset(text or "")
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    yaml.representer.add_representer(type(None), lambda r, _d: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml


def _sequence_offset(text: str) -> int:
    """How far the user's block sequences indent their `-` under the parent key (2 by default)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^( *)- ", line)
        if match and index:
            parent = next((p for p in reversed(lines[:index]) if p.strip() and not p.lstrip().startswith("#")), "")
            if parent.rstrip().endswith(":"):
                return max(0, len(match.group(1)) - (len(parent) - len(parent.lstrip())))
    return 2


def node(value: Any, key: str | None = None, flow: bool = False) -> Any:
    """Plain data as ruamel nodes; short lists and driver entries in flow style."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = node(v, k)
        if flow:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(node(v, flow=key == "drivers") for v in value)
        if key in FLOW_KEYS:
            seq.fa.set_flow_style()
        return seq
    return value


def _is_flow(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and bool(node.fa.flow_style())


def _last(node: Any) -> tuple[Any, Any, int] | None:
    """The container, key and comment slot of a node's last element (None when empty)."""
    if isinstance(node, CommentedMap) and node:
        return node, list(node.keys())[-1], 2
    if isinstance(node, CommentedSeq) and node:
        return node, len(node) - 1, 0
    return None


def _cut_trailing(node: Any) -> str:
    """Cut what ruamel keeps after the last line of `node` (blank lines, and the comments of
    whatever follows it) and return it, so that an appended element can carry it instead."""
    while (last := _last(node)) is not None:
        container, key, slot = last
        token = container.ca.items.get(key)
        if token and len(token) > slot and token[slot] is not None:
            head, _newline, rest = token[slot].value.partition("\n")
            if rest:
                token[slot].value = head + "\n"
                return rest
        node = container[key]
        if _is_flow(node):
            break
    return ""


def _give_trailing(node: Any, rest: str) -> None:
    """Attach `rest` (from `_cut_trailing`) after the last line of `node`."""
    holder = None
    while (last := _last(node)) is not None:
        holder = last
        node = last[0][last[1]]
        if _is_flow(node):
            break
    if not rest or holder is None:
        return
    container, key, slot = holder
    token = CommentToken("\n" + rest, CommentMark(0), None)
    container.ca.items[key] = [None, None, token, None] if slot == 2 else [token, None]


def append(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add `key` at the end of a mapping, keeping the blank lines and comments that followed it."""
    rest = _cut_trailing(mapping)
    mapping[key] = value
    _give_trailing(mapping, rest)


def append_item(seq: CommentedSeq, value: Any) -> None:
    rest = _cut_trailing(seq)
    seq.append(value)
    _give_trailing(seq, rest)


def set_key(mapping: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
    """Set `key`, inserting a new key after the keys that come before it in `order`."""
    if key in mapping:
        mapping[key] = value
        return
    rank = order.index(key) if key in order else len(order)
    position = 0
    for index, existing in enumerate(mapping):
        if existing in order and order.index(existing) < rank:
            position = index + 1
    if position == len(mapping):
        append(mapping, key, value)
    else:
        mapping.insert(position, key, value)


def section(doc: CommentedMap, key: str, order: tuple[str, ...] = TOP_ORDER) -> CommentedMap:
    if not isinstance(doc.get(key), CommentedMap):
        set_key(doc, key, CommentedMap(), order)
    return doc[key]
