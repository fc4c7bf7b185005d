"""How Project results show themselves: readable text for `repr()` and HTML for Jupyter.

The result types (`TreeReport`, `Explanation`, `CheckReport`, `FunnelReport`, `CohortReport`)
inherit `Displayable` and are declared `@dataclass(repr=False)`, so these two methods are theirs.
Both hand the work to `northstar.report.notebook`, imported on first display, so the models
stay free of any rendering (and `import northstar` of Jinja2 and Plotly).
"""

from __future__ import annotations


class Displayable:
    """A result that prints as readable text and renders as HTML in a notebook."""

    __slots__ = ()

    def __repr__(self) -> str:
        from northstar.report.notebook_text import text_of

        return text_of(self)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: tables, the summary sentences and, where one helps, a chart."""
        from northstar.report.notebook import html_of

        return html_of(self)
