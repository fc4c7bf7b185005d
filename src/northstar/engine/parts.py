"""Per-period results of one source's part of a query, kept between runs and refreshed by period.

The engine computes a query as one statement per source (its metrics fused) giving, per period
and segment, the base values (sums, distinct counts, retained and converted entities...) that
formulas, running totals and comparisons are then made of. Those base values are what this
module keeps, under the result folder beside the spec: per part (source, metrics, grain,
breakdown, filter) the periods computed, the frame of their values and the state of the
source's data they were computed from (`changes`).

On the next query the state now is compared with the stored one; the periods whose values may
have changed are dropped (`stale`), and only the periods missing from what is asked are
computed, in one statement over their range; the merged frame is stored again. A period's value
depends on more than its own rows for some metrics, and `stale` follows each:

- a sum, count, distinct count, average, min or max (running totals too: they are summed
  after) reads the period's rows only;
- a retention compares a period with the one before: a change also touches the next period;
- a conversion looks ahead by its window: a change also touches the periods whose window
  reaches it;
- a running distinct count counts the values first seen in each period: a change touches
  every later period.

An entry is written to a temporary file renamed into place, sealed like every result, and only
when the data did not change while it was computed; two processes refreshing at once each
store a whole, correct entry, and a refresh killed midway leaves the entry before it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import struct
import time
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from northstar.engine import cache_codec
from northstar.engine.changes import ALL, Range
from northstar.engine.time import period_start, shift_period
from northstar.spec.model import AggregateMetric, ConversionMetric, RetentionMetric, Spec

PERIOD = "period"
_HEADER = struct.Struct(">Q")


@dataclasses.dataclass(frozen=True)
class Entry:
    periods: dict[str, frozenset[dt.date]]  # per metric, every period computed (with or without rows)
    state: dict[str, Any]  # the source's data they were computed from
    frame: pd.DataFrame  # base values per period and segment
    integers: frozenset[str] = frozenset()  # the metrics whose values are integers (their SQL type)
    made: float = 0.0  # when it was stored (time.time())


@dataclasses.dataclass(frozen=True)
class Fresh:
    """Values just computed: of `names`, for `periods`."""

    names: tuple[str, ...]
    periods: set[dt.date]
    frame: pd.DataFrame


class PartStore:
    """Entries in the result folder (`ResultCache`: sealed, bounded, written atomically)."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def key(self, spec: Spec, source: str, names: Sequence[str], grain: str, by: Sequence[str],
            where: str | None) -> str:
        """What a part's values depend on: the engine, the zone, every source (a `sql:` source
        reads others) and the part's metrics; not the rest of the spec (the tree, alerts, the
        probe metrics analyses add), so changing those keeps what is stored."""
        metrics = {n: spec.metrics[n].model_dump(mode="json", exclude={"label", "description", "target", "north_star"})
                   for n in sorted(names)}
        return self.key_of(spec, "part", metrics, source, grain, list(by), where)

    def key_of(self, spec: Spec, *what: Any) -> str:
        """A key for `what` (plain JSON) computed from the data of the spec's sources (all of them:
        a view of one North Star, which sees fewer, stores and reuses the same parts)."""
        engine = spec.engine.model_dump(mode="json", exclude={"cache", "cache_max_mb"})
        every = getattr(spec, "_every_north_star", None) or spec
        sources = {n: s.model_dump(mode="json", exclude={"label", "description", "north_star"})
                   for n, s in every.sources.items()}
        return self.cache.hashed(engine, spec.timezone, sources, *what)

    def load(self, key: str) -> Entry | None:
        payload = self.cache.get_bytes(key)
        if payload is None or len(payload) < _HEADER.size:
            return None
        try:
            (size,) = _HEADER.unpack_from(payload)
            head = json.loads(payload[_HEADER.size:_HEADER.size + size])
            frame = cache_codec.decode(payload[_HEADER.size + size:])
            periods = {name: frozenset(dt.date.fromisoformat(p) for p in days) for name, days in head["periods"].items()}
            return Entry(periods, head["state"], frame, frozenset(head["integers"]), float(head["made"]))
        except (ValueError, KeyError, TypeError, AttributeError, struct.error):
            return None

    def save(self, key: str, entry: Entry) -> None:
        body = cache_codec.encode(entry.frame)
        if body is None:
            return
        head = json.dumps({"periods": {name: sorted(p.isoformat() for p in days) for name, days in entry.periods.items()},
                           "state": entry.state, "integers": sorted(entry.integers), "made": time.time()},
                          sort_keys=True).encode()
        self.cache.put_bytes(key, _HEADER.pack(len(head)) + head + body)


FORCED = "forced.json"  # `northstar refresh --since DATE`: older entries recompute from DATE on


def force(folder: Path, since: dt.date) -> None:
    """Every entry stored before now counts its periods from `since` on as changed."""
    from northstar.fileio import write_atomic

    write_atomic(folder / FORCED, json.dumps({"since": since.isoformat(), "at": time.time()}))


