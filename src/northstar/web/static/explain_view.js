/* What an explanation (/api/explain) shows, on the metric page and the explain page: the
 * change, the exact split through the tree, the segments that drove it, the drivers and notes. */
(function () {
  "use strict";
  const { el, t } = NS;

  function contributionRows(items, depth, out, metrics) {
    items.forEach((c) => {
      const unit = metrics.unit(c.metric);
      out.push([el("span", { class: "indent-" + Math.min(depth, 6) }, c.label || c.metric), NS.num(c.baseline, unit), NS.num(c.value, unit),
        NS.change(c.change_pct, metrics.direction(c.metric)), NS.num(c.contribution, null), NS.share(c.share)]);
      contributionRows(c.children || [], depth + 1, out, metrics);
    });
    return out;
  }

  function segmentName(dimensions) {
    return Object.entries(dimensions || {}).map(([k, v]) => k + " = " + v).join(", ") || "–";
  }

  /** The explanation's parts (a heading, the paragraph, the numbers and the tables). `grain`:
   * the grain the page shows (a note says so when explanations use another). */
  NS.explainView = function (data, metrics, name, grain) {
    const nsGrain = data.grain;
    const w = data.window;
    const span = (side) => NS.date(side.first) + " – " + NS.date(side.last);
    const title = w  // a rolling window: its days against the window it is compared with
      ? t("pages.metric.explain_title", { period: span(w.current),
          baseline: span(data.baseline_period === w.last_year.first ? w.last_year : w.previous) })
      : NS.cap(t("pages.metric.explain_title", { period: NS.period(data.period, nsGrain), baseline: NS.period(data.baseline_period, nsGrain) }));
    const parts = [el("h3", { "data-testid": "explain-title" }, title)];
    if (!w && nsGrain !== grain) parts.push(el("p", { class: "hint" }, t("pages.metric.explain_grain", { grain: NS.grainName(nsGrain) })));
    parts.push(el("p", { class: "explanation", "data-testid": "explain-summary" }, data.summary));
    const unit = metrics.unit(name);
    parts.push(el("dl", { class: "inline" },
      el("dt", {}, t("pages.metric.value")), el("dd", {}, NS.withUnit(data.value, unit)),
      el("dt", {}, t("pages.metric.baseline")), el("dd", {}, NS.withUnit(data.baseline, unit)),
      el("dt", {}, t("pages.col.change")), el("dd", {}, NS.change(data.change_pct, metrics.direction(name)))));
    if ((data.contributions || []).length) {
      parts.push(NS.table({
        caption: t("pages.metric.contributions"),
        head: [t("pages.col.metric"), t("pages.metric.baseline"), t("pages.col.value"), t("pages.col.change"), t("pages.col.contribution"), t("pages.col.share")],
        rows: contributionRows(data.contributions, 0, [], metrics), numeric: [1, 2, 4, 5],
      }));
    }
    const segments = (data.segments || []).slice(0, 8);
    if (segments.length) {
      parts.push(NS.table({
        caption: t("pages.metric.top_segments"),
        head: [t("pages.col.segment"), t("pages.col.metric"), t("pages.metric.baseline"), t("pages.col.value"), t("pages.col.change"), t("pages.col.contribution")],
        rows: segments.map((s) => [segmentName(s.dimensions), metrics.label(s.metric), NS.num(s.baseline, metrics.unit(s.metric)),
          NS.num(s.value, metrics.unit(s.metric)), NS.change(s.change_pct, metrics.direction(s.metric)), NS.num(s.contribution, null)]),
        numeric: [2, 3, 5],
      }));
    }
    const drivers = data.drivers || [];
    if (drivers.length) {
      parts.push(NS.table({
        caption: t("pages.metric.drivers"),
        head: [t("pages.col.driver"), t("pages.col.node"), t("pages.col.lag"), t("pages.col.period"), t("pages.col.change"), t("pages.col.as_expected"), t("pages.col.correlation")],
        rows: drivers.map((d) => [el("a", { href: NS.metricHref(d.driver) }, metrics.label(d.driver)), metrics.label(d.node), String(d.lag),
          NS.period(d.period, nsGrain), NS.change(d.change_pct, metrics.direction(d.driver)),
          d.as_expected === null || d.as_expected === undefined ? "–" : (d.as_expected ? "✓ " + t("pages.yes") : "✗ " + t("pages.no")),
          NS.finite(d.correlation) ? NS.num(d.correlation) + (NS.finite(d.p_value) ? " (p = " + NS.num(d.p_value) + ")" : "") : "–"]),
        numeric: [2, 6],
      }));
    }
    if ((data.notes || []).length) parts.push(el("ul", { class: "notes" }, data.notes.map((n) => el("li", {}, n))));
    return parts;
  };
})();
