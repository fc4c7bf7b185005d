"""Check reports as a terminal table, Markdown or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from northstar.checks.findings import CheckReport

MARKS = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}
STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _summary(report: CheckReport) -> str:
    counts = report.counts
    verdict = "fails the method" if report.has_errors else ("passes, with points to improve" if counts["warning"]
                                                             else "passes")
    return (f"{report.project}: North Star '{report.north_star}' {verdict} — {counts['error']} error(s), "
            f"{counts['warning']} warning(s), {counts['info']} note(s) from {len(report.rules_run)} rules.")


def _evidence_text(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, dict | list) or key == "evaluated":
            continue
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


def print_report(console: Console, report: CheckReport) -> None:
    """Findings as a table: severity (symbol and word, not colour alone), rule, subject, text, fix."""
    table = Table(title=f"Checks of {report.project}", show_lines=True, expand=False)
    for column in ("severity", "rule", "subject", "finding", "fix"):
        table.add_column(column, overflow="fold")
    for finding in report.findings:
        evidence = _evidence_text(finding.evidence)
        text = finding.message + (f"\n[dim]{evidence}[/dim]" if evidence else "")
        table.add_row(f"[{STYLES[finding.severity]}]{MARKS[finding.severity]}[/]", finding.rule, finding.subject,
                      text.replace("[", "\\[").replace("\\[dim]", "[dim]").replace("\\[/dim]", "[/dim]"),
                      finding.fix.replace("[", "\\["))
    if report.findings:
        console.print(table)
    console.print(_summary(report), markup=False, highlight=False)
    if report.history:
        console.print("North Star history: " + "; ".join(f"{h['metric']} until {h['until']} ({h['reason']})"
                                                         for h in report.history), markup=False, highlight=False)


def report_markdown(report: CheckReport) -> str:
    lines = [f"# Checks of {report.project}", "", _summary(report), ""]
    for finding in report.findings:
        lines.append(f"- **{finding.severity}** `{finding.rule}` ({finding.subject}): {finding.message}")
        evidence = _evidence_text(finding.evidence)
        if evidence:
            lines.append(f"  - Evidence: {evidence}")
        lines.append(f"  - Fix: {finding.fix}")
    if report.history:
        lines += ["", "## North Star history", ""]
        lines += [f"- {h['metric']} until {h['until']}: {h['reason']}" for h in report.history]
    return "\n".join(lines) + "\n"


def report_json(report: CheckReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
