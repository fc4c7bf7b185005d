"""Anomalies inside segments: a fault in one country's Android app can hide in the total
(-3% of the North Star, inside its noise) while the segment itself falls by a third.

The North Star's tree metrics are computed by each declared dimension of the North Star's
source and by pairs of its first three dimensions (one fused query per set), each segment's
series is scored with the same detector as the totals (`alerts.detect`), and a segment fires
when its score reaches `SEGMENT_FACTOR` x the rule's sensitivity (many segments are tested at
once, so each must be more extreme) and it holds at least `MIN_SHARE` of the North Star over
the periods before. A small segment is noisier than the total: its error scale is floored at
the total's relative scale / sqrt(share) (sampling noise grows as the volume shrinks), so a
rate over a handful of users does not fire because its history happened to be flat. A count
(`agg: count` or `count_distinct`) is floored at its counting noise as well: sqrt(n),
1/sqrt(n) on the log scale, n the larger of the expected and the seen count, so "4 paid
listeners where 1 was expected" is not news; a small count (model `count` of the detector) is
judged by its own counting tail already. Each segment is scored in its metric's domain
(`northstar.domains`), with its own counting noise where the metric has a size (a share's
denominator, a sum's rows, computed by segment in the same query), so no expected value or
interval leaves what the metric can be.
The flagged segments of one metric and period make one alert, its most extreme segment first.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from northstar.alerts.detect import score_series
from northstar.alerts.kept_scores import KeptScores
from northstar.alerts.model import Alert
from northstar.analysis.domain import Domain
from northstar.analysis.targets.words import format_number
from northstar.analysis.tree import label_of, tree_metrics
from northstar.engine.plan import dependency_order
from northstar.spec.model import AlertRule, Spec

SEGMENT_FACTOR = 1.5
MIN_SHARE = 0.05
SHARE_PERIODS = 8  # the segment's share of the North Star is measured over these periods before
PAIRS_OF = 3  # pairs among the first dimensions
COUNTS = ("count", "count_distinct")  # aggregations whose values are counts


def dimension_sets(spec: Spec) -> list[tuple[str, ...]]:
    """Each dimension of the North Star's source, then pairs of its first `PAIRS_OF`."""
    sources = _sources(spec, spec.north_star.metric)
    if len(sources) != 1:
        return []
    dims = spec.sources[next(iter(sources))].dimensions
    return [(d,) for d in dims] + list(itertools.combinations(dims[:PAIRS_OF], 2))


def _sources(spec: Spec, metric: str) -> set[str]:
    names = dependency_order(spec, (metric,))
    return {s for s in (getattr(spec.metrics[n], "source", None) for n in names) if s}


def segment_metrics(spec: Spec, watched: Sequence[str], dims: tuple[str, ...]) -> list[str]:
    """The watched tree metrics whose sources all declare `dims`."""
    tree = set(tree_metrics(spec))
    out = []
    for m in watched:
        if m not in tree or m not in spec.metrics:
            continue
        sources = _sources(spec, m)
        if sources and all(set(dims) <= set(spec.sources[s].dimensions) for s in sources):
            out.append(m)
    return out


def load_segments(project: object, watched: Sequence[str], end: dt.date) -> dict[tuple[str, ...], pd.DataFrame]:
    """Per dimension set, the series of the segment metrics and of what their sizes are
    computed from (columns: period, dims, metrics, `Size.probes`), one query per set."""
    from northstar.engine import MetricQuery

    spec: Spec = project.spec  # type: ignore[attr-defined]
    nsm = spec.north_star.metric
    out: dict[tuple[str, ...], pd.DataFrame] = {}
    for dims in dimension_sets(spec):
        metrics = segment_metrics(spec, watched, dims)
        if not metrics:
            continue
        names = list(dict.fromkeys([nsm, *metrics]))
        probes = {column: probe for m in metrics if (d := _domain(project, m)) is not None and d.size is not None
                  for column, probe in d.size.probes(m).items()}
        names += [d.size.metric for m in metrics if (d := _domain(project, m)) is not None and d.size is not None
                  and d.size.metric is not None and d.size.metric not in names
                  and set(dims) <= set(_dims_of(spec, d.size.metric))]
        engine = project.engine.extended(probes) if probes else project.engine  # type: ignore[attr-defined]
        out[dims] = engine.query(MetricQuery(metrics=tuple(dict.fromkeys(names + list(probes))),
                                             grain=spec.north_star.grain, by=tuple(dims), end=end))
    return out


def _dims_of(spec: Spec, metric: str) -> set[str]:
    sources = _sources(spec, metric)
    return set.intersection(*(set(spec.sources[s].dimensions) for s in sources)) if sources else set()


def _domain(project: object, metric: str) -> Domain | None:
    from northstar.domains import metric_domain
    from northstar.errors import NorthstarError

    try:
        return metric_domain(project, metric)
    except NorthstarError:
        return None


def _sizes(domain: Domain | None, rows: pd.DataFrame, metric: str) -> pd.Series | None:
    """A segment's sizes (see `analysis.domain.Size`) from its rows, or None."""
    if domain is None or domain.size is None:
        return None
    return domain.size.series(rows, metric)  # type: ignore[return-value]


