"""'Did you mean' for names a user mistyped."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` Did you mean 'x'?` for the closest candidate, or an empty string."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f" Did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def known(candidates: Iterable[str], limit: int = 8) -> str:
    pool = sorted(candidates)
    more = len(pool) - limit
    shown = ", ".join(pool[:limit]) + (f" and {more} more" if more > 0 else "")
    return shown or "none"
