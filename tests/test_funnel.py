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
    generate_demo(tmp_path)
    result = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(tmp_path / "northstar.yml"), "funnel",
                             "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["stage"] for s in report["stages"]] == ["acquisition", "activation", "retention", "referral", "revenue"]
    gains = [s["nsm_gain"] or 0 for s in report["stages"]]
    bottleneck = next(s for s in report["stages"] if s["stage"] == report["bottleneck"])
    assert bottleneck["nsm_gain"] == max(gains) > 0
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
