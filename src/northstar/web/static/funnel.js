/* Funnel: the AARRR stages, their change, the reachable level and the gain in the North Star
 * it would bring, the bottleneck and a proposed OMTM (/api/funnel). */
(function () {
  "use strict";
  const { el, t } = NS;
  const form = document.getElementById("controls");
  const CONTROLS = ["period", "by"];

  function segments(stage, unit) {
    const entries = Object.entries(stage.segments || {});
    if (!entries.length) return "–";
    return el("ul", { class: "plain" }, entries.map(([k, v]) => el("li", {}, k + ": " + NS.num(v, unit))));
  }

  function stageName(stage) { return t("pages.funnel.stage." + stage); }

  function draw(data, metrics) {
    const grain = data.grain;
    document.getElementById("funnel-summary").textContent = data.summary || "";
    const by = NS.params().get("by");
    const head = [t("pages.col.stage"), t("pages.col.metric"), t("pages.col.value"), t("pages.col.previous"), t("pages.col.change"),
      t("pages.col.reachable"), t("pages.col.nsm_gain"), t("pages.col.how")];
    if (by) head.push(t("pages.funnel.by", { by: by }));
    const rows = data.stages.map((s) => {
      const unit = metrics.unit(s.metric);
      const bottleneck = s.stage === data.bottleneck;
      const cells = [
        el("span", {}, stageName(s.stage), bottleneck ? el("strong", { class: "flag" }, " ◆ " + t("pages.funnel.bottleneck")) : null),
        s.metric ? el("a", { href: NS.metricHref(s.metric) }, s.label || s.metric) : t("pages.funnel.unmapped"),
        NS.withUnit(s.value, unit), NS.num(s.previous, unit), NS.change(s.change_pct, metrics.direction(s.metric)),
        el("span", {}, NS.num(s.reachable, unit), s.reachable_from ? el("br") : null, s.reachable_from ? el("small", {}, s.reachable_from) : null),
        NS.withUnit(s.nsm_gain, metrics.unit(data.north_star)), s.gain_method || "–",
      ];
      if (by) cells.push(segments(s, unit));
      return { cells: cells, className: bottleneck ? "highlight" : null };
    });
    NS.fill(document.getElementById("stages"), NS.table({
      caption: t("pages.funnel.caption", { period: NS.period(data.period, grain) }), head: head, rows: rows, numeric: [2, 3, 6],
    }));
    const stages = data.stages.slice().reverse();
    const nsUnit = metrics.unit(data.north_star);
    NS.plot(document.getElementById("gain-chart"), [{
      type: "bar", orientation: "h", y: stages.map((s) => stageName(s.stage)), x: stages.map((s) => s.nsm_gain || 0),
      marker: { color: stages.map((s) => (s.stage === data.bottleneck ? NS.colors.previous : NS.colors.value)),
                pattern: { shape: stages.map((s) => (s.stage === data.bottleneck ? "/" : "")) } },
      text: stages.map((s) => NS.num(s.nsm_gain, nsUnit)), textposition: "auto",
      customdata: stages.map((s) => stageName(s.stage) + (s.stage === data.bottleneck ? " (" + t("pages.funnel.bottleneck") + ")" : "") +
        "<br>" + t("pages.col.nsm_gain") + ": " + NS.withUnit(s.nsm_gain, nsUnit)),
      hovertemplate: "%{customdata}<extra></extra>", name: t("pages.col.nsm_gain"),
    }], { margin: { l: 110 }, xaxis: { title: { text: t("pages.funnel.gain_axis", { metric: metrics.label(data.north_star), grain: NS.grainName(grain) }) } },
      showlegend: false, height: 300 });
    const p = data.proposal;
    const proposal = document.getElementById("proposal");
    if (!p) { NS.fill(proposal, el("p", { class: "hint" }, t("pages.funnel.no_proposal"))); return; }
    const unit = metrics.unit(p.metric);
    NS.fill(proposal, el("dl", { class: "inline" },
      el("dt", {}, t("pages.col.team")), el("dd", {}, p.team || "–"),
      el("dt", {}, t("pages.col.metric")), el("dd", {}, p.metric ? el("a", { href: NS.metricHref(p.metric) }, metrics.label(p.metric)) : "–"),
      el("dt", {}, t("pages.col.baseline")), el("dd", {}, NS.num(p.baseline, unit)),
      el("dt", {}, t("pages.col.target")), el("dd", {}, NS.num(p.target, unit)),
      el("dt", {}, t("pages.col.window")), el("dd", {}, NS.date(p.from) + " – " + NS.date(p.to)),
      el("dt", {}, t("pages.col.why")), el("dd", {}, p.why || "–")));
  }

  function load() {
    return NS.run(async (current) => {
      const values = NS.controlValues(form, CONTROLS);
      const [data, metrics] = await Promise.all([NS.api("/api/funnel", values), NS.metrics()]);
      if (!current()) return;
      if (!values.period) form.elements.period.value = data.period;
      draw(data, metrics);
    });
  }

  NS.run(async () => {
    const metrics = await NS.metrics();
    metrics.dimensions.forEach((d) => form.elements.by.append(el("option", { value: d }, d)));
    NS.bindControls(form, CONTROLS, (values) => { NS.setParams(values); load(); });
    await load();
  });
})();
