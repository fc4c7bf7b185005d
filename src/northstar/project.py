"""`Project`: the one entry point. The CLI, web app, reports and alerts are thin layers over it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from northstar.analysis.status import FocusStatus, GuardrailStatus, focus_status, guardrail_status
from northstar.analysis.tree import TreeReport, build_tree, tree_metrics
from northstar.engine import MetricEngine, MetricQuery
from northstar.engine.plan import dependency_order
from northstar.engine.datacheck import check_data
from northstar.engine.time import period_start, shift_period, to_date
from northstar.errors import Problem, QueryError
from northstar.spec.load import LoadedSpec, load_spec
from northstar.spec.model import ConversionMetric, Spec

if TYPE_CHECKING:
    from northstar.analysis.cohorts import CohortReport
    from northstar.analysis.targets import TargetsReport
    from northstar.checks.candidates import CandidateReport
    from northstar.checks.findings import CheckReport
    from northstar.explain.funnel import FunnelReport
    from northstar.explain.model import Explanation


def _date(value: object, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return to_date(value)
    except ValueError:
        raise QueryError(f"{name}: '{value}' is not a date; write YYYY-MM-DD") from None


class Project:
    """A loaded spec and the engine that computes it."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded
        self._engine: MetricEngine | None = None
        self.debug = False  # let analyses raise instead of reporting a failed rule

    @classmethod
    def load(cls, path: str | Path = "northstar.yml") -> "Project":
        """Load and validate a spec (raises SpecError listing every problem)."""
        return cls(load_spec(path))

    @property
    def spec(self) -> Spec:
        return self.loaded.spec

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def engine(self) -> MetricEngine:
        if self._engine is None:
            self._engine = MetricEngine(self.loaded)
        return self._engine

    # ---- validation ------------------------------------------------------------------------

    def validate(self, data: bool = True) -> list[Problem]:
        """Warnings of the spec, then (with `data`) every problem found in the data."""
        problems = list(self.loaded.warnings)
        if data:
            problems += check_data(self.engine)
        return problems

    # ---- metrics ---------------------------------------------------------------------------

    def query(self, metrics: str | Sequence[str], grain: str | None = None, by: str | Iterable[str] = (),
              where: str | None = None, start: object = None, end: object = None,
              compare: bool = False) -> pd.DataFrame:
        """Metric series: columns `period`, the `by` dimensions, then one per metric.

        Periods are whole periods of the grain (default: the North Star's) in the spec's time
        zone; `start`/`end` pick the periods whose first day falls between the period of
        `start` and `end`. Empty periods are 0 for counts and sums, null for ratios.
        With `compare`, `<metric>_previous` and `<metric>_last_year` follow each metric.
        """
        names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        dims = (by,) if isinstance(by, str) else tuple(by)
        request = MetricQuery(metrics=names, grain=grain or self.spec.north_star.grain, by=dims,
                              where=where or None, start=_date(start, "--from"), end=_date(end, "--to"),
                              compare=compare)
        return self.engine.query(request)

    def last_complete_period(self, grain: str | None = None, metrics: Sequence[str] | None = None) -> dt.date:
        """The latest period fully covered by the data of the sources behind `metrics`."""
        grain = grain or self.spec.north_star.grain
        names = dependency_order(self.spec, tuple(metrics or (self.spec.north_star.metric,)))
        sources = {getattr(self.spec.metrics[n], "source", None) for n in names} - {None}
        ends = [b[1] for b in (self.engine.data_bounds(s) for s in sources) if b is not None]  # type: ignore[arg-type]
        if not ends:
            raise QueryError("the data holds no events, so there is no complete period")
        last_day = max(ends).date()
        # A conversion is only final once its window has passed after the period's end.
        windows = [self.spec.metrics[n].window for n in names if isinstance(self.spec.metrics[n], ConversionMetric)]
        maturity = max(windows, default=dt.timedelta(0))
        current = period_start(last_day, grain)
        while shift_period(current, grain, 1) - dt.timedelta(days=1) + maturity > last_day:
            current = shift_period(current, grain, -1)
        return current

    def tree(self, period: object = None) -> TreeReport:
        """The North Star and its tree for a period (default: the last complete one)."""
        grain = self.spec.north_star.grain
        metrics = tree_metrics(self.spec)
        chosen = _date(period, "--period")
        start = period_start(chosen, grain) if chosen else self.last_complete_period(grain, metrics)
        frame = self.query(metrics, grain=grain, start=start, end=start, compare=True)
        values = {}
        if len(frame):
            row = frame.iloc[0]
            values = {m: (row[m], row[f"{m}_previous"]) for m in metrics}
        return build_tree(self.spec, values, start, shift_period(start, grain, -1))

    def _values_at(self, metrics: Sequence[str], period: object) -> tuple[dt.date, dict[str, object]]:
        grain = self.spec.north_star.grain
        chosen = _date(period, "--period")
        start = period_start(chosen, grain) if chosen else self.last_complete_period(grain, metrics)
        frame = self.query(list(dict.fromkeys(metrics)), grain=grain, start=start, end=start)
        row = frame.iloc[0] if len(frame) else None
        return start, {m: (row[m] if row is not None else None) for m in metrics}

    def guardrails(self, period: object = None) -> list[GuardrailStatus]:
        """Each guardrail's value in a period (default: the last complete one) and its status."""
        if not self.spec.guardrails:
            return []
        # Each at its own last complete (mature) period; one query per distinct period.
        by_period: dict[object, list[str]] = {}
        for guard in self.spec.guardrails:
            when = period if period is not None else self.last_complete_period(metrics=[guard.metric])
            by_period.setdefault(when, []).append(guard.metric)
        found: dict[str, tuple[dt.date, object]] = {}
        for when, metrics in by_period.items():
            start, values = self._values_at(metrics, when)
            found.update({m: (start, values[m]) for m in metrics})
        return [guardrail_status(g, found[g.metric][1], found[g.metric][0]) for g in self.spec.guardrails]

    def check(self, data: bool = True, only: Sequence[str] = ()) -> "CheckReport":
        """Judge the North Star, tree, OMTMs and funnel against the method (see `northstar.checks`)."""
        from northstar.checks import run_checks

        return run_checks(self, data=data, only=only)

    def candidates(self, metrics: Sequence[str] = (), against: str | None = None) -> "CandidateReport":
        """Rank candidate North Stars on the data (see `northstar.checks.candidates`)."""
        from northstar.checks.candidates import rank_candidates

        return rank_candidates(self, metrics, against)

    def cohorts(self, metric: str, grain: str | None = None, start: object = None,
                end: object = None, partial: bool = False) -> "CohortReport":
        """Retention by cohort of an entity metric (a `count_distinct` of the entity, or a retention).

        Cohort = the period (at `grain`, default the North Star's) of an entity's first event
        matching the metric's `where` over all the data; for each later period up to the data's
        last complete one (with `partial`, its last one), the cohort's entities active again and
        the rate. `start`/`end` keep the cohorts whose period starts between the period of
        `start` and `end`.
        """
        from northstar.analysis.cohorts import build_cohorts
        from northstar.engine.cohorts import check_entity_metric, check_grain, cohort_activity, last_period

        grain = check_grain(grain or self.spec.north_star.grain)
        check_entity_metric(self.spec, metric)
        first, last = _date(start, "--from"), _date(end, "--to")
        if first and last and first > last:
            raise QueryError(f"--from {first} is after --to {last}")
        first = period_start(first, grain) if first else None
        last = period_start(last, grain) if last else None
        bounds = last_period(self.engine, metric, grain)
        if bounds is None:
            return build_cohorts(metric, grain, [], None)
        counts = cohort_activity(self.engine, metric, grain, first, last)
        return build_cohorts(metric, grain, counts, *bounds, partial=partial)

    def explain(self, metric: str | None = None, period: object = None, vs: str = "previous",
                by: Sequence[str] = ()) -> "Explanation":
        """Why a metric moved: exact split through the tree, segments, drivers (see `northstar.explain`)."""
        from northstar.explain import explain

        return explain(self, metric, period, vs, by)

    def funnel(self, period: object = None, by: str | None = None) -> "FunnelReport":
        """The AARRR stages for a period, the bottleneck and an OMTM for it (see `explain/funnel.py`)."""
        from northstar.explain.funnel import funnel

        return funnel(self, period, by)

    def targets(self, target: float | None = None, by: object = None, method: str = "trend") -> "TargetsReport":
        """What each formula input of the tree must reach for the North Star to hit its target
        (`target`/`by`, else `north_star.target`), and the growth per period that implies
        (see `northstar.analysis.targets`)."""
        from northstar.analysis.targets import METHODS, TREND_PERIODS, build_targets, check_target_date

        if method not in METHODS:
            raise QueryError(f"--method: '{method}' is not one of {', '.join(METHODS)}")
        spec_target = self.spec.north_star.target
        value = target if target is not None else (spec_target.value if spec_target else None)
        day = _date(by, "--by") or (spec_target.by if spec_target else None)
        if value is None or day is None:
            missing = "a target value" if value is None else "a target date"
            raise QueryError(f"no {missing}: pass --target VALUE --by DATE, or set north_star.target: "
                             "{value: ..., by: YYYY-MM-DD} in the spec")
        grain = self.spec.north_star.grain
        metrics = tree_metrics(self.spec)
        last = self.last_complete_period(grain, metrics)
        check_target_date(day, last, grain)
        # The trend window: whole periods only, from the one after the data's first (partial) period.
        names = dependency_order(self.spec, tuple(metrics))
        sources = {getattr(self.spec.metrics[n], "source", None) for n in names} - {None}
        starts = [b[0] for b in (self.engine.data_bounds(s) for s in sources) if b is not None]  # type: ignore[arg-type]
        first = shift_period(period_start(min(starts).date(), grain), grain, 1) if starts else last
        start = max(shift_period(last, grain, -(TREND_PERIODS[grain] - 1)), min(first, last))
        history = self.query(metrics, grain=grain, start=start, end=last)
        return build_targets(self.spec, history, last, float(value), day, method)

    def focus(self, period: object = None) -> list[FocusStatus]:
        """Each team's OMTM: value, progress from baseline to target, time gone, on track or not."""
        if not self.spec.focus:
            return []
        start, values = self._values_at([f.metric for f in self.spec.focus], period)
        as_of = shift_period(start, self.spec.north_star.grain, 1) - dt.timedelta(days=1)
        return [focus_status(f, values[f.metric], as_of) for f in self.spec.focus]
