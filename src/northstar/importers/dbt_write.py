"""Merge an import into `northstar.yml` with ruamel, keeping what the team wrote.

The imported part (the engine's connection keys, and the sources and metrics the import
names) is set or replaced; every other key — the North Star, its tree, focus, guardrails,
the team's own metrics and comments — is left as it is. Uses discover's round-trip helpers.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from northstar.fileio import write_atomic
from northstar.spec import yaml_edit
from northstar.importers.dbt_spec import IMPORT_TAG, Mapping
from northstar.spec.load import parse_spec

PLACEHOLDER = ("Placeholder North Star: the first metric imported from dbt. Choose the metric that measures the "
               "value\ncustomers get (`northstar discover` helps, `northstar check` judges it).")


def _put(section: CommentedMap, name: str, body: dict[str, Any]) -> None:
    if name in section:
        section[name] = yaml_edit.node(body)
    else:
        yaml_edit.append(section, name, yaml_edit.node(body))


def _placeholder_metric(mapping: Mapping) -> str:
    return next((n for n, b in mapping.metrics.items() if "__" not in n and "source" in b and not b.get("cumulative")),
                next(iter(mapping.metrics)))


def stale_metrics(doc: Any, mapping: Mapping) -> list[str]:
    """Metrics an earlier import wrote (tagged `dbt`) that this import no longer produces."""
    metrics = doc.get("metrics") if isinstance(doc, dict) else None
    if not isinstance(metrics, dict):
        return []
    return [name for name, body in metrics.items()
            if isinstance(body, dict) and IMPORT_TAG in (body.get("tags") or []) and name not in mapping.metrics]


def render(existing: str | None, mapping: Mapping, engine: dict[str, Any] | None, project: str,
           origin: str) -> tuple[str, list[str]]:
    """The spec text after the import, and the stale metrics of an earlier import."""
    yaml = yaml_edit.round_trip(existing)
    doc = yaml.load(existing) if existing is not None else None
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
        doc.yaml_set_start_comment(f"Written by `northstar import dbt` on {dt.date.today()} from {origin}.\n"
                                   "Run it again to update the imported sources and metrics (tagged dbt); your own "
                                   "keys and comments are kept.")
    if "project" not in doc:
        yaml_edit.set_key(doc, "project", project, yaml_edit.TOP_ORDER)
        yaml_edit.set_key(doc, "timezone", "UTC", yaml_edit.TOP_ORDER)
    if engine:
        block = yaml_edit.section(doc, "engine")
        for key, value in engine.items():
            yaml_edit.set_key(block, key, value, ("type", "database", "url"))
    sources = yaml_edit.section(doc, "sources")
    for name, body in mapping.sources.items():
        _put(sources, name, body)
    metrics = yaml_edit.section(doc, "metrics")
    for name, body in mapping.metrics.items():
        _put(metrics, name, body)
    if "north_star" not in doc and mapping.metrics:
        yaml_edit.set_key(doc, "north_star", yaml_edit.node({"metric": _placeholder_metric(mapping), "grain": "week"}),
                          yaml_edit.TOP_ORDER)
        doc.yaml_set_comment_before_after_key("north_star", before=PLACEHOLDER)
    out = io.StringIO()
    yaml.dump(doc, out)
    text = out.getvalue()
    north_star = doc.get("north_star")
    if isinstance(north_star, dict) and north_star.get("metric") != _placeholder_metric(mapping):
        text = _without_placeholder(text)  # the team chose its North Star: the note has done its job
    return text, stale_metrics(doc, mapping)


def _without_placeholder(text: str) -> str:
    marks = {f"# {line}".rstrip() for line in PLACEHOLDER.splitlines()}
    return "".join(line for line in text.splitlines(keepends=True) if line.strip() not in marks)


def write_spec(path: Path, text: str) -> None:
    """Validate (a SpecError names the spec's lines) and write atomically."""
    parse_spec(text, str(path))
    write_atomic(path, text)
