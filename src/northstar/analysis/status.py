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
    status: str  # ok | breached | no data | provisional
    period: dt.date | None = None
    provisional_until: dt.date | None = None  # provisional: final once the data reaches this day
    last_final: "GuardrailStatus | None" = None  # provisional: the status at its last final period

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "period": self.period.isoformat() if self.period else None,
                "value": self.value, "min": self.min, "max": self.max, "status": self.status,
                "provisional_until": self.provisional_until.isoformat() if self.provisional_until else None,
                "last_final": self.last_final.to_dict() if self.last_final else None}


def guardrail_status(guard: Guardrail, value: Any, period: dt.date | None = None,
                     provisional_until: dt.date | None = None,
                     last_final: GuardrailStatus | None = None) -> GuardrailStatus:
    """A guardrail's status; a provisional value (its window has not passed) gets no verdict."""
    number = _num(value)
    if provisional_until is not None:
        return GuardrailStatus(guard.metric, number, guard.min, guard.max, "provisional", period,
                               provisional_until, last_final)
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
    status: str  # on track | behind | reached | not started | ended | no data | provisional
    period: dt.date | None = None  # the period whose value this is
    provisional_until: dt.date | None = None  # provisional: final once the data reaches this day
    last_final: "FocusStatus | None" = None  # provisional: the status at its last final period

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("start", "deadline", "period", "provisional_until"):
            out[key] = out[key].isoformat() if out[key] else None
        out["last_final"] = self.last_final.to_dict() if self.last_final else None
        return out


def focus_status(focus: Focus, value: Any, today: dt.date, provisional_until: dt.date | None = None,
                 last_final: FocusStatus | None = None, period: dt.date | None = None) -> FocusStatus:
    """Progress from baseline to target against the share of the time box that has passed; a
    provisional value (its window has not passed) gets no verdict."""
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
    if provisional_until is not None and number is not None:
        status = "provisional"
    return FocusStatus(focus.team, focus.metric, focus.owner, number, focus.baseline, focus.target,
                       focus.from_, focus.to, progress, elapsed, status, period, provisional_until, last_final)
