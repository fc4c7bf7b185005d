"""Which alerts fire: anomalies, guardrails crossed, focus (OMTM) off track, North Star target
at risk (grouping them into messages is `alerts.grouping`).

Everything is computed from the metrics' series of complete periods at the North Star's
grain, each metric up to its own last final period (`Project.last_final_period`), so
the incomplete current period never fires. A backtest evaluates every period from a date on;
there the states (a guardrail crossed, a focus off track, a target at risk) fire when they
begin, not again every period they last (a live run relies on the cooldown instead).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pandas as pd

from northstar.alerts.model import Alert
from northstar.alerts.scoring import score_metric
from northstar.analysis.expected import expected_annotations, without
from northstar.analysis.projection import Projection, project
from northstar.analysis.status import focus_status, guardrail_status
from northstar.analysis.targets.calendar import periods_apart
from northstar.analysis.targets.words import format_number
from northstar.analysis.tree import label_of, reviewed_metrics
from northstar.engine.time import period_start, shift_period
from northstar.spec.model import AlertRule, Spec


@dataclass(frozen=True)
class Fired:
    """An alert and the index of the rule (in `rules_of(spec)`) that fired it."""

    alert: Alert
    rule: int


def rules_of(spec: Spec) -> tuple[AlertRule, ...]:
    """The spec's alert rules; without any, one default rule that watches and prints only."""
    return spec.alerts.rules or (AlertRule(),)


def default_metrics(spec: Spec) -> list[str]:
    """What a rule watches by default: the metrics a review shows (`reviewed_metrics`: the North
    Star and its tree, the guardrails, the OMTMs, the funnel, and the inputs of those formulas)."""
    return reviewed_metrics(spec)


def watched(spec: Spec, rule: AlertRule) -> list[str]:
    return list(rule.metrics) or default_metrics(spec)


# ---- series ---------------------------------------------------------------------------------

def load_series(project: object, metrics: Sequence[str]) -> dict[str, pd.Series]:
    """Each metric's series of complete periods (index: period start dates)."""
    grain = project.spec.north_star.grain  # type: ignore[attr-defined]
    lasts = {m: project.last_final_period(m, grain) for m in metrics}  # type: ignore[attr-defined]
    if not lasts:
        return {}
    frame = project.query(list(metrics), grain=grain, end=max(lasts.values()))  # type: ignore[attr-defined]
    periods = [pd.Timestamp(p).date() for p in frame["period"]]
    out: dict[str, pd.Series] = {}
    for m in metrics:
        series = pd.Series(pd.to_numeric(frame[m], errors="coerce").to_numpy(dtype=float), index=periods)
        out[m] = series[[p <= lasts[m] for p in periods]]
    return out


# ---- words ----------------------------------------------------------------------------------

def _pct(value: float, base: float | None) -> str:
    if base in (None, 0) or not math.isfinite(base):
        return ""
    return f"{abs(value / base - 1) * 100:.0f}%"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "−") + format_number(abs(value))


def link_for(spec: Spec, metric: str, period: dt.date) -> str | None:
    base = spec.alerts.dashboard_url
    return f"{base.rstrip('/')}/metric/{metric}?period={period.isoformat()}" if base else None


def why_of(project: object, metric: str, period: dt.date, limit: int = 2) -> tuple[str, ...]:
    """The top contributions (inputs of the tree), the segment that drove a move (by the rule of
    `explain/segments.py`: `Explanation.lead`), the orders or customers behind it and any caveat,
    in words; a period without activity is said so instead."""
    from northstar.explain.narrative import entity_words, inactive_words

    try:
        exp = project.explain(metric, period)  # type: ignore[attr-defined]
    except Exception:  # an explanation is a bonus: never let it stop an alert
        return ()
    if exp.inactive:
        return (inactive_words(exp),)
    lines: list[str] = []
    inputs = sorted(exp.root.children, key=lambda c: -abs(c.contribution or 0))
    for c in inputs[:limit]:
        pct = c.change_pct
        words = f"{c.label} {pct * 100:+.0f}%" if pct is not None else c.label
        lines.append(f"{words} ({_signed(c.contribution)} of {exp.label.lower()})")
    if exp.lead is not None:
        seg = exp.lead
        where = ", ".join(f"{k}={v}" for k, v in seg.dimensions.items())
        pct = seg.change_pct
        lines.append(f"{label_of(project.spec, seg.metric)} in {where}"  # type: ignore[attr-defined]
                     + (f" {pct * 100:+.0f}%" if pct is not None else "") + f" ({_signed(seg.contribution)})"
                     + ("; segments overlap: a customer can be in several" if seg.overlap else ""))
    if exp.entities:
        lines.append(entity_words(exp, exp.entities[0]).rstrip("."))
    lines += [f"careful: {c}" for c in exp.caveats]
    return tuple(lines)


