"""The frozen, strict base model of the spec and the duration syntax."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


MAX_DURATION = dt.timedelta(days=3660)  # ten years: a window beyond it runs a query off the calendar


def parse_duration(text: str) -> dt.timedelta:
    """`5s`, `30m`, `12h`, `7d`, `2w` as a timedelta, at most ten years (ValueError otherwise)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration: write e.g. 5s, 30m, 12h, 7d or 2w")
    unit, amount = _DURATION_UNITS[match.group(2)], int(match.group(1))
    if amount > MAX_DURATION / dt.timedelta(**{unit: 1}):
        raise ValueError(f"'{str(text).strip()}' is longer than ten years (the limit of a duration)")
    return dt.timedelta(**{unit: amount})


class Model(BaseModel):
    """Frozen, strict base: unknown keys are errors, values cannot change after load, and a
    number is finite (`.nan` and `.inf` are YAML numbers, never a target or a bound)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]  # text such as "7d", checked on load
