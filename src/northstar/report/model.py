"""What the weekly review holds: the Project's own results for one period, gathered once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from northstar.output import plain

if TYPE_CHECKING:
    from northstar.analysis.periods import PeriodInfo
    from northstar.analysis.status import FocusStatus, GuardrailStatus
    from northstar.analysis.tree import TreeReport
    from northstar.checks.findings import CheckReport
    from northstar.explain.funnel import FunnelReport
    from northstar.explain.model import Explanation


@dataclass(frozen=True)
class NorthStarValue:
    """The North Star in the period, against the previous period and the same one a year earlier."""

    metric: str
    label: str
    customer_value: str | None
    unit: str | None
    direction: str
    grain: str
    period: dt.date
    previous_period: dt.date
    last_year_period: dt.date
    value: float | None
    previous: float | None
    last_year: float | None
    target: float | None = None
    target_by: dt.date | None = None

    @staticmethod
    def _change(value: float | None, baseline: float | None) -> tuple[float | None, float | None]:
        if value is None or baseline is None:
            return None, None
        return value - baseline, ((value - baseline) / abs(baseline) if baseline else None)

    @property
    def change(self) -> float | None:
        return self._change(self.value, self.previous)[0]

    @property
    def change_pct(self) -> float | None:
        return self._change(self.value, self.previous)[1]

    @property
    def change_year(self) -> float | None:
        return self._change(self.value, self.last_year)[0]

    @property
    def change_pct_year(self) -> float | None:
        return self._change(self.value, self.last_year)[1]

    def to_dict(self) -> dict[str, Any]:
        out = {k: plain(v) for k, v in self.__dict__.items() if k not in ("target", "target_by")}
        out.update(change=self.change, change_pct=self.change_pct, change_year=self.change_year,
                   change_pct_year=self.change_pct_year,
                   target={"value": self.target, "by": plain(self.target_by)} if self.target is not None else None)
        return out


@dataclass(frozen=True)
class Report:
    """The weekly North Star review of one period (`build_report`), rendered by `html` and `markdown`."""

    project: str
    lang: str
    grain: str
    period: dt.date
    complete: bool  # False when the data does not cover the whole period (see `review`)
    north_star: NorthStarValue
    series: tuple[dict[str, Any], ...]  # {"period", "value", "last_year"} up to the period
    tree: "TreeReport"
    explanation: "Explanation | None"
    why: str  # the paragraph, in the report's language
    guardrails: tuple["GuardrailStatus", ...]
    focus: tuple["FocusStatus", ...]
    checks: "CheckReport"
    funnel: "FunnelReport | None"
    history: tuple[dict[str, str], ...]  # earlier North Stars: metric, label, until, reason
    offering_changes: tuple[dict[str, str], ...]  # date, change
    labels: dict[str, str] = field(default_factory=dict)  # metric -> label
    units: dict[str, str | None] = field(default_factory=dict)
    directions: dict[str, str] = field(default_factory=dict)  # metric -> up | down (which way is good)
    guardrail_owners: tuple[str | None, ...] = ()  # the owner of each guardrail, in order
    notes: tuple[str, ...] = ()  # what could not be computed, in one line each
    review: "PeriodInfo | None" = None  # the period, how complete, what is provisional, why this one
    where: str | None = None  # the customers it is for (`country = 'DE'`); None: all
    annotations: tuple[dict[str, Any], ...] = ()  # about the North Star: `annotations.marks` at its grain

    @property
    def breached(self) -> list["GuardrailStatus"]:
        return [g for g in self.guardrails if g.status == "breached"]

    @property
    def behind(self) -> list["FocusStatus"]:
        return [f for f in self.focus if f.status in ("behind", "ended")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project, "lang": self.lang, "grain": self.grain, "period": self.period.isoformat(),
            "complete": self.complete, "review": self.review.to_dict() if self.review else None,
            "north_star": self.north_star.to_dict(),
            "series": [{k: plain(v) for k, v in row.items()} for row in self.series],
            "tree": self.tree.to_dict(),
            "explanation": self.explanation.to_dict() if self.explanation else None, "why": self.why,
            "guardrails": [g.to_dict() for g in self.guardrails], "focus": [f.to_dict() for f in self.focus],
            "checks": self.checks.to_dict(), "funnel": self.funnel.to_dict() if self.funnel else None,
            "history": list(self.history), "offering_changes": list(self.offering_changes),
            "notes": list(self.notes),
        }
