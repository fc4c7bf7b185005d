"""The review as one self-contained HTML file: CSS, chart data and plotly.js inline, no URL fetched."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import jinja2
from plotly.offline import get_plotlyjs

from northstar.i18n import t
from northstar.report import text
from northstar.report.charts import charts
from northstar.report.model import Report

DEPTH_PAD_EM = 1.2


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("northstar.report", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env


@cache
def plotly_js() -> str:
    """plotly.js from the plotly package, safe to inline in a <script> element."""
    js = get_plotlyjs()
    return js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _tree_rows(report: Report) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    units = report.units

    def add(node: Any, depth: int) -> None:
        direction = report.directions.get(node.metric, "up")
        rows.append({"depth": depth, "pad": depth * DEPTH_PAD_EM, "node": node,
                     "value": text.value_with_unit(node.value, units.get(node.metric), report.lang),
                     "previous": text.value_with_unit(node.previous, units.get(node.metric), report.lang),
                     "change": text.change_words(node.value, node.previous, report.lang, units.get(node.metric)),
                     "class": text.change_class(node.value, node.previous, direction)})
        for child in node.children:
            add(child, depth + 1)

    add(report.tree.root, 0)
    return rows


def _contribution_rows(report: Report, depth_limit: int = 2) -> list[dict[str, Any]]:
    e = report.explanation
    if e is None:
        return []
    rows: list[dict[str, Any]] = []

    def add(node: Any, depth: int) -> None:
        rows.append({"pad": depth * DEPTH_PAD_EM, "node": node,
                     "change": text.change_words(node.value, node.baseline, report.lang),
                     "contribution": text.signed(node.contribution, None, report.lang),
                     "share": text.percent(node.share, report.lang, 0) if node.share is not None else "–"})
        if depth < depth_limit:
            for child in sorted(node.children, key=lambda c: -abs(c.contribution)):
                add(child, depth + 1)

    for child in sorted(e.root.children, key=lambda c: -abs(c.contribution)):
        add(child, 0)
    return rows


def render_html(report: Report, generated: dt.date | None = None) -> str:
    """The review of `report` as one HTML document (about 5 MB: plotly.js is most of it)."""
    lang = report.lang
    ns = report.north_star

    def tr(key: str, **fields: Any) -> str:
        return t(f"report.{key}", lang, **fields)

    counts = report.checks.counts
    findings = [f for f in report.checks.findings if f.severity in ("error", "warning")]
    return environment().get_template("report.html.j2").render(
        r=report, ns=ns, tr=tr, lang=lang, text=text, charts=charts(report), plotly_js=plotly_js(),
        period_title=text.period_title(report.period, report.grain, lang),
        generated=(generated or dt.date.today()).isoformat(),
        vs_previous=text.change_words(ns.value, ns.previous, lang, ns.unit),
        vs_previous_class=text.change_class(ns.value, ns.previous, ns.direction),
        vs_year=text.change_words(ns.value, ns.last_year, lang, ns.unit),
        vs_year_class=text.change_class(ns.value, ns.last_year, ns.direction),
        target_share=(ns.value / ns.target if ns.target and ns.value is not None else None),
        tree_rows=_tree_rows(report), contribution_rows=_contribution_rows(report),
        segments=list(report.explanation.segments[:5]) if report.explanation else [],
        counts=counts, findings=findings)
