"""dbt metrics as Northstar metrics, and the list of what cannot be expressed, with reasons.

simple → aggregate; ratio and derived → formula (a filtered input becomes a helper
aggregate `<metric>__<input>`); cumulative (all time, `period_agg: last`) → aggregate with
`cumulative: true`; conversion (a rate over distinct entities) → conversion over a `sql:`
source holding both sides, dated by day as MetricFlow matches them (base day <= conversion day
< base day + window, so `within` is the window less one day). Nothing is dropped silently: every metric or measure that is not
imported is returned with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from northstar.discover.plan import ordered
from northstar.importers.dbt_jinja import Untranslatable, combine, translate_filter
from northstar.importers.dbt_manifest import Dimension, Measure, Metric, MetricInput, SemanticLayer, SemanticModel
from northstar.importers.dbt_sources import SourcePlan, conversion_source, plan_source
from northstar.spec.expressions import ExpressionError, parse_formula

AGGS = {"count": "count", "count_distinct": "count_distinct", "sum": "sum", "average": "avg", "avg": "avg",
        "min": "min", "max": "max", "sum_boolean": "sum"}
DAYS = {"day": 1, "week": 7}
IMPORT_TAG = "dbt"


@dataclass(frozen=True)
class NotImported:
    kind: str  # metric, measure
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.name}': {self.reason}"


@dataclass(frozen=True)
class Mapping:
    sources: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    not_imported: tuple[NotImported, ...]
    notes: tuple[str, ...] = ()


_NO_DIM = Dimension("", "time", "")


class _Skip(Exception):
    """This metric cannot be imported; the message is the reason."""


def _conversion_days(window: str) -> int:
    """MetricFlow matches a conversion on days: base day <= conversion day < base day + window.
    On day-dated events that is Northstar's `within` of the window less one day."""
    match = re.match(r"^\s*(\d+)\s+(\w+?)s?\s*$", window)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in DAYS or int(match.group(1)) < 1:
        raise _Skip(f"window '{window}' is not a whole number of days or weeks (MetricFlow compares days)")
    return int(match.group(1)) * DAYS[unit]


