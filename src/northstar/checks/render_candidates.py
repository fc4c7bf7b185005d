"""Candidate rankings as a terminal table, Markdown or JSON.

Every label of a lead column comes from `CandidateReport.labels`, i.e. from what was asked
(`--against upvotes` gives "leads upvotes"), so no format can say "revenue" when it was not.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from northstar.analysis.lead import Lead
from northstar.checks.candidates import Candidate, CandidateReport
from northstar.checks.render import INDENT, print_wrapped
from northstar.output import json_text

WIDE = 120  # columns the ten-column table needs
NOTE = "p: Granger-type test at the best lag, Bonferroni-corrected for the lags tried."


def lead_text(found: Lead | None) -> str:
    if found is None:
        return "-"
    p = found.p_value_adjusted
    return f"lag {found.lag}, r={found.correlation:+.2f}" + (f", p={p:.3f}" if p is not None else "")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _cells(rank: int, c: Candidate) -> list[str]:
    funnel = f"{sum(c.funnel.values())}/{len(c.funnel)}" if c.funnel else "-"
    return [str(rank), c.metric, f"{c.score:.0f}", lead_text(c.lead), lead_text(c.retention_lead),
            "-" if c.noise is None else f"{c.noise:.1%}", _pct(c.coverage.get("customers")),
            _pct(c.coverage.get("segments")), funnel,
            ", ".join(f"{p['rule']} (-{p['points']})" for p in c.penalties) or "-"]


def _columns(report: CandidateReport) -> list[str]:
    labels = report.labels
    return ["#", "metric", "score", labels["lead"], labels["retention_lead"], "noise", "reach", "segments",
            "funnel", "penalties"]


def _title(report: CandidateReport) -> str:
    return f"North Star candidates against '{report.against}' ({report.grain}ly growth)"


def print_candidates(console: Console, report: CandidateReport) -> None:
    """A table where it fits (120 columns or more), else one wrapped paragraph per candidate."""
    if console.width < WIDE:
        print_wrapped(console, Text(_title(report), style="bold"), 0)
        columns = _columns(report)
        for rank, candidate in enumerate(report.candidates, 1):
            cells = _cells(rank, candidate)
            console.print()
            print_wrapped(console, Text.assemble((f"{rank}. {candidate.metric}", "bold"), f"  score {cells[2]}"), 0)
            print_wrapped(console, Text(" · ".join(f"{c}: {v}" for c, v in zip(columns[3:], cells[3:]))), INDENT)
        console.print()
        print_wrapped(console, Text(report.summary), 0)
        print_wrapped(console, Text(NOTE, style="dim"), 0)
        return
    table = Table(title=_title(report))
    for column in _columns(report):
        table.add_column(column, justify="right" if column in ("#", "score", "noise", "reach", "segments")
                         else "left", overflow="fold")
    for rank, candidate in enumerate(report.candidates, 1):
        table.add_row(*(cell.replace("[", "\\[") for cell in _cells(rank, candidate)))
    console.print(table)
    console.print(report.summary, markup=False, highlight=False)
    console.print(NOTE, markup=False, highlight=False, style="dim")


def candidates_markdown(report: CandidateReport) -> str:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    columns = _columns(report)
    lines = [f"# {_title(report)}", "", row(columns), row(["---"] * len(columns))]
    lines += [row(_cells(rank, c)) for rank, c in enumerate(report.candidates, 1)]
    return "\n".join([*lines, "", report.summary, "", NOTE]) + "\n"


def candidates_json(report: CandidateReport) -> str:
    return json_text(report.to_dict(), indent=2, default=str)
