"""The frozen, strict base model of the spec and the duration syntax."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """`5s`, `30m`, `12h`, `7d`, `2w` as a timedelta (ValueError otherwise)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration: write e.g. 5s, 30m, 12h, 7d or 2w")
    return dt.timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


class Model(BaseModel):
    """Frozen, strict base: unknown keys are errors, values cannot change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]  # text such as "7d", checked on load
