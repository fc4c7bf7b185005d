/* Annotations on a chart: each release, campaign, outage or holiday of /api/annotations (or of
 * /api/overview) as a line (one period) or a shaded range (several) over the periods it falls in
 * at the chart's grain (a day in a month chart marks that month), with its title above. */
(function () {
  "use strict";
  const COLORS = { expected: "#009E73", other: "#E69F00" };

  /** {shapes, annotations} for a plotly layout; `periods` are the chart's x values (ISO dates),
   * so an annotation outside them is left out rather than stretching the axis. */
  NS.annotationLayout = function (list, periods) {
    const shapes = [], notes = [];
    const xs = (periods || []).slice().sort();
    if (!xs.length) return { shapes: shapes, annotations: notes };
    const first = xs[0], last = xs[xs.length - 1];
    (list || []).forEach((a) => {
      if (a.last_period < first || a.first_period > last) return;
      const x0 = a.first_period < first ? first : a.first_period;
      const x1 = a.last_period > last ? last : a.last_period;
      const color = a.expected ? COLORS.expected : COLORS.other;
      const label = a.title + " · " + (a.date === a.to ? NS.date(a.date) : NS.date(a.date) + " – " + NS.date(a.to))
        + (a.expected ? " · " + NS.t("pages.annotations.expected") : "");
      const name = "annotation:" + a.id;
      shapes.push(x0 === x1
        ? { type: "line", name: name, xref: "x", yref: "paper", x0: x0, x1: x1, y0: 0, y1: 1, layer: "below",
          line: { color: color, width: 2 } }
        : { type: "rect", name: name, xref: "x", yref: "paper", x0: x0, x1: x1, y0: 0, y1: 1, layer: "below",
          fillcolor: color, opacity: 0.16, line: { width: 0 } });
      notes.push({ name: name, x: x0, xref: "x", yref: "paper", y: 1 - 0.07 * (notes.length % 4), yanchor: "top",
        xanchor: "left", text: a.title, hovertext: label, showarrow: false, font: { size: 11, color: "#1d1d1f" },
        bgcolor: "rgba(255,255,255,0.7)" });
    });
    return { shapes: shapes, annotations: notes };
  };
})();
