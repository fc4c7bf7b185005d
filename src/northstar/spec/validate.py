"""Cross-field validation of a parsed spec: names, expressions, cycles, dates, columns.

Each check appends problems instead of raising, so a user sees every mistake at once; a
check that crashes is reported as a problem and does not hide the others.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterator

from northstar.errors import Problem
from northstar.spec.annotations import annotation_problems
from northstar.spec.expressions import ExpressionError, parse_condition, parse_formula, parse_sql, short
from northstar.spec.model import AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric, Spec, Target
from northstar.spec.suggest import did_you_mean, known
from northstar.spec.timeformat import pattern_problem
from northstar.spec.targets import check_targets
from northstar.spec.yamlsource import LineMap

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Path_ = tuple[str | int, ...]


def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a 300-character name, a folder
        return False
    return True


class _Collector:
    def __init__(self, lines: LineMap) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def error(self, path: Path_, message: str) -> None:
        self.problems.append(self.lines.problem(path, message))

    def warning(self, path: Path_, message: str) -> None:
        self.problems.append(self.lines.problem(path, message, "warning"))

    def metric_ref(self, path: Path_, name: str, what: str, spec: Spec) -> bool:
        if name in spec.metrics:
            return True
        self.error(path, f"{what} '{name}' is not defined.{did_you_mean(name, spec.metrics)}"
                   + ("" if did_you_mean(name, spec.metrics) else f" Defined metrics: {known(spec.metrics)}."))
        return False


def metric_expressions(metric: object) -> Iterator[tuple[str, str]]:
    """(field, SQL text) of every SQL expression a metric holds."""
    for field_name, attr in (("where", "where"), ("expr", "expr"), ("from", "from_"), ("to", "to")):
        text = getattr(metric, attr, None)
        if text is not None:
            yield field_name, text


def _check_sources(spec: Spec, c: _Collector) -> None:
    for name, source in spec.sources.items():
        path: Path_ = ("sources", name)
        if not NAME.match(name):
            c.error(path, f"source name '{name}' must be letters, digits and _ (not starting with a digit)")
        if source.timezone and not _zone_ok(source.timezone):
            c.error(path + ("timezone",), f"source '{name}': unknown time zone '{short(source.timezone, 60)}'")
        if source.time_format is not None and (problem := pattern_problem(source.time_format)):
            c.error(time_format_path(c.lines, name), f"source '{name}': {problem}")
        if len(set(source.dimensions)) != len(source.dimensions):
            c.error(path + ("dimensions",), f"source '{name}' lists a dimension twice")
        for index, dim in enumerate(source.event_dimensions or ()):
            if dim not in source.dimensions:
                c.error(path + ("event_dimensions", index), f"source '{name}' field 'event_dimensions': '{dim}' is "
                        "not one of its `dimensions`." + (did_you_mean(dim, source.dimensions)
                                                          or f" Dimensions: {known(source.dimensions) or 'none'}."))
        if source.sql is not None:
            refs = sql_source_references(source.sql)
            if refs is None:
                c.error(path + ("sql",), f"source '{name}': `sql` must be one SELECT statement")
            else:
                for ref in refs:
                    if ref == name:
                        c.error(path + ("sql",), f"source '{name}' selects from itself")
                    elif ref not in spec.sources:
                        c.warning(path + ("sql",), f"source '{name}' reads '{ref}', which is not a source "
                                  f"of this spec: it must be a table in the engine.{did_you_mean(ref, spec.sources)}")
    _check_source_cycles(spec, c)


def sql_source_references(sql: str) -> list[str] | None:
    """Table names a `sql:` source reads, or None when it is not one SELECT."""
    import sqlglot
    from sqlglot import expressions as exp

    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except Exception:
        return None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        return None
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names: list[str] = []
    for table in tree.find_all(exp.Table):
        if table.name and table.name not in ctes and table.name not in names:
            names.append(table.name)
    return names


def _check_source_cycles(spec: Spec, c: _Collector) -> None:
    graph = {n: [r for r in (sql_source_references(s.sql) or []) if r in spec.sources]
             for n, s in spec.sources.items() if s.sql}
    for start in graph:
        cycle = _find_cycle(start, lambda n: graph.get(n, []))
        if cycle and cycle[0] == start:
            c.error(("sources", start, "sql"), "sources read each other in a cycle: " + " -> ".join(cycle))


def _find_cycle(start: str, edges: Callable[[str], list[str]]) -> list[str] | None:
    """A path start -> ... -> start, found with an explicit stack and visited set."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in edges(node):
            if nxt == start:
                return trail + [start]
            if nxt not in visited:
                visited.add(nxt)
                stack.append((nxt, trail + [nxt]))
    return None


