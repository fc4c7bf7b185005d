"""An analysis's own aggregation of a source, kept between runs like the metric parts.

The checks and analyses ask the data questions that are not metrics: how many events repeat
the one before within seconds, per period and segment; how many customers ever reached a
value over the review window; in how many busy customer-periods a dimension shows several
values. Each reads the raw events, so without this module every new day of data pays for the
whole history again. `kept` stores the answer in the engine's parts folder with the state of
the source's data (`changes`) and reuses it while no change touches it:

- per period (the default): a frame with a `period` column whose rows of a period depend only on
  the rows `touch` says; the stale and missing periods are computed again in one call over their
  range and joined with the rest;
- `whole`: one answer over the periods first..last (a distinct count over a window is not a sum
  of periods); computed again when a change touches any of them. Data appended after `last`
  (a new day of the current period) keeps it.

Without a result folder, or for a source without a state (a `table:` without `late_data`),
the answer is computed every time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

from northstar.engine import parts
from northstar.engine.assemble import periods_between

PERIOD = parts.PERIOD
_ALL = "rows"


def kept(engine: Any, source: str, what: Any, grain: str, first: dt.date, last: dt.date,
         compute: Callable[[dt.date, dt.date], pd.DataFrame], touch: parts.Touch = parts.Touch(),
         whole: bool = False) -> pd.DataFrame:
    """`compute(lo, hi)` for the periods first..last of `source`, from what is stored where the
    data did not change. `what` (plain JSON) names the question: the analysis and whatever of
    the spec its answer depends on beyond the sources."""
    store, versions = engine._parts, engine._versions
    state = versions.state(source) if store is not None and versions is not None else None
    if state is None:
        return compute(first, last)
    wanted = set(periods_between(first, last, grain))
    key = store.key_of(engine.spec, "kept", source, grain, what, [first.isoformat(), last.isoformat()] if whole else None)
    entry = store.load(key)
    keep: set[dt.date] = set()
    if entry is not None:
        stored = entry.periods.get(_ALL, frozenset())
        keep = set(stored) - parts.stale(touch, grain, parts.changes_since(store, versions, source, entry, state), stored)
    if whole:
        if entry is not None and wanted <= keep:
            return entry.frame
        frame, periods, lo, hi = compute(first, last), wanted, first, last
    else:
        missing = sorted(wanted - keep)
        if entry is not None and not missing:
            return _in(entry.frame, wanted)
        lo, hi = missing[0], missing[-1]
        fresh = _in(compute(lo, hi), set(periods_between(lo, hi, grain)))
        periods = keep | set(periods_between(lo, hi, grain))
        old = _in(entry.frame, keep - set(periods_between(lo, hi, grain))) if entry is not None else None
        frame = fresh if old is None or not len(old) else pd.concat([old, fresh], ignore_index=True)
    engine.scanned.append((source, lo, hi))
    if versions.state(source) == state:  # the data did not change meanwhile
        store.save(key, parts.Entry({_ALL: frozenset(periods)}, state, frame))
    return frame if whole else _in(frame, wanted)


def _in(frame: pd.DataFrame, periods: set[dt.date]) -> pd.DataFrame:
    return frame[frame[PERIOD].isin(periods)].reset_index(drop=True)
