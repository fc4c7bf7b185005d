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

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from northstar.discover.plan import Changes
from northstar.fileio import write_atomic
from northstar.spec import yaml_edit
from northstar.spec.load import parse_spec
from northstar.spec.model import FUNNEL_STAGES

NORTH_STAR_ORDER = ("metric", "grain", "customer_value", "target", "history", "tree")
CHANGE_MARK = "# How often the North Star changes (discover, step 9):"


def _add_metrics(doc: CommentedMap, metrics: dict[str, dict[str, Any]], updating: bool) -> None:
    section = yaml_edit.section(doc, "metrics")
    first = True
    for name, body in metrics.items():
        yaml_edit.append(section, name, yaml_edit.node(body))
        if first and updating:
            section.yaml_set_comment_before_after_key(name, before=f"Added by northstar discover on {dt.date.today()}",
                                                      indent=2)
        first = False


def _apply_tree(ns: CommentedMap, tree: dict[str, dict[str, Any]]) -> None:
    if not tree:
        return
    nodes = yaml_edit.section(ns, "tree", NORTH_STAR_ORDER)
    position = 0
    for name, node in tree.items():
        if name not in nodes:  # a new North Star and its parts come first
            nodes.insert(position, name, yaml_edit.node(node))
            position += 1
            continue
        if not isinstance(nodes[name], CommentedMap):
            nodes[name] = CommentedMap()
        if not isinstance(nodes[name].get("drivers"), CommentedSeq):
            yaml_edit.append(nodes[name], "drivers", CommentedSeq())
        for driver in node.get("drivers", []):
            yaml_edit.append_item(nodes[name]["drivers"], yaml_edit.node(driver, flow=True))


def north_star_block(doc: CommentedMap, name: str | None) -> CommentedMap:
    """The mapping discover edits: `north_star:`, or with `north_stars:` the entry named `name`
    (None: the primary, `primary: true` else the first)."""
    entries = doc.get("north_stars")
    if not isinstance(entries, CommentedSeq) or not entries:
        return yaml_edit.section(doc, "north_star")
    if name is not None:
        return next(e for e in entries if isinstance(e, CommentedMap) and e.get("name") == name)
    return next((e for e in entries if isinstance(e, CommentedMap) and e.get("primary") is True), entries[0])


def apply(doc: CommentedMap, changes: Changes, updating: bool, north_star: str | None = None) -> None:
    """Apply the changes to a round-trip document (additions and settings only); with
    `north_stars:`, to the entry of `north_star` (None: the primary)."""
    yaml_edit.set_key(doc, "project", changes.project, yaml_edit.TOP_ORDER)
    if not updating:
        yaml_edit.set_key(doc, "timezone", "UTC", yaml_edit.TOP_ORDER)
    for name, body in changes.sources:
        yaml_edit.append(yaml_edit.section(doc, "sources"), name, yaml_edit.node(body))
    _add_metrics(doc, changes.metrics, updating)
    ns = north_star_block(doc, north_star)
    for key, value in changes.north_star.items():
        yaml_edit.set_key(ns, key, value, NORTH_STAR_ORDER)
    if changes.history is not None:
        if not isinstance(ns.get("history"), CommentedSeq):
            yaml_edit.set_key(ns, "history", CommentedSeq(), NORTH_STAR_ORDER)
        yaml_edit.append_item(ns["history"], yaml_edit.node(changes.history))
    _apply_tree(ns, changes.tree)
    funnel = yaml_edit.section(doc, "funnel")
    for stage in FUNNEL_STAGES:
        yaml_edit.set_key(funnel, stage, changes.funnel.get(stage), FUNNEL_STAGES)
    if changes.checks:
        checks = yaml_edit.section(doc, "checks")
        for key, value in changes.checks.items():
            yaml_edit.set_key(checks, key, yaml_edit.node(value, key), ())


def _tidy(text: str, change_frequency: str, new: bool, entry: str | None = None) -> str:
    """The step-9 comment above `north_star:`, or with several North Stars above the entry
    `- name: <entry>` of `north_stars:` (replacing an earlier one there), and a blank line
    before a top-level key (or the comments just above it) that follows an indented line, or in
    a new spec any top-level section."""
    lines = text.splitlines()
    anchor = re.compile(r"^north_star:" if entry is None else rf"^(\s*)- name: ['\"]?{re.escape(entry)}['\"]?\s*(#.*)?$")
    out: list[str] = []
    for line in lines:
        found = anchor.match(line)
        if found:
            while out and out[-1].lstrip().startswith(CHANGE_MARK):
                out.pop()
            indent = found.group(1) if entry is not None else ""
            out.append(f"{indent}{CHANGE_MARK} {' '.join(change_frequency.split())}")
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


def render(existing_text: str | None, changes: Changes, data: str, north_star: str | None = None) -> str:
    """The spec text after the changes: `existing_text` updated, or a new spec; with
    `north_stars:`, the North Star `north_star` (None: the primary) is the one changed."""
    yaml = yaml_edit.round_trip(existing_text)
    if existing_text is not None:
        doc = yaml.load(existing_text)
    else:
        doc = CommentedMap()
        doc.yaml_set_start_comment(header(data))
    apply(doc, changes, updating=existing_text is not None, north_star=north_star)
    out = io.StringIO()
    yaml.dump(doc, out)
    entries = doc.get("north_stars")
    entry = north_star_block(doc, north_star).get("name") if isinstance(entries, CommentedSeq) and entries else None
    return _tidy(out.getvalue(), changes.change_frequency, new=existing_text is None, entry=entry)


def write_spec(path: Path, changes: Changes, data: str, north_star: str | None = None) -> str:
    """Render, validate (SpecError naming the spec's lines) and write atomically; returns the text."""
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = render(existing, changes, data, north_star)
    parse_spec(text, str(path))
    write_atomic(path, text)
    return text
