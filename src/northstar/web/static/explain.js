/* Explain: why a metric moved (/api/explain) between a period and the one before (or a year
 * before), or over a rolling window against the window before; the controls live in the URL. */
(function () {
  "use strict";
  const { el } = NS;
  const form = document.getElementById("controls");
  const CONTROLS = ["metric", "period", "vs", "window"];

  function load() {
    return NS.run(async (current) => {
      const query = NS.params();
      const values = {};
      CONTROLS.forEach((k) => { values[k] = query.get(k) || ""; });
      const metrics = await NS.metrics();
      const name = values.metric || metrics.north_star;
      // a window ends on the data's last complete day: no period with it
      const data = await NS.api("/api/explain", { metric: name, period: values.window ? "" : values.period,
        vs: values.vs, window: values.window });
      if (!current()) return;
      form.elements.metric.value = name;
      form.elements.window.value = values.window;
      form.elements.period.disabled = !!values.window;
      if (!values.period && !values.window) form.elements.period.value = data.period;
      NS.fill(document.getElementById("explain"), NS.explainView(data, metrics, name, data.grain),
        el("p", {}, el("a", { href: NS.metricHref(name, values.window ? {} : { period: data.period }) }, metrics.label(name))));
    });
  }

  NS.run(async () => {
    const metrics = await NS.metrics();
    metrics.metrics.forEach((m) => form.elements.metric.append(el("option", { value: m.name }, m.label || m.name)));
    NS.bindControls(form, CONTROLS, (values) => {
      if (values.window) values.period = "";
      NS.setParams(values);
      load();
    });
    await load();
  });
})();