# ---- checks ---------------------------------------------------------------------------------

def anomaly_alerts(project: object, metric: str, series: pd.Series, rule: AlertRule, start: dt.date,
                   explain: bool = True) -> list[Alert]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    grain = spec.north_star.grain
    label = label_of(spec, metric)
    direction = spec.metrics[metric].direction
    out: list[Alert] = []
    for s in score_metric(project, metric, series, rule.min_history, start, rule.sensitivity):
        if not s.is_anomaly(rule.sensitivity):
            continue
        lower, upper = s.interval(rule.sensitivity)
        verb = "rose" if s.score > 0 else "fell"
        # a percentage of a count expected below one event says nothing ("+14101%"), nor one of a
        # metric that can be negative (a sum of scores expected at 9.5)
        pct = "" if (s.model == "count" and s.expected < 1) or not s.nonnegative else _pct(s.value, s.expected)
        title = (f"{label} {verb} {pct + ' ' if pct else ''}{'above' if s.score > 0 else 'below'} expected "
                 f"({_seen(project, metric, s.value)} vs {format_number(s.expected)}, {_signed(s.value - s.expected)}) "
                 f"in the {grain} of {s.period.isoformat()}")
        bad = (s.score < 0) == (direction == "up")
        severity = ("critical" if abs(s.score) >= 2 * rule.sensitivity else "warning") if bad else "info"
        out.append(Alert(key=f"anomaly:{metric}:{s.period.isoformat()}", kind="anomaly", metric=metric, label=label,
                         period=s.period, title=title, value=s.value, expected=s.expected, lower=lower, upper=upper,
                         why=why_of(project, metric, s.period) if explain else (),
                         link=link_for(spec, metric, s.period), severity=severity))
    return out


def _seen(project: object, metric: str, value: float | None) -> str:
    """A value in words: a count as a whole number (11 buyers, not 11.0)."""
    from northstar.domains import metric_domain
    from northstar.errors import NorthstarError

    if value is None or not math.isfinite(value) or value != int(value):
        return format_number(value)
    try:
        count = metric_domain(project, metric).kind == "count"
    except NorthstarError:
        count = False
    return f"{value:,.0f}" if count else format_number(value)


def _evaluated(series: pd.Series, start: dt.date) -> list[dt.date]:
    return [p for p in series.index if p >= start]


def _onsets(flags: list[tuple[dt.date, bool]], backtest: bool) -> list[dt.date]:
    """Periods where a state is bad: all of them live (one period), its starts in a backtest."""
    if not backtest:
        return [p for p, bad in flags if bad]
    out, before = [], False
    for p, bad in flags:
        if bad and not before:
            out.append(p)
        before = bad
    return out


