"""`Project.targets`: the North Star's target (a value by a date, or a series) pushed down the
tree over the project's data, and the baselines of metric targets that start from the data."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

from northstar.analysis.periods import first_whole
from northstar.analysis.tree import tree_metrics
from northstar.engine.time import period_start, shift_period
from northstar.errors import QueryError
from northstar.project_periods import _date

if TYPE_CHECKING:
    from northstar.analysis.targets import TargetsReport
    from northstar.analysis.targets.series import SeriesTargets
    from northstar.project import Project


def targets_of(project: Project, target: float | None = None, by: object = None,
               method: str = "trend") -> TargetsReport | SeriesTargets:
    """What each formula input of the tree must reach for the North Star to hit its target
    (`target`/`by`, else `north_star.target`), and the growth per period that implies
    (see `northstar.analysis.targets`). A series target gives one report per period ahead
    (`SeriesTargets`); inputs with targets of their own are judged against their requirement."""
    from northstar.analysis.progress import has_metric_targets
    from northstar.analysis.targets import METHODS, TREND_PERIODS, build_targets, check_target_date
    from northstar.analysis.targets.series import build_series_targets, target_checks
    from northstar.spec.model import TargetSeries

    if method not in METHODS:
        raise QueryError(f"--method: '{method}' is not one of {', '.join(METHODS)}")
    spec_target = project.spec.north_star.target
    series = spec_target if isinstance(spec_target, TargetSeries) and target is None and by is None else None
    value = target if target is not None else (spec_target.value if spec_target else None)
    day = _date(by, "--by") or (spec_target.by if spec_target else None)
    if value is None or day is None:
        missing = "target value" if value is None else "target date"
        raise QueryError(f"no {missing}: pass --target VALUE --by DATE, or set north_star.target: "
                         "{value: ..., by: YYYY-MM-DD} in the spec")
    grain = project.spec.north_star.grain
    metrics = tree_metrics(project.spec)
    review = project.review_period()
    last = review.period
    if series is None:
        check_target_date(day, last, grain)
    # The trend window: whole periods only, from the first the data covers from its first day,
    # and for each metric only its final values (a provisional conversion is not a fall).
    coverage = project.coverage(metrics)
    first = first_whole(grain, coverage) if coverage is not None else last
    start = max(shift_period(last, grain, -(TREND_PERIODS[grain] - 1)), min(first, last))
    history = project.final_only(project.query(metrics, grain=grain, start=start, end=last), metrics, grain)
    from northstar.domains import metric_domains

    domains = metric_domains(project, metrics)
    from northstar.analysis.expected import covering, expected_annotations

    expected = expected_annotations(project)  # a planned closure is no trend (analysis/expected.py)

    def left_out(metric: str, period: dt.date) -> bool:
        return covering(expected, metric, period, grain) is not None

    def build(goal: float, when: dt.date) -> TargetsReport:
        report = build_targets(project.spec, history, last, float(goal), when, method, domains=domains,
                               provisional=review.provisional, left_out=left_out if expected else None)
        return replace(report, review=review, **project._named(report.summary))

    if series is not None:
        return build_series_targets(project.spec, series, last, build, project.target_baselines())
    report = build(value, day)
    if has_metric_targets(project.spec):
        report = replace(report, target_checks=target_checks(project.spec, report, project.target_baselines()))
    return report

def target_baselines(project: Project) -> dict[str, float | None]:
    """{metric: its value in the period of `from`} for the targets with `from` and no
    `baseline` (the start of their line; see `analysis.progress`), at the North Star's grain."""
    from northstar.analysis.progress import baseline_periods
    from northstar.numbers import number_or_none

    out: dict[str, float | None] = {}
    grain = project.spec.north_star.grain
    by_day: dict[dt.date, list[str]] = {}
    for name, day in baseline_periods(project.spec).items():
        by_day.setdefault(period_start(day, grain), []).append(name)
    for day, names in by_day.items():
        frame = project.query(names, grain=grain, start=day, end=day)
        for name in names:
            out[name] = number_or_none(frame.iloc[0][name]) if len(frame) else None
    return out

