"""What `explain` answers: the change, its split through the tree, its segments, its drivers."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from northstar.display import Displayable


def _r(value: float | None, digits: int | None = None) -> float | int | None:
    """Rounded for JSON to 10 significant digits (or `digits` decimals): far below any
    difference that matters, and above the last-bit differences between engines summing in
    another order (decimals would cut 123.2546225 to .254622 on one engine and .254623 on
    another); a whole number (a count) as an integer: 885, not 885.0."""
    if value is None or not math.isfinite(float(value)):
        return None
    rounded = round(float(value), digits) if digits is not None else float(f"{float(value):.10g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2 ** 53 else rounded


@dataclass(frozen=True)
class Contribution:
    metric: str
    label: str
    baseline: float | None
    value: float | None
    contribution: float  # of the explained metric's change, in its unit
    share: float | None  # contribution / total change
    link: str  # "formula" (exact) or "root"
    children: tuple["Contribution", ...] = ()

    @property
    def change_pct(self) -> float | None:
        if self.baseline in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline - 1

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": self.label, "baseline": _r(self.baseline), "value": _r(self.value),
                "change_pct": _r(self.change_pct), "contribution": _r(self.contribution), "share": _r(self.share),
                "children": [c.to_dict() for c in self.children]}


@dataclass(frozen=True)
class Segment:
    metric: str
    dimensions: dict[str, Any]
    contribution: float
    share: float | None  # of that metric's change
    excess: float  # contribution beyond the segment's proportional part of the change
    rate_effect: float | None = None
    mix_effect: float | None = None
    baseline: float | None = None
    value: float | None = None
    overlap: bool = False  # its dimension's segments overlap: their changes do not add up to the total

    @property
    def change_pct(self) -> float | None:
        if self.baseline in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline - 1

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "dimensions": self.dimensions, "contribution": _r(self.contribution),
                "share": _r(self.share), "excess": _r(self.excess), "rate_effect": _r(self.rate_effect),
                "mix_effect": _r(self.mix_effect), "baseline": _r(self.baseline), "value": _r(self.value),
                "change_pct": _r(self.change_pct), "overlap": self.overlap}


@dataclass(frozen=True)
class Overlap:
    """A metric whose segments by `dimensions` overlap: a customer can be in several."""

    metric: str
    dimensions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "dimensions": list(self.dimensions)}


@dataclass(frozen=True)
class TopEntity:
    """One order (the source's key) or customer (its entity) and its part of a sum or count."""

    id: Any
    value: float  # in the period
    baseline: float  # in the baseline period

    @property
    def change(self) -> float:
        return self.value - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "value": _r(self.value), "baseline": _r(self.baseline), "change": _r(self.change)}


@dataclass(frozen=True)
class EntityFinding:
    """A few orders or customers that dominate a sum or count (see `explain/entities.py`).

    `kind` is "period" or "baseline" (one entity is more than a quarter of that period's
    total: `entities` holds it) or "change" (the top entities explain at least half the change).
    """

    metric: str
    column: str  # the key or entity column grouped by
    noun: str  # what one row of it is, in words: "invoice", "customer"
    kind: str
    entities: tuple[TopEntity, ...]
    share: float  # of the period's total ("period", "baseline") or of the change ("change")
    total: float  # that total or change
    population: int  # distinct ids with a value in either period

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "column": self.column, "noun": self.noun, "kind": self.kind,
                "share": _r(self.share), "total": _r(self.total), "population": self.population,
                "entities": [e.to_dict() for e in self.entities]}


@dataclass(frozen=True)
class DriverMove:
    node: str
    driver: str
    direction: str
    lag: int
    period: dt.date  # the driver's period the lag points to
    change_pct: float | None
    as_expected: bool | None  # moved the way that explains the node's change
    correlation: float | None  # historical, growth at the declared lag
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "driver": self.driver, "direction": self.direction, "lag": self.lag,
                "period": self.period.isoformat(), "change_pct": _r(self.change_pct), "as_expected": self.as_expected,
                "correlation": _r(self.correlation, 4), "p_value": _r(self.p_value, 4)}


@dataclass(frozen=True, repr=False)
class Explanation(Displayable):
    metric: str
    label: str
    grain: str
    period: dt.date
    baseline_period: dt.date
    value: float | None
    baseline: float | None
    root: Contribution
    segments: tuple[Segment, ...] = ()
    drivers: tuple[DriverMove, ...] = ()
    summary: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    overlaps: tuple[Overlap, ...] = ()
    entities: tuple[EntityFinding, ...] = ()
    inactive: tuple[str, ...] = ()  # "period" and/or "baseline": no events at all in the sources behind it
    caveats: tuple[str, ...] = ()  # a side of the comparison is partial or provisional
    segments_searched: bool = False  # some metric was split by some dimension
    review: Any = None  # the period explained, how complete, and why it is the one shown (`PeriodInfo`)
    where: str | None = None  # the customers it is for (`country = 'DE'`); None: all
    window: Any = None  # with a rolling window: the windows compared (`WindowComparison`)
    annotations: tuple[Any, ...] = ()  # (`Annotation`, "period" | "baseline" | "both") overlapping the periods

    @property
    def lead(self) -> Segment | None:
        """The segment that drove the change, named in words (see `explain/segments.py`)."""
        return self.segments[0] if self.segments else None

    def spans(self) -> dict[str, tuple[dt.date, dt.date]]:
        """{"period": (first, last day), "baseline": (first, last day)}: the days each side covers
        (a rolling window's own days, else the whole periods)."""
        from northstar.analysis.periods import last_day

        if self.window is not None:
            base = next((w for w in self.window.sides().values() if w.first == self.baseline_period),
                        self.window.previous)
            return {"period": (self.window.current.first, self.window.current.last), "baseline": (base.first, base.last)}
        return {"period": (self.period, last_day(self.period, self.grain)),
                "baseline": (self.baseline_period, last_day(self.baseline_period, self.grain))}

    def side_names(self) -> dict[str, str]:
        """{"period": ..., "baseline": ...}: '2026-10-26' for a calendar period, '2018-11-24 to
        2018-11-30' for a rolling window (its start alone would read as a period)."""
        if self.window is None:
            return {"period": self.period.isoformat(), "baseline": self.baseline_period.isoformat()}
        return {side: f"{first.isoformat()} to {last.isoformat()}" for side, (first, last) in self.spans().items()}

    @property
    def change(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": self.label, "grain": self.grain, "period": self.period.isoformat(),
                "baseline_period": self.baseline_period.isoformat(), "value": _r(self.value),
                "baseline": _r(self.baseline), "change": _r(self.change), "change_pct": _r(self.root.change_pct),
                "contributions": [c.to_dict() for c in self.root.children],
                "segments": [s.to_dict() for s in self.segments], "drivers": [d.to_dict() for d in self.drivers],
                "summary": self.summary, "notes": list(self.notes),
                "lead_segment": self.lead.to_dict() if self.lead else None,
                "overlaps": [o.to_dict() for o in self.overlaps], "top_entities": [f.to_dict() for f in self.entities],
                "inactive": list(self.inactive), "caveats": list(self.caveats),
                "review": self.review.to_dict() if self.review is not None else None, "where": self.where,
                "window": self.window.to_dict() if self.window is not None else None,
                **({"annotations": [{**a.to_dict(), "during": side} for a, side in self.annotations]}
                   if self.annotations else {})}