def guardrail_alerts(project: object, series: dict[str, pd.Series], metrics: Sequence[str], start: dt.date,
                     backtest: bool) -> list[Alert]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    grain = spec.north_star.grain
    out: list[Alert] = []
    for guard in spec.guardrails:
        if guard.metric not in metrics or guard.metric not in series:
            continue
        values = series[guard.metric]
        statuses = {p: guardrail_status(guard, values[p], p) for p in _evaluated(values, start)}
        for p in _onsets([(p, s.status == "breached") for p, s in statuses.items()], backtest):
            status = statuses[p]
            value = float(status.value)  # type: ignore[arg-type]
            low = guard.min is not None and value < guard.min
            limit = guard.min if low else guard.max
            label = label_of(spec, guard.metric)
            title = (f"Guardrail {label} crossed its {'minimum' if low else 'maximum'} {format_number(limit)}: "
                     f"{format_number(value)} in the {grain} of {p.isoformat()}"
                     + (f" (owner {guard.owner})" if guard.owner else ""))
            out.append(Alert(key=f"guardrail:{guard.metric}:{p.isoformat()}", kind="guardrail", metric=guard.metric,
                             label=label, period=p, title=title, value=value, expected=limit, lower=guard.min,
                             upper=guard.max, link=link_for(spec, guard.metric, p), severity="critical"))
    return out


def _project(project_: object, metric: str, values: pd.Series, at: dt.date, grain: str,
             until: dt.date, expected: Sequence[Any] = ()) -> Projection | None:
    """The series up to `at` projected to the period of `until` by `analysis.projection` (the
    method `targets` and the dashboard use), inside the metric's domain, the periods before `at`
    that an expected annotation covers left out (`analysis.expected`); None with fewer than 3
    known values."""
    known = without(values[[p <= at for p in values.index]], expected, metric, grain, at)
    if known.dropna().size < 3:
        return None
    from northstar.domains import metric_domain
    from northstar.errors import NorthstarError

    try:
        domain = metric_domain(project_, metric)
    except NorthstarError:
        domain = None
    return project(list(known), max(periods_apart(at, until, grain), 0), grain, domain)


def _misses(projection: Projection | None, target: float, up: bool) -> bool:
    if projection is None or projection.value is None:
        return False
    return projection.value < target if up else projection.value > target


def _projection_words(projection: Projection) -> str:
    return (f"projection: {projection.method} (a Theil–Sen line, as `northstar targets` draws it), carried to "
            f"the {projection.grain} of the date")


def focus_alerts(project: object, series: dict[str, pd.Series], metrics: Sequence[str], start: dt.date,
                 backtest: bool, expected: Sequence[Any] = ()) -> list[Alert]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    grain = spec.north_star.grain
    out: list[Alert] = []
    for f in spec.focus:
        if f.metric not in metrics or f.metric not in series or f.target is None or f.to is None:
            continue
        values = series[f.metric]
        flags, facts = [], {}
        for p in _evaluated(values, start):
            as_of = shift_period(p, grain, 1) - dt.timedelta(days=1)
            status = focus_status(f, values[p], as_of)
            projected = _project(project, f.metric, values, p, grain, f.to, expected) if status.status == "behind" else None
            up = f.baseline is None or f.target >= f.baseline
            flags.append((p, _misses(projected, f.target, up)))
            facts[p] = (status, projected)
        for p in _onsets(flags, backtest):
            status, projected = facts[p]
            label = label_of(spec, f.metric)
            title = (f"{f.team}'s focus {label} is off track: {_seen(project, f.metric, status.value)} in the {grain} of "
                     f"{p.isoformat()}, projected {format_number(projected.value)} by {f.to.isoformat()} "
                     f"({projected.method}) against the target {format_number(f.target)}")
            why = (f"progress {status.progress * 100:.0f}% of the way with {status.elapsed * 100:.0f}% of the time gone",) \
                if status.progress is not None and status.elapsed is not None else ()
            why += (_projection_words(projected),)
            out.append(Alert(key=f"focus:{f.metric}:{p.isoformat()}", kind="focus", metric=f.metric, label=label,
                             period=p, title=title, value=status.value, expected=f.target, why=why,
                             link=link_for(spec, f.metric, p), severity="warning"))
    return out


