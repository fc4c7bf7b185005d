"""Check reports as a terminal table, Markdown or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from northstar.checks.findings import CheckReport
from northstar.output import json_text

MARKS = {"error": "✖ error", "warning": "▲ warning", "info": "● info"}
STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
INDENT = 4


def summary_line(report: CheckReport) -> str:
    counts = report.counts
    verdict = "fails the method" if report.has_errors else ("passes, with points to improve" if counts["warning"]
                                                             else "passes")
    return (f"{report.project}: North Star '{report.north_star}' {verdict} — {counts['error']} error(s), "
            f"{counts['warning']} warning(s), {counts['info']} note(s) from {len(report.rules_run)} rules.")


def evidence_text(evidence: dict[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        if isinstance(value, dict | list) or key == "evaluated":
            continue
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


def print_report(console: Console, report: CheckReport) -> None:
    """Findings as a list that reads at any width (80 columns included): a header line per finding
    with severity (symbol and word, not colour alone), rule and subject, then its message,
    evidence and fix wrapped below it, indented."""
    if report.findings:
        console.print(Text(f"Checks of {report.project}", style="bold"))
    for finding in report.findings:
        header = Text()
        header.append(MARKS[finding.severity], style=STYLES[finding.severity])
        header.append("  ")
        header.append(finding.rule, style="bold")
        header.append(f"  {finding.subject}")
        console.print()
        print_wrapped(console, header, 0)
        print_wrapped(console, Text(finding.message), INDENT)
        evidence = evidence_text(finding.evidence)
        if evidence:
            print_wrapped(console, Text(evidence, style="dim"), INDENT)
        print_wrapped(console, Text.assemble(("Fix: ", "bold"), finding.fix), INDENT)
    if report.findings:
        console.print()
    print_wrapped(console, Text(summary_line(report)), 0)
    if report.history:
        print_wrapped(console, Text("North Star history: " + "; ".join(
            f"{h['metric']} until {h['until']} ({h['reason']})" for h in report.history)), 0)


def print_wrapped(console: Console, text: Text, indent: int) -> None:
    """`text` wrapped at the console's width, each line indented and without trailing spaces."""
    for line in text.wrap(console, max(20, console.width - indent)):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True, highlight=False)


def report_markdown(report: CheckReport) -> str:
    lines = [f"# Checks of {report.project}", "", summary_line(report), ""]
    for finding in report.findings:
        lines.append(f"- **{finding.severity}** `{finding.rule}` ({finding.subject}): {finding.message}")
        evidence = evidence_text(finding.evidence)
        if evidence:
            lines.append(f"  - Evidence: {evidence}")
        lines.append(f"  - Fix: {finding.fix}")
    if report.history:
        lines += ["", "## North Star history", ""]
        lines += [f"- {h['metric']} until {h['until']}: {h['reason']}" for h in report.history]
    return "\n".join(lines) + "\n"


def report_json(report: CheckReport) -> str:
    return json_text(report.to_dict(), indent=2, default=str)
