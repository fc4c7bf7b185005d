"""`Project`: the one entry point. The CLI, web app, reports and alerts are thin layers over it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from northstar.analysis.periods import (PeriodInfo, last_day)
from northstar.analysis.status import FocusStatus, GuardrailStatus, focus_status, guardrail_status
from northstar.project_periods import PeriodsMixin, _date
from northstar.analysis.tree import TreeReport, build_tree, tree_metrics
from northstar.engine import MetricEngine, MetricQuery
from northstar.engine.datacheck import check_data
from northstar.engine.time import period_start, shift_period
from northstar.errors import Problem, QueryError
from northstar.spec.load import LoadedSpec, load_spec
from northstar.spec.model import Spec

if TYPE_CHECKING:
    from northstar.analysis.windows import WindowComparison
    from northstar.engine.backends import Backend
    from northstar.analysis.cohorts import CohortReport
    from northstar.analysis.targets import TargetsReport
    from northstar.analysis.targets.series import SeriesTargets
    from northstar.checks.candidates import CandidateReport
    from northstar.checks.findings import CheckReport
    from northstar.explain.funnel import FunnelReport
    from northstar.explain.model import Explanation
    from northstar.refresh import RefreshReport
    from northstar.spec.annotations import Annotation
    from collections.abc import Callable


class Project(PeriodsMixin):
    """A loaded spec and the engine that computes it."""

    def __init__(self, loaded: LoadedSpec, backend: "Backend | None" = None, north_star: str | None = None) -> None:
        # the spec as the North Star worked on sees it (the primary by default; see spec/north_stars.py)
        view = loaded.spec.for_north_star(north_star)
        self.loaded = loaded if view is loaded.spec else replace(loaded, spec=view)
        self._backend = backend  # None: the engine the spec's `engine:` block names (a sandbox for untrusted specs)
        self._engine: MetricEngine | None = None
        self.debug = False  # let analyses raise instead of reporting a failed rule
        self._review: PeriodInfo | None = None
        self.segment: str | None = None  # the customers every answer is for (`where`); None: all
        self._whole: Project | None = None

    @classmethod
    def load(cls, path: str | Path = "northstar.yml") -> "Project":
        """Load and validate a spec (raises SpecError listing every problem)."""
        return cls(load_spec(path))

    def where(self, where: str | None, option: str = "--where") -> "Project":
        """This project for one segment of the customers (`country = 'DE'`): every metric, tree,
        explanation, funnel and target computed on the rows that match, in the same review period
        as the whole (see `MetricEngine.filtered`). An empty filter is the project itself."""
        from northstar.engine.plan import check_segment

        if not where or not where.strip():
            return self
        whole = self._whole or self
        child = Project(self.loaded, self._backend, self.north_star_name)
        child.debug, child._whole = self.debug, whole
        child.segment = check_segment(self.spec, where, option)
        child._engine = whole.engine.filtered(child.segment)
        return child

    def for_north_star(self, name: str | None, option: str = "--north-star") -> "Project":
        """This project for the North Star `name` of the spec's `north_stars:` (None: this one): its
        tree, explanations, targets, focus metrics, guardrails and checks. The sources and metrics
        are the same, so it shares this project's engine and caches. QueryError naming `option`
        for an unknown name."""
        from northstar.spec.north_stars import for_north_star

        if name is None or name == self.north_star_name:
            for_north_star(self.spec, name, option)  # an unknown name is an error even here
            return self
        whole = self.whole
        child = Project(whole.loaded, whole._backend)
        child.loaded = replace(whole.loaded, spec=for_north_star(whole.spec, name, option))
        child.debug = self.debug
        child._engine = whole.engine  # the same sources and metrics: one engine, one cache
        return child.where(self.segment) if self.segment else child

    @property
    def north_star_name(self) -> str | None:
        """The name of the North Star worked on (None: the spec has one `north_star:`)."""
        return self.spec.north_star_name

    def north_stars(self) -> list["Project"]:
        """This project for each of the spec's North Stars, the primary first (itself alone for a
        spec with one `north_star:`)."""
        return [self.for_north_star(name) for name in self.spec.north_star_names] or [self]

    def _named(self, summary: str) -> dict[str, object]:
        """A report's `where` and its summary naming the segment it is for."""
        return {"where": self.segment, "summary": f"For {self.segment}: {summary}" if self.segment else summary}

    @property
    def whole(self) -> "Project":
        """The project for all customers (itself when not filtered by `where`)."""
        return self._whole or self

    @property
    def spec(self) -> Spec:
        return self.loaded.spec

    @property
    def path(self) -> Path:
        return self.loaded.path

    @property
    def engine(self) -> MetricEngine:
        if self._engine is None:
            # one engine for every North Star (the sources and metrics of all: a view of one sees
            # fewer, `spec/ownership.py`), so all views share its stored results
            every = self.spec._every_north_star
            self._engine = MetricEngine(self.loaded if every is None else replace(self.loaded, spec=every),
                                        self._backend)
        return self._engine

    # ---- validation ------------------------------------------------------------------------

    def validate(self, data: bool = True) -> list[Problem]:
        """Warnings of the spec, then (with `data`) every problem found in the data."""
        problems = list(self.loaded.warnings)
        if data:
            problems += check_data(self.engine)
        return problems

    def annotations(self, metric: str | None = None, start: object = None, end: object = None,
                    grain: str | None = None) -> list["Annotation"]:
        """The annotations (the spec's and those added beside it, `northstar/annotations.py`) about
        `metric` (any: None) and this project's segment with a day in the periods of `grain` from
        the one of `start` to the one of `end` (no grain: the days themselves), earliest first."""
        from northstar.annotations import all_annotations, overlapping

        first, last = _date(start, "--from"), _date(end, "--to")
        if grain is not None:
            first = period_start(first, grain) if first else None
            last = last_day(period_start(last, grain), grain) if last else None
        return overlapping(all_annotations(self.loaded), metric, first, last, self.segment)

    # ---- metrics ---------------------------------------------------------------------------

    def query(self, metrics: str | Sequence[str], grain: str | None = None, by: str | Iterable[str] = (),
              where: str | None = None, start: object = None, end: object = None,
              compare: bool = False, window: str | None = None) -> pd.DataFrame:
        """Metric series: columns `period`, the `by` dimensions, then one per metric.

        Periods are whole periods of the grain (default: the North Star's) in the spec's time
        zone; `start`/`end` pick the periods whose first day falls between the period of
        `start` and `end`. Empty periods are 0 for counts and sums, null for ratios.
        With `compare`, `<metric>_previous` and `<metric>_last_year` follow each metric.
        With `window` (7d, 28d, mtd, qtd; see `rolling`): rows `window` = current, previous,
        last_year with their `first` and `last` day, each metric aggregated over the window.
        """
        names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        dims = (by,) if isinstance(by, str) else tuple(by)
        self._check_visible(names)
        if window is not None:
            if grain or start or end or compare:
                raise QueryError("--window: windows set their own dates; leave out --grain, --from, --to "
                                 "and --compare")
            return self.window_values(names, window, dims, where)[1]
        request = MetricQuery(metrics=names, grain=grain or self.spec.north_star.grain, by=dims,
                              where=where or None, start=_date(start, "--from"), end=_date(end, "--to"),
                              compare=compare)
        return self.engine.query(request)

    def _check_visible(self, names: Sequence[str]) -> None:
        """QueryError for a metric of another North Star than this one (`spec/ownership.py`)."""
        every = self.spec._every_north_star
        for name in names if every is not None else ():
            if name not in self.spec.metrics and name in every.metrics:
                from northstar.engine.plan import unknown_metric
                from northstar.spec.ownership import metric_owners

                owner = metric_owners(every).get(name)
                raise QueryError(f"{unknown_metric(self.spec, name)} ('{name}' belongs to North Star '{owner}': "
                                 f"--north-star {owner})")

    def rolling(self, window: str) -> "WindowComparison":
        """The windows of `window` (7d, 28d, mtd, qtd) that every command compares: ending on the
        last complete local day of the North Star's data (see `northstar.analysis.windows`)."""
        from northstar.rolling import rolling

        return rolling(self, window)

    def window_values(self, metrics: Sequence[str], window: str, by: Sequence[str] = (),
                      where: str | None = None) -> tuple["WindowComparison", pd.DataFrame]:
        """The windows and a frame: `window` (current, previous, last_year), `first`, `last`,
        the `by` dimensions, one column per metric, its aggregate over the whole window (a
        distinct count is the distinct entities in the window). A window the data does not
        cover from its first day has null values (see `northstar.rolling`)."""
        from northstar.rolling import window_values

        return window_values(self, metrics, window, by, where)

    def tree(self, period: object = None, window: str | None = None) -> TreeReport:
        """The North Star and its tree for a period (default: the review period), or over a rolling
        `window` (7d, 28d, mtd, qtd) against the window before."""
        grain = self.spec.north_star.grain
        metrics = tree_metrics(self.spec)
        if window is not None:
            from northstar.rolling import window_tree

            return window_tree(self, window, period)
        info = self.period_info(period)
        start = info.period
        frame = self.query(metrics, grain=grain, start=start, end=start, compare=True)
        values = {}
        if len(frame):
            row = frame.iloc[0]
            values = {m: (row[m], row[f"{m}_previous"]) for m in metrics}
        previous = self._info(shift_period(start, grain, -1), grain, None, "the period before")
        # targets are set for all customers: a segment's tree is not measured against them
        targets = self.segment is None
        report = build_tree(self.spec, values, start, shift_period(start, grain, -1), info, previous,
                            targets=targets, baselines=self.target_baselines() if targets else None)
        return replace(report, where=self.segment)

    def _values_at(self, metrics: Sequence[str], period: object) -> tuple[PeriodInfo, dict[str, object]]:
        grain = self.spec.north_star.grain
        info = self.period_info(period)
        frame = self.query(list(dict.fromkeys(metrics)), grain=grain, start=info.period, end=info.period)
        row = frame.iloc[0] if len(frame) else None
        return info, {m: (row[m] if row is not None else None) for m in metrics}

    def _last_final_values(self, metrics: Sequence[str]) -> dict[str, tuple[dt.date, object]]:
        """{metric: (its last final period, its value there)} for provisional metrics."""
        grain = self.spec.north_star.grain
        out: dict[str, tuple[dt.date, object]] = {}
        for metric in dict.fromkeys(metrics):
            when = self.last_final_period(metric, grain)
            frame = self.query([metric], grain=grain, start=when, end=when)
            out[metric] = (when, frame.iloc[0][metric] if len(frame) else None)
        return out

    def guardrails(self, period: object = None) -> list[GuardrailStatus]:
        """Each guardrail's value in a period (default: the review period) and its status; a value
        whose window has not passed there is provisional: no verdict, and the last final one beside."""
        if not self.spec.guardrails:
            return []
        info, values = self._values_at([g.metric for g in self.spec.guardrails], period)
        waiting = [g.metric for g in self.spec.guardrails if info.is_provisional(g.metric)]
        finals = self._last_final_values(waiting) if waiting else {}
        out = []
        for g in self.spec.guardrails:
            if g.metric in finals:
                when, value = finals[g.metric]
                earlier = guardrail_status(g, value, when)
                out.append(guardrail_status(g, values[g.metric], info.period,
                                            provisional_until=info.provisional[g.metric], last_final=earlier))
            else:
                out.append(guardrail_status(g, values[g.metric], info.period))
        return out

    def check(self, data: bool = True, only: Sequence[str] = ()) -> "CheckReport":
        """Judge the North Star, tree, OMTMs and funnel against the method (see `northstar.checks`)."""
        if self._whole is not None:  # the checks judge the spec and the data of all customers
            return self._whole.check(data, only)
        from northstar.checks import run_checks
        from northstar.checks.stored import stored_report

        return stored_report(self, data, only, lambda: run_checks(self, data=data, only=only))

    def candidates(self, metrics: Sequence[str] = (), against: str | None = None) -> "CandidateReport":
        """Rank candidate North Stars on the data (see `northstar.checks.candidates`)."""
        from northstar.checks.candidates import rank_candidates

        return rank_candidates(self, metrics, against)

    def refresh(self, since: object = None, full: bool = False,
                progress: "Callable[[str, int, int], None] | None" = None, every: bool = False) -> "RefreshReport":
        """Bring the stored per-period results up to date with the data by running the daily set
        (tree, overview, explain, a monitor pass that sends nothing, checks): see `refresh.py`.
        `every`: for every North Star of the spec, not only this one."""
        from northstar.refresh import refresh

        return refresh(self, _date(since, "--since"), full, progress, every)

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
                by: Sequence[str] = (), window: str | None = None) -> "Explanation":
        """Why a metric moved: exact split through the tree, segments, drivers (see `northstar.explain`);
        with `window`, between rolling windows (`vs`: previous or year; see `northstar.rolling`)."""
        from northstar.explain import explain

        from northstar.explain.annotated import annotated

        if window is not None:
            from northstar.rolling import window_explain

            return annotated(self, window_explain(self, metric, window, vs, period, by))

        result = annotated(self, explain(self, metric, period, vs, by))
        return replace(result, review=self.period_info(result.period), **self._named(result.summary))

    def funnel(self, period: object = None, by: str | None = None) -> "FunnelReport":
        """The AARRR stages for a period, the bottleneck and an OMTM for it (see `explain/funnel.py`)."""
        from northstar.explain.funnel import funnel

        report = funnel(self, period, by)
        return replace(report, **self._named(report.summary))

    def targets(self, target: float | None = None, by: object = None,
                method: str = "trend") -> "TargetsReport | SeriesTargets":
        """What each formula input of the tree must reach for the North Star to hit its target
        (`target`/`by`, else `north_star.target`), and the growth per period that implies
        (see `northstar.analysis.targets.of_project`)."""
        from northstar.analysis.targets.of_project import targets_of

        return targets_of(self, target, by, method)

    def target_baselines(self) -> dict[str, float | None]:
        """{metric: its value in the period of `from`} for the targets with `from` and no `baseline`."""
        from northstar.analysis.targets.of_project import target_baselines

        return target_baselines(self)

    def focus(self, period: object = None) -> list[FocusStatus]:
        """Each team's OMTM in a period (default: the review period): value, progress from baseline
        to target, time gone, on track or not; a provisional value gets no verdict."""
        if not self.spec.focus:
            return []
        info, values = self._values_at([f.metric for f in self.spec.focus], period)
        as_of = info.end
        waiting = [f.metric for f in self.spec.focus if info.is_provisional(f.metric)]
        finals = self._last_final_values(waiting) if waiting else {}
        out = []
        for f in self.spec.focus:
            if f.metric in finals:
                when, value = finals[f.metric]
                earlier = focus_status(f, value, last_day(when, info.grain), period=when)
                out.append(focus_status(f, values[f.metric], as_of, provisional_until=info.provisional[f.metric],
                                        last_final=earlier, period=info.period))
            else:
                out.append(focus_status(f, values[f.metric], as_of, period=info.period))
        return out
