"""The rule on several North Stars (`north_stars:`): one, unless products differ a lot.

The method (its Dutch source: "Als je producten erg van elkaar verschillen zou je meer dan één
NSM kunnen hebben ... Over het algemeen zou je één North Star Metric moeten hebben waar alle
teams zich op kunnen focussen"): a company has one North Star all teams can focus on; only
products that differ a lot may each have their own. Northstar cannot see how different two
products are, but it can see their data: North Stars whose metrics read the same sources measure
one product, however their metrics are named. So the products are the groups of North Stars
whose metrics share a source; more North Stars than groups is a warning, and otherwise an info finding
says the rule, so that nobody adds a North Star per team.
"""

from __future__ import annotations

from collections.abc import Iterator

from northstar.checks.context import CheckContext
from northstar.checks.findings import Finding, rule


def _sources(spec: object) -> set[str]:
    """The sources a North Star's metric reads, through formulas and `sql:` sources (its tree's
    formulas decompose that metric; a driver is a hypothesis and may well be another product's)."""
    from northstar.engine.plan import dependency_order
    from northstar.spec.validate import sql_source_references

    metric = spec.north_star.metric  # type: ignore[attr-defined]
    names = (metric,) if metric in spec.metrics else ()  # type: ignore[attr-defined]
    direct = {getattr(spec.metrics[m], "source", None) for m in dependency_order(spec, names)}  # type: ignore[attr-defined]
    todo, seen = [s for s in direct if s], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in spec.sources:  # type: ignore[attr-defined]
            continue
        seen.add(name)
        source = spec.sources[name]  # type: ignore[attr-defined]
        if source.sql:
            todo.extend(sql_source_references(source.sql) or [])
    return seen


def product_groups(spec: object) -> list[list[str]]:
    """The North Stars (names, primary first) grouped by shared sources: one group per product."""
    names = list(spec.north_star_names)  # type: ignore[attr-defined]
    reads = {name: _sources(spec.for_north_star(name)) for name in names}  # type: ignore[attr-defined]
    groups: list[tuple[list[str], set[str]]] = []
    for name in names:
        joined = [g for g in groups if g[1] & reads[name]]
        members, sources = [name], set(reads[name])
        for group in joined:
            members, sources = group[0] + members, sources | group[1]
            groups.remove(group)
        groups.append((sorted(members, key=names.index), sources))
    return sorted((g[0] for g in groups), key=lambda g: names.index(g[0]))


@rule("several-north-stars", "spec", "More North Stars than products whose data differs (the method: one, "
      "unless products differ a lot).", applies=lambda spec: len(spec.north_stars) > 1)
def several_north_stars(ctx: CheckContext) -> Iterator[Finding]:
    spec = ctx.spec
    names = list(spec.north_star_names)
    groups = product_groups(spec)
    evidence = {"north_stars": names, "products": groups}
    rule_text = ("The method: one North Star all teams can focus on; more than one only when products differ a lot.")
    if len(groups) < len(names):
        shared = [g for g in groups if len(g) > 1]
        yield Finding(
            "several-north-stars", "warning", ", ".join(names),
            f"The spec has {len(names)} North Stars but their metrics read the data of {len(groups)} "
            f"product{'s' if len(groups) != 1 else ''}: " + "; ".join(" and ".join(repr(n) for n in g) + " read the "
                                                                        "same sources" for g in shared)
            + f". {rule_text}",
            "Keep one North Star per product and make the others nodes of its tree, focus metrics (OMTMs) or "
            "guardrails; give a product its own North Star only when what it offers customers differs a lot.",
            evidence)
        return
    yield Finding(
        "several-north-stars", "info", ", ".join(names),
        f"The spec has {len(names)} North Stars, one per product line, each reading its own data. {rule_text}",
        "Nothing to do while the products differ a lot; when they converge, go back to one North Star "
        "(`north_star:`) and keep the others in its tree.", evidence)
