"""The weekly North Star review: one self-contained HTML file, or Markdown short enough for a chat.

`build_report(project, period=None, lang="en")` gathers the review of one period through the
Project's API (`report/build.py`); `render_html` (`report/html.py`, Jinja2 templates, Plotly
charts with plotly.js inlined) and `render_markdown` (`report/markdown.py`) turn it into text.
Every word a reader sees comes from the `report` area of `northstar.i18n` (en, nl, sv).
"""

from __future__ import annotations

import datetime as dt

from northstar.report.build import build_report, check_lang
from northstar.report.model import NorthStarValue, Report

__all__ = ["FORMATS", "NorthStarValue", "Report", "build_report", "check_lang", "default_filename", "render",
           "render_html", "render_markdown"]

FORMATS = ("html", "markdown")


def render_html(report: Report, generated: dt.date | None = None) -> str:
    from northstar.report.html import render_html as render

    return render(report, generated)


def render_markdown(report: Report) -> str:
    from northstar.report.markdown import render_markdown as render

    return render(report)


def render(report: Report, fmt: str = "html") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    return render_html(report) if fmt == "html" else render_markdown(report)


def default_filename(report: Report, fmt: str = "html") -> str:
    """`northstar-report-<period>.html` (or `.md`)."""
    return f"northstar-report-{report.period.isoformat()}.{'html' if fmt == 'html' else 'md'}"
