/* Focus: each team's One Metric That Matters over its time box, with baseline and target
 * lines and the straight path between them, and the annotations about it (/api/focus, /api/series,
 * /api/annotations). */
(function () {
  "use strict";
  const { el, t } = NS;
  const form = document.getElementById("controls");

  async function card(f, index, metrics, shown) {
    const unit = metrics.unit(f.metric);
    const label = metrics.label(f.metric);
    const chartId = "focus-chart-" + index;
    const section = el("section", { class: "focus-card", "aria-labelledby": "focus-h-" + index },
      el("h2", { id: "focus-h-" + index }, f.team + " · ", el("a", { href: NS.metricHref(f.metric, { from: f.start, to: f.deadline }) }, label)),
      el("dl", { class: "inline" },
        el("dt", {}, t("pages.col.owner")), el("dd", {}, f.owner || "–"),
        el("dt", {}, t("pages.col.value")), el("dd", {}, NS.withUnit(f.value, unit) + NS.soFar(f)),
        el("dt", {}, t("pages.col.baseline_target")), el("dd", {}, NS.num(f.baseline, unit) + " → " + NS.num(f.target, unit)),
        el("dt", {}, t("pages.col.window")), el("dd", {}, NS.date(f.start) + " – " + NS.date(f.deadline)),
        el("dt", {}, t("pages.col.progress")), el("dd", {}, NS.progress(f)),
        el("dt", {}, t("pages.col.time_gone")), el("dd", {}, NS.share(f.elapsed)),
        el("dt", {}, t("pages.col.status")), el("dd", {}, NS.status(f.status, f))),
      el("div", { class: "chart short", id: chartId, role: "figure", "aria-label": t("pages.focus.chart_label", { metric: label }) }));
    document.getElementById("focus-list").append(section);
    // values up to the period the status is for (a later, incomplete period would mislead)
    const last = shown && shown < f.deadline ? shown : f.deadline;
    const series = last >= f.start ? await NS.api("/api/series", { metrics: f.metric, from: f.start, to: last }) : { rows: [], grain: null };
    const rows = series.rows;
    const grain = series.grain;
    const traces = [{
      x: rows.map((r) => r.period), y: rows.map((r) => r[f.metric]), name: label, mode: "lines+markers",
      line: { color: NS.colors.value, width: 2.5 },
      marker: { size: 7, symbol: rows.map((r) => (r.period_status === "complete" ? "circle" : "circle-open")) },
      customdata: rows.map((r) => NS.period(r.period, grain) + "<br>" + NS.withUnit(r[f.metric], unit)), hovertemplate: "%{customdata}<extra></extra>",
    }, {
      x: [f.start, f.deadline], y: [f.baseline, f.baseline], name: t("pages.col.baseline") + " " + NS.num(f.baseline, unit), mode: "lines",
      line: { color: NS.colors.baseline, dash: "dash", width: 1.5 }, hoverinfo: "skip",
    }, {
      x: [f.start, f.deadline], y: [f.target, f.target], name: t("pages.col.target") + " " + NS.num(f.target, unit), mode: "lines",
      line: { color: NS.colors.target, dash: "dot", width: 2 }, hoverinfo: "skip",
    }, {
      x: [f.start, f.deadline], y: [f.baseline, f.target], name: t("pages.focus.path"), mode: "lines",
      line: { color: NS.colors.plan, dash: "dashdot", width: 1 }, hoverinfo: "skip",
    }];
    const notes = grain ? (await NS.api("/api/annotations", { metric: f.metric, grain: grain, from: f.start, to: f.deadline })).annotations : [];
    const marks = NS.annotationLayout(notes, rows.map((r) => r.period).concat([f.start, f.deadline]));
    NS.plot(document.getElementById(chartId), traces, { height: 300, xaxis: { range: [f.start, f.deadline] },
      yaxis: { tickformat: unit === "%" ? ".0%" : "", title: { text: unit || "" } }, shapes: marks.shapes, annotations: marks.annotations });
  }

  function load() {
    return NS.run(async (current) => {
      const period = NS.params().get("period");
      const [data, metrics, tree] = await Promise.all([NS.api("/api/focus", { period: period }), NS.metrics(),
        NS.api("/api/tree", { period: period })]);
      if (!current()) return;
      if (!period) form.elements.period.value = tree.period;
      document.getElementById("focus-period").textContent = t("pages.focus.period_shown", { period: NS.period(tree.period, tree.grain) });
      const list = NS.clear(document.getElementById("focus-list"));
      if (!data.focus.length) { list.append(el("p", { class: "hint" }, t("pages.focus.none"))); return; }
      await Promise.all(data.focus.map((f, i) => card(f, i, metrics, tree.period)));
    });
  }
  NS.bindControls(form, ["period"], (values) => { NS.setParams(values); load(); });
  load();
})();
