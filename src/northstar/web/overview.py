"""What `/api/metrics` and `/api/overview` return, composed from the Project's own results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from northstar.analysis.tree import label_of, tree_metrics
from northstar.engine.plan import dependency_order
from northstar.engine.time import same_period_last_year, to_date
from northstar.errors import NorthstarError
from northstar.spec.model import FormulaMetric, Spec
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
    return {"metrics": metrics, "north_star": spec.north_star.metric, "grain": spec.north_star.grain,
            "dimensions": declared_dimensions(spec)}


_number = number_or_none


def _domain(project: "Project", metric: str) -> Any:
    """What the metric can be (`northstar.domains`), so the forecast band stays inside it."""
    from northstar.domains import metric_domain

    try:
        return metric_domain(project, metric)
    except NorthstarError:
        return None


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
    return {
        "project": spec.project,
        "where": segment.segment,
        "window": windowed,
        "north_star": {
            "metric": ns.metric, "label": label_of(spec, ns.metric), "customer_value": ns.customer_value,
            "unit": spec.metrics[ns.metric].unit, "grain": ns.grain, "period": period.isoformat(),
            "value": value, "previous": previous, "last_year": last_year,
            "change_pct": change_pct,
            "change_pct_year": (value - last_year) / abs(last_year) if value is not None and last_year else None,
            "target": {"value": ns.target.value, "by": ns.target.by.isoformat()} if ns.target else None,
            "history": [{"metric": h.metric, "until": h.until.isoformat(), "reason": h.reason} for h in ns.history],
        },
        "review": review,
        "series": [{"period": r["period"], "value": _number(r[ns.metric]), "status": r.get("period_status")}
                   for r in complete],
        "partial": [{"period": r["period"], "value": _number(r[ns.metric])} for r in partial],
        "forecast": forecast([to_date(r["period"]) for r in final], [r[ns.metric] for r in final], ns.grain,
                             domain=_domain(segment, ns.metric)),
        "explanation": explanation,
        "tree": tree,
        "guardrails": [g.to_dict() for g in segment.guardrails(None)] if where else
        service.guardrails(None)["guardrails"],
        "focus": [f.to_dict() for f in segment.focus(None)] if where else service.focus(None)["focus"],
        "checks": service.checks()["counts"],
        "notes": [f"for {segment.segment}; the checks judge the spec on all customers"] if segment.segment else [],
    }
