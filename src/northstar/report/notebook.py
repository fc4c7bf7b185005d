"""Project results in Jupyter: `html_of` for `_repr_html_`, `text_of` for `repr()`.

One place turns each result type (`TreeReport`, `Explanation`, `CheckReport`, `FunnelReport`,
`CohortReport`) into HTML, through the macros of `templates/notebook.html.j2` (Jinja2 with
autoescape, the report's environment: every name from a spec or the data is escaped) and the
report's number words (`report/text.py`). Where a chart helps (the explanation's waterfall, the
funnel's gains, the cohort heat map) it is the dashboard's Plotly chart, drawn by the bundled
plotly.js sent once per kernel session (`report/notebook_charts.py`). `Project.query` returns a
pandas DataFrame, which Jupyter already shows as a table: it is not wrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from northstar.analysis.cohorts import CohortReport
from northstar.analysis.tree import TreeNodeValue, TreeReport
from northstar.checks.findings import CheckReport
from northstar.checks.render import evidence_text, summary_line
from northstar.explain.funnel import FunnelReport
from northstar.explain.model import Contribution, Explanation
from northstar.report import text
from northstar.report.html import environment
from northstar.report.notebook_charts import (chart_html, cohorts_figure, funnel_figure, inline_plotly_again,
                                              use_charts, waterfall_figure)
from northstar.report.notebook_text import STAGE_NAMES, render_view, text_of

__all__ = ["html_of", "inline_plotly_again", "text_of", "use_charts"]

COHORT_OFFSETS_SHOWN = 13  # as on the dashboard's cohort table
COHORT_ROWS_SHOWN = 24  # the latest cohorts in the table (the heat map has them all)
CONTRIBUTION_DEPTH = 2


def _macro(name: str) -> Callable[..., Any]:
    return getattr(environment().get_template("notebook.html.j2").module, name)  # type: ignore[no-any-return]


def _tree_html(report: TreeReport) -> str:
    rows: list[dict[str, Any]] = []

    def add(node: TreeNodeValue, depth: int) -> None:
        rows.append({"depth": depth, "node": node, "value": text.number(node.value),
                     "previous": text.number(node.previous), "change": text.change_words(node.value, node.previous)})
        for child in node.children:
            add(child, depth + 1)

    add(report.root, 0)
    return str(_macro("tree")(report, rows))


def _explanation_html(e: Explanation) -> str:
    rows: list[dict[str, Any]] = []

    def add(node: Contribution, depth: int) -> None:
        rows.append({"depth": depth, "node": node})
        if depth < CONTRIBUTION_DEPTH:
            for child in sorted(node.children, key=lambda c: -abs(c.contribution)):
                add(child, depth + 1)

    for child in sorted(e.root.children, key=lambda c: -abs(c.contribution)):
        add(child, 0)
    chart = chart_html(waterfall_figure(e), f"How much each input of {e.label} added to its change")
    return str(_macro("explanation")(e, chart, rows, text))


def _checks_html(report: CheckReport) -> str:
    return str(_macro("checks")(report, summary_line(report), evidence_text))


def _funnel_html(report: FunnelReport) -> str:
    chart = chart_html(funnel_figure(report, STAGE_NAMES), "Estimated gain in the North Star per funnel stage")
    return str(_macro("funnel")(report, chart, STAGE_NAMES, text))


def _cohorts_html(report: CohortReport) -> str:
    rates: dict[Any, list[float]] = {}
    for row in report.rows:
        rates.setdefault(row.cohort, []).append(row.rate)
    sizes = report.sizes
    cohort_rows = [{"cohort": c, "size": sizes.get(c, 0), "rates": rates[c]} for c in sorted(rates)]
    shown = min(COHORT_OFFSETS_SHOWN, max((len(r) for r in rates.values()), default=0))
    chart = chart_html(cohorts_figure(report), f"Retention of {report.metric} by cohort and {report.grain}s since")
    return str(_macro("cohorts")(report, chart, cohort_rows, shown, COHORT_ROWS_SHOWN, text))


_HTML: dict[type, Callable[[Any], str]] = {
    TreeReport: _tree_html, Explanation: _explanation_html, CheckReport: _checks_html, FunnelReport: _funnel_html,
    CohortReport: _cohorts_html,
}


def html_of(result: object) -> str:
    """The HTML Jupyter shows for a Project result (a fragment: styles scoped to `.northstar-nb`)."""
    return render_view(_HTML, result, "notebook")
