"""Sources and metrics that belong to one North Star (`north_star: NAME` on a source or metric).

With several North Stars, a product line's own data and measures (podcast episodes, podcast
minutes) belong to its North Star: the views of the others (`north_stars.for_north_star`) do
not see them, so their metric lists, checks, candidates and default alert rules stay about
their own product. Everything without `north_star:` is shared.

A metric belongs to the North Star it names, else to the one its source belongs to. What is
shared, or belongs to another North Star, may not use it: a shared formula or `sql:` source
reading it, another North Star's tree, a shared focus metric, guardrail or alert rule, the
funnel (always shared). Each such use is an error naming where it is and what to add.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from northstar.spec.model import Spec
    from northstar.spec.validate import _Collector

Path = tuple[str | int, ...]


def source_owners(spec: "Spec") -> dict[str, str]:
    """{source: the North Star it belongs to}, for the sources that belong to one."""
    return {name: s.north_star for name, s in spec.sources.items() if s.north_star is not None}


def metric_owners(spec: "Spec") -> dict[str, str]:
    """{metric: the North Star it belongs to} (its own `north_star:`, else its source's)."""
    sources = source_owners(spec)
    out: dict[str, str] = {}
    for name, metric in spec.metrics.items():
        owner = metric.north_star or sources.get(getattr(metric, "source", None) or "")
        if owner is not None:
            out[name] = owner
    return out


def visible(spec: "Spec", name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sources, metrics) the North Star `name` sees: the shared ones and its own."""
    sources, metrics = source_owners(spec), metric_owners(spec)
    return ({n: s for n, s in spec.sources.items() if sources.get(n, name) == name},
            {n: m for n, m in spec.metrics.items() if metrics.get(n, name) == name})


def _uses(spec: "Spec") -> Iterator[tuple[Path, str | None, str, str]]:
    """(where, the North Star it belongs to or None for shared, the metric used, what uses it)
    for every use of a metric by a part of the spec that belongs to one North Star or is shared."""
    from northstar.spec.expressions import ExpressionError, parse_formula

    owners = metric_owners(spec)
    for name, metric in spec.metrics.items():
        formula = getattr(metric, "formula", None)
        if formula is None:
            continue
        try:
            names = parse_formula(formula).names
        except ExpressionError:
            continue
        for used in names:
            yield ("metrics", name, "formula"), owners.get(name), used, f"metric '{name}'"
    for index, ns in enumerate(spec.north_stars):
        where: Path = ("north_stars", index)
        yield (*where, "metric"), ns.name, ns.metric, f"North Star '{ns.name}'"
        for node_name, node in ns.tree.items():
            yield (*where, "tree", node_name), ns.name, node_name, f"the tree of North Star '{ns.name}'"
            for d, driver in enumerate(node.drivers):
                yield ((*where, "tree", node_name, "drivers", d, "metric"), ns.name, driver.metric,
                       f"the tree of North Star '{ns.name}'")
    for key, items in (("focus", spec.focus), ("guardrails", spec.guardrails)):
        for index, item in enumerate(items):
            yield (key, index, "metric"), item.north_star, item.metric, f"{key}[{index + 1}]"
    for index, rule in enumerate(spec.alerts.rules):
        for m, metric_name in enumerate(rule.metrics):
            yield ("alerts", "rules", index, "metrics", m), rule.north_star, metric_name, f"alerts.rules[{index + 1}]"
    if spec.funnel is not None:
        for stage, metric_name in spec.funnel.stages().items():
            if metric_name:
                yield ("funnel", stage), None, metric_name, "the funnel (shared by every North Star)"


def check_ownership(spec: "Spec", c: "_Collector") -> None:
    """Every `north_star:` of a source or metric names a North Star; a metric does not name
    another North Star than its source's; nothing shared or of another North Star uses what
    belongs to one (see the module docstring)."""
    from northstar.spec.suggest import did_you_mean
    from northstar.spec.validate import sql_source_references

    names = [ns.name for ns in spec.north_stars]
    items: list[tuple[str, Mapping[str, Any]]] = [("sources", spec.sources), ("metrics", spec.metrics)]
    claimed = [(key, n, x.north_star) for key, parts in items for n, x in parts.items() if x.north_star is not None]
    wrong = [(key, name, owner) for key, name, owner in claimed if owner not in names]
    for key, name, owner in wrong:
        if owner not in names:
            listed = f" Its North Stars: {', '.join(names)}." if names else " The spec has no `north_stars:`."
            c.error((key, name, "north_star"), f"{key[:-1]} '{name}': north_star '{owner}' is not a North Star of "
                    "the spec." + (did_you_mean(owner, names) or listed))
    if not claimed or wrong:
        return
    sources, metrics = source_owners(spec), metric_owners(spec)
    for name, metric in spec.metrics.items():
        source = getattr(metric, "source", None)
        if metric.north_star and source in sources and sources[source] != metric.north_star:
            c.error(("metrics", name, "north_star"), f"metric '{name}' belongs to North Star '{metric.north_star}', "
                    f"but its source '{source}' belongs to '{sources[source]}'")
    for name, source in spec.sources.items():
        for ref in (sql_source_references(source.sql) or []) if source.sql else []:
            owner, mine = sources.get(ref), sources.get(name)
            if owner is not None and owner != mine:
                c.error(("sources", name, "sql"), f"source '{name}' ({_whose(mine)}) reads '{ref}', which belongs to "
                        f"North Star '{owner}': give '{name}' `north_star: {owner}`" if mine is None else
                        f"source '{name}' ({_whose(mine)}) reads '{ref}', which belongs to North Star '{owner}'")
    for path, mine, used, what in _uses(spec):
        owner = metrics.get(used)
        if owner is None or owner == mine:
            continue
        fix = f": give it `north_star: {owner}`" if mine is None and path[0] != "funnel" else ""
        c.error(path, f"{what} ({_whose(mine)}) uses metric '{used}', which belongs to North Star '{owner}'{fix}")


def _whose(owner: str | None) -> str:
    return "shared" if owner is None else f"of North Star '{owner}'"
