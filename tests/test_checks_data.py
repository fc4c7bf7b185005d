"""Data rules and candidates on generated data whose answers are known (tests/synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from northstar.analysis.lead import lead
from northstar.analysis.signal import grain_signal
from northstar.checks import RULES, run_checks
from northstar.checks.candidates import rank_candidates
from northstar.checks.findings import Finding, rule
from northstar.project import Project
from synthetic import DUPLICATE_WEEK, LEAD_LAG, START, write_spec, write_synthetic


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("synthetic")
    return folder, write_synthetic(folder).path


def checks(data: tuple[Path, Path], rules: list[str], **spec: str) -> list[Finding]:
    folder, path = data
    report = run_checks(Project.load(write_spec(folder, path, **spec)), only=rules)
    assert all(f.evidence.get("evaluated", True) for f in report.findings), report.findings
    return list(report.findings)


# ---- the statistics, against brute force --------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(lag=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_lead_finds_the_planted_lag(lag: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = pd.Series(np.exp(np.cumsum(rng.normal(0, 0.1, 90))) * 100)
    y = x.shift(lag) * 3 * np.exp(rng.normal(0, 0.01, 90))
    found = lead(x, y, max_lag=8)
    assert found is not None and found.lag == lag
    assert found.correlation > 0.9
    # brute force: the correlation at that lag is numpy's
    gx, gy = np.log(x).diff(), np.log(y).diff()
    pair = pd.concat([gx.shift(lag), gy], axis=1).dropna()
    assert found.correlation == pytest.approx(np.corrcoef(pair.iloc[:, 0], pair.iloc[:, 1])[0, 1])
    if lag:
        assert found.leads()


def test_noise_does_not_lead() -> None:
    rng = np.random.default_rng(3)
    x = pd.Series(100 * np.exp(rng.normal(0, 0.1, 100)))
    y = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.1, 100))))
    found = lead(x, y, max_lag=8)
    assert found is not None and not found.leads()


def test_grain_signal_sees_the_weekday_pattern() -> None:
    days = pd.date_range("2024-01-01", periods=364, freq="D")
    rng = np.random.default_rng(1)
    values = pd.Series(rng.poisson(np.where(days.day_of_week < 5, 800, 250)), index=days.date)
    signal = grain_signal(values, "day")
    assert signal is not None and signal.seasonal_share > 0.9 and signal.noise > 0.3
    weekly = values.groupby(pd.Series(days - pd.to_timedelta(days.day_of_week, unit="D"), index=values.index)).sum()
    assert grain_signal(weekly, "week").days_to_see < signal.days_to_see


# ---- rules: each fires where the data says so, and not where it does not --------------------------

def test_not_leading(data: tuple[Path, Path]) -> None:
    [passed] = checks(data, ["not-leading"], nsm="listens")  # it leads: said, as information
    assert passed.severity == "info" and passed.evidence["leads"] and passed.evidence["revenue"]["lag"] == 2
    assert "leads revenue" in passed.message and "2 weeks later" in passed.message
    found = checks(data, ["not-leading"], nsm="browses")
    assert [(f.rule, f.severity) for f in found] == [("not-leading", "warning")]
    assert found[0].evidence["revenue_metric"] == "revenue"
    assert set(found[0].evidence["revenue"]) >= {"lag", "correlation", "p_value"}


def test_revenue_in_disguise(data: tuple[Path, Path]) -> None:
    found = checks(data, ["revenue-in-disguise"], nsm="payments")
    assert [f.rule for f in found] == ["revenue-in-disguise"] and found[0].evidence["correlation_lag0"] > 0.99
    assert checks(data, ["revenue-in-disguise"], nsm="listens") == []


def test_grain_noisy(data: tuple[Path, Path]) -> None:
    found = checks(data, ["grain-noisy"], nsm="browses", grain="day")
    assert [f.rule for f in found] == ["grain-noisy"]
    assert found[0].evidence["best_grain"] == "week"
    assert "day of the week" in found[0].message and "grain: week" in found[0].fix
    assert checks(data, ["grain-noisy"], nsm="browses", grain="week") == []


def test_formula_mismatch(data: tuple[Path, Path]) -> None:
    assert checks(data, ["formula-mismatch"], nsm="listens") == []  # listeners * listens_per_listener
    tree = "    listens:\n      formula: listeners * browses_per_listener\n"
    found = checks(data, ["formula-mismatch"], nsm="listens", tree=tree)
    assert [(f.rule, f.severity, f.subject) for f in found] == [("formula-mismatch", "error", "listens")]
    # independent arithmetic: the worst period's gap is listens - browses there
    events = pd.read_parquet(data[1])
    weekly = events.assign(week=events.ts.dt.to_period("W-SUN").dt.start_time.dt.date).groupby(["week", "event"]).size()
    worst = pd.Timestamp(found[0].evidence["worst_period"]).date()
    assert found[0].evidence["gap"] == pytest.approx(weekly[(worst, "listen")] - weekly[(worst, "browse")])


def test_driver_unconfirmed(data: tuple[Path, Path]) -> None:
    confirmed = "    payments:\n      drivers: [{metric: listens, direction: up, lag: 2}]\n"
    assert checks(data, ["driver-unconfirmed"], nsm="payments", tree=confirmed) == []
    wrong_lag = "    payments:\n      drivers: [{metric: listens, direction: up, lag: 1}]\n"
    found = checks(data, ["driver-unconfirmed"], nsm="payments", tree=wrong_lag)
    assert len(found) == 1 and found[0].evidence["best"]["lag"] == LEAD_LAG and "lag: 2" in found[0].fix
    noise = "    payments:\n      drivers: [{metric: browses, direction: up, lag: 1}]\n"
    found = checks(data, ["driver-unconfirmed"], nsm="payments", tree=noise)
    assert len(found) == 1 and "do not show it" in found[0].message


def test_not_for_all_customers(data: tuple[Path, Path]) -> None:
    found = checks(data, ["not-for-all-customers"], nsm="listens")
    assert [f.subject for f in found] == ["country = BE"]
    assert found[0].evidence["reach"] < 0.2 < 0.8 < found[0].evidence["reach_overall"] + 0.1
    assert checks(data, ["not-for-all-customers"], nsm="browses") == []


EXTERNAL = "checks:\n  external_dimensions: [partner]\n"


def test_external_dependency(data: tuple[Path, Path]) -> None:
    found = checks(data, ["external-dependency"], nsm="listens", extra=EXTERNAL)
    assert [f.subject for f in found] == ["partner = acme"]
    assert found[0].evidence["share"] == pytest.approx(0.7, abs=0.02)
    assert checks(data, ["external-dependency"], nsm="browses", extra=EXTERNAL) == []


def test_external_dependency_reads_the_declared_dimensions_not_names(data: tuple[Path, Path]) -> None:
    """Which dimensions are outside parties is declared: a dimension named `partner` is not one by its
    name (a rename must not change the verdict), and `[]` says there are none."""
    folder, path = data
    report = run_checks(Project.load(write_spec(folder, path, nsm="listens")), only=["external-dependency"])
    [note] = report.findings
    assert note.severity == "info" and "checks.external_dimensions" in note.message
    assert checks(data, ["external-dependency"], nsm="listens", extra="checks:\n  external_dimensions: []\n") == []


def test_duplicate_inflation(data: tuple[Path, Path]) -> None:
    found = checks(data, ["duplicate-inflation"], nsm="listens")
    assert len(found) == 1
    week = (START + pd.Timedelta(weeks=DUPLICATE_WEEK)).date().isoformat()
    assert found[0].evidence["worst_period"] == week and found[0].evidence["periods"] == [week]
    assert found[0].evidence["segment"]["segment"] == "platform = ios"
    assert checks(data, ["duplicate-inflation"], nsm="browses") == []


def test_a_failing_rule_does_not_stop_the_others(data: tuple[Path, Path]) -> None:
    @rule("test-crash", "data", "always fails")
    def crash(ctx):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")
        yield

    try:
        folder, path = data
        report = run_checks(Project.load(write_spec(folder, path, nsm="browses")),
                            only=["test-crash", "no-guardrails", "not-leading"])
    finally:
        del RULES["test-crash"]
    crashed = report.by_rule("test-crash")
    assert crashed[0].severity == "warning" and "boom" in crashed[0].message
    assert report.by_rule("not-leading")  # still ran


def test_a_rule_without_data_says_so(data: tuple[Path, Path]) -> None:
    folder, path = data
    text = write_spec(folder, path, nsm="listens").read_text().replace("tags: [revenue]", "")
    (folder / "norev.yml").write_text(text)
    report = run_checks(Project.load(folder / "norev.yml"), only=["not-leading", "no-guardrails"])
    [note] = report.by_rule("not-leading")
    assert note.severity == "info" and "no revenue metric" in note.message


# ---- candidates -----------------------------------------------------------------------------------

def test_candidates_rank_the_leading_metric_first(data: tuple[Path, Path]) -> None:
    folder, path = data
    report = rank_candidates(Project.load(write_spec(folder, path, nsm="browses")))
    names = [c.metric for c in report.candidates]
    assert names[0] in ("listens", "listeners") and report.candidates[0].lead.lag == LEAD_LAG
    listens = report.candidates[names.index("listens")]
    assert listens.lead.lag == LEAD_LAG and listens.lead.leads()
    browses = report.candidates[names.index("browses")]
    assert not browses.lead.leads() and browses.score < listens.score
    assert "revenue" not in names  # revenue itself is what they lead
    payments = report.candidates[names.index("payments")]  # counts of payments: revenue in disguise
    assert names[-1] == "payments" and [p["rule"] for p in payments.penalties] == ["revenue-in-disguise"]
    assert names[0] in report.summary and f"by {LEAD_LAG} week" in report.summary


def test_candidates_given_metrics_and_against(data: tuple[Path, Path]) -> None:
    folder, path = data
    report = rank_candidates(Project.load(write_spec(folder, path)), ["browses", "listens"], against="payments")
    assert [c.metric for c in report.candidates] == ["listens", "browses"]
    assert report.against == "payments" and report.candidates[0].lead.lag == LEAD_LAG
    as_json = report.to_dict()["candidates"][0]
    assert set(as_json) >= {"metric", "score", "lead", "coverage", "signal_to_noise", "penalties"}
    assert set(as_json["lead"]) >= {"lag", "correlation", "p_value"}


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 200), slope=st.floats(-2, 2), seed=st.integers(0, 1000))
def test_pearson_p_value_equals_scipy(n: int, slope: float, seed: int) -> None:
    from scipy import stats

    from northstar.analysis.lead import pearson

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = slope * x + rng.normal(size=n)
    r, p = pearson(x, y)
    expected = stats.pearsonr(x, y)
    assert r == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
