/* Tree: the North Star and its inputs as an inline SVG graph built here (no library).
 * Formula links are solid, driver links dashed, each labelled; every node is a link
 * (keyboard focusable) to its metric page. Numbers from /api/tree. */
(function () {
  "use strict";
  const { el, t } = NS;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 240, COLUMN = 400, PAD = 16;
  let H = 74, ROW = 92;  // taller with metric targets: a fourth line says "% of target"

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Positions: leaves one per row, a parent centred on its children, depth per column. */
  function layout(root) {
    const nodes = [], edges = [];
    let leaf = 0;
    function visit(data, depth, parent) {
      const node = { data: data, depth: depth, children: [] };
      nodes.push(node);
      if (parent) edges.push({ from: parent, to: node });
      (data.children || []).forEach((c) => node.children.push(visit(c, depth + 1, node)));
      node.row = node.children.length
        ? (node.children[0].row + node.children[node.children.length - 1].row) / 2 : leaf++;
      return node;
    }
    visit(root, 0, null);
    nodes.forEach((n) => { n.x = PAD + n.depth * COLUMN; n.y = PAD + n.row * ROW; });
    const depth = Math.max.apply(null, nodes.map((n) => n.depth));
    return { nodes: nodes, edges: edges, width: 2 * PAD + depth * COLUMN + W, height: 2 * PAD + (leaf - 1) * ROW + H };
  }

  function shorten(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function draw(tree, metrics) {
    const targets = "target" in tree.root;  // the spec has metric targets: every node says its own
    H = targets ? 92 : 74;
    ROW = targets ? 110 : 92;
    const box = layout(tree.root);
    const root = svg("svg", { width: box.width, height: box.height, viewBox: "0 0 " + box.width + " " + box.height,
      class: "tree", role: "group", "aria-label": t("pages.tree.graph_label", { period: NS.period(tree.period, tree.grain) }) });
    const edges = svg("g", { class: "edges", "aria-hidden": "true" });
    box.edges.forEach(({ from, to }) => {
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      const kind = to.data.link === "driver" ? "driver" : "formula";
      edges.append(svg("path", { d: `M${x1},${y1} C${x1 + 50},${y1} ${x2 - 50},${y2} ${x2},${y2}`, class: "edge " + kind }));
      const text = kind === "driver" ? t("pages.link.driver", { lag: to.data.lag === null || to.data.lag === undefined ? 0 : to.data.lag })
        : t("pages.link.formula");
      edges.append(svg("text", { x: x2 - 10, y: y2 - 6, "text-anchor": "end", class: "edge-label " + kind }, text));
    });
    root.append(edges);
    const nodes = svg("g", { class: "nodes" });
    box.nodes.forEach((n) => {
      const d = n.data;
      const unit = metrics.unit(d.metric);
      const change = NS.change(d.change_pct, metrics.direction(d.metric));
      const label = (d.link === "root" ? "★ " : "") + (d.label || d.metric);
      const owner = d.owner ? t("pages.tree.owner", { owner: d.owner }) : "";
      const goal = targets ? NS.targetText(d, unit) : null;
      const spoken = [label, NS.withUnit(d.value, unit), change.textContent, goal, NS.linkLabel(d), owner].filter(Boolean).join(", ");
      const a = svg("a", { href: NS.metricHref(d.metric), class: "node " + d.link, tabindex: "0",
        "aria-label": spoken, "data-metric": d.metric });
      a.append(svg("title", {}, spoken));
      a.append(svg("rect", { x: n.x, y: n.y, width: W, height: H, rx: 8, ry: 8 }));
      a.append(svg("text", { x: n.x + 12, y: n.y + 22, class: "node-label" }, shorten(label, 30)));
      const line = svg("text", { x: n.x + 12, y: n.y + 44, class: "node-value" });
      line.append(svg("tspan", {}, NS.withUnit(d.value, unit) + "  "));
      line.append(svg("tspan", { class: "change " + change.className.replace("change ", "") }, change.textContent));
      a.append(line);
      a.append(svg("text", { x: n.x + 12, y: n.y + 63, class: "node-owner" }, shorten(owner || NS.linkLabel(d), 36)));
      if (goal !== null) {
        const band = d.band || "none";
        const line4 = svg("text", { x: n.x + 12, y: n.y + 82, class: "node-target" });
        // without the unit (the value line above has it), so that it fits the box
        line4.append(svg("tspan", { class: "target-band " + band, "data-band": band }, shorten(NS.targetText(d, null), 42)));
        a.append(line4);
      }
      a.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); window.location.assign(a.getAttribute("href")); }
      });
      nodes.append(a);
    });
    root.append(nodes);
    return root;
  }

  const form = document.getElementById("controls");
  function load() {
    return NS.run(async (current) => {
      const period = NS.params().get("period");
      const windowed = NS.params().get("window");  // a rolling window (7d, 28d, mtd, qtd) instead of the period
      const [tree, metrics] = await Promise.all([
        NS.api("/api/tree", windowed ? { window: windowed } : { period: period }), NS.metrics()]);
      if (!current()) return;
      form.elements.window.value = windowed || "";
      form.elements.period.disabled = !!windowed;
      if (!period && !windowed) form.elements.period.value = tree.period;
      document.getElementById("period-shown").textContent = tree.window ? tree.window.description
        : t("pages.tree.period_shown",
          { period: NS.period(tree.period, tree.grain), previous: NS.period(tree.previous_period, tree.grain) });
      NS.fill(document.getElementById("tree-graph"), draw(tree, metrics));
    });
  }
  NS.bindControls(form, ["period", "window"], (values) => { NS.setParams(values); load(); });
  load();
})();