@dataclass
class _Mapper:
    layer: SemanticLayer
    plans: dict[str, SourcePlan] = field(default_factory=dict)
    times: dict[str, list[str]] = field(default_factory=dict)  # semantic model → time dimensions used
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    visiting: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.plans = {m.name: plan_source(m) for m in self.layer.semantic_models}
        self.by_name = {m.name: m for m in self.layer.metrics}

    # ---- measures ------------------------------------------------------------------------

    def _measure(self, name: str) -> tuple[SemanticModel, Measure, str]:
        found = self.layer.measure(name)
        if found is None:
            raise _Skip(f"measure '{name}' is not defined in any semantic model")
        model, measure = found
        if measure.non_additive:
            raise _Skip(f"measure '{name}' has a non-additive dimension (a semi-additive balance: its value on the "
                        "period's last day); Northstar aggregates every row of the period")
        if measure.agg not in AGGS:
            raise _Skip(f"measure '{name}' aggregates with {measure.agg}; Northstar has count, count_distinct, sum, "
                        "avg, min and max")
        time = measure.agg_time_dimension or model.default_time
        if time is None or model.dimension(time) is None:
            raise _Skip(f"measure '{name}' has no aggregation time dimension")
        if time not in self.times.setdefault(model.name, []):
            self.times[model.name].append(time)
        return model, measure, self.plans[model.name].source_name(time)

    def _filter(self, model: SemanticModel, filters: tuple[str, ...]) -> str | None:
        try:
            return combine([translate_filter(f, model, self.plans[model.name].column) for f in filters])
        except Untranslatable as exc:
            raise _Skip(str(exc)) from None

    def _aggregate(self, measure_input: MetricInput, filters: tuple[str, ...]) -> dict[str, Any]:
        model, measure, source = self._measure(measure_input.name)
        body: dict[str, Any] = {"source": source, "agg": AGGS[measure.agg]}
        where = self._filter(model, measure_input.filter + filters)
        if where:
            body["where"] = where
        if measure.agg == "sum_boolean":
            body["expr"] = f"CASE WHEN {measure.expr} THEN 1 ELSE 0 END"
        elif not (measure.agg == "count" and measure.expr.strip() in ("1", "*")):
            body["expr"] = measure.expr
        return body

    # ---- metrics -------------------------------------------------------------------------

    def metric(self, name: str) -> bool:
        """Import `name` (and what it reads); False, with the reason kept, when it cannot be."""
        if name in self.metrics:
            return True
        if name in self.skipped:
            return False
        metric = self.by_name.get(name)
        if metric is None:
            self.skipped[name] = "not defined in the dbt project"
            return False
        if name in self.visiting:
            self.skipped[name] = "its inputs refer back to it (a cycle)"
            return False
        self.visiting.add(name)
        try:
            body = self._body(metric)
        except _Skip as exc:
            self.skipped[name] = str(exc)
            return False
        finally:
            self.visiting.discard(name)
        described = {"label": metric.label, "description": " ".join((metric.description or "").split()) or None}
        self.metrics[name] = ordered({**{k: v for k, v in described.items() if v}, **body, "tags": [IMPORT_TAG]})
        return True

    def _body(self, metric: Metric) -> dict[str, Any]:
        kind = metric.type
        if kind == "simple":
            if metric.measure is None:
                raise _Skip("a simple metric without a measure")
            return self._aggregate(metric.measure, metric.filter)
        if kind == "cumulative":
            return self._cumulative(metric)
        if kind == "ratio":
            if metric.numerator is None or metric.denominator is None:
                raise _Skip("a ratio needs a numerator and a denominator")
            num = self._input(metric, metric.numerator)
            den = self._input(metric, metric.denominator)
            return {"formula": f"{num} / {den}"}
        if kind == "derived":
            return self._derived(metric)
        if kind == "conversion":
            return self._conversion(metric)
        raise _Skip(f"metric type '{kind}' is unknown to the importer")

    def _cumulative(self, metric: Metric) -> dict[str, Any]:
        if metric.window:
            raise _Skip(f"a cumulative window ({metric.window}) is a rolling total; Northstar's cumulative runs "
                        "since the first period")
        if metric.grain_to_date:
            raise _Skip(f"grain-to-date ({metric.grain_to_date}) restarts the total each {metric.grain_to_date}; "
                        "Northstar's cumulative runs since the first period")
        if (metric.period_agg or "first") != "last":
            raise _Skip(f"MetricFlow reports the total at each period's {metric.period_agg or 'first'} day "
                        "(period_agg); Northstar's runs to the period's end: set `period_agg: last` to import it")
        if metric.measure is None:
            raise _Skip("a cumulative metric without a measure")
        return {**self._aggregate(metric.measure, metric.filter), "cumulative": True}

    def _input(self, parent: Metric, item: MetricInput) -> str:
        """The Northstar metric an input reads: the metric itself, or a filtered helper aggregate."""
        if item.offset:
            raise _Skip(f"input '{item.name}' is offset ({item.offset}); Northstar formulas read the same period")
        if not self.metric(item.name):
            raise _Skip(f"it reads '{item.name}', which is not imported ({self.skipped[item.name]})")
        filters = item.filter + parent.filter
        if not filters:
            return item.name
        source = self.by_name[item.name]
        if source.type != "simple" or source.measure is None:
            raise _Skip(f"input '{item.name}' is filtered, which Northstar can apply to a simple metric only")
        helper = f"{parent.name}__{item.alias or item.name}"
        body = self._aggregate(source.measure, source.filter + filters)
        self.metrics[helper] = ordered({"description": f"input of '{parent.name}' (imported from dbt)", **body,
                                        "tags": [IMPORT_TAG]})
        return helper

    def _derived(self, metric: Metric) -> dict[str, Any]:
        if not metric.expr:
            raise _Skip("a derived metric without `expr`")
        names = {(item.alias or item.name): self._input(metric, item) for item in metric.inputs}
        formula = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: names.get(m.group(0), m.group(0)), metric.expr)
        formula = " ".join(formula.split())
        try:
            parsed = parse_formula(formula)
        except ExpressionError:
            raise _Skip(f"expr `{' '.join(metric.expr.split())}` uses SQL beyond + - * /, parentheses and "
                        "numbers") from None
        unknown = [n for n in parsed.names if n not in self.metrics]
        if unknown:
            raise _Skip(f"expr names {', '.join(unknown)}, which it does not declare as inputs")
        return {"formula": formula}

    def _conversion(self, metric: Metric) -> dict[str, Any]:
        if metric.constant_properties:
            raise _Skip("constant properties (base and conversion events must share a value) have no Northstar "
                        "equivalent")
        if (metric.calculation or "conversion_rate") != "conversion_rate":
            raise _Skip(f"calculation {metric.calculation}: Northstar's conversion metric is a rate")
        if metric.base_measure is None or metric.conversion_measure is None or not metric.entity or not metric.window:
            raise _Skip("a conversion needs a base measure, a conversion measure, an entity and a window")
        days = _conversion_days(metric.window)
        sides = []
        for item in (metric.base_measure, metric.conversion_measure):
            model, measure, _source = self._measure(item.name)
            entity = model.entity(metric.entity)
            if entity is None:
                raise _Skip(f"semantic model '{model.name}' has no entity '{metric.entity}'")
            if measure.agg != "count_distinct" or measure.expr.strip() != entity.expr.strip():
                raise _Skip(f"measure '{measure.name}' is {measure.agg} of {measure.expr}; Northstar's conversion is "
                            f"a share of distinct {metric.entity} (count_distinct of {entity.expr})")
            time = measure.agg_time_dimension or model.default_time
            grain = (model.dimension(str(time)) or _NO_DIM).granularity or "day"
            if grain != "day":
                raise _Skip(f"time dimension '{time}' has granularity {grain}; the importer maps conversions "
                            "on days only")
            sides.append((self.plans[model.name], time, self._filter(model, item.filter + metric.filter)))
        (base, base_time, base_where), (conv, conv_time, conv_where) = sides
        source = f"{metric.name}_events"
        self.extra_sources[source] = conversion_source(base, str(base_time), base_where, conv, str(conv_time),
                                                       conv_where, metric.entity)
        self.notes.append(f"metric '{metric.name}': MetricFlow credits a conversion to the {metric.entity}'s latest "
                          "base event before it, Northstar to every base event within the window: the two agree "
                          f"while each {metric.entity} has one base event per period")
        return {"type": "conversion", "source": source, "from": "step = 'base'", "to": "step = 'conversion'",
                "within": f"{days - 1}d"}

    def sources(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for model in self.layer.semantic_models:
            if model.name in self.times:
                out.update(self.plans[model.name].sources(self.times[model.name]))
        return {**out, **self.extra_sources}


def map_semantic_layer(layer: SemanticLayer) -> Mapping:
    """Every dbt metric that Northstar can compute the same way, and the rest with reasons."""
    mapper = _Mapper(layer)
    for metric in layer.metrics:
        mapper.metric(metric.name)
    not_imported = [NotImported("metric", name, reason) for name, reason in mapper.skipped.items()]
    for model in layer.semantic_models:
        for dim, expr in mapper.plans[model.name].computed():
            not_imported.append(NotImported("dimension", f"{model.name}.{dim}", f"computed by SQL (`{' '.join(expr.split())}`): "
                                            "translated in filters, but no breakdown; add the column to the dbt model "
                                            "to break down by it"))
    # Measures no imported metric reads (MetricFlow can query them directly; Northstar cannot).
    for model in layer.semantic_models:
        for measure in model.measures:
            readers = [m for m in layer.metrics if measure.name in {i.name for i in (m.measure, m.base_measure,
                                                                                      m.conversion_measure) if i}]
            if not readers:
                not_imported.append(NotImported("measure", measure.name, "no dbt metric uses it (define a simple "
                                                                          "metric over it to import it)"))
    return Mapping(mapper.sources(), mapper.metrics, tuple(not_imported), tuple(mapper.notes))
