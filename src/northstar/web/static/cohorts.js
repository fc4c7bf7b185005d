/* Cohorts: of the entities first seen in each period, the share active again N periods later,
 * as a heat map (cohort × offset) and a table (/api/cohorts). */
(function () {
  "use strict";
  const { el, t } = NS;
  const form = document.getElementById("controls");
  const CONTROLS = ["metric", "grain", "from", "to"];
  const OFFSETS_IN_TABLE = 13;

  function draw(data, metrics) {
    const grain = data.grain;
    const cohorts = Array.from(new Set(data.rows.map((r) => r.cohort))).sort();
    const maxOffset = data.rows.reduce((m, r) => Math.max(m, r.offset), 0);
    const index = new Map(cohorts.map((c, i) => [c, i]));
    const z = cohorts.map(() => new Array(maxOffset + 1).fill(null));
    const text = cohorts.map(() => new Array(maxOffset + 1).fill(""));
    const size = {};
    data.rows.forEach((r) => {
      const i = index.get(r.cohort);
      z[i][r.offset] = r.rate;
      if (r.offset === 0) size[r.cohort] = r.entities;
      text[i][r.offset] = t("pages.cohorts.hover", { cohort: NS.period(r.cohort, grain), offset: r.offset,
        grain: NS.grainName(grain), rate: NS.num(r.rate, "%"), n: NS.num(r.entities) });
    });
    let zmax = 0;
    data.rows.forEach((r) => { if (r.offset > 0 && NS.finite(r.rate)) zmax = Math.max(zmax, r.rate); });
    const chart = document.getElementById("cohort-chart");
    const height = Math.max(380, Math.min(1400, 140 + cohorts.length * 12));
    NS.plot(chart, [{
      type: "heatmap", x: Array.from({ length: maxOffset + 1 }, (_, i) => i), y: cohorts.map((c) => NS.period(c, grain)),
      z: z, customdata: text, hovertemplate: "%{customdata}<extra></extra>", colorscale: "Cividis", zmin: 0, zmax: zmax || 1,
      colorbar: { title: { text: t("pages.cohorts.rate") }, tickformat: ".0%" }, xgap: 1, ygap: 1,
    }], { height: height, margin: { l: 150, b: 56 }, yaxis: { autorange: "reversed", title: { text: t("pages.cohorts.cohort") }, type: "category" },
      xaxis: { title: { text: t("pages.cohorts.offset", { grain: NS.grainName(grain) }) }, dtick: maxOffset > 30 ? 4 : 1 } });
    document.getElementById("cohort-note").textContent = t("pages.cohorts.note", {
      metric: metrics.label(data.metric), n: cohorts.length, last: NS.period(data.last_period, grain), end: NS.date(data.data_end),
    });
    const shown = Math.min(OFFSETS_IN_TABLE, maxOffset + 1);
    NS.fill(document.getElementById("cohort-table"), NS.table({
      caption: t("pages.cohorts.table_caption", { metric: metrics.label(data.metric) }),
      head: [t("pages.cohorts.cohort"), t("pages.cohorts.size")].concat(Array.from({ length: shown }, (_, i) => "+" + i)),
      rows: cohorts.map((c, i) => [NS.period(c, grain), NS.num(size[c])].concat(z[i].slice(0, shown).map((v) => NS.num(v, "%")))),
      numeric: Array.from({ length: shown + 1 }, (_, i) => i + 1),
    }));
  }

  function load() {
    return NS.run(async (current) => {
      const values = NS.controlValues(form, CONTROLS);
      const [data, metrics] = await Promise.all([NS.api("/api/cohorts", values), NS.metrics()]);
      if (!current()) return;
      form.elements.metric.value = data.metric;
      form.elements.grain.value = data.grain;
      draw(data, metrics);
    });
  }

  NS.run(async () => {
    const metrics = await NS.metrics();
    const select = form.elements.metric;
    (NS.config.entityMetrics || []).forEach((m) => select.append(el("option", { value: m }, metrics.label(m))));
    form.elements.grain.value = metrics.grain;
    NS.bindControls(form, CONTROLS, (values) => { NS.setParams(values); load(); });
    await load();
  });
})();
