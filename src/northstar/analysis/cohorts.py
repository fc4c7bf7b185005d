"""Cohort retention: pure functions over the engine's per-(cohort, period) entity counts.

Cohort = the period of an entity's first qualifying event; offset k = the number of periods
after the cohort's; entities = the cohort's entities with a qualifying event in period
cohort + k; rate = entities / cohort size (offset 0 is the cohort itself, rate 1.0). Every
offset up to the data's last complete period appears (0 when nobody came back), so a heat
map has no holes; an incomplete last period (its rates would look like a sudden drop) and
anything after it do not, unless asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from northstar.engine.time import period_range, shift_period
from northstar.display import Displayable

COLUMNS = ("cohort", "offset", "entities", "rate")


@dataclass(frozen=True)
class CohortRow:
    cohort: dt.date  # first day of the cohort's period
    offset: int  # periods after the cohort's
    entities: int  # the cohort's entities active in period cohort + offset
    rate: float  # entities / cohort size

    def to_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort.isoformat(), "offset": self.offset, "entities": self.entities,
                "rate": self.rate}


@dataclass(frozen=True, repr=False)
class CohortReport(Displayable):
    metric: str
    grain: str
    rows: tuple[CohortRow, ...]  # by cohort, then offset
    last_period: dt.date | None  # the last period shown (None: none)
    data_end: dt.date | None  # local date of the data's last event
    partial: bool = False  # whether `last_period` is only partly covered by the data
    skipped: dt.date | None = None  # the data's incomplete last period, left out

    @property
    def sizes(self) -> dict[dt.date, int]:
        return {r.cohort: r.entities for r in self.rows if r.offset == 0}

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts: cohort (ISO date), offset, entities, rate."""
        return [r.to_dict() for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "grain": self.grain,
                "last_period": self.last_period.isoformat() if self.last_period else None,
                "data_end": self.data_end.isoformat() if self.data_end else None,
                "partial": self.partial, "rows": self.records()}

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per cohort and offset."""
        frame = pd.DataFrame([(r.cohort, r.offset, r.entities, r.rate) for r in self.rows], columns=list(COLUMNS))
        return frame.astype({"offset": "int64", "entities": "int64", "rate": "float64"})


def is_complete(period: dt.date, grain: str, data_end: dt.date) -> bool:
    """Whether data ending on `data_end` covers the period to its last day."""
    return shift_period(period, grain, 1) - dt.timedelta(days=1) <= data_end


def build_cohorts(metric: str, grain: str, counts: Iterable[tuple[dt.date, dt.date, int]],
                  data_last: dt.date | None, data_end: dt.date | None = None,
                  partial: bool = False) -> CohortReport:
    """Rows for every cohort with entities and every offset up to the last complete period.

    `counts` are (cohort, period, entities) with entities > 0; a cohort's size is its count at
    its own period. `data_last` is the data's last period and `data_end` the date of its last
    event: when that period is incomplete it is left out (its rates would be partial), unless
    `partial`. Cohorts and periods after the last period shown are left out.
    """
    last, skipped = data_last, None
    if data_last is not None and data_end is not None and not partial and not is_complete(data_last, grain, data_end):
        last, skipped = shift_period(data_last, grain, -1), data_last
    active: dict[dt.date, dict[dt.date, int]] = {}
    for cohort, period, entities in counts:
        active.setdefault(cohort, {})[period] = int(entities)
    rows: list[CohortRow] = []
    if last is not None:
        for cohort in sorted(active):
            size = active[cohort].get(cohort, 0)
            if size <= 0 or cohort > last:
                continue
            # Offsets from the period labels: position in the calendar from the cohort's period.
            for offset, period in enumerate(period_range(cohort, last, grain)):
                entities = active[cohort].get(period, 0)
                rows.append(CohortRow(cohort, offset, entities, entities / size))
    shown_partial = last is not None and data_end is not None and not is_complete(last, grain, data_end)
    return CohortReport(metric, grain, tuple(rows), last, data_end, shown_partial, skipped)
