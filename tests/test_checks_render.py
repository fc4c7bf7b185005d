"""`northstar check` reads in an 80-column terminal: one header line per finding (severity, rule,
subject), then its message, evidence and fix wrapped below, nothing lost and nothing wider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from northstar.checks.findings import CheckReport, Finding
from northstar.checks.render import evidence_text, print_report
from synthetic import write_spec, write_synthetic

TREE = ("    listens:\n      formula: listeners * listens_per_listener\n"
        "    listeners:\n      drivers: [{metric: browses, direction: up, lag: 1}]\n")


def blocks(text: str) -> list[list[str]]:
    """The output's findings: runs of lines between blank lines that start with a severity mark."""
    out, current = [], []
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current = []
        else:
            current.append(line)
    if current:
        out.append(current)
    return [b for b in out if b[0].startswith(("✖ error", "▲ warning", "● info"))]


def squeeze(text: str) -> str:
    return "".join(text.split())


def assert_readable(text: str, findings: list[dict], width: int) -> None:
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert not any(line != line.rstrip() for line in lines)
    found = blocks(text)
    assert len(found) == len(findings)
    for block, finding in zip(found, findings):
        header = f"{finding['severity']}  {finding['rule']}  {finding['subject']}"
        assert block[0].startswith(f"{finding['severity']}  {finding['rule']}")
        assert squeeze(" ".join(block)) == squeeze(
            " ".join([header, finding["message"], finding["evidence_text"], "Fix: " + finding["fix"]]))
        if len(header) <= width:  # body lines are indented under their header
            assert block[0] == header and all(line.startswith("    ") for line in block[1:])


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render")
    return write_spec(folder, write_synthetic(folder).path, nsm="listens", tree=TREE)


def test_check_at_80_columns(spec: Path) -> None:
    """Regression: the five-column table was cut into slivers (or, piped, 200 wide)."""
    env = {**os.environ, "COLUMNS": "80"}
    run = [sys.executable, "-m", "northstar.cli", "-f", str(spec), "check"]
    table = subprocess.run(run, capture_output=True, text=True, env=env, timeout=600)
    as_json = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, env=env, timeout=600)
    assert table.returncode == as_json.returncode == 0, table.stderr + as_json.stderr
    findings = json.loads(as_json.stdout)["findings"]
    assert len(findings) >= 5 and any(len(f["message"]) > 160 for f in findings)
    for finding in findings:
        finding["evidence_text"] = evidence_text(finding["evidence"])
        finding["severity"] = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}[finding["severity"]]
    assert_readable(table.stdout, findings, 80)
    assert "Synthetic: North Star 'listens'" in table.stdout


def test_awkward_text_wraps_and_stays_literal() -> None:
    """Markup-like brackets print as written; a token longer than the line is folded, not cut."""
    url = "https://example.com/" + "x" * 120
    findings = (
        Finding("omtm-window", "error", ("a subject that is rather long for a header line " * 2).strip(),
                "Use [bold]this[/bold] and [dim] literally; see " + url + ".", "Fix [it].", {"ratio": 0.123456}),
        Finding("grain", "info", "grain", "Short.", "None.", {}),
    )
    report = CheckReport("Awkward", "nsm", findings, ("omtm-window", "grain"))
    for width in (60, 80, 132):
        console = Console(width=width, record=True, color_system=None)
        print_report(console, report)
        text = console.export_text()
        expected = [{"severity": {"error": "✖ error", "info": "● info"}[f.severity], "rule": f.rule,
                     "subject": f.subject, "message": f.message, "evidence_text": evidence_text(f.evidence),
                     "fix": f.fix} for f in findings]
        assert_readable(text, expected, width)
        assert "[bold]this[/bold]" in text and "Fix [it]." in text


def test_candidate_labels_follow_against(spec: Path) -> None:
    """Regression: `candidates --against upvotes` still labelled its column "leads revenue"."""
    run = [sys.executable, "-m", "northstar.cli", "-f", str(spec), "candidates", "listens", "browses",
           "--against", "payments"]
    outputs = {fmt: subprocess.run([*run, "--format", fmt], capture_output=True, text=True, timeout=600,
                                   env={**os.environ, "COLUMNS": "200"})
               for fmt in ("table", "json", "markdown")}
    for fmt, result in outputs.items():
        assert result.returncode == 0, result.stderr
        assert "leads revenue" not in result.stdout and "lead_revenue" not in result.stdout, fmt
    report = json.loads(outputs["json"].stdout)
    assert report["against"] == "payments" and report["labels"]["lead"] == "leads payments"
    assert set(report["candidates"][0]["breakdown"]) >= {"lead", "lead_retention"}
    assert "leads payments" in outputs["table"].stdout
    header = next(line for line in outputs["markdown"].stdout.splitlines() if line.startswith("| #"))
    assert [c.strip() for c in header.strip("|").split("|")][3] == "leads payments"
    assert "Bonferroni-corrected" in outputs["markdown"].stdout


def test_candidates_at_80_columns(spec: Path) -> None:
    """Too narrow for the ten-column table: one paragraph per candidate, every value labelled."""
    result = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(spec), "candidates", "listens",
                             "browses", "--against", "payments"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert lines[0] == "North Star candidates against 'payments' (weekly growth)"
    assert [line.split()[1] for line in lines if line[:2] in ("1.", "2.")] == ["listens", "browses"]
    assert result.stdout.count("leads payments: lag") == 2 and "leads revenue" not in result.stdout
