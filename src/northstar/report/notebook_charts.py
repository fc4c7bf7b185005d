"""The notebook's charts: the dashboard's Plotly charts, drawn by the bundled plotly.js.

plotly.js (about 4.8 MB, from the plotly package: never a CDN) is inlined into the first chart
a kernel displays and set on `window.Plotly`; every later chart of the session is a few kB of
JSON that reuses it. A chart that finds no `window.Plotly` (the output that carried it was
cleared, or the page was reloaded) says how to get it back: `inline_plotly_again()` makes the
next chart carry plotly.js again. `use_charts(False)` leaves charts out (tables only), e.g. for
notebooks that are committed or rendered where scripts do not run.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Sequence

import plotly.graph_objects as go
from markupsafe import Markup, escape

from northstar.analysis.cohorts import CohortReport
from northstar.explain.funnel import FunnelReport
from northstar.report.charts import _layout, figure_json, waterfall_figure

__all__ = ["chart_html", "cohorts_figure", "funnel_figure", "inline_plotly_again", "use_charts",
           "waterfall_figure"]

VALUE, BOTTLENECK = "#2563eb", "#b45309"
MISSING = ("This chart needs plotly.js, which Northstar sends once per kernel session with the first chart. "
           "Run northstar.report.notebook.inline_plotly_again() and display this result again.")

_lock = threading.Lock()
_state = {"plotly_sent": False, "charts": True}
_ids = itertools.count(1)


def use_charts(enabled: bool = True) -> None:
    """Draw charts in notebook output (the default), or leave them out and show tables only."""
    _state["charts"] = bool(enabled)


def inline_plotly_again() -> None:
    """Make the next chart carry plotly.js again (after its first carrier's output was lost)."""
    with _lock:
        _state["plotly_sent"] = False


def _plotly_once() -> str:
    """The <script> holding plotly.js the first time a session asks, "" afterwards."""
    from northstar.report.html import plotly_js

    with _lock:
        if _state["plotly_sent"]:
            return ""
        _state["plotly_sent"] = True
    return f'<script type="text/javascript">{plotly_js()}</script>'


def chart_html(fig: go.Figure | None, label: str) -> Markup:
    """A figure as a <div> and the script that draws it with `window.Plotly`; "" without charts.

    `label` names the chart for screen readers (`role="img"`); the table beside every chart
    holds the same numbers.
    """
    if fig is None or not _state["charts"]:
        return Markup("")
    element = f"northstar-chart-{next(_ids)}-{uuid.uuid4().hex[:8]}"
    height = int(fig.layout.height or 340)
    script = (f"(function(){{var el=document.getElementById('{element}');var spec={figure_json(fig)};"
              "if(window.Plotly){window.Plotly.newPlot(el,spec.data,spec.layout,spec.config);}"
              f"else{{el.style.height='auto';el.textContent={_js_string(MISSING)};}}}})();")
    return Markup(f'{_plotly_once()}<div id="{element}" class="northstar-chart" role="img" '
                  f'aria-label="{escape(label)}" style="width:100%;height:{height}px"></div>'
                  f'<script type="text/javascript">{script}</script>')


def _js_string(text: str) -> str:
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e")


def funnel_figure(report: FunnelReport, stage_names: dict[str, str]) -> go.Figure | None:
    """The dashboard's funnel chart: each stage's estimated gain in the North Star, the bottleneck
    marked by colour and hatching (not colour alone)."""
    stages = list(reversed(report.stages))
    if not stages:
        return None
    marked = [s.stage == report.bottleneck for s in stages]
    fig = go.Figure(go.Bar(
        orientation="h", y=[stage_names.get(s.stage, s.stage) for s in stages], x=[s.nsm_gain or 0 for s in stages],
        marker={"color": [BOTTLENECK if m else VALUE for m in marked],
                "pattern": {"shape": ["/" if m else "" for m in marked]}},
        text=[f"{s.nsm_gain:,.0f}" if s.nsm_gain is not None else "–" for s in stages], textposition="auto",
        hovertemplate="%{y}: %{x:,.0f}<extra></extra>"))
    layout = _layout("en", hovermode="closest", showlegend=False, height=300)
    layout["xaxis"] = {**layout["xaxis"], "type": "linear", "tickformat": None,
                       "title": {"text": f"Estimated gain in {report.north_star} per {report.grain}"}}
    layout["yaxis"] = {**layout["yaxis"], "type": "category", "rangemode": "normal"}
    fig.update_layout(layout)
    return fig


def cohorts_figure(report: CohortReport) -> go.Figure | None:
    """The dashboard's cohort heat map: cohort (rows, oldest first) by periods since (columns)."""
    cohorts: Sequence = sorted({r.cohort for r in report.rows})
    if not cohorts:
        return None
    offsets = max(r.offset for r in report.rows) + 1
    index = {c: i for i, c in enumerate(cohorts)}
    z: list[list[float | None]] = [[None] * offsets for _ in cohorts]
    for r in report.rows:
        z[index[r.cohort]][r.offset] = round(r.rate, 4)  # the JSON stays small; 0.01% is below any reading
    later = [r.rate for r in report.rows if r.offset > 0]
    fig = go.Figure(go.Heatmap(
        x=list(range(offsets)), y=[c.isoformat() for c in cohorts], z=z, colorscale="Cividis", zmin=0,
        zmax=max(later, default=0) or 1, xgap=1, ygap=1,
        colorbar={"title": {"text": "rate"}, "tickformat": ".0%"},
        hovertemplate="cohort %{y}, +%{x} " + report.grain + "s: %{z:.1%}<extra></extra>"))
    layout = _layout("en", hovermode="closest", height=max(340, min(900, 120 + 10 * len(cohorts))))
    layout["xaxis"] = {**layout["xaxis"], "type": "linear", "tickformat": None,
                       "title": {"text": f"{report.grain}s since the cohort's first"}}
    layout["yaxis"] = {**layout["yaxis"], "type": "category", "autorange": "reversed", "rangemode": "normal",
                       "title": {"text": "cohort"}}
    fig.update_layout(layout)
    return fig

