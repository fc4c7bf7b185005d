"""Plain numbers from whatever a frame or a spec holds."""

from __future__ import annotations

import math
from typing import Any


def number_or_none(value: Any) -> float | None:
    """A float, or None for None, NaN and anything that is not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
