"""`check` and `candidates` on the real datasets and on the demo, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from northstar.checks import run_checks
from northstar.demo import generate_demo
from northstar.project import Project
from test_olist import _spec_text


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("olist-check")
    (folder / "good.yml").write_text(_spec_text(), encoding="utf-8")
    text = _spec_text(north_star="payments")  # a shop whose North Star is the money it takes
    (folder / "revenue.yml").write_text(text[: text.index("  tree:")], encoding="utf-8")
    return folder


def test_a_shop_with_revenue_as_north_star_fails_the_check(olist: Path) -> None:
    result = run(olist, "-f", "revenue.yml", "check", "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    assert [f["rule"] for f in errors] == ["revenue-north-star"]
    assert set(errors[0]) == {"rule", "severity", "subject", "message", "evidence", "fix"}
    assert errors[0]["subject"] == "payments" and "value" in errors[0]["message"]


def test_a_shop_with_good_orders_as_north_star_passes(olist: Path) -> None:
    result = run(olist, "-f", "good.yml", "check", "--format", "markdown")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "revenue-north-star" not in result.stdout and "formula-mismatch" not in result.stdout
    assert result.stdout.startswith("# Checks of Olist")


def test_an_invalid_spec_exits_2(tmp_path: Path) -> None:
    (tmp_path / "northstar.yml").write_text("project: X\nsources: {}\n")
    result = run(tmp_path, "check")
    assert result.returncode == 2 and result.stderr.count("\n") >= 1 and "northstar.yml" in result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-check")
    generate_demo(folder)  # the default demo, as `northstar demo` writes it
    return folder


def test_the_demo_check_finds_its_planted_problems(demo: Path) -> None:
    report = run_checks(Project.load(demo / "northstar.yml"))
    assert not report.has_errors
    duplicate = report.by_rule("duplicate-inflation")
    assert len(duplicate) == 1  # the iOS duplicate-plays bug, week of 2026-01-19
    assert duplicate[0].evidence["worst_period"] == "2026-01-19" and duplicate[0].evidence["periods"] == ["2026-01-19"]
    assert duplicate[0].evidence["segment"]["segment"] == "platform = ios"
    assert [f.subject for f in report.by_rule("not-for-all-customers")] == ["channel = tiktok_campaign"]
    # revenue, the funnel's revenue stage, is what not-leading judges: only acquisition lacks a path
    assert {f.subject for f in report.by_rule("funnel-coverage")} == {"stage acquisition"}
    assert len(report.by_rule("unstable-north-star")) == 1
    assert report.by_rule("formula-mismatch") == [] and report.by_rule("revenue-north-star") == []
    for finding in report.findings:  # plain words: a sentence and a fix, no unevaluated rule
        assert finding.message.endswith(".") and finding.fix.endswith(".")
        assert finding.evidence.get("evaluated", True), finding


def test_the_demo_check_from_the_command_line(demo: Path) -> None:
    result = run(demo, "check")
    assert result.returncode == 0, result.stderr
    assert "duplicate-inflation" in result.stdout and "platform = ios" in result.stdout
    assert "North Star history: active_listeners until 2025-02-28" in result.stdout
    result = run(demo, "candidates", "--format", "json")
    assert result.returncode == 0, result.stderr
    ranked = json.loads(result.stdout)["candidates"]
    names = [c["metric"] for c in ranked]
    assert names.index("listening_minutes") < names.index("payments") and "revenue" not in names
    assert ranked == sorted(ranked, key=lambda c: -c["score"])
