"""dbt's Jinja filters (`{{ Dimension('order__is_food') }} = true`) as Northstar's SQL.

Each `{{ ... }}` names a dimension, time dimension or entity by its entity path; it becomes
the column of the Northstar source it lives in. A filter that names what the source does not
have (a dimension reached through a join, a metric) cannot be translated: `Untranslatable`
says why, and the importer lists the metric as not imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from northstar.importers.dbt_manifest import SemanticModel

_CALL = re.compile(r"\{\{\s*(Dimension|TimeDimension|Entity|Metric)\s*\((.*?)\)\s*((?:\.\s*\w+\s*\([^)]*\)\s*)*)\}\}",
                   re.DOTALL)
_ARG = re.compile(r"""['"]([^'"]*)['"]""")
GRAIN_CAST = {"day": "DATE"}


class Untranslatable(ValueError):
    """A filter Northstar cannot express over one source's columns (the message says why)."""


def _resolve(model: SemanticModel, reference: str, kind: str) -> str:
    """`order__order_status` → `order_status`, when the entity path stays inside `model`."""
    *path, name = reference.split("__")
    if len(path) > 1 or (path and model.entity(path[0]) is None):
        raise Untranslatable(f"filter on {kind} '{reference}' needs a join to another semantic model")
    if kind == "entity":
        if model.entity(name) is None:
            raise Untranslatable(f"filter on entity '{name}', which semantic model '{model.name}' does not have")
        return name
    if model.dimension(name) is None:
        raise Untranslatable(f"filter on {kind} '{reference}' of another semantic model (needs a join)")
    return name


def translate_filter(text: str, model: SemanticModel, column: Callable[[str], str]) -> str:
    """The filter as SQL over the source made from `model`; `column` names a dimension's or
    entity's column in that source."""

    def replace(match: re.Match[str]) -> str:
        kind, args, chained = match.group(1), _ARG.findall(match.group(2)), match.group(3).strip()
        if kind == "Metric":
            raise Untranslatable("filter on a metric's value (`Metric(...)`) has no Northstar equivalent")
        if not args:
            raise Untranslatable(f"cannot read the arguments of `{match.group(0)}`")
        grain = args[1].lower() if len(args) > 1 else None
        grain_call = re.match(r"\.\s*grain\s*\(\s*['\"](\w+)['\"]", chained)
        if grain_call:
            grain, chained = grain_call.group(1).lower(), chained[grain_call.end():].strip(" )")
        if chained:
            raise Untranslatable(f"filter uses `{chained}`, which the importer does not translate")
        name = _resolve(model, args[0], "entity" if kind == "Entity" else "time dimension" if kind == "TimeDimension"
                        else "dimension")
        sql = column(name)
        if kind == "TimeDimension" and grain is not None:
            if grain not in GRAIN_CAST:
                raise Untranslatable(f"filter on time dimension '{args[0]}' at grain {grain} (only day is translated)")
            return f"CAST({sql} AS {GRAIN_CAST[grain]})"
        return sql

    translated = _CALL.sub(replace, text)
    if "{{" in translated or "{%" in translated:
        raise Untranslatable(f"filter `{' '.join(text.split())}` holds Jinja the importer does not translate")
    return " ".join(translated.split())


def combine(conditions: list[str]) -> str | None:
    """Several filters as one condition (each in parentheses when there are several)."""
    parts = [c for c in conditions if c]
    if len(parts) <= 1:
        return parts[0] if parts else None
    return " AND ".join(f"({c})" for c in parts)
