"""Which segments drove a metric's change, and whether a dimension's segments overlap.

Each metric is split by the values of every dimension its source declares, in one fused query
per dimension for all the metrics at once, then by pairs of the strongest dimensions: at most
`PAIR_DIMS` of them, so 6 pair queries whatever the number of dimensions and values, ranked by
their best score under the rule below without its noise test (an incident among one country's
Android users can be lost in the noise of all Android users and still be plain as a pair).

**The rule that names a segment.** Split a metric m over one dimension (or a pair). Segment s
contributes c_s to m's change D = sum of the c_s: its own change for a count or a sum, its rate
plus mix effect for a ratio (`analysis/attribution.py`); for disjoint segments D is exactly m's
change. With w_s the segment's share of m before (of its denominator, for a ratio), its
*excess* e_s = c_s - w_s * D is what it contributed beyond its proportional part; the excesses
add up to 0. A segment *drove* the explained change when

1. m pushed the explained metric the way it moved: g_m > 0, where g_m is m's share of the
   explained change (1 for the explained metric itself, an input's Shapley share otherwise);
2. c_s / D > 0: the segment moved the way m did; and
3. e_s / D > 0: by more than its proportional part; and
4. the excess is beyond noise: |e_s| >= z standard deviations of the excess when every
   segment kept its share, z the one-sided normal quantile at `ALPHA` / n for the n segments
   of the split (Bonferroni: a dimension of 27 states gets z = 3.4, not 2, or one state in
   four searches would stand out by chance). The spread comes from the delta method on each
   period's values: Poisson for a count, compound Poisson for a sum (the sum of squared
   amounts, through a probe metric summing expr * expr per segment), and for a ratio or an
   average the spread of its rate and mix effects (see `analysis/attribution.py`). In sparse data (a segment going from 3 to 1 contributors), a
   small segment's rate swinging, or one big order landing in a segment, nothing is named
   (the order itself is found by `explain/entities.py`). Components whose spread is unknown
   (a formula that is not a count or sum) get no test.

Among the segments that drove it, the ranking score is g_m * min(e_s / D, 1) (the share of
the explained change concentrated in the segment beyond its weight; a segment whose excess is
more than the whole change, because others moved the other way, counts as all of it), times
`PAIR_BONUS` for a
pair of dimensions: a pair keeping at least 1 / PAIR_BONUS (80%) of its parent's excess says
the same more precisely. Only scores of at least `MIN_SCORE` count. `Explanation.segments`
holds only such segments, best first: its first is the segment `explain`, reports, digests,
alerts and the dashboard name, and when it is empty the change is spread across segments.

So when buyers fell 74%, a segment that fell 67% (c_s < 0, the change's sign, but e_s > 0: it
fell *less* than the whole) is not named, and when buyers rose 4% a segment that fell 6% (c_s
against the change) is not named either. Excess rather than contribution ranks, so a big
segment that moved exactly like the whole (all of its contribution proportional) is not
"where it happened".

**Overlap.** Segments of a distinct count overlap when a customer is in several (a user active
on iOS and on Android; an event-type dimension). It shows in the numbers: the segments' values
add up to more than the metric's total. Such a split is marked (`Segment.overlap`,
`SegmentSearch.overlaps`): its changes do not add up to the metric's change, and D above is
the sum of the segments' changes.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import pandas as pd

from northstar.analysis.attribution import (SegmentEffect, additive_effects, additive_noise, ratio_effects,
                                            ratio_noise)
from northstar.engine import MetricQuery
from northstar.engine.plan import dependency_order
from northstar.errors import QueryError
from northstar.explain.model import Overlap, Segment
from northstar.spec.expressions import parse_formula
from northstar.spec.model import AggregateMetric, FormulaMetric, Spec

PAIR_DIMS = 4
PAIR_BONUS = 1.25
MIN_SCORE = 0.02  # beyond noise, a segment must hold 2% of the change beyond its weight to be named
ALPHA = 0.01  # the chance that one segment of a split stands out by noise alone
TOP = 10


@dataclass(frozen=True)
class Form:
    """How a metric splits over segments: additive (its own value) or a ratio of two sums."""

    metric: str
    numerator: str
    denominator: str | None = None  # None: additive


@dataclass(frozen=True)
class Split:
    """One metric over one dimension or pair: every segment's effect, before any ranking."""

    metric: str
    keys: tuple[str, ...]
    effects: tuple[SegmentEffect, ...]
    change: float  # the sum of the contributions
    overlap: bool  # the segments' values add up to more than the metric's total
    noise: Mapping[tuple, float] | None = None  # the spread of each segment's excess; None: unknown


