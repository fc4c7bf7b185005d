"""Which segments drove a metric's change: every single dimension, then pairs of the strongest.

Each metric is split by the values of every dimension its source declares, in one fused query
per dimension for all the metrics at once. A segment's *excess* is its contribution minus its
proportional part of the change (its weight before times the metric's change): a change
spread evenly has no excess anywhere, a change concentrated in one segment has it there.
Pairs of dimensions are searched only among the dimensions whose best segment has the largest
excess (pruning: at most `PAIR_DIMS` dimensions, so 3 pair queries whatever the number of
dimensions and values), and a pair is ranked above its parents when it keeps at least
`1 / PAIR_BONUS` (80%) of their excess: it says the same more precisely.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from northstar.analysis.attribution import SegmentEffect, additive_effects, ratio_effects
from northstar.engine import MetricQuery
from northstar.engine.plan import dependency_order
from northstar.errors import QueryError
from northstar.explain.model import Segment
from northstar.spec.expressions import parse_formula
from northstar.spec.model import AggregateMetric, FormulaMetric, Spec

PAIR_DIMS = 3
PAIR_BONUS = 1.25
TOP = 10


@dataclass(frozen=True)
class Form:
    """How a metric splits over segments: additive (its own value) or a ratio of two sums."""

    metric: str
    numerator: str
    denominator: str | None = None  # None: additive


def form_of(spec: Spec, name: str) -> tuple[Form | None, dict[str, AggregateMetric]]:
    """The metric's form and any probe metrics it needs (e.g. sum and count behind an avg)."""
    metric = spec.metrics[name]
    if isinstance(metric, AggregateMetric):
        if metric.agg in ("count", "sum", "count_distinct") and not metric.cumulative:
            return Form(name, name), {}
        if metric.agg == "avg":
            num, den = f"__{name}_sum", f"__{name}_count"
            return Form(name, num, den), {
                num: metric.model_copy(update={"agg": "sum"}),
                den: metric.model_copy(update={"agg": "count"})}
        return None, {}
    if isinstance(metric, FormulaMetric):
        tree = parse_formula(metric.formula).tree
        if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Div) and isinstance(tree.left, ast.Name) \
                and isinstance(tree.right, ast.Name):
            return Form(name, tree.left.id, tree.right.id), {}
    return None, {}


def dimensions_of(spec: Spec, name: str) -> list[str]:
    sources = {getattr(spec.metrics[n], "source") for n in dependency_order(spec, (name,))
               if hasattr(spec.metrics[n], "source")}
    dims = None
    for source in sources:
        declared = set(spec.sources[source].dimensions)
        dims = declared if dims is None else dims & declared
    first = spec.sources[next(iter(sources))].dimensions if sources else ()
    return [d for d in first if dims and d in dims]


def find_segments(project: object, metrics: dict[str, float], period: dt.date, baseline: dt.date,
                  by: Sequence[str] = ()) -> tuple[list[Segment], list[str]]:
    """Ranked segments for `metrics` ({name: its share of the explained change}), and notes."""
    spec: Spec = project.spec  # type: ignore[attr-defined]
    grain = spec.north_star.grain
    forms, probes, notes = {}, {}, []
    for name in metrics:
        form, extra = form_of(spec, name)
        if form is None:
            notes.append(f"'{name}' is not a count, sum or simple ratio, so it is not split by segment")
            continue
        forms[name] = form
        probes.update(extra)
    if not forms:
        return [], notes
    dims_by_metric = {n: dimensions_of(spec, n) for n in forms}
    all_dims = list(dict.fromkeys(d for ds in dims_by_metric.values() for d in ds))
    if by:
        unknown = [d for d in by if d not in all_dims]
        if unknown:
            raise QueryError(f"--by: '{unknown[0]}' is not a dimension of the sources of "
                             f"{', '.join(forms)}; use one of: {', '.join(all_dims) or 'none declared'}")
        all_dims = list(by)
    engine = project.engine.extended(probes) if probes else project.engine  # type: ignore[attr-defined]
    components = list(dict.fromkeys(c for f in forms.values() for c in (f.numerator, f.denominator) if c))
    start, end = min(period, baseline), max(period, baseline)

    def split(keys: tuple[str, ...]) -> pd.DataFrame:
        frame = engine.query(MetricQuery(metrics=tuple(components), grain=grain, by=keys, start=start, end=end))
        return frame[frame["period"].isin([period, baseline])]

    found: list[tuple[float, Segment]] = []
    best_by_dim: dict[str, float] = {}
    for dim in all_dims:
        frame = split((dim,))
        for name, form in forms.items():
            if dim not in dims_by_metric[name]:
                continue
            for score, segment in _rank(form, frame, (dim,), period, baseline, metrics[name]):
                found.append((score, segment))
                best_by_dim[dim] = max(best_by_dim.get(dim, 0.0), score)
    top_dims = sorted(best_by_dim, key=lambda d: -best_by_dim[d])[:PAIR_DIMS]
    for pair in itertools.combinations(top_dims, 2):
        frame = split(pair)
        for name, form in forms.items():
            if all(d in dims_by_metric[name] for d in pair):
                found += [(score * PAIR_BONUS, seg) for score, seg in _rank(form, frame, pair, period, baseline,
                                                                            metrics[name])]
    # ties broken by the segment itself, so every engine (whatever its row order) ranks alike
    found.sort(key=lambda item: (-item[0], item[1].metric, str(sorted(item[1].dimensions.items()))))
    return [segment for score, segment in found[:TOP] if score > 0], notes


def _rank(form: Form, frame: pd.DataFrame, keys: tuple[str, ...], period: dt.date, baseline: dt.date,
          weight: float) -> list[tuple[float, Segment]]:
    def values(column: str, when: dt.date) -> dict[tuple, float]:
        rows = frame[frame["period"] == when]
        return {tuple(r[k] for k in keys): r[column] for _i, r in rows.iterrows()}

    if form.denominator is None:
        effects = additive_effects(values(form.numerator, baseline), values(form.numerator, period))
    else:
        effects = ratio_effects(values(form.numerator, baseline), values(form.denominator, baseline),
                                values(form.numerator, period), values(form.denominator, period))
    change = sum(e.contribution for e in effects)
    if not change:
        return []
    out = []
    for effect in effects:
        excess = effect.contribution - (effect.baseline_weight or 0.0) * change
        score = abs(excess / change) * abs(weight)
        out.append((score, _segment(form.metric, keys, effect, change, excess)))
    return out


def _segment(metric: str, keys: tuple[str, ...], effect: SegmentEffect, change: float, excess: float) -> Segment:
    dims = {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in zip(keys, effect.segment)}
    return Segment(metric, dims, effect.contribution, effect.contribution / change, excess, effect.rate_effect,
                   effect.mix_effect, effect.baseline, effect.value)