def _check_metrics(spec: Spec, c: _Collector) -> None:
    for name, metric in spec.metrics.items():
        path: Path_ = ("metrics", name)
        if not NAME.match(name):
            c.error(path, f"metric name '{name}' must be letters, digits and _ (not starting with a digit): "
                    "formulas refer to it")
        if isinstance(metric, FormulaMetric):
            try:
                formula = parse_formula(metric.formula)
            except ExpressionError as exc:
                c.error(path + ("formula",), f"metric '{name}' field 'formula': {exc}")
                continue
            for ref in formula.names:
                if ref == name:
                    c.error(path + ("formula",), f"metric '{name}' refers to itself in its formula")
                else:
                    c.metric_ref(path + ("formula",), ref, f"metric '{name}' formula uses metric", spec)
            continue
        source = spec.sources.get(metric.source)
        if source is not None and source.timestamp is None:
            c.error(path + ("source",), f"metric '{name}': source '{metric.source}' has no `timestamp`, so it "
                    "cannot be cut into periods; add `timestamp:` to the source, or join it in a `sql:` source")
        if source is None:
            hint = did_you_mean(metric.source, spec.sources)
            c.error(path + ("source",), f"metric '{name}' uses source '{metric.source}', which is not defined."
                    + (hint or f" Defined sources: {known(spec.sources)}."))
        for field_name, text in metric_expressions(metric):
            try:
                parse_sql(text) if field_name == "expr" else parse_condition(text)
            except ExpressionError as exc:
                c.error(path + (field_name,), f"metric '{name}' field '{field_name}': {exc}")
        if isinstance(metric, AggregateMetric):
            if metric.agg in ("sum", "avg", "min", "max") and metric.expr is None:
                c.error(path + ("agg",), f"metric '{name}': agg '{metric.agg}' needs an `expr` (the value to {metric.agg})")
            if metric.agg == "count_distinct" and metric.expr is None and source is not None and not source.entity:
                c.error(path + ("agg",), f"metric '{name}': count_distinct needs an `expr`, or an `entity` on "
                        f"source '{metric.source}'")
            if metric.cumulative and metric.agg == "avg":
                c.error(path + ("cumulative",), f"metric '{name}': a cumulative avg is not supported; define "
                        "cumulative sum and count metrics and a formula dividing them")
        elif isinstance(metric, RetentionMetric | ConversionMetric):
            if source is not None and not source.entity:
                c.error(path + ("type",), f"metric '{name}': {metric.type} needs an `entity` on source "
                        f"'{metric.source}' (who comes back / converts)")
    _check_formula_cycles(spec, c)


def formula_refs(spec: Spec, name: str) -> list[str]:
    metric = spec.metrics.get(name)
    if not isinstance(metric, FormulaMetric):
        return []
    try:
        return [n for n in parse_formula(metric.formula).names if n in spec.metrics]
    except ExpressionError:
        return []


def _check_formula_cycles(spec: Spec, c: _Collector) -> None:
    reported: set[frozenset[str]] = set()
    for name in spec.metrics:
        cycle = _find_cycle(name, lambda n: formula_refs(spec, n))
        if cycle and len(cycle) > 2 and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            c.error(("metrics", name, "formula"), "formulas refer to each other in a cycle: " + " -> ".join(cycle))


def _check_north_star(spec: Spec, c: _Collector) -> None:
    ns = spec.north_star
    c.metric_ref(("north_star", "metric"), ns.metric, "north_star metric", spec)
    for node_name, node in ns.tree.items():
        path: Path_ = ("north_star", "tree", node_name)
        _tree_ref(c, path, node_name, ns.metric, spec, "node")
        if node.formula is not None:
            try:
                formula = parse_formula(node.formula)
            except ExpressionError as exc:
                c.error(path + ("formula",), f"tree node '{node_name}' field 'formula': {exc}")
            else:
                for ref in formula.names:
                    if ref == node_name:
                        c.error(path + ("formula",), f"tree node '{node_name}' decomposes into itself")
                    else:
                        _tree_ref(c, path + ("formula",), ref, node_name, spec)
        for index, driver in enumerate(node.drivers):
            _tree_ref(c, path + ("drivers", index, "metric"), driver.metric, node_name, spec, "driver")
    if ns.tree and ns.metric in spec.metrics and ns.metric not in ns.tree:
        c.warning(("north_star", "tree"), f"the tree does not start at the North Star '{ns.metric}': add a "
                  f"node `{ns.metric}:` with the formula that decomposes it")
    _check_tree_cycles(spec, c)
    if isinstance(ns.target, Target) and ns.target.value <= 0 and spec.metrics.get(ns.metric) is not None:
        c.warning(("north_star", "target"), "the North Star target is not positive")
    for index, entry in enumerate(ns.history):
        c.metric_ref(("north_star", "history", index, "metric"), entry.metric, "history metric", spec)
    untils = [entry.until for entry in ns.history]
    if untils != sorted(untils):
        c.error(("north_star", "history"), "history entries must be in date order (oldest `until` first)")


def _check_north_stars(spec: Spec, c: _Collector) -> None:
    from northstar.spec.north_stars import check_north_stars

    check_north_stars(spec, c, _check_north_star)
    from northstar.spec.ownership import check_ownership

    check_ownership(spec, c)


