"""The review's charts as Plotly figures, serialised to JSON for the inlined plotly.js.

No figure may make the browser fetch anything: no template fonts, no MathJax, no topojson,
no "edit in Chart Studio" link (see `CONFIG`). Dates are printed as ISO dates (plotly.js has
no Dutch or Swedish month names bundled), numbers with the language's separators.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from northstar.explain.model import Explanation
from northstar.i18n import t
from northstar.report.model import Report
from northstar.report.text import SEPARATORS, number, signed, value_with_unit

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
NSM, TARGET, LAST_YEAR = "#2563eb", "#b45309", "#9ca3af"
GOOD, BAD = "#15803d", "#b91c1c"

# plotly.js options that keep a chart self-contained: nothing links to or loads from plot.ly.
CONFIG: dict[str, Any] = {
    "displaylogo": False, "responsive": True, "showLink": False, "showSendToCloud": False,
    "showEditInChartStudio": False, "showTips": False, "typesetMath": False, "topojsonURL": "",
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


def _layout(lang: str, **extra: Any) -> dict[str, Any]:
    decimal, thousands = SEPARATORS[lang]
    axis = {"gridcolor": GRID, "linecolor": GRID, "zerolinecolor": GRID, "tickfont": {"color": MUTED},
            "automargin": True}
    return {"template": "none", "separators": decimal + thousands, "font": {"family": FONT, "color": INK, "size": 13},
            "paper_bgcolor": "white", "plot_bgcolor": "white", "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "height": 340, "hovermode": "x unified",
            "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
            "xaxis": {**axis, "type": "date", "tickformat": "%Y-%m-%d"}, "yaxis": {**axis, "rangemode": "tozero"},
            **extra}


def trend_figure(report: Report) -> go.Figure:
    """The North Star per period up to the review's, last year's line, the target line."""
    ns, lang = report.north_star, report.lang
    periods = [row["period"].isoformat() for row in report.series]
    fig = go.Figure()
    last_year = [row["last_year"] for row in report.series]
    if any(v is not None for v in last_year):
        fig.add_trace(go.Scatter(x=periods, y=last_year, name=t("report.chart.last_year", lang), mode="lines",
                                 line={"color": LAST_YEAR, "width": 1.5, "dash": "dot"}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=periods, y=[row["value"] for row in report.series], name=ns.label,
                             mode="lines+markers", line={"color": NSM, "width": 2.5}, marker={"size": 4}))
    fig.add_trace(go.Scatter(x=[ns.period.isoformat()], y=[ns.value], mode="markers", showlegend=False,
                             name=t("report.chart.this_period", lang), hoverinfo="skip",
                             marker={"size": 12, "color": NSM, "line": {"color": "white", "width": 2}}))
    if ns.target is not None and ns.target_by is not None and periods:
        name = t("report.chart.target", lang, value=value_with_unit(ns.target, ns.unit, lang),
                 by=ns.target_by.isoformat())
        fig.add_trace(go.Scatter(x=[periods[0], ns.target_by.isoformat()], y=[ns.target, ns.target], name=name,
                                 mode="lines", line={"color": TARGET, "width": 2, "dash": "dash"}, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=[ns.target_by.isoformat()], y=[ns.target], mode="markers", showlegend=False,
                                 hoverinfo="skip", marker={"symbol": "star", "size": 14, "color": TARGET}))
    fig.update_layout(_layout(lang, yaxis_title={"text": ns.unit or "", "font": {"color": MUTED}}))
    _annotate(fig, report.annotations)
    return fig


def _annotate(fig: go.Figure, annotations: tuple[dict[str, Any], ...]) -> None:
    """Each annotation as a line (one period) or a shaded range (several) with its title, as on
    the dashboard's charts (`web/static/annotations.js`)."""
    for index, a in enumerate(annotations):
        x0, x1, name = a["first_period"], a["last_period"], f"annotation:{a['id']}"
        color = GOOD if a["expected"] else TARGET
        if x0 == x1:
            fig.add_shape(type="line", name=name, xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, layer="below",
                          line={"color": color, "width": 2})
        else:
            fig.add_shape(type="rect", name=name, xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1, layer="below",
                          fillcolor=color, opacity=0.16, line={"width": 0})
        fig.add_annotation(name=name, x=x0, xref="x", yref="paper", y=1 - 0.07 * (index % 4), yanchor="top",
                           xanchor="left", text=a["title"], showarrow=False, font={"size": 11, "color": INK},
                           bgcolor="rgba(255,255,255,0.7)")


def contributions_figure(report: Report) -> go.Figure | None:
    """A waterfall from the previous period's value, through each input's share, to this one's."""
    return waterfall_figure(report.explanation, report.lang) if report.explanation is not None else None


def waterfall_figure(e: Explanation, lang: str = "en") -> go.Figure | None:
    """An explanation's waterfall (the report's and the notebook's); None when there is no split."""
    if not e.root.children or e.baseline is None or e.value is None:
        return None
    inputs = list(e.root.children)
    x = [t("report.chart.before", lang, period=e.baseline_period.isoformat()), *(c.label for c in inputs),
         t("report.chart.now", lang, period=e.period.isoformat())]
    text = [number(e.baseline, lang), *(signed(c.contribution, None, lang) for c in inputs), number(e.value, lang)]
    fig = go.Figure(go.Waterfall(
        x=x, y=[e.baseline, *(c.contribution for c in inputs), e.value],
        measure=["absolute", *(["relative"] * len(inputs)), "total"], text=text, textposition="outside",
        cliponaxis=False, connector={"line": {"color": GRID}},
        increasing={"marker": {"color": GOOD}}, decreasing={"marker": {"color": BAD}},
        totals={"marker": {"color": NSM}}, hoverinfo="x+text"))
    layout = _layout(lang, hovermode="closest", showlegend=False, height=300)
    layout["xaxis"] = {**layout["xaxis"], "type": "category", "tickformat": None}
    layout["yaxis"] = {**layout["yaxis"], "rangemode": "normal"}
    low = min(e.baseline, e.value, *(e.baseline + c.contribution for c in inputs))
    high = max(e.baseline, e.value, *(e.baseline + c.contribution for c in inputs))
    pad = (high - low) * 0.6 or abs(high) * 0.05 or 1
    layout["yaxis"]["range"] = [max(low - pad, 0) if low >= 0 else low - pad, high + pad]
    fig.update_layout(layout)
    return fig


def figure_json(fig: go.Figure) -> str:
    """`{"data", "layout", "config"}` as JSON that is safe inside a <script> element."""
    spec = json.loads(pio.to_json(fig, validate=True, engine="json"))
    spec["config"] = CONFIG
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
    # "<" and ">" only occur inside JSON strings, where their \u escapes mean the same.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def charts(report: Report) -> dict[str, str]:
    """Chart id -> its JSON, for the HTML template."""
    out = {"trend": figure_json(trend_figure(report))}
    waterfall = contributions_figure(report)
    if waterfall is not None:
        out["contributions"] = figure_json(waterfall)
    return out