@dataclass(frozen=True)
class SegmentSearch:
    segments: tuple[Segment, ...]  # only segments that drove the change, best first
    overlaps: tuple[Overlap, ...]
    notes: tuple[str, ...]
    searched: bool  # some metric was split by some dimension


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


def validate_by(project: object, metric: str, by: Sequence[str]) -> None:
    """`--by` names dimensions of the metric's sources (checked even when no search runs)."""
    spec: Spec = project.spec  # type: ignore[attr-defined]
    names = dependency_order(spec, (metric,))
    known = list(dict.fromkeys(d for n in names if (s := getattr(spec.metrics[n], "source", None))
                               for d in spec.sources[s].dimensions))
    unknown = [d for d in by if d not in known]
    if unknown:
        raise QueryError(f"--by: '{unknown[0]}' is not a dimension of the sources of {metric}; use one of: "
                         f"{', '.join(known) or 'none declared'}")


def threshold(segments: int) -> float:
    """The z an excess must reach among `segments` segments (one-sided, Bonferroni)."""
    return NormalDist().inv_cdf(1 - ALPHA / max(segments, 1))


def score(split: Split, effect: SegmentEffect, weight: float, noise: bool = True) -> float | None:
    """The ranking score of a segment that drove the change (see the module docstring), or None
    when it did not: it moved against the change, less than its proportional part, or (with
    `noise`) not beyond noise."""
    if not split.change or weight <= 0:
        return None
    share = effect.contribution / split.change
    excess = effect.contribution - (effect.baseline_weight or 0.0) * split.change
    if share <= 0 or excess / split.change <= 0:
        return None
    if noise and split.noise is not None \
            and abs(excess) < threshold(len(split.effects)) * split.noise.get(effect.segment, 0.0):
        return None
    excess = min(excess / split.change, 1.0)  # beyond all of the change, others offset it
    return excess * weight * (PAIR_BONUS if len(split.keys) > 1 else 1.0)


def find_segments(project: object, metrics: dict[str, float], period: dt.date, baseline: dt.date,
                  by: Sequence[str] = (), totals: Mapping[dt.date, Mapping[str, float]] | None = None) -> SegmentSearch:
    """The segments that drove `metrics` ({name: its share of the explained change}), best first.
    `totals`: the metrics' values in the two periods when known (else they are queried)."""
    searcher = _Searcher(project, metrics, period, baseline, by, totals)
    if not searcher.forms:
        return SegmentSearch((), (), tuple(searcher.notes), False)
    found: list[tuple[float, Segment]] = []
    overlaps: list[Overlap] = []
    best_by_dim: dict[str, float] = {}

    def take(split: Split) -> None:
        if split.overlap and len(split.keys) == 1:  # a pair overlaps through one of its dimensions
            overlaps.append(Overlap(split.metric, split.keys))
        for effect in split.effects:
            value = score(split, effect, metrics[split.metric])
            if value is not None:
                found.append((value, _segment(split, effect)))
            # pairs are searched among the dimensions whose segments moved most with the change,
            # noise or not: an incident in one country's Android users can be too small to stand
            # out among all Android users and still be plain as a pair
            potential = score(split, effect, metrics[split.metric], noise=False)
            if potential is not None and len(split.keys) == 1:
                best_by_dim[split.keys[0]] = max(best_by_dim.get(split.keys[0], 0.0), potential)

    for dim in searcher.dims:
        for split in searcher.splits((dim,)):
            take(split)
    top_dims = sorted(best_by_dim, key=lambda d: -best_by_dim[d])[:PAIR_DIMS]
    for pair in itertools.combinations(top_dims, 2):
        for split in searcher.splits(pair):
            take(split)
    # ties broken by the segment itself, so every engine (whatever its row order) ranks alike
    found.sort(key=lambda item: (-item[0], item[1].metric, str(sorted(item[1].dimensions.items(), key=str))))
    segments = tuple(segment for value, segment in found if value >= MIN_SCORE)[:TOP]
    return SegmentSearch(segments, tuple(dict.fromkeys(overlaps)), tuple(searcher.notes), bool(searcher.dims))


