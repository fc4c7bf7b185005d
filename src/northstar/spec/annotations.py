"""Annotations: releases, campaigns, outages and holidays, as immutable data.

An annotation says that something happened on a day or over a range of days (local dates in
the spec's time zone, both ends inclusive), to which metrics (`metrics`, all when absent) and
to which customers (`where`, a segment filter; everyone when absent). One marked `expected`
(a planned campaign, a known closure) keeps `monitor` from alerting on the metrics it covers in
the periods it overlaps, and those periods out of forecasts and anomaly baselines.

They are written in the spec (`annotations:`) or added by `northstar annotate add` and the API
to a file beside the spec (`northstar/annotations.py`); both are checked by `annotation_problems`.
This module is pure: no engine, no file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import Field, field_validator, model_validator

from northstar.errors import Problem
from northstar.spec.model_base import Model

KINDS: tuple[str, ...] = ("release", "campaign", "outage", "holiday", "other")
Kind = Literal["release", "campaign", "outage", "holiday", "other"]
MAX_TITLE = 200
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


class Annotation(Model):
    """Something that happened on `date` (to `to`, inclusive) to `metrics` (all: None) for the
    customers matching `where` (all: None); `expected` ones silence alerts on what they cover."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    date: dt.date
    to: dt.date | None = None
    kind: Kind = "other"
    metrics: tuple[str, ...] | None = None
    where: str | None = None
    expected: bool = False
    id: str | None = None  # stable: given, or the title and date as a slug (`annotation_id`)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip() or any(ord(c) < 32 for c in value):
            raise ValueError("a title is one line of text")
        return value.strip()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError(f"'{value}' is not an id: lower-case letters, digits and -")
        return value

    @model_validator(mode="after")
    def _range(self) -> "Annotation":
        if self.to is not None and self.to < self.date:
            raise ValueError(f"`to` ({self.to}) is before `date` ({self.date})")
        if self.metrics is not None and not self.metrics:
            raise ValueError("`metrics` lists no metric: leave it out for all metrics")
        return self

    @property
    def start(self) -> dt.date:
        return self.date

    @property
    def end(self) -> dt.date:
        return self.to or self.date

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        """Whether any of its days falls between `first` and `last` (inclusive)."""
        return self.start <= last and self.end >= first

    def covers(self, metric: str | None, segment: str | None = None) -> bool:
        """Whether it is about `metric` (any metric: None) for the customers of `segment` (all:
        None). An annotation for a segment is about the whole too: a release for Android users
        moves the total; one for everyone is about every segment."""
        if metric is not None and self.metrics is not None and metric not in self.metrics:
            return False
        return self.where is None or segment is None or _same(self.where, segment)

    def span(self) -> str:
        """`13 Apr 2026`, or `13 Apr – 3 May 2026`."""
        return span_words(self.start, self.end)

    def words(self) -> str:
        """`Android 8.4.0 release, 13 Apr – 3 May 2026` (what `during:` names)."""
        return f"{self.title}, {self.span()}"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "date": self.start.isoformat(), "to": self.end.isoformat(),
                "kind": self.kind, "metrics": list(self.metrics) if self.metrics is not None else None,
                "where": self.where, "expected": self.expected}


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).lower() == " ".join(b.split()).lower()


def _day(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def span_words(start: dt.date, end: dt.date) -> str:
    if start == end:
        return f"{_day(start)} {start.year}"
    if start.year == end.year:
        return f"{_day(start)} – {_day(end)} {end.year}"
    return f"{_day(start)} {start.year} – {_day(end)} {end.year}"


def during(annotations: Iterable[Annotation]) -> str:
    """`during: A, 13 Apr 2026; B, 1 – 7 Jun 2025` ('' for none)."""
    names = [a.words() for a in annotations]
    return "during: " + "; ".join(names) if names else ""


def slug(title: str, day: dt.date) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or "annotation"
    return f"{text}-{day.isoformat()}"


def with_ids(annotations: Sequence[Annotation], taken: Iterable[str] = ()) -> tuple[Annotation, ...]:
    """Each annotation with its id: its own, else the slug of its title and date (`-2`, `-3`... when
    that one is taken)."""
    used = set(taken) | {a.id for a in annotations if a.id}
    out = []
    for a in annotations:
        if a.id is None:
            base = slug(a.title, a.start)
            name, n = base, 1
            while name in used:
                n += 1
                name = f"{base}-{n}"
            used.add(name)
            a = a.model_copy(update={"id": name})
        out.append(a)
    return tuple(out)


def annotation_problems(annotations: Sequence[Annotation], metrics: Iterable[str], dimensions: Iterable[str],
                        problem: Callable[[tuple[str | int, ...], str], Problem]) -> list[Problem]:
    """Unknown metrics, a `where` that is not a filter over declared dimensions, and ids given
    twice; `problem(path, message)` places each at its line (`annotations`, index, field)."""
    from northstar.spec.expressions import ExpressionError, parse_condition
    from northstar.spec.suggest import did_you_mean, known

    names, dims = list(metrics), sorted(set(dimensions))
    out: list[Problem] = []
    seen: set[str] = set()
    for index, a in enumerate(annotations):
        path: tuple[str | int, ...] = ("annotations", index)
        for position, metric in enumerate(a.metrics or ()):
            if metric not in names:
                out.append(problem(path + ("metrics", position), f"annotation '{a.title}' field 'metrics': metric "
                                   f"'{metric}' is not defined." + (did_you_mean(metric, names)
                                                                     or f" Defined metrics: {known(names)}.")))
        if a.where is not None:
            try:
                columns = parse_condition(a.where).columns
            except ExpressionError as exc:
                out.append(problem(path + ("where",), f"annotation '{a.title}' field 'where': {exc}"))
                columns = ()
            for column in columns:
                if column not in dims:
                    out.append(problem(path + ("where",), f"annotation '{a.title}' field 'where': '{column}' is not "
                                       "a dimension of any source." + (did_you_mean(column, dims)
                                                                       or f" Declared dimensions: {known(dims)}.")))
        if a.id is not None:
            if a.id in seen:
                out.append(problem(path + ("id",), f"annotation id '{a.id}' is given twice"))
            seen.add(a.id)
    return out