def segment_alerts(project: object, frames: dict[tuple[str, ...], pd.DataFrame], totals: dict[str, pd.Series],
                   watched: Sequence[str], rule: AlertRule, start: dt.date) -> list[Alert]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    nsm, grain = spec.north_star.metric, spec.north_star.grain
    threshold = rule.sensitivity * SEGMENT_FACTOR
    total = totals.get(nsm)
    if total is None or not len(total):
        return []
    found: dict[tuple[str, dt.date], list[tuple[float, dict[str, str], object]]] = {}
    relative = {m: _relative_scales(totals[m], grain, rule) for m in watched if m in totals}
    counts = {m for m in watched if getattr(spec.metrics.get(m), "agg", None) in COUNTS}
    domains = {m: _domain(project, m) for m in watched if m in spec.metrics}
    scores = KeptScores(project.engine.results, "segments")  # type: ignore[attr-defined]
    for dims, frame in frames.items():
        metrics = [m for m in segment_metrics(spec, watched, dims) if m in frame.columns]
        frame = frame.assign(period=[pd.Timestamp(p).date() for p in frame["period"]])
        for key, rows in frame.groupby(list(dims)):
            key = key if isinstance(key, tuple) else (key,)
            where = {d: str(v) for d, v in zip(dims, key)}
            rows = rows.set_index("period").reindex(total.index)
            share = (pd.to_numeric(rows[nsm], errors="coerce").fillna(0) / total).to_numpy(dtype=float)
            for m in metrics:
                values = pd.to_numeric(rows[m], errors="coerce").astype(float)
                for s in scores.score(values, grain, rule.min_history, start, rule.sensitivity, zeros=False,
                                      domain=domains.get(m), sizes=_sizes(domains.get(m), rows, m)):
                    if abs(s.score) < threshold:
                        continue
                    i = total.index.get_loc(s.period)
                    before = share[max(0, i - SHARE_PERIODS):i]
                    weight = float(np.nanmean(before)) if len(before) else 0.0
                    if not weight >= MIN_SHARE:
                        continue
                    score = _floored(s, relative.get(m, {}).get(s.period), weight, m in counts)
                    if abs(score) >= threshold:
                        found.setdefault((m, s.period), []).append((score, where, s))
    scores.save()
    out = []
    for (m, period), hits in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        hits.sort(key=lambda h: -abs(h[0]))
        out.append(_alert(spec, m, period, hits, grain, threshold))
    return out


def _relative_scales(series: pd.Series, grain: str, rule: AlertRule) -> dict[dt.date, float]:
    """The total's error scale per period, relative to its expected value."""
    out = {}
    for s in score_series(series, grain, rule.min_history, None, rule.sensitivity):
        out[s.period] = s.scale if s.log else (s.scale / abs(s.expected) if s.expected else float("inf"))
    return out


def _floored(s, total_relative: float | None, share: float, count: bool = False) -> float:
    """The segment's score with its scale floored at the total's relative scale / sqrt(share),
    and for a count at its counting (Poisson) noise."""
    if total_relative is None:
        return 0.0  # the total is not scored there (too little history): neither is the segment
    floor = total_relative / np.sqrt(share)
    if not s.log:
        floor *= abs(s.expected) if s.expected else 1.0
    if count and s.model != "count":  # Poisson noise, at the larger of the expected and the seen count (7 seen, 1 expected: not news)
        n = max(abs(s.expected), abs(s.value), 1.0)
        floor = max(floor, 1 / np.sqrt(n) if s.log else np.sqrt(n))
    return s.score * s.scale / max(s.scale, floor)


def _where(where: dict[str, str]) -> str:
    return ", ".join(f"{d}={v}" for d, v in where.items())


def _alert(spec: Spec, metric: str, period: dt.date, hits: list, grain: str, threshold: float) -> Alert:
    score, where, s = hits[0]
    label = label_of(spec, metric)
    change = s.value / s.expected - 1 if s.expected and not (s.model == "count" and s.expected < 1) else None
    verb = "rose" if score > 0 else "fell"
    pct = f" {abs(change) * 100:.0f}%" if change is not None else ""
    title = (f"{label} {verb}{pct} {'above' if score > 0 else 'below'} expected in {_where(where)} "
             f"({format_number(s.value)} vs {format_number(s.expected)}) in the {grain} of {period.isoformat()}")
    why = [f"{_where(w)}: {format_number(x.value)} vs {format_number(x.expected)} expected (score {sc:+.1f})"
           for sc, w, x in hits[:3]]
    bad = (score < 0) == (spec.metrics[metric].direction == "up")
    lower, upper = s.interval(threshold)
    from northstar.alerts.rules import link_for  # rules imports this module when segments are watched
    return Alert(key=f"segment:{metric}:{period.isoformat()}", kind="segment", metric=metric, label=label,
                 period=period, title=title, value=s.value, expected=s.expected, lower=lower, upper=upper,
                 why=tuple(why), link=link_for(spec, metric, period), severity="warning" if bad else "info")