def all_splits(project: object, metrics: Sequence[str], period: dt.date, baseline: dt.date,
               keys: tuple[str, ...]) -> list[Split]:
    """Every segment's effect for `metrics` split by `keys`, unranked (what the ranking reads)."""
    return _Searcher(project, dict.fromkeys(metrics, 1.0), period, baseline, keys, None).splits(keys)


class _Searcher:
    """The queries behind a search: each metric's form, its dimensions, and the splits."""

    def __init__(self, project: object, metrics: Mapping[str, float], period: dt.date, baseline: dt.date,
                 by: Sequence[str], totals: Mapping[dt.date, Mapping[str, float]] | None) -> None:
        spec: Spec = project.spec  # type: ignore[attr-defined]
        self.grain = spec.north_star.grain
        self.period, self.baseline = period, baseline
        self.forms: dict[str, Form] = {}
        self.notes: list[str] = []
        probes: dict[str, AggregateMetric] = {}
        for name in metrics:
            form, extra = form_of(spec, name)
            if form is None:
                self.notes.append(f"'{name}' is not a count, sum or simple ratio, so it is not split by segment")
                continue
            self.forms[name] = form
            probes.update(extra)
        self.dims_by_metric = {n: dimensions_of(spec, n) for n in self.forms}
        dims = list(dict.fromkeys(d for ds in self.dims_by_metric.values() for d in ds))
        if by and self.forms:
            unknown = [d for d in by if d not in dims]
            if unknown:
                raise QueryError(f"--by: '{unknown[0]}' is not a dimension of the sources of "
                                 f"{', '.join(self.forms)}; use one of: {', '.join(dims) or 'none declared'}")
            dims = list(by)
        self.dims = dims
        self.components = list(dict.fromkeys(c for f in self.forms.values() for c in (f.numerator, f.denominator)
                                             if c))
        # the column holding each component's variance per segment (None: unknown, no noise test)
        self.variance: dict[str, str | None] = {}
        self.counted: set[str] = set()
        for name in self.components:
            metric = probes.get(name) or spec.metrics.get(name)
            self.variance[name] = None
            if not isinstance(metric, AggregateMetric) or metric.cumulative:
                continue
            if metric.agg in ("count", "count_distinct"):
                self.variance[name] = name  # Poisson: the variance is the count itself
                self.counted.add(name)
            elif metric.agg == "sum" and metric.expr:
                square = f"__{name}_square"
                probes[square] = metric.model_copy(update={"expr": f"({metric.expr}) * ({metric.expr})"})
                self.variance[name] = square
        self.engine = project.engine.extended(probes) if probes else project.engine  # type: ignore[attr-defined]
        self.columns = list(dict.fromkeys([*self.components, *(v for v in self.variance.values() if v)]))
        # only distinct counts (and formulas of them) can overlap: a row is in one segment
        self.distinct = [c for c in self.components if not isinstance(m := spec.metrics.get(c), AggregateMetric)
                         or m.agg == "count_distinct"]
        known = totals or {}
        self._totals: dict[dt.date, dict[str, float]] | None = None
        if all(c in known.get(when, {}) for c in self.distinct for when in (period, baseline)):
            self._totals = {when: {c: _num(known[when][c]) for c in self.distinct} for when in (period, baseline)}

    def _query(self, keys: tuple[str, ...], columns: Sequence[str] | None = None) -> pd.DataFrame:
        start, end = min(self.period, self.baseline), max(self.period, self.baseline)
        frame = self.engine.query(MetricQuery(metrics=tuple(columns or self.columns), grain=self.grain, by=keys,
                                              start=start, end=end))
        return frame[frame["period"].isin([self.period, self.baseline])]

    def totals(self) -> dict[dt.date, dict[str, float]]:
        """{period: {component: its total}}, to tell overlapping segments from the numbers."""
        if self._totals is None:
            frame = self._query(())
            self._totals = {when: {c: _num(rows[c].sum()) for c in self.distinct}
                            for when in (self.period, self.baseline)
                            for rows in [frame[frame["period"] == when]]}
        return self._totals

    def splits(self, keys: tuple[str, ...]) -> list[Split]:
        # only the metrics whose sources all have the keys (spend has no platform): the others'
        # columns are not asked for, or the query is refused
        forms = [f for name, f in self.forms.items() if all(k in self.dims_by_metric[name] for k in keys)]
        if not forms:
            return []
        parts = {c for f in forms for c in (f.numerator, f.denominator) if c}
        columns = [c for c in self.columns if c in parts or c in {self.variance.get(p) for p in parts}]
        frame = self._query(keys, columns)
        return [self._split(form, frame, keys) for form in forms]

    def _split(self, form: Form, frame: pd.DataFrame, keys: tuple[str, ...]) -> Split:
        by_period = {when: frame[frame["period"] == when] for when in (self.period, self.baseline)}
        labels = {when: list(zip(*(rows[k] for k in keys))) for when, rows in by_period.items()}

        def values(column: str, when: dt.date) -> dict[tuple, float]:
            return dict(zip(labels[when], by_period[when][column]))

        parts = [c for c in (form.numerator, form.denominator) if c]
        known = all(self.variance[c] for c in parts)
        floor = 1.0 if all(c in self.counted for c in parts) else 0.0
        noise = None
        if form.denominator is None:
            before, now = values(form.numerator, self.baseline), values(form.numerator, self.period)
            effects = additive_effects(before, now)
            if known:
                column = self.variance[form.numerator]
                noise = additive_noise(before, now, values(column, self.baseline),  # type: ignore[arg-type]
                                       values(column, self.period), floor)  # type: ignore[arg-type]
        else:
            sides = (values(form.numerator, self.baseline), values(form.denominator, self.baseline),
                     values(form.numerator, self.period), values(form.denominator, self.period))
            effects = ratio_effects(*sides)
            if known:
                variances = tuple(values(self.variance[c], when)  # type: ignore[arg-type]
                                  for when in (self.baseline, self.period) for c in (form.numerator, form.denominator))
                noise = ratio_noise(*sides, variances, floor)
        overlap = False
        for column in (c for c in (form.numerator, form.denominator) if c in self.distinct):
            for when in (self.period, self.baseline):
                parts = sum(_num(v) for v in values(column, when).values())
                total = self.totals()[when][column]
                if parts > total + 1e-9 * max(1.0, abs(total)):
                    overlap = True
        return Split(form.metric, keys, tuple(effects), sum(e.contribution for e in effects), overlap, noise)


def _num(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def _plain(value: object) -> object:
    """A dimension value as JSON and words show it: None for nulls, 2 rather than 2.0 (integer
    codes come back as floats when a column has nulls)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _segment(split: Split, effect: SegmentEffect) -> Segment:
    change = split.change
    dims = {k: _plain(v) for k, v in zip(split.keys, effect.segment)}
    excess = effect.contribution - (effect.baseline_weight or 0.0) * change
    return Segment(split.metric, dims, effect.contribution, effect.contribution / change, excess,
                   effect.rate_effect, effect.mix_effect, effect.baseline, effect.value, split.overlap)
