/* Checks: every finding of the method's rules with its severity, rule, subject, message,
 * evidence and fix; the counts by severity; the North Star's history (/api/checks). */
(function () {
  "use strict";
  const { el, t } = NS;
  const form = document.getElementById("controls");

  function evidence(value) {
    if (value === null || value === undefined) return "–";
    if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
    if (typeof value === "object") {
      const entries = Object.entries(value);
      if (entries.length > 3 && entries.every(([, v]) => v === null || typeof v !== "object")) {
        // a series (e.g. correlation by lag): one line
        return entries.map(([k, v]) => k + ": " + (typeof v === "number" ? NS.num(v) : String(v))).join(" · ");
      }
      return el("dl", { class: "evidence" }, Object.entries(value).map(([k, v]) =>
        [el("dt", {}, k), el("dd", {}, typeof v === "number" ? NS.num(v) : (typeof v === "object" && v !== null ? evidence(v) : String(v)))]));
    }
    return String(value);
  }

  function finding(f) {
    return el("article", { class: "finding sev-" + f.severity, "data-rule": f.rule },
      el("h3", {}, NS.severity(f.severity), " ", el("code", {}, f.rule), f.subject ? " · " + f.subject : ""),
      el("dl", {},
        el("dt", {}, t("pages.checks.message")), el("dd", {}, f.message),
        el("dt", {}, t("pages.checks.evidence")), el("dd", {}, evidence(f.evidence)),
        el("dt", {}, t("pages.checks.fix")), el("dd", {}, f.fix || "–")));
  }

  let data = null;
  function draw() {
    const severity = form.elements.severity.value;
    const shown = data.findings.filter((f) => !severity || f.severity === severity);
    NS.fill(document.getElementById("findings"),
      el("p", { class: "hint", "data-testid": "finding-count" }, t("pages.checks.shown", { n: shown.length, total: data.findings.length })),
      shown.length ? shown.map(finding) : el("p", {}, t("pages.checks.none")));
  }

  NS.run(async () => {
    data = await NS.api("/api/checks");
    NS.checkCounts(document.getElementById("check-counts"), data.counts || {});
    NS.bindControls(form, ["severity"], (values) => { NS.setParams(values); draw(); });
    draw();
    const history = data.history || [];
    NS.fill(document.getElementById("history"), history.length
      ? NS.table({ caption: t("pages.checks.history_caption", { metric: data.north_star }),
          head: [t("pages.col.metric"), t("pages.col.until"), t("pages.col.reason")],
          rows: history.map((h) => [h.metric, NS.date(h.until), h.reason || "–"]) })
      : el("p", { class: "hint" }, t("pages.checks.no_history")));
    document.getElementById("rules-run").textContent = (data.rules_run || []).join(", ");
  });
})();
