/* Overview: the North Star, its trend with target and forecast, why it moved, the tree,
 * guardrails, focus metrics and the checks' counts, all from /api/overview. */
(function () {
  "use strict";
  const { el, t } = NS;

  /** The tree as rows: each node with its depth, depth-first. */
  function flatten(node, depth, out) {
    out.push({ node: node, depth: depth });
    (node.children || []).forEach((c) => flatten(c, depth + 1, out));
    return out;
  }

  function treeTable(tree, metrics, grain) {
    const targets = "target" in tree.root;  // the spec has metric targets: a "% of target" column
    const caption = tree.window ? t("pages.overview.tree_caption_window", { window: tree.window.description })
      : t("pages.overview.tree_caption", { period: NS.period(tree.period, grain), previous: NS.period(tree.previous_period, grain) });
    const rows = flatten(tree.root, 0, []).map(({ node, depth }) => {
      const unit = metrics.unit(node.metric);
      const name = el("a", { href: NS.metricHref(node.metric), class: "indent-" + Math.min(depth, 6) },
        node.link === "root" ? "★ " : "", node.label || node.metric);
      return {
        className: "link-" + node.link,
        cells: [name, NS.linkLabel(node), NS.withUnit(node.value, unit), NS.num(node.previous, unit),
          NS.change(node.change_pct, metrics.direction(node.metric))].concat(
          targets ? [NS.targetBadge(node, unit)] : [], [node.owner || "–"]),
      };
    });
    return NS.table({
      caption: caption,
      head: [t("pages.col.metric"), t("pages.col.link"), t("pages.col.value"), t("pages.col.previous"), t("pages.col.change")]
        .concat(targets ? [t("pages.col.target_progress")] : [], [t("pages.col.owner")]),
      rows: rows, numeric: [2, 3],
    });
  }

  function hero(data, metrics) {
    const ns = data.north_star;
    const unit = ns.unit;
    document.getElementById("ns-label").textContent = ns.label || ns.metric;
    document.getElementById("ns-value-sentence").textContent = ns.customer_value
      ? "“" + ns.customer_value + "”" : t("pages.overview.no_customer_value");
    NS.fill(document.getElementById("ns-number"), NS.num(ns.value, unit),
      unit && unit !== "%" ? el("span", { class: "unit" }, " " + unit) : null);
    const w = data.window;  // a rolling window: its days, against the window before and a year before
    document.getElementById("ns-period").textContent = w ? NS.cap(w.description)
      : NS.cap(t("pages.overview.period", { period: NS.period(ns.period, ns.grain), grain: NS.grainName(ns.grain) }));
    const changes = document.getElementById("ns-changes");
    const items = [
      [t(w ? "pages.overview.vs_window_before" : "pages.overview.vs_previous", { value: NS.num(ns.previous, unit) }),
        NS.change(ns.change_pct, metrics.direction(ns.metric))],
      [t("pages.overview.vs_last_year", { value: NS.num(ns.last_year, unit) }), NS.change(ns.change_pct_year, metrics.direction(ns.metric))],
    ];
    const next = ns.target && ns.target.series && (ns.target.path || []).find((p) => p.period > ns.period);
    if (next) {  // a series: the next period's target, at the scale of the value shown
      items.push([t("pages.overview.target"), t("pages.overview.target_value", { value: NS.withUnit(next.target, unit), date: NS.period(next.period, ns.grain) })]);
    } else if (ns.target) {
      items.push([t("pages.overview.target"), t("pages.overview.target_value", { value: NS.withUnit(ns.target.value, unit), date: NS.date(ns.target.by) })]);
    }
    if (ns.progress && NS.finite(ns.progress.target)) {  // with metric targets: this period's target
      items.push([t("pages.col.target_progress"), NS.targetBadge(ns.progress, unit)]);
    }
    NS.fill(changes, items.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  }

  function trend(data) {
    const ns = data.north_star;
    const unit = ns.unit;
    const series = data.series;
    const hover = (p, v) => NS.period(p, ns.grain) + "<br>" + NS.withUnit(v, unit);
    const traces = [{
      x: series.map((r) => r.period), y: series.map((r) => r.value), name: ns.label || ns.metric,
      mode: "lines", line: { color: NS.colors.value, width: 2.5 },
      customdata: series.map((r) => hover(r.period, r.value)), hovertemplate: "%{customdata}<extra></extra>",
    }];
    const forecast = data.forecast || [];
    if (forecast.length) {
      const last = series[series.length - 1];
      const xs = [last.period].concat(forecast.map((f) => f.period));
      traces.push({ x: xs, y: [last.value].concat(forecast.map((f) => f.upper)), mode: "lines", line: { width: 0 },
        hoverinfo: "skip", showlegend: false, name: "upper" });
      traces.push({ x: xs, y: [last.value].concat(forecast.map((f) => f.lower)), mode: "lines", line: { width: 0 },
        fill: "tonexty", fillcolor: "rgba(86,180,233,0.28)", name: t("pages.overview.forecast_band"), hoverinfo: "skip" });
      traces.push({ x: xs, y: [last.value].concat(forecast.map((f) => f.value)), mode: "lines",
        line: { color: NS.colors.value, dash: "dash", width: 2 }, name: t("pages.overview.forecast"),
        customdata: [hover(last.period, last.value)].concat(forecast.map((f) =>
          NS.period(f.period, ns.grain) + "<br>" + NS.withUnit(f.value, unit) + "<br>" +
          t("pages.overview.band", { lower: NS.num(f.lower, unit), upper: NS.num(f.upper, unit) }))),
        hovertemplate: "%{customdata}<extra></extra>" });
    }
    const partial = data.partial || [];
    if (partial.length) {  // periods the data covers in part: drawn apart, open markers, not in the trend
      traces.push({ x: partial.map((r) => r.period), y: partial.map((r) => r.value), mode: "markers",
        marker: { symbol: "circle-open", size: 9, color: NS.colors.value, line: { width: 2 } },
        name: t("pages.metric.status.partial"),
        customdata: partial.map((r) => hover(r.period, r.value) + "<br>" + t("pages.metric.partial_note")),
        hovertemplate: "%{customdata}<extra></extra>" });
    }
    if (ns.target && ns.target.path && ns.target.path.length) {  // a series or a line: its target per period
      const path = ns.target.path;
      traces.push({ x: path.map((p) => p.period), y: path.map((p) => p.target), mode: "lines",
        line: { color: NS.colors.target, dash: "dot", width: 2, shape: ns.target.series ? "hv" : "linear" },
        name: t("pages.overview.target"),
        customdata: path.map((p) => NS.period(p.period, ns.grain) + "<br>" + t("pages.overview.target") + ": " + NS.withUnit(p.target, unit)),
        hovertemplate: "%{customdata}<extra></extra>" });
    } else if (ns.target && series.length) {
      const text = t("pages.overview.target_value", { value: NS.withUnit(ns.target.value, unit), date: NS.date(ns.target.by) });
      traces.push({ x: [series[0].period, ns.target.by], y: [ns.target.value, ns.target.value], mode: "lines+markers",
        line: { color: NS.colors.target, dash: "dot", width: 2 }, marker: { size: [0, 9], symbol: "diamond", color: NS.colors.target },
        name: t("pages.overview.target"), customdata: [text, text], hovertemplate: "%{customdata}<extra></extra>" });
    }
    const xs = series.map((r) => r.period).concat(forecast.map((f) => f.period), partial.map((r) => r.period));
    const marks = NS.annotationLayout(data.annotations, xs);
    NS.plot(document.getElementById("trend-chart"), traces, { yaxis: { title: { text: unit || "" }, rangemode: "tozero" },
      shapes: marks.shapes, annotations: marks.annotations });
    const note = [t("pages.overview.trend_note", { n: series.length, grain: NS.grainName(ns.grain) })];
    note.push(forecast.length ? t("pages.overview.forecast_note", { n: forecast.length }) : t("pages.overview.no_forecast"));
    if (partial.length) note.push(t("pages.overview.partial_note"));
    if (data.review && data.review.why) note.push(t("pages.overview.review", { period: NS.period(data.review.period, ns.grain), why: data.review.why }));
    document.getElementById("trend-desc").textContent = note.join(" ");
  }

  /** Several North Stars: a card each, side by side, the primary first; each links to its overview. */
  function northStars(cards) {
    const section = document.getElementById("north-stars");
    if (!cards || !cards.length) return;
    section.hidden = false;
    NS.fill(document.getElementById("north-star-cards"), cards.map((c) => el("a", {
      class: "ns-card" + (c.current ? " current" : ""), href: NS.href("/", { north_star: c.name }),
      "data-testid": "ns-card", "data-name": c.name, "aria-current": c.current ? "page" : null,
    }, el("span", { class: "ns-card-name" }, c.name + (c.primary ? " ★" : "")),
      el("strong", { class: "ns-card-label" }, c.label || c.metric),
      el("span", { class: "ns-card-value", "data-testid": "ns-card-value" }, NS.withUnit(c.value, c.unit)),
      el("span", { class: "ns-card-period" }, NS.period(c.period, c.grain)),
      NS.change(c.change_pct, "up"))));
  }

  const form = document.getElementById("controls");
  function load() {
    return NS.run(async (current) => {
      const windowed = NS.params().get("window");  // a rolling window (7d, 28d, mtd, qtd) for the headline
      const [data, metrics] = await Promise.all([NS.api("/api/overview", { window: windowed }), NS.metrics()]);
      if (!current()) return;
      form.elements.window.value = windowed || "";
      draw(data, metrics);
    });
  }

  function draw(data, metrics) {
    northStars(data.north_stars);
    hero(data, metrics);
    trend(data);
    const explanation = document.getElementById("explanation");
    NS.fill(explanation, data.explanation || t("pages.overview.no_explanation"), " ",
      el("a", { href: data.window ? NS.href("/explain", { window: data.window.window })
        : NS.metricHref(data.north_star.metric, { period: data.north_star.period }) },
        t(data.window ? "pages.overview.explain_more_window" : "pages.overview.explain_more")));
    NS.fill(document.getElementById("tree-table"), treeTable(data.tree, metrics, data.north_star.grain));
    NS.fill(document.getElementById("guardrails"), NS.guardrailTable(data.guardrails, metrics, data.north_star.grain));
    NS.fill(document.getElementById("focus"), NS.focusTable(data.focus, metrics));
    NS.checkCounts(document.getElementById("check-counts"), data.checks || {});
  }
  NS.bindControls(form, ["window"], (values) => { NS.setParams(values); load(); });
  load();
})();
