/* Northstar dashboard: shared helpers (texts, numbers, the API, the URL, tables, charts).
 * Every number a page shows comes from the JSON API under /api, fetched here; nothing is
 * loaded from another origin. Texts built here come from the page's catalogue (#ns-config). */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("ns-config").textContent);
  const NS = (window.NS = { config: config });
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif';
  // Okabe–Ito: distinguishable with every common colour-vision deficiency.
  NS.palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"];
  NS.colors = { value: "#0072B2", previous: "#E69F00", lastYear: "#009E73", target: "#D55E00",
                forecast: "#56B4E9", baseline: "#555555", plan: "#CC79A7", good: "#0072B2", bad: "#D55E00" };

  // ---- texts -------------------------------------------------------------------------------
  NS.t = function (key, fields) {
    let text = config.i18n[key];
    if (text == null) text = key;
    if (fields) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in fields ? String(fields[k]) : m));
    return text;
  };

  // ---- numbers and dates ---------------------------------------------------------------------
  const formats = {};
  function nf(options) {
    const key = JSON.stringify(options);
    return formats[key] || (formats[key] = new Intl.NumberFormat(config.locale, options));
  }
  function finite(v) { return v !== null && v !== undefined && typeof v === "number" && isFinite(v); }
  NS.finite = finite;

  /** A value in its unit: rates (unit "%") as percentages, other numbers with sensible digits. */
  NS.num = function (v, unit) {
    if (!finite(v)) return "–";
    if (unit === "%") return nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v);
    const a = Math.abs(v);
    const digits = a >= 1000 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a === 0 ? 0 : 3;
    return nf({ maximumFractionDigits: digits }).format(v);
  };
  /** The value followed by its unit (no unit for rates: the % says it). */
  NS.withUnit = function (v, unit) {
    return finite(v) && unit && unit !== "%" ? NS.num(v, unit) + "\u00a0" + unit : NS.num(v, unit);
  };
  /** A signed percentage: +3.2%. */
  NS.pct = function (v) {
    if (!finite(v)) return "–";
    return nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" }).format(v);
  };
  NS.share = function (v) {
    return finite(v) ? nf({ style: "percent", maximumFractionDigits: 0 }).format(v) : "–";
  };

  function utc(iso) { return new Date(String(iso).slice(0, 10) + "T00:00:00Z"); }
  const dateFormats = {};
  function df(options) {
    const key = JSON.stringify(options);
    return dateFormats[key] || (dateFormats[key] = new Intl.DateTimeFormat(config.locale, Object.assign({ timeZone: "UTC" }, options)));
  }
  NS.date = function (iso) {
    if (!iso) return "–";
    return df({ day: "numeric", month: "short", year: "numeric" }).format(utc(iso));
  };
  /** "week of 26 Oct 2026", "October 2026", "Q4 2026", "2026", "Mon 26 Oct 2026". */
  NS.period = function (iso, grain) {
    if (!iso) return "–";
    const d = utc(iso);
    if (grain === "month") return df({ month: "long", year: "numeric" }).format(d);
    if (grain === "quarter") return NS.t("pages.period.quarter", { q: Math.floor(d.getUTCMonth() / 3) + 1, year: d.getUTCFullYear() });
    if (grain === "year") return NS.t("pages.period.year", { year: d.getUTCFullYear() });
    if (grain === "day") return df({ weekday: "short", day: "numeric", month: "short", year: "numeric" }).format(d);
    return NS.t("pages.period.week", { date: NS.date(iso) });
  };
  NS.grainName = (grain) => NS.t("pages.grain." + grain);
  /** The text with a capital first letter (a period name starting a sentence or heading). */
  NS.cap = (text) => (text ? text.charAt(0).toLocaleUpperCase(config.locale) + text.slice(1) : text);

  // ---- DOM -----------------------------------------------------------------------------------
  /** el("a", {href, class, text}, ...children): text nodes only, never HTML from data. */
  NS.el = function (tag, attrs) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  };
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach((c) => append(node, c));
    else node.append(child instanceof Node ? child : String(child));
  }
  const el = NS.el;
  NS.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };
  NS.fill = function (node) { NS.clear(node); for (let i = 1; i < arguments.length; i++) append(node, arguments[i]); return node; };

  /** A table: {caption, head: [..], rows: [[..]], numeric: [column indexes], rowHeader: true}. */
  NS.table = function (spec) {
    const numeric = new Set(spec.numeric || []);
    const head = el("tr", {}, spec.head.map((h, i) => el("th", { scope: "col", class: numeric.has(i) ? "num" : null }, h)));
    const body = spec.rows.map((row) => {
      const cells = row.cells || row;
      return el("tr", { class: row.className || null },
        cells.map((c, i) => (i === 0 && spec.rowHeader !== false)
          ? el("th", { scope: "row" }, c)
          : el("td", { class: numeric.has(i) ? "num" : null }, c)));
    });
    return el("table", { class: spec.className || null },
      spec.caption ? el("caption", {}, spec.caption) : null, el("thead", {}, head), el("tbody", {}, body));
  };

  /** A change shown by arrow, sign and word, with colour only as an extra: "▲ +3.2% up". */
  NS.change = function (pct, direction) {
    if (!finite(pct)) return el("span", { class: "change none" }, NS.t("pages.change.none"));
    let arrow, word, cls;
    if (Math.abs(pct) < 0.0005) { arrow = "●"; word = NS.t("pages.change.flat"); cls = "flat"; }
    else if (pct > 0) { arrow = "▲"; word = NS.t("pages.change.up"); cls = "up"; }
    else { arrow = "▼"; word = NS.t("pages.change.down"); cls = "down"; }
    const good = cls === "flat" ? "" : ((cls === "up") === (direction !== "down") ? " good" : " bad");
    return el("span", { class: "change " + cls + good }, arrow + " " + NS.pct(pct) + " " + word);
  };
  NS.changeText = function (pct) { return NS.change(pct).textContent; };

  const STATUS = { ok: ["✓", "ok"], breached: ["✗", "bad"], "no data": ["–", "none"], reached: ["★", "ok"],
                   "on track": ["✓", "ok"], behind: ["!", "bad"], provisional: ["⧗", "none"] };
  NS.status = function (status, item) {
    const [symbol, cls] = STATUS[status] || ["?", "none"];
    const badge = el("span", { class: "badge " + cls }, symbol + " " + NS.t("pages.status." + String(status).replace(" ", "_")));
    if (status !== "provisional" || !item || !item.provisional_until) return badge;
    // a provisional value (its window has not passed): until when, and its last final verdict
    const last = item.last_final;
    return el("span", {}, badge, " ", el("span", { class: "hint" }, NS.t("pages.status.provisional_until", { date: NS.date(item.provisional_until) })
      + (last && last.period ? "; " + NS.t("pages.status.last_final", { status: NS.t("pages.status." + String(last.status).replace(" ", "_")), period: NS.date(last.period) }) : "")));
  };
  /** " so far" after a provisional value (its window has not passed: not a verdict yet). */
  NS.soFar = (item) => (item && item.status === "provisional" ? " " + NS.t("pages.status.so_far") : "");
  const SEVERITY = { error: "✖", warning: "⚠", info: "ℹ" };
  NS.severity = function (severity) {
    return el("span", { class: "badge sev-" + severity }, (SEVERITY[severity] || "") + " " + NS.t("pages.severity." + severity));
  };
  NS.severitySymbol = (s) => SEVERITY[s] || "";

  // ---- the URL -------------------------------------------------------------------------------
  NS.params = () => new URLSearchParams(window.location.search);
  /** A link inside the dashboard that keeps ?lang= when the page was asked for with one. */
  NS.href = function (path, params) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") query.set(k, v);
    const lang = NS.params().get("lang");
    if (lang) query.set("lang", lang);
    const northStar = NS.params().get("north_star");  // several North Stars: stay on the one shown
    if (northStar && !query.has("north_star")) query.set("north_star", northStar);
    const where = NS.where();  // the header's segment filter travels with every link
    if (where && !query.has("where")) query.set("where", where);
    const text = query.toString();
    return path + (text ? "?" + text : "");
  };
  /** The segment filter of the URL (?where=), or null. */
  NS.where = () => (NS.params().get("where") || "").trim() || null;
  // The routes that take ?where=: on a page showing a segment, every call to them carries it.
  const SEGMENTED = ["/api/tree", "/api/explain", "/api/funnel", "/api/targets", "/api/series", "/api/series.csv", "/api/overview"];
  function segmented(path, params) {
    const where = config.segment && SEGMENTED.includes(path) ? NS.where() : null;
    return where && !(params && params.where) ? Object.assign({}, params, { where: where }) : params;
  }
  NS.metricHref = (name, params) => NS.href("/metric/" + encodeURIComponent(name), params);
  /** Update the query string (empty values removed) without reloading; language links follow. */
  NS.setParams = function (values) {
    const query = NS.params();
    for (const [k, v] of Object.entries(values)) {
      if (v === null || v === undefined || v === "") query.delete(k);
      else query.set(k, v);
    }
    const text = query.toString();
    window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : ""));
    NS.syncLinks();
  };
  NS.syncLinks = function () {
    document.querySelectorAll("a[data-lang]").forEach((a) => {
      const query = NS.params();
      query.delete("token");
      query.set("lang", a.dataset.lang);
      a.setAttribute("href", window.location.pathname + "?" + query.toString());
    });
  };

  /** Restore a form's controls from the URL, and on change write them back and call onChange. */
  NS.bindControls = function (form, names, onChange) {
    const query = NS.params();
    for (const name of names) {
      const control = form.elements[name];
      const value = query.get(name);
      if (control && value !== null) {
        if (control.type === "checkbox") control.checked = value === "true";
        else control.value = value;
      }
    }
    form.addEventListener("submit", (e) => e.preventDefault());
    form.addEventListener("change", (e) => {
      if (!names.includes(e.target.name)) return;
      const values = {};
      for (const name of names) {
        const control = form.elements[name];
        if (control) values[name] = control.type === "checkbox" ? (control.checked ? "true" : "") : control.value;
      }
      onChange(values, e.target.name);
    });
  };
  NS.controlValues = function (form, names) {
    const values = {};
    for (const name of names) values[name] = form.elements[name] ? form.elements[name].value : "";
    return values;
  };

  // ---- the API -------------------------------------------------------------------------------
  /** GET /api/...: the JSON body, or an Error with the API's one-line message. */
  NS.api = async function (path, params) {
    params = segmented(path, params);
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
    const northStar = NS.params().get("north_star");  // the North Star the page is for (the API's default: the primary)
    if (northStar && !url.searchParams.has("north_star")) url.searchParams.set("north_star", northStar);
    const response = await fetch(url.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = new Error(body && body.error ? body.error.message : "HTTP " + response.status);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  };
  NS.apiUrl = function (path, params) {
    params = segmented(path, params);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") query.set(k, v);
    const text = query.toString();
    return path + (text ? "?" + text : "");
  };
  let catalogue = null;
  /** /api/metrics, fetched once: {list, byName, north_star, grain, dimensions}. */
  NS.metrics = function () {
    if (!catalogue) {
      catalogue = NS.api("/api/metrics").then((body) => {
        body.byName = {};
        body.metrics.forEach((m) => { body.byName[m.name] = m; });
        body.label = (name) => (body.byName[name] ? body.byName[name].label || name : name);
        body.unit = (name) => (body.byName[name] ? body.byName[name].unit : null);
        body.direction = (name) => (body.byName[name] ? body.byName[name].direction : "up");
        return body;
      });
    }
    return catalogue;
  };

  // ---- loading state ---------------------------------------------------------------------------
  let sequence = 0;
  let started = false;
  /** Run a page's loader; body[data-state] is loading, then ready or error (for people and tests).
   * The loader gets current(): false once a newer run started (its results are then dropped). */
  NS.run = async function (loader) {
    started = true;
    const mine = ++sequence;
    const current = () => mine === sequence;
    const status = document.getElementById("status");
    document.body.dataset.state = "loading";
    status.hidden = false;
    status.className = "status";
    status.textContent = NS.t("pages.loading");
    try {
      await loader(current);
      if (!current()) return;
      status.textContent = "";
      status.hidden = true;
      document.body.dataset.state = "ready";
    } catch (error) {
      if (!current()) return;
      console.error(error);
      status.className = "status error";
      status.textContent = NS.t("pages.error", { message: error.message });
      document.body.dataset.state = "error";
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    NS.syncLinks();
    if (!started) {
      const status = document.getElementById("status");
      if (status) { status.hidden = true; status.textContent = ""; }
      document.body.dataset.state = "ready";
    }
  });

  // ---- pieces several pages show ------------------------------------------------------------
  const t = NS.t;

  NS.linkLabel = function (node) {
    if (node.link === "root") return "★ " + t("pages.link.root");
    if (node.link === "driver") {
      return t("pages.link.driver", { lag: node.lag === null || node.lag === undefined ? 0 : node.lag }) +
        (node.direction ? " (" + (node.direction === "down" ? "▼ " : "▲ ") + t("pages.change." + node.direction) + ")" : "");
    }
    return t("pages.link.formula");
  };

  function bound(g, unit) {
    const parts = [];
    if (NS.finite(g.min)) parts.push("≥ " + NS.num(g.min, unit));
    if (NS.finite(g.max)) parts.push("≤ " + NS.num(g.max, unit));
    return parts.join(", ") || "–";
  }

  NS.guardrailTable = function (guardrails, metrics, grain) {
    if (!guardrails.length) return el("p", { class: "hint" }, t("pages.overview.no_guardrails"));
    return NS.table({
      caption: t("pages.overview.guardrails_caption"),
      head: [t("pages.col.metric"), t("pages.col.period"), t("pages.col.value"), t("pages.col.bound"), t("pages.col.status")],
      rows: guardrails.map((g) => [el("a", { href: NS.metricHref(g.metric) }, metrics.label(g.metric)),
        NS.period(g.period, grain), NS.withUnit(g.value, metrics.unit(g.metric)) + NS.soFar(g), bound(g, metrics.unit(g.metric)), NS.status(g.status, g)]),
      numeric: [2],
    });
  };

  NS.progress = function (f) {
    const value = NS.finite(f.progress) ? Math.max(0, Math.min(1, f.progress)) : 0;
    const label = NS.finite(f.progress) ? NS.share(f.progress) : "–";
    return el("span", { class: "progress" },
      el("progress", { max: "1", value: String(value), "aria-label": t("pages.focus.progress_label", { share: label }) }),
      " " + label);
  };

  /** "% of target" with its band (green, amber, red) in colour and words; null without a target. */
  NS.targetText = function (item, unit) {
    if (!item || !finite(item.target)) return null;
    if (!finite(item.progress)) return t("pages.target.undefined", { target: NS.withUnit(item.target, unit) });
    const share = nf({ style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(item.progress);
    return t("pages.target.progress", { share: share, target: NS.withUnit(item.target, unit), band: t("pages.target.band." + item.band) });
  };
  NS.targetBadge = function (item, unit) {
    const text = NS.targetText(item, unit);
    if (text === null) return "–";
    return el("span", { class: "target-band " + (item.band || "none"), "data-band": item.band || "none" }, text);
  };

  NS.focusTable = function (focus, metrics) {
    if (!focus.length) return el("p", { class: "hint" }, t("pages.focus.none"));
    return NS.table({
      caption: t("pages.overview.focus_caption"),
      head: [t("pages.col.team"), t("pages.col.metric"), t("pages.col.owner"), t("pages.col.value"),
        t("pages.col.baseline_target"), t("pages.col.progress"), t("pages.col.deadline"), t("pages.col.time_gone"), t("pages.col.status")],
      rows: focus.map((f) => {
        const unit = metrics.unit(f.metric);
        return [f.team, el("a", { href: NS.metricHref(f.metric) }, metrics.label(f.metric)), f.owner || "–",
          NS.withUnit(f.value, unit), NS.num(f.baseline, unit) + " → " + NS.num(f.target, unit), NS.progress(f),
          NS.date(f.deadline), NS.share(f.elapsed), NS.status(f.status, f)];
      }),
      numeric: [3],
    });
  };

  NS.checkCounts = function (node, counts) {
    NS.fill(node, ["error", "warning", "info"].map((s) =>
      el("li", { class: "sev-" + s }, el("a", { href: NS.href("/checks", { severity: s }) },
        NS.severitySymbol(s) + " " + t("pages.severity.count_" + s, { n: counts[s] || 0 })))));
  };

  // ---- charts ----------------------------------------------------------------------------------
  let localeRegistered = false;
  function registerLocale() {
    if (localeRegistered || !window.Plotly) return;
    localeRegistered = true;
    const months = [], shortMonths = [], days = [], shortDays = [];
    for (let i = 0; i < 12; i++) {
      const d = new Date(Date.UTC(2021, i, 1));
      months.push(df({ month: "long" }).format(d));
      shortMonths.push(df({ month: "short" }).format(d).replace(/\.$/, ""));
    }
    for (let i = 0; i < 7; i++) {
      const d = new Date(Date.UTC(2021, 0, 3 + i)); // 3 Jan 2021 was a Sunday
      days.push(df({ weekday: "long" }).format(d));
      shortDays.push(df({ weekday: "short" }).format(d));
    }
    const parts = nf({}).formatToParts(12345.6);
    const decimal = (parts.find((p) => p.type === "decimal") || { value: "." }).value;
    const group = (parts.find((p) => p.type === "group") || { value: "," }).value;
    NS.separators = decimal + group;
    if (config.lang !== "en") {
      window.Plotly.register({ moduleType: "locale", name: config.lang, dictionary: {},
        format: { days: days, shortDays: shortDays, months: months, shortMonths: shortMonths, decimal: decimal, thousands: group } });
    }
  }

  function merge(base, extra) {
    const out = Object.assign({}, base);
    for (const [k, v] of Object.entries(extra || {})) {
      out[k] = v && typeof v === "object" && !Array.isArray(v) && base[k] && typeof base[k] === "object" ? merge(base[k], v) : v;
    }
    return out;
  }

  /** Draw (or redraw) a plotly chart with the dashboard's font, palette and language. */
  NS.plot = function (node, traces, layout) {
    registerLocale();
    const axis = { gridcolor: "#e3e3e3", linecolor: "#888", zeroline: false, automargin: true };
    const base = {
      font: { family: FONT, size: 13, color: "#1d1d1f" }, colorway: NS.palette, separators: NS.separators,
      margin: { l: 60, r: 24, t: 16, b: 40 }, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      hovermode: "closest", hoverlabel: { font: { family: FONT } },
      legend: { orientation: "h", x: 0, y: -0.18, yanchor: "top" }, xaxis: axis, yaxis: axis,
    };
    const options = { responsive: true, displaylogo: false, locale: config.lang,
                      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"] };
    return window.Plotly.react(node, traces, merge(base, layout), options);
  };
})();
