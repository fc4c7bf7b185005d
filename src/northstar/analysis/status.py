"""Where guardrails and focus metrics (OMTMs) stand in a period: pure functions of values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from northstar.spec.model import Focus, Guardrail
from northstar.numbers import number_or_none


_num = number_or_none


@dataclass(frozen=True)
class GuardrailStatus:
    metric: str
    value: float | None
    min: float | None
    max: float | None
    status: str  # ok | breached | no data
    period: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "period": self.period.isoformat() if self.period else None,
                "value": self.value, "min": self.min, "max": self.max, "status": self.status}


def guardrail_status(guard: Guardrail, value: Any, period: dt.date | None = None) -> GuardrailStatus:
    number = _num(value)
    if number is None:
        status = "no data"
    elif (guard.min is not None and number < guard.min) or (guard.max is not None and number > guard.max):
        status = "breached"
    else:
        status = "ok"
    return GuardrailStatus(guard.metric, number, guard.min, guard.max, status, period)


@dataclass(frozen=True)
class FocusStatus:
    team: str
    metric: str
    owner: str | None
    value: float | None
    baseline: float | None
    target: float | None
    start: dt.date | None
    deadline: dt.date | None
    progress: float | None  # share of the way from baseline to target
    elapsed: float | None  # share of the time box gone
    status: str  # on track | behind | reached | not started | ended | no data

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["start"] = self.start.isoformat() if self.start else None
        out["deadline"] = self.deadline.isoformat() if self.deadline else None
        return out


def focus_status(focus: Focus, value: Any, today: dt.date) -> FocusStatus:
    """Progress from baseline to target against the share of the time box that has passed."""
    number = _num(value)
    progress = elapsed = None
    if number is not None and focus.baseline is not None and focus.target is not None and focus.target != focus.baseline:
        progress = (number - focus.baseline) / (focus.target - focus.baseline)
    if focus.from_ and focus.to:
        span = (focus.to - focus.from_).days or 1
        elapsed = min(max((today - focus.from_).days / span, 0.0), 1.0)
    if number is None:
        status = "no data"
    elif focus.from_ and today < focus.from_:
        status = "not started"
    elif progress is not None and progress >= 1:
        status = "reached"
    elif focus.to and today > focus.to:
        status = "ended"
    elif progress is not None and elapsed is not None:
        status = "on track" if progress >= elapsed else "behind"
    else:
        status = "no data" if progress is None else ("on track" if progress >= 0 else "behind")
    return FocusStatus(focus.team, focus.metric, focus.owner, number, focus.baseline, focus.target,
                       focus.from_, focus.to, progress, elapsed, status)
