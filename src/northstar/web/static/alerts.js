/* Alerts: what the monitor recorded, newest first, per channel whether it was delivered (a
 * failed delivery shows its error), each alert's state (open, acknowledged, snoozed) with a
 * filter on it, and buttons acknowledging or snoozing it with a note (/api/alerts; the POST
 * routes need the token the page was opened with: its session cookie carries it). */
(function () {
  "use strict";
  const { el, t } = NS;
  const MARK = { critical: "✖", warning: "⚠", info: "ℹ" };
  const DELIVERY = { delivered: "✓", failed: "✗", pending: "…" };

  function severity(s) {
    if (!s) return "–";
    return el("span", { class: "badge sev-" + (s === "critical" ? "error" : s) }, (MARK[s] || "") + " " + t("pages.alerts.severity." + s));
  }

  function delivery(d) {
    const status = d.status || "pending";
    return el("li", { class: "delivery " + status, "data-status": status, "data-channel": d.channel },
      el("span", { class: "badge " + (status === "failed" ? "bad" : status === "delivered" ? "ok" : "none") },
        (DELIVERY[status] || "?") + " " + t("pages.alerts.delivery." + status)),
      " " + d.channel + " · " + t("pages.alerts.attempts", { n: d.attempts }),
      d.error ? el("span", { class: "delivery-error", "data-testid": "delivery-error" }, ": " + d.error) : null);
  }

  function row(a, metrics, grain) {
    const title = a.metric && metrics.byName[a.metric] && a.period
      ? el("a", { href: NS.metricHref(a.metric, { period: a.period }) }, a.title || a.key)
      : (a.title || a.key);
    const why = (a.why || []).length ? el("ul", { class: "notes" }, a.why.map((w) => el("li", {}, w))) : "–";
    const deliveries = (a.deliveries || []).length
      ? el("ul", { class: "deliveries" }, a.deliveries.map(delivery))
      : el("span", { class: "hint" }, t("pages.alerts.not_sent"));
    const failed = (a.deliveries || []).some((d) => d.status === "failed");
    return { className: "alert" + (failed ? " failed" : ""),
      cells: [a.period ? NS.period(a.period, grain) : "–", title, t("pages.alerts.kind." + a.kind), severity(a.severity), why, deliveries,
        stateCell(a), actions(a)] };
  }

  // ---- its state, and acknowledging or snoozing it (POST /api/alerts/{id}/ack|snooze) -----------
  const STATE_CLASS = { open: "none", acknowledged: "ok", snoozed: "none" };

  function stateCell(a) {
    const state = a.state || "open";
    return el("span", { class: "alert-state", "data-state": state },
      el("span", { class: "badge " + (STATE_CLASS[state] || "none") }, t("pages.alerts.state." + state)),
      a.until ? " " + t("pages.alerts.state.until", { date: when(a.until) }) : null,
      a.note ? el("span", { class: "hint" }, " · " + a.note) : null);
  }

  async function post(id, action, body) {
    const response = await fetch("/api/alerts/" + encodeURIComponent(id) + "/" + action, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json" } });
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok) throw new Error(answer && answer.error ? answer.error.message : "HTTP " + response.status);
    return answer;
  }

  function actions(a) {
    if (!NS.config.canChange) return el("span", { class: "hint" }, t("pages.alerts.needs_token"));
    const note = el("input", { type: "text", name: "note", maxlength: "1000", "aria-label": t("pages.alerts.note"),
      placeholder: t("pages.alerts.note") });
    const duration = el("select", { name: "for", "aria-label": t("pages.alerts.snooze_for") },
      ["1d", "3d", "1w", "2w"].map((d) => el("option", { value: d }, d)));
    const until = el("input", { type: "date", name: "until", "aria-label": t("pages.alerts.snooze_until") });
    const problem = el("p", { class: "error", role: "alert", hidden: true, "data-testid": "action-error" });
    async function change(action, body) {
      problem.hidden = true;
      try {
        await post(a.id, action, Object.assign({ note: note.value.trim() || null }, body));
      } catch (error) {
        problem.textContent = t("pages.alerts.action_failed", { message: error.message });
        problem.hidden = false;
        return;
      }
      load();
    }
    return el("details", { class: "manage", "data-alert": a.id },
      el("summary", {}, t("pages.alerts.manage")),
      el("div", { class: "alert-actions" }, note,
        el("button", { type: "button", "data-action": "ack", onclick: () => change("ack", {}) }, t("pages.alerts.ack")),
        el("span", {}, t("pages.alerts.snooze_for")), duration, el("span", {}, t("pages.alerts.snooze_until")), until,
        el("button", { type: "button", "data-action": "snooze",
          onclick: () => change("snooze", until.value ? { until: until.value } : { for: duration.value }) }, t("pages.alerts.snooze"))),
      problem);
  }

  const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

  function when(iso) {
    if (!iso) return "–";
    return new Intl.DateTimeFormat(NS.config.locale, { day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
  }

  function weekday(name) {  // 2024-01-01 was a Monday
    const i = WEEKDAYS.indexOf(name);
    return i < 0 ? name : new Intl.DateTimeFormat(NS.config.locale, { weekday: "long", timeZone: "UTC" })
      .format(new Date(Date.UTC(2024, 0, 1 + i)));
  }

  /** Whether alerting is alive: serve's last monitoring pass and the weekly digest. */
  function schedule(s) {
    const m = s.monitor;
    const monitor = !m ? t("pages.alerts.schedule.monitor_none", { every: s.every })
      : m.error ? t("pages.alerts.schedule.monitor_failed", { last: when(m.last), error: m.error })
      : t("pages.alerts.schedule.monitor", { last: when(m.last), every: s.every, n: m.alerts == null ? "–" : m.alerts });
    const d = s.digest;
    let digest = t("pages.alerts.schedule.digest_off");
    if (d) {
      const fields = { weekday: weekday(d.weekday), time: d.time, channel: d.channel };
      const last = d.last;
      digest = !last ? t("pages.alerts.schedule.digest_none", fields)
        : t(last.status === "failed" ? "pages.alerts.schedule.digest_failed" : "pages.alerts.schedule.digest",
            Object.assign(fields, { slot: when(last.slot), error: last.error || "",
              status: t("pages.alerts.delivery." + (last.status || "pending")) }));
    }
    return [el("span", { "data-testid": "schedule-monitor", class: m && m.error ? "bad" : null }, monitor), " ",
      el("span", { "data-testid": "schedule-digest", class: d && d.last && d.last.status === "failed" ? "bad" : null }, digest)];
  }

  const form = document.getElementById("controls");
  function load() {
    return NS.run(async (current) => {
      const state = NS.params().get("state");  // open, acknowledged or snoozed; none: all
      const [metrics, data] = await Promise.all([NS.metrics(), NS.api("/api/alerts", { state: state })]);
      if (!current()) return;
      form.elements.state.value = state || "";
      draw(metrics, data);
    });
  }

  function draw(metrics, data) {
    const alerts = data.alerts || [];
    const failed = alerts.reduce((n, a) => n + (a.deliveries || []).filter((d) => d.status === "failed").length, 0);
    document.getElementById("alert-count").textContent = t("pages.alerts.count", { n: alerts.length, failed: failed });
    if (data.schedule) NS.fill(document.getElementById("alert-schedule"), ...schedule(data.schedule));
    NS.fill(document.getElementById("alerts"), alerts.length
      ? NS.table({ caption: t("pages.alerts.caption"), className: "alerts",
          head: [t("pages.col.period"), t("pages.alerts.col.alert"), t("pages.alerts.col.kind"), t("pages.alerts.col.severity"),
            t("pages.alerts.col.why"), t("pages.alerts.col.deliveries"), t("pages.alerts.col.state"), t("pages.alerts.col.actions")],
          rows: alerts.map((a) => row(a, metrics, metrics.grain)) })
      : el("p", { class: "hint", "data-testid": "no-alerts" }, t(NS.params().get("state") ? "pages.alerts.none_in_state" : "pages.alerts.none")));
  }
  NS.bindControls(form, ["state"], (values) => { NS.setParams(values); load(); });
  load();
})();
