"""What `/api/metrics` and `/api/overview` return, composed from the Project's own results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from northstar.analysis.expected import covering
from northstar.analysis.tree import label_of, tree_metrics
from northstar.annotations import marks
from northstar.engine.plan import dependency_order
from northstar.engine.time import same_period_last_year, to_date
from northstar.errors import NorthstarError
from northstar.spec.model import FormulaMetric, Spec, TargetSeries
from northstar.web.forecast import forecast
from northstar.numbers import number_or_none

if TYPE_CHECKING:
    from northstar.project import Project
    from northstar.web.service import DashboardService


def declared_dimensions(spec: Spec) -> list[str]:
    """Every dimension declared on a source, each once, in spec order."""
    return list(dict.fromkeys(d for source in spec.sources.values() for d in source.dimensions))


def metric_dimensions(spec: Spec, name: str) -> list[str]:
    """The dimensions a metric can be broken down by: those of every source it reads."""
    sources = [getattr(spec.metrics[m], "source", None) for m in dependency_order(spec, (name,))]
    dims: list[str] | None = None
    for source in dict.fromkeys(s for s in sources if s):
        own = list(spec.sources[source].dimensions)
        dims = own if dims is None else [d for d in dims if d in own]
    return dims or []


def metrics_catalogue(spec: Spec) -> dict[str, Any]:
    """`{"metrics": [...], "north_star", "grain", "dimensions"}` for `/api/metrics`."""
    in_tree = set(tree_metrics(spec))
    metrics = []
    for name, metric in spec.metrics.items():
        metrics.append({"name": name, "label": label_of(spec, name), "description": metric.description,
                        "unit": metric.unit, "kind": metric.type,
                        "source": None if isinstance(metric, FormulaMetric) else metric.source,
                        "dimensions": metric_dimensions(spec, name), "tags": list(metric.tags),
                        "direction": metric.direction, "in_tree": name in in_tree})
    body = {"metrics": metrics, "north_star": spec.north_star.metric, "grain": spec.north_star.grain,
            "dimensions": declared_dimensions(spec)}
    if len(spec.north_stars) > 1:  # several North Stars: each by name, the primary first
        body["north_stars"] = [{"name": name, "metric": view.north_star.metric, "grain": view.north_star.grain,
                                "primary": index == 0, "current": name == spec.north_star_name}
                               for index, name in enumerate(spec.north_star_names)
                               for view in (spec.for_north_star(name),)]
    return body


def north_star_cards(service: "DashboardService", project: "Project") -> list[dict[str, Any]]:
    """Each North Star of `north_stars:` side by side, the primary first: its name, metric, value in its
    review period against the period before, and target (the overview's `north_stars`)."""
    from northstar.web.service import NORTH_STAR

    cards = []
    for index, name in enumerate(project.spec.north_star_names):
        token = NORTH_STAR.set(name if index else None)  # the primary's results are those asked without a name
        try:
            tree = service.tree(None)
        finally:
            NORTH_STAR.reset(token)
        spec = project.spec.for_north_star(name)
        ns, root = spec.north_star, tree["root"]
        cards.append({"name": name, "primary": index == 0, "current": name == project.north_star_name,
                      "metric": ns.metric, "label": label_of(spec, ns.metric), "customer_value": ns.customer_value,
                      "unit": spec.metrics[ns.metric].unit, "grain": ns.grain, "period": tree["period"],
                      "value": _number(root["value"]), "previous": _number(root["previous"]),
                      "change_pct": root.get("change_pct"),
                      "target": {"value": ns.target.value, "by": ns.target.by.isoformat()} if ns.target else None})
    return cards


_number = number_or_none


def _domain(project: "Project", metric: str) -> Any:
    """What the metric can be (`northstar.domains`), so the forecast band stays inside it."""
    from northstar.domains import metric_domain

    try:
        return metric_domain(project, metric)
    except NorthstarError:
        return None


def _target(project: "Project") -> dict[str, Any] | None:
    """{value, by} (as always); a series adds its grain and {period: target}, a line its start;
    both add `path`: the target of each period of the North Star's grain they cover (the chart's
    target line, at the scale of the values)."""
    from northstar.analysis.progress import is_additive, target_at
    from northstar.spec.targets import first_day, next_start

    spec = project.spec
    target, grain = spec.north_star.target, spec.north_star.grain
    if target is None:
        return None
    out: dict[str, Any] = {"value": target.value, "by": target.by.isoformat()}
    if isinstance(target, TargetSeries):
        out.update(grain=target.period_grain, series={p.isoformat(): v for p, v in target.periods()})
        start = target.periods()[0][0]
    elif target.from_ is not None:
        baseline = target.baseline
        if baseline is None:
            baseline = project.target_baselines().get(spec.north_star.metric)
        out.update({"from": target.from_.isoformat(), "baseline": baseline})
        start = target.from_
    else:
        return out
    path, period = [], first_day(start, grain)
    additive = is_additive(spec, spec.north_star.metric)
    while period <= target.by:
        value = target_at(target, period, grain, additive, out.get("baseline"))
        if value is not None:
            path.append({"period": period.isoformat(), "target": value})
        period = next_start(period, grain)
    out["path"] = path
    return out


def build_overview(service: "DashboardService", project: "Project", where: str | None = None,
                   window: str | None = None) -> dict[str, Any]:
    """The overview page's data in one response (see docs/guides/web.md).

    `where`: everything for one segment of the customers (as `northstar report --where`), except
    the checks, which judge the spec on all of them. `window` (7d, 28d, mtd, qtd): the North
    Star's headline, the tree and why it moved over the rolling window against the window
    before; the trend, guardrails and focus metrics stay per period."""
    spec = project.spec
    ns = spec.north_star
    segment = project.where(where)
    tree = service.tree(None, where)
    review = tree.get("review")
    period = to_date(tree["period"])
    root = tree["root"]
    series = service.series((ns.metric,), ns.grain, where=where)["rows"]
    # the chart: the periods the data covers completely, up to the one under review (a partial
    # first or last period is drawn apart: `partial`)
    complete = [r for r in series if r.get("period_status") != "partial" and to_date(r["period"]) <= period]
    partial = [r for r in series if r.get("period_status") == "partial"]
    final_last = project.last_final_period(ns.metric)
    final = [r for r in complete if to_date(r["period"]) <= final_last]
    by_period = {r["period"]: _number(r[ns.metric]) for r in series}
    value, previous = _number(root["value"]), _number(root["previous"])
    last_year = by_period.get(same_period_last_year(period, ns.grain).isoformat())
    notes = project.annotations(ns.metric)
    expected = [a for a in notes if a.expected and a.where is None]  # their periods are no trend
    trend = [None if covering(expected, ns.metric, to_date(r["period"]), ns.grain) else r[ns.metric] for r in final]
    change_pct = root.get("change_pct")
    windowed = None
    if window is not None:
        tree = service.tree(None, where, window)
        root = tree["root"]
        value, previous, change_pct = _number(root["value"]), _number(root["previous"]), root.get("change_pct")
        frame = segment.window_values([ns.metric], window)[1]
        last_year = _number(next(iter(frame.loc[frame["window"] == "last_year", ns.metric]), None))
        windowed = tree["window"]
    try:
        why = service.explain(None, None, "previous", (), where, window) if window else \
            service.explain(None, None, "previous", (), where)
        explanation = why["summary"]
    except NorthstarError as exc:  # e.g. no value in the previous period: say why, in one line
        explanation = str(exc).splitlines()[0]
    body = {
        "project": spec.project,
        "where": segment.segment,
        "window": windowed,
        "north_star": {
            "metric": ns.metric, "label": label_of(spec, ns.metric), "customer_value": ns.customer_value,
            "unit": spec.metrics[ns.metric].unit, "grain": ns.grain, "period": period.isoformat(),
            "value": value, "previous": previous, "last_year": last_year,
            "change_pct": change_pct,
            "change_pct_year": (value - last_year) / abs(last_year) if value is not None and last_year else None,
            "target": _target(project),
            "history": [{"metric": h.metric, "until": h.until.isoformat(), "reason": h.reason} for h in ns.history],
            # with metric targets in the spec: the review period's target, % of target and band
            **({"progress": {k: root.get(k) for k in ("target", "progress", "band")}} if "target" in root else {}),
        },
        "review": review,
        "series": [{"period": r["period"], "value": _number(r[ns.metric]), "status": r.get("period_status")}
                   for r in complete],
        "partial": [{"period": r["period"], "value": _number(r[ns.metric])} for r in partial],
        "forecast": forecast([to_date(r["period"]) for r in final], trend, ns.grain, domain=_domain(segment, ns.metric)),
        "explanation": explanation,
        "tree": tree,
        "guardrails": [g.to_dict() for g in segment.guardrails(None)] if where else
        service.guardrails(None)["guardrails"],
        "focus": [f.to_dict() for f in segment.focus(None)] if where else service.focus(None)["focus"],
        "checks": service.checks()["counts"],
        **({"annotations": marks(notes, ns.grain)} if notes else {}),
        "notes": [f"for {segment.segment}; the checks judge the spec on all customers"] if segment.segment else [],
    }
    if len(spec.north_stars) > 1:  # several North Stars: all of them side by side (one: unchanged)
        body["north_stars"] = north_star_cards(service, project)
    return body
