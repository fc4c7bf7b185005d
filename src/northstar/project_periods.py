"""The periods part of `Project`: which period is under review, how completely the data covers
each period, and how final each metric's value in it is (see `northstar.analysis.periods`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from northstar.analysis.periods import (Coverage, PeriodInfo, coverage_state, last_complete, last_final,
                                       provisional_metrics, review_reason)
from northstar.analysis.tree import reviewed_metrics
from northstar.engine.plan import dependency_order
from northstar.engine.time import period_start, to_date
from northstar.errors import QueryError
from northstar.spec.model import ConversionMetric

if TYPE_CHECKING:
    from northstar.engine import MetricEngine
    from northstar.spec.model import Spec


def _date(value: object, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return to_date(value)
    except ValueError:
        raise QueryError(f"{name}: '{value}' is not a date; write YYYY-MM-DD") from None


class PeriodsMixin:
    """Needs `spec`, `engine`, `_review` (the cached review period) and `_whole` (the unfiltered
    project whose review period a filtered one shares)."""

    spec: Spec
    engine: MetricEngine
    _review: PeriodInfo | None
    _whole: object

    def coverage(self, metrics: Sequence[str] | None = None) -> Coverage | None:
        """First and last event of the data behind `metrics` (default: the North Star), local time;
        None when those sources hold no events."""
        names = dependency_order(self.spec, tuple(metrics or (self.spec.north_star.metric,)))
        sources = sorted({getattr(self.spec.metrics[n], "source", None) for n in names} - {None})  # type: ignore[type-var]
        bounds = [b for b in (self.engine.data_bounds(s) for s in sources) if b is not None]
        if not bounds:
            return None
        return Coverage(min(b[0] for b in bounds), max(b[1] for b in bounds))

    def window(self, metric: str) -> dt.timedelta:
        """How far past a period the data must reach for the metric's value in it to be final:
        the longest conversion window among the metrics it is built from (0 for none)."""
        names = dependency_order(self.spec, (metric,))
        windows = [self.spec.metrics[n].window for n in names if isinstance(self.spec.metrics[n], ConversionMetric)]
        return max(windows, default=dt.timedelta(0))

    def review_period(self) -> PeriodInfo:
        """The period every command, page, report, digest and alert reviews by default: the last
        period of the North Star's grain that its data covers completely (see
        `northstar.analysis.periods`). Metrics whose window has not passed in it are marked
        provisional; they never move it."""
        if self._whole is not None:
            return self._whole.review_period()
        if self._review is None:
            grain = self.spec.north_star.grain
            coverage = self.coverage()
            if coverage is None:
                raise QueryError("the data holds no events, so there is no period to review")
            current, found = last_complete(grain, coverage)
            self._review = self._info(current, grain, None, review_reason(current, grain, coverage, found))
        return self._review

    def period_info(self, period: object = None, grain: str | None = None, metrics: Sequence[str] | None = None,
                    name: str = "--period") -> PeriodInfo:
        """A period (a date in it; default: the review period), how completely the data covers it
        and which metrics are provisional in it. A period the data does not reach is an error."""
        grain = grain or self.spec.north_star.grain
        chosen = _date(period, name)
        if chosen is None:
            if grain == self.spec.north_star.grain and metrics is None:
                return self.review_period()
            coverage = self.coverage(metrics)
            if coverage is None:
                raise QueryError("the data holds no events, so there is no period to show")
            current, found = last_complete(grain, coverage)
            return self._info(current, grain, metrics, review_reason(current, grain, coverage, found))
        start = period_start(chosen, grain)
        if grain == self.spec.north_star.grain and metrics is None and self._review_or_none() is not None \
                and start == self._review_or_none().period:  # type: ignore[union-attr]
            return self.review_period()  # the review period asked for by a date in it: the same answer
        info = self._info(start, grain, metrics, f"asked for ({name} {chosen.isoformat()})")
        if info.state == "outside":
            coverage = self.coverage(metrics)
            span = (f"the data covers {coverage.first_day.isoformat()} to {coverage.last_day.isoformat()}"
                    if coverage else "the data holds no events")
            raise QueryError(f"{name}: the {grain} of {info.period.isoformat()} has no data: {info.reason} ({span})")
        return info

    def _review_or_none(self) -> PeriodInfo | None:
        try:
            return self.review_period()
        except QueryError:
            return None

    def _info(self, period: dt.date, grain: str, metrics: Sequence[str] | None, why: str) -> PeriodInfo:
        coverage = self.coverage(metrics)
        state, reason = coverage_state(period, grain, coverage)
        names = list(metrics) if metrics is not None else reviewed_metrics(self.spec)
        windows = {m: self.window(m) for m in names}
        ends = {m: c.last for m in names if windows[m] and (c := self.coverage([m])) is not None}
        return PeriodInfo(period, grain, state, reason, provisional_metrics(period, grain, windows, ends), why)

    def period_statuses(self, periods: Iterable[object], metrics: Sequence[str], grain: str | None = None) -> list[str]:
        """For each period: complete | partial (the data begins or ends inside it) | provisional
        (a metric's window has not passed in it) | no data (the data does not reach it)."""
        grain = grain or self.spec.north_star.grain
        coverage = self.coverage(metrics)
        windows = {m: self.window(m) for m in metrics}
        ends = {m: c.last for m in metrics if windows[m] and (c := self.coverage([m])) is not None}
        out: dict[dt.date, str] = {}
        labels = [to_date(p) for p in periods]
        for when in dict.fromkeys(labels):
            state = coverage_state(when, grain, coverage)[0]
            if state == "outside":
                out[when] = "no data"
            elif state == "partial":
                out[when] = "partial"
            else:
                out[when] = "provisional" if provisional_metrics(when, grain, windows, ends) else "complete"
        return [out[w] for w in labels]

    def with_status(self, frame: pd.DataFrame, metrics: Sequence[str], grain: str | None = None) -> pd.DataFrame:
        """A query's result with a `period_status` column after `period` (see `period_statuses`)."""
        frame = frame.copy()
        frame.insert(1, "period_status", self.period_statuses(frame["period"], metrics, grain) if len(frame) else [])
        return frame

    def last_complete_period(self, grain: str | None = None, metrics: Sequence[str] | None = None) -> dt.date:
        """The latest period fully covered by the data of the sources behind `metrics` (default:
        the North Star). Windows do not move it: see `last_final_period`."""
        grain = grain or self.spec.north_star.grain
        coverage = self.coverage(metrics)
        if coverage is None:
            raise QueryError("the data holds no events, so there is no complete period")
        return last_complete(grain, coverage)[0]

    def last_final_period(self, metric: str, grain: str | None = None) -> dt.date:
        """The latest complete period in which `metric`'s value is final (its window has passed):
        what anomalies, leads, baselines and verdicts may use."""
        grain = grain or self.spec.north_star.grain
        coverage = self.coverage([metric])
        if coverage is None:
            raise QueryError("the data holds no events, so there is no complete period")
        return last_final(grain, coverage, self.window(metric))

    def final_only(self, frame: pd.DataFrame, metrics: Sequence[str], grain: str | None = None) -> pd.DataFrame:
        """`frame` (a query's result) with each metric's provisional values (periods after its
        last final one) set to null: what may be used as final."""
        grain = grain or self.spec.north_star.grain
        frame = frame.copy()
        for metric in dict.fromkeys(metrics):
            if metric not in frame.columns or not self.window(metric):
                continue
            last = self.last_final_period(metric, grain)
            later = frame["period"].map(lambda p: to_date(p) > last).astype(bool)
            frame[metric] = frame[metric].astype(float).where(~later)
        return frame

