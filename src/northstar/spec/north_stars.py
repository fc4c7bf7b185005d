"""Several North Stars in one spec (`north_stars:`), and the spec seen from one of them.

A company has one North Star unless its products differ a lot (method.md): then each product
line gets its own, one of them primary. `north_stars:` lists them, each a `north_star:` block
with a `name` and at most one `primary: true` (none: the first is primary). The funnel is
shared; a source, metric, focus metric, guardrail or alert rule is shared too unless it names
the North Star it belongs to (`north_star: NAME`; a metric also belongs to its source's:
`ownership.py`).

`for_north_star(spec, name)` is the spec as one North Star sees it: `north_star` is that one,
and the sources, metrics, focus metrics, guardrails and alert rules are the shared ones and
its own. Every
command, route and page works on such a view, so nothing else needs to know there are several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from northstar.errors import QueryError

if TYPE_CHECKING:
    from northstar.spec.model import NamedNorthStar, Spec
    from northstar.spec.validate import _Collector


def primary_entry(entries: Any) -> dict[str, Any] | None:
    """The raw entry of `north_stars:` that is primary (`primary: true`, else the first); None
    when `entries` is not a list of mappings (pydantic then says what is wrong)."""
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        return None
    return next((e for e in entries if e.get("primary") is True), entries[0])


def ordered(north_stars: Sequence["NamedNorthStar"]) -> list["NamedNorthStar"]:
    """The North Stars, the primary first, the others in spec order."""
    if not north_stars:
        return []
    primary = next((ns for ns in north_stars if ns.primary), north_stars[0])
    return [primary] + [ns for ns in north_stars if ns is not primary]


def unknown_north_star(spec: "Spec", name: str) -> str:
    """The message for a North Star name the spec does not have (without the option's name)."""
    from northstar.spec.suggest import did_you_mean

    names = spec.north_star_names
    if not names:
        return (f"'{name}' is not a North Star of the spec: it has one (`north_star:`, "
                f"{spec.north_star.metric}) and no `north_stars:` with names")
    return f"'{name}' is not a North Star of the spec.{did_you_mean(name, names)} Its North Stars: {', '.join(names)}"


def for_north_star(spec: "Spec", name: str | None, option: str = "--north-star") -> "Spec":
    """`spec` for the North Star `name`; None: the one `spec` is for (the primary, unless `spec`
    is already a view). QueryError naming `option` for an unknown name."""
    from northstar.spec.model import NorthStar

    whole = spec._every_north_star or spec
    if name is None:
        if spec._every_north_star is not None or not spec.north_stars:
            return spec
        name = spec.north_star_names[0]
    chosen = next((ns for ns in whole.north_stars if ns.name == name), None)
    if chosen is None:
        raise QueryError(f"{option}: {unknown_north_star(whole, name)}")
    if spec._north_star_name == name:
        return spec

    def mine(item: Any) -> bool:
        return item.north_star is None or item.north_star == name

    from northstar.spec.ownership import visible

    north_star = NorthStar.model_construct(**{field: getattr(chosen, field) for field in NorthStar.model_fields})
    alerts = whole.alerts.model_copy(update={"rules": tuple(r for r in whole.alerts.rules if mine(r))})
    sources, metrics = visible(whole, name)
    view = whole.model_copy(update={"north_star": north_star, "focus": tuple(f for f in whole.focus if mine(f)),
                                    "guardrails": tuple(g for g in whole.guardrails if mine(g)), "alerts": alerts,
                                    "sources": sources, "metrics": metrics})
    view._north_star_name, view._every_north_star = name, whole
    return view


def check_north_stars(spec: "Spec", c: "_Collector", check_one: Any) -> None:
    """Names unique, at most one primary, each North Star's tree and history (by `check_one`, the
    checks of `north_star:`, their problems placed at `north_stars[i]`), and every `north_star:`
    of a focus metric, guardrail or alert rule naming one of them."""
    from northstar.spec.suggest import did_you_mean

    seen: dict[str, int] = {}
    primaries = [i for i, ns in enumerate(spec.north_stars) if ns.primary]
    for index, ns in enumerate(spec.north_stars):
        if ns.name in seen:
            c.error(("north_stars", index, "name"), f"north_stars: the name '{ns.name}' is used twice "
                    f"(entries {seen[ns.name] + 1} and {index + 1}); names must be unique")
        seen.setdefault(ns.name, index)
    for index in primaries[1:]:
        c.error(("north_stars", index, "primary"), f"north_stars: '{spec.north_stars[index].name}' and "
                f"'{spec.north_stars[primaries[0]].name}' are both `primary: true`; mark one")
    if not spec.north_stars:
        check_one(spec, c)
    elif len(seen) == len(spec.north_stars) and len(primaries) <= 1:
        for index, ns in enumerate(spec.north_stars):
            check_one(spec.for_north_star(ns.name), _Placed(c, ("north_stars", index)))
    names = list(seen)
    parts: list[tuple[str, Sequence[Any]]] = [("focus", spec.focus), ("guardrails", spec.guardrails)]
    for key, items in parts + [("alerts.rules", spec.alerts.rules)]:
        for index, item in enumerate(items):
            if item.north_star is None or item.north_star in seen:
                continue
            path = (*key.split("."), index, "north_star")
            listed = f" Its North Stars: {', '.join(names)}." if names else " The spec has no `north_stars:`."
            c.error(path, f"{key}[{index + 1}]: north_star '{item.north_star}' is not a North Star of the spec."
                    + (did_you_mean(item.north_star, names) or listed))


class _Placed:
    """A collector that files the problems of `north_star.*` under `north_stars[i].*`."""

    def __init__(self, collector: "_Collector", prefix: tuple[str | int, ...]) -> None:
        self._c, self._prefix = collector, prefix

    def _path(self, path: Sequence[str | int]) -> tuple[str | int, ...]:
        path = tuple(path)
        return self._prefix + path[1:] if path[:1] == ("north_star",) else path

    def error(self, path: Sequence[str | int], message: str) -> None:
        self._c.error(self._path(path), message)

    def warning(self, path: Sequence[str | int], message: str) -> None:
        self._c.warning(self._path(path), message)

    def metric_ref(self, path: Sequence[str | int], name: str, what: str, spec: "Spec") -> bool:
        return self._c.metric_ref(self._path(path), name, what, spec)
