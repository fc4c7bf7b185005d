"""Invariants on the real datasets (Sparkify, Olist, Stack Exchange History Meta), which nobody
here produced: every command names the same review period (the brute-force last complete
period of the raw files); explain's contributions add up and a named segment moved with the
change; funnel gains are finite, at least 0 and exact through the tree's formulas; a
provisional value is never the basis of a verdict or an alert.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from northstar.alerts import monitor
from northstar.explain.decompose import decomposition
from northstar.explain.funnel import _evaluate_tree
from northstar.project import Project
from northstar.report import build_report
from northstar.web.service import DashboardService
from realdata import DATASETS_UNDER_TEST, Dataset, last_complete


@pytest.fixture(scope="module", params=DATASETS_UNDER_TEST, ids=lambda d: d.name)
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Path]:
    data: Dataset = request.param
    folder = tmp_path_factory.mktemp(data.name)
    return data, data.write(folder)


def test_every_command_names_the_same_review_period(dataset: tuple[Dataset, Path]) -> None:
    data, spec = dataset
    project = Project.load(spec)
    want = last_complete(data.grain, data.last_event())
    review = project.review_period()
    assert review.period == want and review.complete
    assert project.tree().period == want
    assert project.explain().period == want
    assert project.funnel().period == want
    assert {f.period for f in project.focus()} <= {want}
    assert {g.period for g in project.guardrails()} <= {want}
    assert build_report(project).period == want
    assert monitor.run(project, dry_run=True, explain=False).review.period == want
    assert want.isoformat() in monitor.digest(project, findings=False).title
    overview = DashboardService(Project.load(spec)).overview()
    assert overview["north_star"]["period"] == want.isoformat() == overview["review"]["period"]
    if project.spec.north_star.target is not None:
        assert project.targets().last_period == want


def test_partial_first_and_last_periods(dataset: tuple[Dataset, Path]) -> None:
    data, spec = dataset
    project = Project.load(spec)
    nsm = project.spec.north_star.metric
    frame = project.with_status(project.query([nsm]), [nsm])
    first, last = data.first_event(), data.last_event()
    statuses = dict(zip(frame["period"], frame["period_status"]))
    starts_inside = first.date() != frame["period"].iloc[0]
    assert (statuses[frame["period"].iloc[0]] == "partial") == starts_inside
    ends_inside = last_complete(data.grain, last) != frame["period"].iloc[-1]
    assert (statuses[frame["period"].iloc[-1]] == "partial") == ends_inside
    assert all(v in ("complete", "provisional") for v in list(statuses.values())[1:-1])


def test_explain_adds_up_and_names_a_segment_with_the_change(dataset: tuple[Dataset, Path]) -> None:
    data, spec = dataset
    project = Project.load(spec)
    exp = project.explain()
    if exp.change is None:
        return

    def check(node) -> None:  # type: ignore[no-untyped-def]
        if node.children:
            assert sum(c.contribution for c in node.children) == pytest.approx(node.contribution, rel=1e-9, abs=1e-9)
            for child in node.children:
                check(child)

    assert exp.root.contribution == pytest.approx(exp.change, rel=1e-9, abs=1e-9)
    check(exp.root)
    if exp.segments and exp.change:
        named = exp.segments[0]
        assert named.contribution * exp.change > 0, "the named segment moved with the change"


def test_funnel_gains_are_finite_and_exact_through_the_tree(dataset: tuple[Dataset, Path]) -> None:
    data, spec = dataset
    project = Project.load(spec)
    report = project.funnel()
    tree = decomposition(project.spec, project.spec.north_star.metric)
    row = project.query(tree.names(), start=report.period, end=report.period).iloc[0]
    values = {n: float(row[n]) for n in tree.names()}
    for stage in report.stages:
        if stage.nsm_gain is None:
            continue
        assert math.isfinite(stage.nsm_gain) and stage.nsm_gain >= 0, stage
        if stage.gain_method == "formula":
            want = _evaluate_tree(tree, {**values, stage.metric: stage.reachable}) - _evaluate_tree(tree, values)
            assert stage.nsm_gain == pytest.approx(max(want, 0.0), rel=1e-9, abs=1e-9)
    if report.bottleneck:
        bottleneck = next(s for s in report.stages if s.stage == report.bottleneck)
        assert bottleneck.provisional_until is None
        assert bottleneck.noise_p is None or bottleneck.noise_p < project.spec.checks.significance


def test_provisional_values_are_never_a_verdict_or_an_alert(dataset: tuple[Dataset, Path]) -> None:
    data, spec = dataset
    project = Project.load(spec)
    review = project.review_period()
    for item in [*project.focus(), *project.guardrails()]:
        if review.is_provisional(item.metric):
            assert item.status == "provisional" and item.provisional_until == review.provisional[item.metric]
        else:
            assert item.status != "provisional"
    start = review.period - dt.timedelta(days=400)
    result = monitor.backtest(project, start, explain=False)
    for alert in result.alerts:
        if alert.metric in project.spec.metrics and project.window(alert.metric):
            assert alert.period <= project.last_final_period(alert.metric), alert.title