def forced(folder: Path) -> tuple[dt.datetime, float] | None:
    try:
        found = json.loads((folder / FORCED).read_text())
        return dt.datetime.combine(dt.date.fromisoformat(found["since"]), dt.time()), float(found["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclasses.dataclass(frozen=True)
class Touch:
    """How far a change to the rows of [lo, hi] reaches among values computed per period: the
    periods whose value reads rows up to `back` after them (a conversion's window), rows up to
    `ahead` before them (a repeat's look at the event before), the `next` periods after (a
    retention compares with the period before), or every later period (`to_end`)."""

    back: dt.timedelta = dt.timedelta(0)
    ahead: dt.timedelta = dt.timedelta(0)
    next: int = 0
    to_end: bool = False


def touch_of(metric: Any) -> Touch:
    """A metric's reach, as the module says."""
    if isinstance(metric, RetentionMetric):
        return Touch(next=1)
    if isinstance(metric, ConversionMetric):
        return Touch(back=metric.window + dt.timedelta(days=1))
    if isinstance(metric, AggregateMetric) and metric.cumulative and metric.agg == "count_distinct":
        return Touch(to_end=True)
    return Touch()


def stale(touch: Touch, grain: str, changed: list[Range] | str, periods: Iterable[dt.date]) -> set[dt.date]:
    """The stored periods whose values may differ after the data changed in `changed`."""
    periods = set(periods)
    if changed == ALL:
        return periods
    out: set[dt.date] = set()
    for lo, hi in changed:  # type: ignore[misc]
        first, last = _touched(touch, grain, lo, hi)
        out |= {p for p in periods if p >= first and (last is None or p <= last)}
    return out


def _touched(touch: Touch, grain: str, lo: dt.datetime, hi: dt.datetime | None) -> tuple[dt.date, dt.date | None]:
    """The first and last period (None: all later ones) whose value reads rows in [lo, hi]."""
    first = period_start((lo - touch.back).date(), grain)
    if hi is None or touch.to_end:
        return first, None
    return first, shift_period(period_start((hi + touch.ahead).date(), grain), grain, touch.next)


def changes_since(store: "PartStore", versions: Any, source: str, entry: Entry, state: dict[str, Any]) -> list[Range] | str:
    """What changed in `source` since `entry` was stored, with `refresh --since` counted in."""
    changed = versions.changed(source, entry.state, state)
    found = forced(store.cache.folder)
    if found is not None and entry.made < found[1] and changed != ALL:
        changed = [*changed, (found[0], None)]
    return changed


def merge(entry: Entry | None, keep: dict[str, set[dt.date]], fresh: list[Fresh], keys: Sequence[str],
          names: Sequence[str]) -> tuple[pd.DataFrame, dict[str, frozenset[dt.date]]]:
    """Per metric, its stored rows of the periods it keeps and its fresh rows, joined on period
    and segment into one frame (a row wherever some metric has one, as the one statement's
    full join has), and the periods each metric now covers."""
    on = [PERIOD, *keys]
    pieces: list[pd.DataFrame] = []
    periods: dict[str, frozenset[dt.date]] = {}
    for name in names:
        new = next((f for f in fresh if name in f.names), None)
        kept = keep.get(name, set()) - (new.periods if new is not None else set())
        bits = []
        if entry is not None and kept and name in entry.frame.columns:
            bits.append(entry.frame.loc[entry.frame[PERIOD].isin(kept), [*on, name]])
        if new is not None:
            bits.append(new.frame[[*on, name]])
        bits = [b.astype({name: object}) for b in bits if len(b)]  # ints stay ints beside a missing value
        pieces.append(pd.concat(bits, ignore_index=True) if bits else pd.DataFrame({c: pd.Series(dtype=object) for c in [*on, name]}))
        periods[name] = frozenset(kept | (new.periods if new is not None else set()))
    frame = pieces[0]
    for piece in pieces[1:]:
        frame = frame.merge(piece, how="outer", on=on, sort=False)
        for key in keys:  # a segment found on one side only comes back NaN: None again, or it splits
            frame[key] = frame[key].astype(object).where(frame[key].notna(), None)
    frame = frame.reset_index(drop=True)
    for column in names:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame, periods


def within(frame: pd.DataFrame, periods: set[dt.date], integers: Iterable[str], names: Iterable[str]) -> pd.DataFrame:
    """The rows of `periods`, each metric of `names` in one form whatever was stored or joined:
    integers (by their SQL type) as int64 when none is missing, else float64; others float64."""
    out = frame[frame[PERIOD].isin(periods)].reset_index(drop=True)
    integers = set(integers)
    for column in names:
        values = pd.to_numeric(out[column])
        out[column] = values.astype("int64") if column in integers and values.notna().all() else values.astype(float)
    return out
