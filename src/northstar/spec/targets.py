"""Targets in the spec: a value by a date, or a series of targets per period.

`target:` sits on the North Star (`north_star.target`) and on any metric (`metrics.X.target`):

- `{value: 40000, by: 2026-12-31}`: the value the metric must have in the period of `by`;
  with `from` (and `baseline`, else the metric's value in the period of `from`), a straight
  line from the baseline in the period of `from` to `value` in the period of `by` sets the
  target of every period between.
- `{series: {2026-01: 100, 2026-02: 120}}`: a target per period. Keys name periods:
  `2026` (year), `2026-Q1` (quarter), `2026-01` (month); dates (`2026-01-05`) need `grain:`
  (`day` or `week`, or any grain whose first day they are), e.g.
  `{grain: week, series: {2026-01-05: 10}}`. All keys of a series are of one grain, which must
  be the North Star's grain or coarser (`validate.py`).

`target_bands` sets the colour of "% of target": green from `green` %, amber from `amber` %,
red below. The arithmetic is in `northstar.analysis.progress`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from northstar.spec.model_base import Model

GRAIN_ORDER: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def period_label(key: str, grain: str | None) -> tuple[str, dt.date]:
    """(grain, first day) of a series key; ValueError naming the key otherwise."""
    text = str(key).strip()
    if m := _YEAR.match(text):
        found, start = "year", dt.date(int(m.group(1)), 1, 1)
    elif m := _QUARTER.match(text):
        found, start = "quarter", dt.date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
    elif m := _MONTH.match(text):
        if not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"'{text}' is not a month: write YYYY-MM with a month from 01 to 12")
        found, start = "month", dt.date(int(m.group(1)), int(m.group(2)), 1)
    elif _DATE.match(text):
        try:
            start = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a date") from None
        if grain is None:
            raise ValueError(f"'{text}' is a date: say which period it starts with `grain:` (day, week, month, "
                             "quarter or year), or name the period as 2026-01, 2026-Q1 or 2026")
        if start != first_day(start, grain):
            raise ValueError(f"'{text}' is not the first day of a {grain}: write {first_day(start, grain).isoformat()}")
        return grain, start
    else:
        raise ValueError(f"'{text}' names no period: write 2026 (year), 2026-Q1 (quarter), 2026-01 (month) or a "
                         "date with `grain:`")
    if grain is not None and grain != found:
        raise ValueError(f"'{text}' is a {found}, but the series' grain is {grain}")
    return found, start


def first_day(day: dt.date, grain: str) -> dt.date:
    """The first day of the period of `grain` containing `day` (weeks start on Monday)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def next_start(start: dt.date, grain: str) -> dt.date:
    """The first day of the period after the one starting on `start`."""
    if grain == "day":
        return start + dt.timedelta(days=1)
    if grain == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


class Target(Model):
    """A value by a date; with `from`, the straight line from the baseline (`baseline`, else the
    metric's value in the period of `from`) to it."""

    value: float
    by: dt.date
    from_: dt.date | None = Field(default=None, alias="from")
    baseline: float | None = None

    @model_validator(mode="after")
    def _line(self) -> "Target":
        if self.baseline is not None and self.from_ is None:
            raise ValueError("`baseline` needs `from`: the date whose period the line starts in")
        if self.from_ is not None and self.from_ >= self.by:
            raise ValueError(f"`from` ({self.from_.isoformat()}) must be before `by` ({self.by.isoformat()})")
        return self


class TargetSeries(Model):
    """A target per period: `{series: {2026-01: 100, 2026-02: 120}}` (keys of one grain)."""

    series: dict[str, float] = Field(min_length=1)
    grain: Literal["day", "week", "month", "quarter", "year"] | None = None

    @field_validator("series", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        """YAML reads `2026` as a number and `2026-01-05` as a date: both name periods here."""
        if isinstance(value, dict):
            return {(k.isoformat() if isinstance(k, dt.date) else str(k)): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_grain(self) -> "TargetSeries":
        grains = {period_label(key, self.grain)[0] for key in self.series}
        if len(grains) > 1:
            raise ValueError(f"the periods of a series are of one grain; found {', '.join(sorted(grains))}")
        return self

    @property
    def period_grain(self) -> str:
        return period_label(next(iter(self.series)), self.grain)[0]

    def periods(self) -> list[tuple[dt.date, float]]:
        """(first day, target) of each period, oldest first."""
        return sorted((period_label(k, self.grain)[1], float(v)) for k, v in self.series.items())

    @property
    def value(self) -> float:
        """The last period's target (what a single-valued consumer, e.g. the target alert, aims at)."""
        return self.periods()[-1][1]

    @property
    def by(self) -> dt.date:
        """The last day of the last period."""
        return next_start(self.periods()[-1][0], self.period_grain) - dt.timedelta(days=1)


def _target_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "[series]" if "series" in value else "[value by date]"
    return "[series]" if isinstance(value, TargetSeries) else "[value by date]"


# the tags hold "[" so that error locations leave them out (spec/load.py `_clean_loc`)
AnyTarget = Annotated[
    Union[Annotated[Target, Tag("[value by date]")], Annotated[TargetSeries, Tag("[series]")]],
    Discriminator(_target_kind),
]


class TargetBands(Model):
    """The colours of "% of target": green from `green` %, amber from `amber` %, red below."""

    green: float = Field(default=100.0, gt=0)
    amber: float = Field(default=90.0, ge=0)

    @model_validator(mode="after")
    def _order(self) -> "TargetBands":
        if self.amber > self.green:
            raise ValueError(f"`amber` ({self.amber:g}) must not be above `green` ({self.green:g})")
        return self


def check_targets(spec: Any, error: Any) -> None:
    """Cross-field rules: a series at the North Star's grain or coarser, one target per metric."""
    ns = spec.north_star
    fine = GRAIN_ORDER.index(ns.grain)
    owners: list[tuple[tuple[str | int, ...], str, Any]] = [(("north_star", "target"), "'north_star.target'",
                                                             ns.target)]
    owners += [(("metrics", name, "target"), f"metric '{name}' field 'target'", getattr(m, "target", None))
               for name, m in spec.metrics.items()]
    for path, where, target in owners:
        if isinstance(target, TargetSeries) and GRAIN_ORDER.index(target.period_grain) < fine:
            error(path + ("series",), f"{where}: a target series per {target.period_grain} is finer than the North "
                  f"Star's grain ({ns.grain}): give one target per {ns.grain} or coarser")
    own = getattr(spec.metrics.get(ns.metric), "target", None)
    if ns.target is not None and own is not None:
        error(("metrics", ns.metric, "target"), f"metric '{ns.metric}' field 'target': the North Star has its "
              "target in north_star.target: set it there only")
