"""Northstar sources from dbt semantic models: one `table:` source per semantic model and
time dimension (`<model>`, or `<model>_by_<time>` for a measure's own time dimension).

A dimension is the column its `expr` names (the dbt name when there is no `expr`). A
dimension computed by SQL (`expr: order_status = 'delivered'`) is inlined into filters but is
no breakdown: a `sql:` source adding it could not be named like the relation it reads. The
conversion source is built with sqlglot, never by joining strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from northstar.importers.dbt_manifest import SemanticModel

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN_SCHEMAS = ("main", "public", "default")


def _is_column(expr: str) -> bool:
    return bool(_IDENTIFIER.match(expr.strip()))


@dataclass(frozen=True)
class SourcePlan:
    """How one semantic model maps to `table:` sources, one per time dimension its measures use."""

    model: SemanticModel

    def computed(self) -> list[tuple[str, str]]:
        """Dimensions whose `expr` is SQL rather than a column: usable in filters (inlined),
        not as a breakdown (a `table:` source has no such column)."""
        return [(d.name, d.expr) for d in self.model.dimensions if d.type == "categorical" and not _is_column(d.expr)]

    def breakdowns(self) -> list[str]:
        """The categorical dimensions that are columns: a source's breakdowns."""
        return [d.expr.strip() for d in self.model.dimensions if d.type == "categorical" and _is_column(d.expr)]

    def column(self, name: str) -> str:
        """SQL for a dimension or entity (by dbt name) over the relation's columns."""
        found = self.model.dimension(name) or self.model.entity(name)
        if found is None:
            raise KeyError(name)
        return found.expr.strip() if _is_column(found.expr) else f"({' '.join(found.expr.split())})"

    def source_name(self, time: str) -> str:
        default = self.model.default_time
        return self.model.name if time == default or default is None else f"{self.model.name}_by_{time}"

    def relation(self) -> str:
        model = self.model
        return model.alias if model.schema in _PLAIN_SCHEMAS else f"{model.schema}.{model.alias}"

    def sources(self, times: list[str]) -> dict[str, dict[str, Any]]:
        """The sources this model needs, for the time dimensions its imported measures use."""
        model = self.model
        primary = model.primary()
        out: dict[str, dict[str, Any]] = {}
        for time in times:
            body: dict[str, Any] = {}
            if model.description:
                body["description"] = " ".join(model.description.split())
            body["table"] = self.relation()
            body["timestamp"] = self.column(time)
            if primary is not None and _is_column(primary.expr):
                body["entity"] = primary.expr.strip()
            dims = self.breakdowns()
            if dims:
                body["dimensions"] = dims
            out[self.source_name(time)] = body
        return out


def plan_source(model: SemanticModel) -> SourcePlan:
    return SourcePlan(model)


def conversion_source(base: SourcePlan, base_time: str, base_where: str | None, conversion: SourcePlan,
                      conversion_time: str, conversion_where: str | None, entity: str) -> dict[str, Any]:
    """One `sql:` source holding both sides of a conversion: the entity, the event's day (MetricFlow
    matches conversions on days) and the step (`base` or `conversion`), each side filtered by its
    measure's filter. The base model's breakdowns ride along on the base rows (null on the
    conversion rows): a conversion is broken down by its base event, as MetricFlow does."""
    dims = base.breakdowns()

    def side(plan: SourcePlan, time: str, where: str | None, step: str) -> exp.Select:
        extra = [exp.alias_(exp.column(d) if step == "base" else exp.null(), d, quoted=False) for d in dims]
        query = exp.select(exp.alias_(exp.maybe_parse(plan.column(entity), dialect="duckdb"), entity, quoted=False),
                           exp.alias_(exp.cast(exp.maybe_parse(plan.column(time), dialect="duckdb"), "date"), "event_at",
                                      quoted=False),
                           exp.alias_(exp.Literal.string(step), "step", quoted=False), *extra).from_(plan.relation())
        return query.where(where, dialect="duckdb") if where else query

    union = side(base, base_time, base_where, "base").union(
        side(conversion, conversion_time, conversion_where, "conversion"), distinct=False)
    return {"description": f"dbt conversion: '{base.model.name}' events and the '{conversion.model.name}' "
                           f"events they convert to, by {entity}",
            "sql": union.sql(dialect="duckdb"), "timestamp": "event_at", "entity": entity,
            **({"dimensions": dims} if dims else {})}
