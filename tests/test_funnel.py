"""`funnel`: stages, the bottleneck ranked by the gain in the North Star, and a SMART OMTM proposal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from northstar.checks import run_checks
from northstar.demo import generate_demo
from northstar.errors import QueryError
from northstar.project import Project
from synthetic import write_spec, write_synthetic


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("funnel")
    return folder, write_synthetic(folder).path


def test_the_gain_through_the_tree_is_exact(synthetic: tuple[Path, Path]) -> None:
    folder, data = synthetic
    project = Project.load(write_spec(folder, data, nsm="listens", extra="\n"))
    text = project.path.read_text().replace(
        "funnel: {acquisition: listeners, activation: listeners, retention: listeners, referral: listeners, "
        "revenue: payments}", "funnel: {acquisition: listeners, activation: listens_per_listener}")
    project.path.write_text(text)
    report = Project.load(project.path).funnel(period="2024-10-07")
    stages = {s.stage: s for s in report.stages}
    assert stages["retention"].metric is None and stages["retention"].nsm_gain is None
    activation = stages["activation"]
    # independently: the weekly listens and listeners from the file
    events = pd.read_parquet(data)
    listen = events[events.event == "listen"].assign(week=lambda f: f.ts.dt.tz_localize(None).dt.to_period("W-SUN")
                                                     .dt.start_time.dt.date)
    weekly = listen.groupby("week").agg(listens=("user_id", "size"), listeners=("user_id", "nunique"))
    week = pd.Timestamp("2024-10-07").date()
    assert activation.value == pytest.approx(weekly.loc[week, "listens"] / weekly.loc[week, "listeners"])
    recent = (weekly["listens"] / weekly["listeners"]).loc[:week].iloc[-12:]
    assert activation.reachable >= recent.max() - 1e-9
    expected = weekly.loc[week, "listeners"] * (activation.reachable - activation.value)
    assert activation.gain_method == "formula" and activation.nsm_gain == pytest.approx(expected, rel=1e-9)


def test_no_funnel_is_a_clear_error(synthetic: tuple[Path, Path]) -> None:
    folder, data = synthetic
    path = write_spec(folder, data, nsm="browses")
    path.write_text("\n".join(l for l in path.read_text().splitlines() if not l.startswith("funnel:")) + "\n")
    with pytest.raises(QueryError, match="funnel"):
        Project.load(path).funnel()


def test_demo_funnel_proposes_a_smart_omtm(tmp_path: Path) -> None:
    # the week of the Android outage: retention fell well beyond its noise
    generate_demo(tmp_path)
    result = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(tmp_path / "northstar.yml"), "funnel",
                             "--period", "2026-04-13", "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["stage"] for s in report["stages"]] == ["acquisition", "activation", "retention", "referral", "revenue"]
    gains = [s["nsm_gain"] or 0 for s in report["stages"]]
    bottleneck = next(s for s in report["stages"] if s["stage"] == report["bottleneck"])
    beyond_noise = [s["nsm_gain"] or 0 for s in report["stages"] if s["noise_p"] is None or s["noise_p"] < 0.05]
    assert bottleneck["nsm_gain"] == max(beyond_noise) > 0 and bottleneck["noise_p"] < 0.05
    assert max(gains) >= bottleneck["nsm_gain"]
    proposal = report["proposal"]
    assert proposal["baseline"] is not None and proposal["target"] > proposal["baseline"]
    # the proposal passes the method's OMTM rules when added to the spec
    spec = tmp_path / "northstar.yml"
    entry = (f"  - {{team: {proposal['team']}, metric: {proposal['metric']}, baseline: {proposal['baseline']}, "
             f"target: {proposal['target']}, from: {proposal['from']}, to: {proposal['to']}, owner: Kim}}\n")
    spec.write_text(spec.read_text().replace("focus:\n", "focus:\n" + entry, 1))
    report = run_checks(Project.load(spec), data=False, only=["omtm-window", "omtm-smart", "omtm-ratio",
                                                               "omtm-off-tree"])
    assert [f for f in report.findings if proposal["team"] in f.subject and proposal["metric"] in f.message] == []


def test_noise_tests_match_scipy() -> None:
    """The counting-noise p-values of `explain/noise.py` against scipy.stats and brute force."""
    from scipy import stats

    from northstar.explain.noise import count_p, share_p

    for better, worse in [(6, 1), (11, 2), (89, 76), (100, 95), (3, 0), (20, 20)]:
        want = stats.binomtest(better, better + worse, 0.5, alternative="greater").pvalue
        assert count_p(better, worse) == pytest.approx(want, rel=1e-9)
    # two proportions, pooled one-sided z-test (by hand)
    p1, n1, p0, n0 = 0.5, 8, 0.25, 4
    pooled = (p1 * n1 + p0 * n0) / (n1 + n0)
    z = (p1 - p0) / (pooled * (1 - pooled) * (1 / n1 + 1 / n0)) ** 0.5
    assert share_p(p1, n1, p0, n0) == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert share_p(0.9, 0, 0.1, 10) == 1.0


def test_a_gap_within_the_noise_of_small_numbers_is_not_the_bottleneck(tmp_path: Path) -> None:
    """Sparse data (a few dozen buyers a week): the best of twelve weeks against now is mostly
    luck; a stage whose gap is within counting noise is never named the bottleneck."""
    sys.path.insert(0, str(Path(__file__).parent))
    from messy import shop_spec, write_shop

    data = write_shop(tmp_path, seed=5, weeks=40, customers=60, visits_per_week=25)
    spec = shop_spec(tmp_path, data, funnel="funnel: {acquisition: visitors, activation: buyers_per_visitor, "
                                            "retention: repeat_rate}\n")
    report = Project.load(spec).funnel()
    for stage in report.stages:
        if stage.metric and stage.nsm_gain:
            assert stage.noise_p is not None, stage
    bottleneck = next((s for s in report.stages if s.stage == report.bottleneck), None)
    assert bottleneck is None or bottleneck.noise_p < 0.05
    if bottleneck is None:
        assert "within the noise" in report.summary or "No stage" in report.summary