def target_alerts(project: object, series: dict[str, pd.Series], metrics: Sequence[str], start: dt.date,
                  backtest: bool, expected: Sequence[Any] = ()) -> list[Alert]:
    spec: Spec = project.spec  # type: ignore[attr-defined]
    from northstar.analysis.progress import final_target

    ns, grain = spec.north_star, spec.north_star.grain
    final = final_target(spec)  # a series: its last period's target at the North Star's grain
    if final is None or ns.metric not in metrics or ns.metric not in series:
        return []
    goal, by = final
    values = series[ns.metric]
    up = spec.metrics[ns.metric].direction == "up"
    flags, facts = [], {}
    for p in _evaluated(values, start):
        if p > by:
            continue
        projected = _project(project, ns.metric, values, p, grain, by, expected)
        flags.append((p, _misses(projected, goal, up)))
        facts[p] = projected
    out = []
    label = label_of(spec, ns.metric)
    for p in _onsets(flags, backtest):
        projected = facts[p]
        title = (f"North Star target at risk: {label} is projected at {format_number(projected.value)} by "
                 f"{by.isoformat()} ({projected.method}) against the target "
                 f"{format_number(goal)} ({_seen(project, ns.metric, float(values[p]))} in the {grain} of "
                 f"{p.isoformat()})")
        out.append(Alert(key=f"target:{ns.metric}:{p.isoformat()}", kind="target", metric=ns.metric, label=label,
                         period=p, title=title, value=float(values[p]), expected=goal,
                         why=(_projection_words(projected),),
                         link=link_for(spec, ns.metric, p), severity="warning"))
    return out


def evaluate(project: object, start: dt.date | None = None, explain: bool = True) -> list[Fired]:
    """The alerts every rule fires: for the last complete period of each metric (a live run), or
    (with `start`, a backtest) for every period from `start` on."""
    spec: Spec = project.spec  # type: ignore[attr-defined]
    rules = rules_of(spec)
    grain = spec.north_star.grain
    metrics = list(dict.fromkeys(m for r in rules for m in watched(spec, r)))
    series = load_series(project, metrics)
    backtest = start is not None
    fired: list[Fired] = []
    cache: dict[tuple, list[Alert]] = {}
    expected = expected_annotations(project)  # their periods are no history (analysis/expected.py)
    for index, rule in enumerate(rules):
        names = watched(spec, rule)
        alerts: list[Alert] = []
        for m in names:
            values = series[m]
            if not len(values):
                continue
            first = period_start(start, grain) if backtest else values.index[-1]
            if "anomaly" in rule.checks:
                key = ("anomaly", m, first, rule.sensitivity, rule.min_history)
                if key not in cache:
                    cache[key] = anomaly_alerts(project, m, without(values, expected, m, grain, first), rule,
                                                first, explain)
                alerts += cache[key]
        if "segment" in rule.checks:
            alerts += _segments(project, series, names, rule, start)
        for check, fn in (("guardrail", guardrail_alerts), ("focus", partial(focus_alerts, expected=expected)),
                          ("target", partial(target_alerts, expected=expected))):
            if check in rule.checks:
                if backtest:
                    alerts += fn(project, series, names, period_start(start, grain), backtest=True)
                else:  # live: each metric at its own last complete period
                    alerts += _live(fn, project, series, names)
        fired += [Fired(a, index) for a in alerts]
    return fired


def _segments(project: object, series: dict[str, pd.Series], names: Sequence[str], rule: AlertRule,
              start: dt.date | None) -> list[Alert]:
    """Segment anomalies (see `alerts.segments`): every period from `start` in a backtest, else
    the North Star's last complete period."""
    from northstar.alerts.segments import load_segments, segment_alerts

    spec: Spec = project.spec  # type: ignore[attr-defined]
    totals = series if spec.north_star.metric in series else {**series, **load_series(project, [spec.north_star.metric])}
    total = totals[spec.north_star.metric]
    if not len(total):
        return []
    first = period_start(start, spec.north_star.grain) if start is not None else total.index[-1]
    frames = load_segments(project, names, total.index[-1])
    return segment_alerts(project, frames, totals, names, rule, first)


def _live(fn, project: object, series: dict[str, pd.Series], names: Sequence[str]) -> list[Alert]:
    out: list[Alert] = []
    for m in names:
        s = series.get(m)
        if s is None or not len(s):
            continue
        out += fn(project, {m: s}, [m], s.index[-1], backtest=False)
    return out
