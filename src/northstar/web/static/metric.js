/* Metric: its series at any grain and range (/api/series, compare=true), broken down by a
 * dimension, at the North Star's grain its anomaly marks and expected range (/api/alerts?metric=), the selected period against the previous one and last year, why a period changed
 * (/api/explain, on a click on the chart or a table row), and a CSV download of what is shown. */
(function () {
  "use strict";
  const { el, t } = NS;
  const name = NS.config.metric;
  const form = document.getElementById("controls");
  const CONTROLS = ["grain", "from", "to", "by"];
  let state = null; // {rows, params, info, grain, periods, by, marks}

  function segmentKey(row, by) { return by ? String(row[by] === null || row[by] === undefined ? "∅" : row[by]) : ""; }

  function seriesParams() {
    const values = NS.controlValues(form, CONTROLS);
    return { metrics: name, grain: values.grain, from: values.from, to: values.to, by: values.by, compare: "true" };
  }

  function statusOf(period) {
    const r = state.rows.find((row) => row.period === period);
    return r ? r.period_status : null;
  }

  function selectedPeriod() {
    const asked = NS.params().get("period");
    if (asked && state.periods.includes(asked)) return asked;
    // by default the last period the data covers completely (a partial last period is not the news)
    const whole = state.periods.filter((p) => statusOf(p) !== "partial" && statusOf(p) !== "no data");
    return whole.length ? whole[whole.length - 1] : state.periods[state.periods.length - 1];
  }

  /** Hollow markers for partial and provisional periods: drawn apart from the complete ones. */
  function markerFor(subset, size) {
    return { size: size, symbol: subset.map((r) => (r.period_status === "partial" || r.period_status === "provisional"
      || r.period_status === "no data" ? "circle-open" : "circle")) };
  }

  /** With metric targets, a tree metric at the North Star's grain gets a "% of target" card:
   * its node in /api/tree for the period (the tree computes the target that applies). */
  let targetAsk = 0;
  async function targetCard(node, period) {
    const ask = ++targetAsk;
    if (!NS.config.targets) return;
    const known = await NS.metrics();
    if (!state.info.in_tree || state.grain !== known.grain) return;
    let tree;
    try { tree = await NS.api("/api/tree", { period: period }); } catch (e) { return; }
    if (ask !== targetAsk || !("target" in tree.root)) return;
    const found = (function find(n) {
      if (n.metric === name && n.link !== "driver") return n;
      for (const c of n.children || []) { const f = find(c); if (f) return f; }
      return null;
    })(tree.root);
    if (!found || !NS.finite(found.target)) return;
    node.append(el("div", { class: "card" }, el("dt", {}, t("pages.col.target_progress")),
      el("dd", {}, NS.targetBadge(found, state.info.unit))));
  }

  function summary() {
    const node = document.getElementById("summary");
    const { info, grain, by } = state;
    const unit = info.unit;
    const period = selectedPeriod();
    if (!period) { NS.fill(node, el("p", { class: "hint" }, t("pages.metric.no_data"))); return; }
    const rows = state.rows.filter((r) => r.period === period);
    const status = statusOf(period);
    const note = status === "partial" ? t("pages.metric.partial_note") : status === "provisional"
      ? t("pages.metric.provisional_note") : status === "no data" ? t("pages.metric.no_data") : null;
    const title = el("p", { class: "cards-title" }, NS.cap(NS.period(period, grain)),
      note ? el("span", { class: "hint period-status", "data-status": status }, " (" + note + ")") : null);
    const pct = (a, b) => (NS.finite(a) && NS.finite(b) && b !== 0 ? (a - b) / Math.abs(b) : null);
    if (!by) {
      const r = rows[0] || {};
      const v = r[name], prev = r[name + "_previous"], year = r[name + "_last_year"];
      const card = (label, value, change) => el("div", { class: "card" }, el("dt", {}, label),
        el("dd", {}, el("span", { class: "card-value" }, NS.withUnit(value, unit)), change ? el("br") : null, change));
      NS.fill(node, title,
        card(t("pages.metric.value"), v),
        card(t("pages.metric.previous"), prev, NS.change(pct(v, prev), info.direction)),
        card(t("pages.metric.last_year"), year, NS.change(pct(v, year), info.direction)));
      targetCard(node, period);
      return;
    }
    NS.fill(node, title, NS.table({
      caption: t("pages.metric.segments_caption", { by: by }),
      head: [by, t("pages.col.value"), t("pages.col.previous"), t("pages.col.change"), t("pages.col.last_year"), t("pages.col.change_year")],
      rows: rows.map((r) => [segmentKey(r, by), NS.withUnit(r[name], unit), NS.num(r[name + "_previous"], unit),
        NS.change(pct(r[name], r[name + "_previous"]), info.direction), NS.num(r[name + "_last_year"], unit),
        NS.change(pct(r[name], r[name + "_last_year"]), info.direction)]),
      numeric: [1, 2, 4],
    }));
  }

  function chart() {
    const { info, grain, by, rows } = state;
    const unit = info.unit;
    const label = info.label || name;
    const point = (r, key, what) => [r.period, NS.period(r.period, grain) + (what ? " · " + what : "")
      + (r.period_status && r.period_status !== "complete" ? " · " + t("pages.metric.status." + r.period_status.replace(" ", "_")) : "")
      + "<br>" + NS.withUnit(r[key], unit)];
    const line = (subset, key, traceName, style) => Object.assign({
      x: subset.map((r) => r.period), y: subset.map((r) => r[key]), name: traceName,
      customdata: subset.map((r) => point(r, key, by ? traceName : "")), hovertemplate: "%{customdata[1]}<extra></extra>",
    }, style);
    let traces;
    if (!by) {
      traces = [
        line(rows, name, label, { mode: "lines+markers", line: { color: NS.colors.value, width: 2.5 }, marker: markerFor(rows, 7) }),
        line(rows, name + "_previous", t("pages.metric.previous"), { mode: "lines", line: { color: NS.colors.previous, dash: "dash", width: 1.5 } }),
        line(rows, name + "_last_year", t("pages.metric.last_year"), { mode: "lines", line: { color: NS.colors.lastYear, dash: "dot", width: 1.5 } }),
      ];
    } else {
      const groups = new Map();
      rows.forEach((r) => { const k = segmentKey(r, by); if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); });
      const dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
      traces = Array.from(groups.entries()).map(([k, subset], i) =>
        line(subset, name, k, { mode: "lines+markers", marker: markerFor(subset, 6),
          line: { color: NS.palette[i % NS.palette.length], dash: dashes[Math.floor(i / NS.palette.length) % dashes.length], width: 2 } }));
    }
    traces = traces.concat(anomalyTraces());
    const chartNode = document.getElementById("metric-chart");
    const period = selectedPeriod();
    const marks = NS.annotationLayout(state.annotations, state.periods);
    const shapes = marks.shapes.concat(period ? [{ type: "line", xref: "x", yref: "paper", x0: period, x1: period, y0: 0, y1: 1,
      line: { color: "#777", width: 1, dash: "dot" } }] : []);
    NS.plot(chartNode, traces, { yaxis: { title: { text: unit || "" }, tickformat: unit === "%" ? ".0%" : "" }, shapes: shapes,
      annotations: marks.annotations, hovermode: "closest" }).then(() => {
      if (!chartNode.dataset.bound) {
        chartNode.dataset.bound = "1";
        chartNode.on("plotly_click", (event) => {
          const pt = event.points && event.points[0];
          if (pt && pt.customdata) select(pt.customdata[0]);
        });
      }
    });
  }

  /** The expected range and the anomalies of /api/alerts?metric=, drawn over the series. */
  function anomalyTraces() {
    const { marks, grain, by, info } = state;
    if (!marks || by || marks.grain !== grain) return [];
    const shown = new Set(state.periods);
    const points = marks.points.filter((p) => shown.has(p.period));
    if (!points.length) return [];
    const unit = info.unit;
    const x = points.map((p) => p.period);
    const band = t("pages.metric.expected_band");
    const hover = points.map((p) => NS.period(p.period, grain) + "<br>" + t("pages.metric.expected") + " " + NS.withUnit(p.expected, unit) +
      " (" + NS.num(p.lower, unit) + " – " + NS.num(p.upper, unit) + ")");
    const out = [
      { x: x, y: points.map((p) => p.upper), name: band, mode: "lines", line: { width: 0 }, showlegend: false,
        hoverinfo: "skip", legendgroup: "expected" },
      { x: x, y: points.map((p) => p.lower), name: band, mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: "rgba(86,180,233,0.18)", legendgroup: "expected", customdata: hover.map((h, i) => [x[i], h]),
        hovertemplate: "%{customdata[1]}<extra></extra>" },
    ];
    const odd = points.filter((p) => p.anomaly);
    if (odd.length) {
      out.push({ x: odd.map((p) => p.period), y: odd.map((p) => p.value), name: t("pages.metric.anomaly"), mode: "markers",
        marker: { symbol: "x-thin-open", size: 14, color: NS.colors.target, line: { width: 3, color: NS.colors.target } },
        customdata: odd.map((p) => [p.period, NS.period(p.period, grain) + " · " + t("pages.metric.anomaly") + "<br>" +
          NS.withUnit(p.value, unit) + " · " + t("pages.metric.expected") + " " + NS.withUnit(p.expected, unit)]),
        hovertemplate: "%{customdata[1]}<extra></extra>" });
    }
    return out;
  }

  function anomalyNote() {
    const node = document.getElementById("anomaly-note");
    const { marks, grain, by } = state;
    if (!marks || by || marks.grain !== grain) { node.textContent = ""; return; }
    const n = marks.points.filter((p) => p.anomaly && state.periods.includes(p.period)).length;
    node.textContent = t("pages.metric.anomalies_note", { n: n, sensitivity: NS.num(marks.sensitivity) });
  }

  async function loadMarks(grain, by) {
    // the marks are the whole's (the monitor watches all customers): none for a segment
    if (by || NS.where() || grain !== (await NS.metrics()).grain) return null;
    try {
      return (await NS.api("/api/alerts", { metric: name })).anomalies;
    } catch (error) {
      console.warn("anomaly marks: " + error.message); // the chart still shows the series
      return null;
    }
  }

  /** The annotations about this metric, each with the periods of `grain` it falls in. */
  async function loadAnnotations(grain) {
    try {
      return (await NS.api("/api/annotations", { metric: name, grain: grain })).annotations;
    } catch (error) {
      console.warn("annotations: " + error.message); // the chart still shows the series
      return [];
    }
  }

  function dataTable() {
    const details = document.getElementById("data-details");
    const node = document.getElementById("data-table");
    if (!details.open) { NS.clear(node); return; }
    const { info, grain, by, rows } = state;
    const unit = info.unit;
    const head = [t("pages.col.period")].concat(by ? [by] : [],
      [t("pages.col.value"), t("pages.col.previous"), t("pages.col.last_year"), t("pages.col.explain")]);
    const offset = by ? 1 : 0;
    NS.fill(node, NS.table({
      caption: t("pages.metric.table_caption", { metric: info.label || name, grain: NS.grainName(grain) }),
      head: head,
      rows: rows.map((r) => [NS.period(r.period, grain)].concat(by ? [segmentKey(r, by)] : [],
        [NS.num(r[name], unit), NS.num(r[name + "_previous"], unit), NS.num(r[name + "_last_year"], unit),
          el("button", { type: "button", class: "small", onclick: () => select(r.period),
            "aria-label": t("pages.metric.explain_period", { period: NS.period(r.period, grain) }) }, t("pages.metric.explain_button"))])),
      numeric: [1 + offset, 2 + offset, 3 + offset],
    }));
  }

  function csvLink() {
    document.getElementById("csv").setAttribute("href", NS.apiUrl("/api/series.csv", seriesParams()));
  }

  // ---- explain -------------------------------------------------------------------------------
  async function explain(period) {
    const node = document.getElementById("explain");
    const grain = state.grain;
    NS.fill(node, el("p", { class: "hint" }, NS.cap(t("pages.metric.explaining", { period: NS.period(period, grain) }))));
    let data;
    const metrics = await NS.metrics();
    try {
      data = await NS.api("/api/explain", { metric: name, period: period });
    } catch (error) {
      NS.fill(node, el("p", { class: "error", role: "alert", "data-testid": "explain-error" }, t("pages.metric.explain_failed", { message: error.message })));
      return;
    }
    if (selectedPeriod() !== period) return; // another period was chosen meanwhile
    NS.fill(node, NS.explainView(data, metrics, name, grain));
  }

  function select(period) {
    NS.setParams({ period: period });
    summary();
    chart();
    explain(period);
  }

  // ---- loading -------------------------------------------------------------------------------
  function load(first) {
    csvLink();
    return NS.run(async (current) => {
      const query = seriesParams();
      const known = await NS.metrics();
      const [metrics, series, marks, notes] = await Promise.all([NS.metrics(), NS.api("/api/series", query),
        loadMarks(query.grain || known.grain, query.by), loadAnnotations(query.grain || known.grain)]);
      if (!current()) return;
      const info = metrics.byName[name];
      const periods = Array.from(new Set(series.rows.map((r) => r.period)));
      state = { rows: series.rows, info: info, grain: series.grain, by: (series.by || [])[0] || "", periods: periods, marks: marks,
        annotations: notes };
      summary();
      chart();
      anomalyNote();
      dataTable();
      const asked = NS.params().get("period");
      if (first && asked && periods.includes(asked)) explain(asked);
    });
  }

  async function start() {
    const metrics = await NS.metrics();
    const info = metrics.byName[name];
    document.getElementById("metric-title").textContent = info.label || name;
    document.title = (info.label || name) + document.title.slice(document.title.indexOf(" · "));
    const description = document.getElementById("metric-description");
    NS.fill(description, info.description ? info.description + " " : "",
      el("code", {}, name), info.unit ? " · " + t("pages.metric.unit", { unit: info.unit }) : "",
      info.in_tree ? " · " + t("pages.metric.in_tree") : "");
    const by = form.elements.by;
    info.dimensions.forEach((d) => by.append(el("option", { value: d }, d)));
    form.elements.grain.value = metrics.grain;
    NS.bindControls(form, CONTROLS, (values) => {
      // a new view: the selected period and its explanation may not exist in it
      NS.setParams(Object.assign({}, values, { period: "" }));
      NS.fill(document.getElementById("explain"), el("p", { class: "hint" }, t("pages.metric.explain_empty")));
      load(false);
    });
    document.getElementById("data-details").addEventListener("toggle", () => { if (state) dataTable(); });
    await load(true);
  }
  NS.run(start);
})();
