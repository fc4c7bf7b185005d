"""Write the spec: a new `northstar.yml`, or the existing one updated in place.

ruamel.yaml's round-trip mode keeps the user's comments, key order, quoting and flow style;
changes are applied to the loaded document (`apply`) and the text is validated with the
spec loader before it replaces the file atomically.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from northstar.discover.plan import Changes
from northstar.fileio import write_atomic
from northstar.spec.load import parse_spec
from northstar.spec.model import FUNNEL_STAGES

TOP_ORDER = ("project", "timezone", "engine", "sources", "metrics", "north_star", "focus", "guardrails", "funnel",
             "checks")
NORTH_STAR_ORDER = ("metric", "grain", "customer_value", "target", "history", "tree")
CHANGE_MARK = "# How often the North Star changes (discover, step 9):"
FLOW_KEYS = ("dimensions", "tags", "external_dimensions", "revenue", "skip")


def _yaml(text: str | None = None) -> YAML:
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


def _node(value: Any, key: str | None = None, flow: bool = False) -> Any:
    """Plain data as ruamel nodes; short lists and driver entries in flow style."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _node(v, k)
        if flow:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_node(v, flow=key == "drivers") for v in value)
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


def _append(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add `key` at the end of a mapping, keeping the blank lines and comments that followed it."""
    rest = _cut_trailing(mapping)
    mapping[key] = value
    _give_trailing(mapping, rest)


def _append_item(seq: CommentedSeq, value: Any) -> None:
    rest = _cut_trailing(seq)
    seq.append(value)
    _give_trailing(seq, rest)


def _set(mapping: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
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
        _append(mapping, key, value)
    else:
        mapping.insert(position, key, value)


def _section(doc: CommentedMap, key: str, order: tuple[str, ...] = TOP_ORDER) -> CommentedMap:
    if not isinstance(doc.get(key), CommentedMap):
        _set(doc, key, CommentedMap(), order)
    return doc[key]


def _add_metrics(doc: CommentedMap, metrics: dict[str, dict[str, Any]], updating: bool) -> None:
    section = _section(doc, "metrics")
    first = True
    for name, body in metrics.items():
        _append(section, name, _node(body))
        if first and updating:
            section.yaml_set_comment_before_after_key(name, before=f"Added by northstar discover on {dt.date.today()}",
                                                      indent=2)
        first = False


def _apply_tree(ns: CommentedMap, tree: dict[str, dict[str, Any]]) -> None:
    if not tree:
        return
    nodes = _section(ns, "tree", NORTH_STAR_ORDER)
    position = 0
    for name, node in tree.items():
        if name not in nodes:  # a new North Star and its parts come first
            nodes.insert(position, name, _node(node))
            position += 1
            continue
        if not isinstance(nodes[name], CommentedMap):
            nodes[name] = CommentedMap()
        if not isinstance(nodes[name].get("drivers"), CommentedSeq):
            _append(nodes[name], "drivers", CommentedSeq())
        for driver in node.get("drivers", []):
            _append_item(nodes[name]["drivers"], _node(driver, flow=True))


def apply(doc: CommentedMap, changes: Changes, updating: bool) -> None:
    """Apply the changes to a round-trip document (additions and settings only)."""
    _set(doc, "project", changes.project, TOP_ORDER)
    if not updating:
        _set(doc, "timezone", "UTC", TOP_ORDER)
    for name, body in changes.sources:
        _append(_section(doc, "sources"), name, _node(body))
    _add_metrics(doc, changes.metrics, updating)
    ns = _section(doc, "north_star")
    for key, value in changes.north_star.items():
        _set(ns, key, value, NORTH_STAR_ORDER)
    if changes.history is not None:
        if not isinstance(ns.get("history"), CommentedSeq):
            _set(ns, "history", CommentedSeq(), NORTH_STAR_ORDER)
        _append_item(ns["history"], _node(changes.history))
    _apply_tree(ns, changes.tree)
    funnel = _section(doc, "funnel")
    for stage in FUNNEL_STAGES:
        _set(funnel, stage, changes.funnel.get(stage), FUNNEL_STAGES)
    if changes.checks:
        checks = _section(doc, "checks")
        for key, value in changes.checks.items():
            _set(checks, key, _node(value, key), ())


def _tidy(text: str, change_frequency: str, new: bool) -> str:
    """The step-9 comment above `north_star:` (replacing an earlier one), and a blank line
    before a top-level key (or the comments just above it) that follows an indented line, or in
    a new spec any top-level section."""
    lines = [line for line in text.splitlines() if not line.startswith(CHANGE_MARK)]
    out: list[str] = []
    for line in lines:
        if line.startswith("north_star:"):
            out.append(f"{CHANGE_MARK} {' '.join(change_frequency.split())}")
        out.append(line)
    index = 1
    while index < len(out):
        if re.match(r"^[A-Za-z_][\w-]*:", out[index]):
            start = index
            while start > 0 and out[start - 1].startswith("#"):
                start -= 1
            section = new and re.match(r"^[A-Za-z_][\w-]*:\s*(#.*)?$", out[index])
            if start > 0 and out[start - 1].strip() and (out[start - 1].startswith(" ") or section):
                out.insert(start, "")
                index += 1
        index += 1
    return "\n".join(out) + "\n"


def header(data: str) -> str:
    return (f"Written by `northstar discover` on {dt.date.today()} from {data}.\n"
            "Edit freely: running discover again keeps your comments and metrics.\n"
            "`northstar check` judges this North Star; docs/reference/spec.md lists every key.")


def render(existing_text: str | None, changes: Changes, data: str) -> str:
    """The spec text after the changes: `existing_text` updated, or a new spec."""
    yaml = _yaml(existing_text)
    if existing_text is not None:
        doc = yaml.load(existing_text)
    else:
        doc = CommentedMap()
        doc.yaml_set_start_comment(header(data))
    apply(doc, changes, updating=existing_text is not None)
    out = io.StringIO()
    yaml.dump(doc, out)
    return _tidy(out.getvalue(), changes.change_frequency, new=existing_text is None)


def write_spec(path: Path, changes: Changes, data: str) -> str:
    """Render, validate (SpecError naming the spec's lines) and write atomically; returns the text."""
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = render(existing, changes, data)
    parse_spec(text, str(path))
    write_atomic(path, text)
    return text