def _check_checks(spec: Spec, c: _Collector) -> None:
    checks = spec.checks
    for index, name in enumerate(checks.revenue):
        c.metric_ref(("checks", "revenue", index), name, "revenue metric", spec)
    if checks.retention is not None:
        c.metric_ref(("checks", "retention"), checks.retention, "retention metric", spec)
    dimensions = {d for source in spec.sources.values() for d in source.dimensions}
    for index, name in enumerate(checks.external_dimensions or ()):
        if name not in dimensions:
            c.error(("checks", "external_dimensions", index), f"external dimension '{name}' is not a dimension of "
                    f"any source.{did_you_mean(name, dimensions)}")


def _check_alerts(spec: Spec, c: _Collector) -> None:
    alerts = spec.alerts
    for index, rule in enumerate(alerts.rules):
        path: Path_ = ("alerts", "rules", index)
        for i, name in enumerate(rule.metrics):
            c.metric_ref(path + ("metrics", i), name, "alert rule metric", spec)
        for i, name in enumerate(rule.channels):
            if name not in alerts.channels:
                c.error(path + ("channels", i), f"alert rule channel '{name}' is not defined under alerts.channels."
                        + (did_you_mean(name, alerts.channels) or f" Defined channels: {known(alerts.channels) or 'none'}."))
    if alerts.digest is not None and alerts.digest.channel is not None and alerts.digest.channel not in alerts.channels:
        c.error(("alerts", "digest", "channel"), f"digest channel '{alerts.digest.channel}' is not defined under "
                "alerts.channels." + did_you_mean(alerts.digest.channel, alerts.channels))
    if alerts.dashboard_url is not None and not alerts.dashboard_url.startswith(("http://", "https://")):
        c.error(("alerts", "dashboard_url"), "alerts.dashboard_url must start with http:// or https://")


def _tree_ref(c: _Collector, path: Path_, ref: str, node: str, spec: Spec, kind: str = "input") -> None:
    if ref in spec.metrics:
        return
    hint = did_you_mean(ref, spec.metrics)
    role = "" if kind == "node" else f" ({kind} of '{node}')"
    c.error(path, f"metric '{ref}'{role} in tree of '{spec.north_star.metric}' is not defined."
            + (hint or f" Defined metrics: {known(spec.metrics)}."))


def _check_tree_cycles(spec: Spec, c: _Collector) -> None:
    tree = spec.north_star.tree

    def children(name: str) -> list[str]:
        node = tree.get(name)
        if node is None or node.formula is None:
            return []
        try:
            return list(parse_formula(node.formula).names)
        except ExpressionError:
            return []

    for name in tree:
        cycle = _find_cycle(name, children)
        if cycle and len(cycle) > 2:
            c.error(("north_star", "tree", name, "formula"), "tree formulas form a cycle: " + " -> ".join(cycle))
            return


def _check_focus_guardrails_funnel(spec: Spec, c: _Collector) -> None:
    for index, focus in enumerate(spec.focus):
        path: Path_ = ("focus", index)
        c.metric_ref(path + ("metric",), focus.metric, f"focus metric of team '{focus.team}':", spec)
        if focus.from_ and focus.to and focus.from_ >= focus.to:
            c.error(path + ("to",), f"focus of team '{focus.team}': `to` ({focus.to}) must be after `from` ({focus.from_})")
    for index, guard in enumerate(spec.guardrails):
        c.metric_ref(("guardrails", index, "metric"), guard.metric, "guardrail metric", spec)
    if spec.funnel is not None:
        for stage, metric in spec.funnel.stages().items():
            if metric is not None:
                c.metric_ref(("funnel", stage), metric, f"funnel stage '{stage}' metric", spec)


def _check_targets(spec: Spec, c: _Collector) -> None:
    check_targets(spec, c.error)


def validate_spec(spec: Spec, lines: LineMap) -> list[Problem]:
    """Every cross-field problem of a spec that parsed; no data is read."""
    c = _Collector(lines)
    if not _zone_ok(spec.timezone):
        c.error(("timezone",), f"unknown time zone '{short(spec.timezone, 60)}': use an IANA name such as UTC or Europe/Amsterdam")
    for check in (_check_sources, _check_metrics, _check_north_stars, _check_focus_guardrails_funnel,
                  _check_checks, _check_alerts, _check_targets):
        try:
            check(spec, c)
        except Exception as exc:  # one crashing check must not hide the others
            c.error((), f"internal error in {check.__name__}: {exc!r}")
    c.problems += annotation_problems(spec.annotations, spec.metrics, spec_dimensions(spec), c.lines.problem)
    return c.problems


def spec_dimensions(spec: Spec) -> list[str]:
    return sorted({d for s in spec.sources.values() for d in s.dimensions})


def time_format_path(lines: LineMap, name: str) -> Path_:
    """Where a source's timestamp pattern is written: `time_format:`, or `format:` holding it."""
    path: Path_ = ("sources", name, "time_format")
    return path if path in lines.lines else ("sources", name, "format")
