"""strptime-style patterns for text timestamps (a source's `time_format:`).

A pattern is split into directives and literal text here, once, so that each engine's own
syntax (DuckDB's strptime, PostgreSQL's to_timestamp template, Spark's and ClickHouse's
patterns) is written from the same pieces, and so that `validate` can name a directive no
engine would understand before any data is read. Pure Python: the spec imports no engine.
"""

from __future__ import annotations

from dataclasses import dataclass

# The directives Northstar translates for every engine (Python's `strptime` meaning).
DIRECTIVES: dict[str, str] = {
    "Y": "year (2011)",
    "y": "two-digit year (11)",
    "m": "month (10)",
    "d": "day of the month (11)",
    "H": "hour, 24-hour clock (19)",
    "I": "hour, 12-hour clock (07)",
    "M": "minute (50)",
    "S": "second (34)",
    "f": "fraction of a second (123456)",
    "p": "AM or PM",
    "z": "UTC offset (+0200)",
    "a": "weekday name (Tue)",
    "A": "full weekday name (Tuesday)",
    "b": "month name (Oct)",
    "B": "full month name (October)",
    "j": "day of the year (284)",
    "%": "a literal %",
}
_TIME_OF_DAY = frozenset("HIMSfpz")


@dataclass(frozen=True)
class Piece:
    """One part of a pattern: a directive letter (`Y`, `d`...) or literal text (`/`, `T`)."""

    text: str
    directive: bool


def is_pattern(value: str | None) -> bool:
    """A `format:` value that is a strptime pattern (it has a `%`), not a file format."""
    return value is not None and "%" in value


def split_pattern(pattern: str) -> list[Piece]:
    """The pattern's directives and literal runs, in order; ValueError names the first
    directive Northstar does not know (or a `%` at the end)."""
    pieces: list[Piece] = []
    literal = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char != "%":
            literal += char
            index += 1
            continue
        if index + 1 >= len(pattern):
            raise ValueError(f"`time_format: '{pattern}'` ends with a lone '%'")
        letter = pattern[index + 1]
        if letter not in DIRECTIVES:
            known = " ".join(f"%{d}" for d in DIRECTIVES if d != "%")
            raise ValueError(f"`time_format: '{pattern}'` has the directive %{letter}, which Northstar "
                             f"does not translate; use {known}")
        if letter == "%":
            literal += "%"
        else:
            if literal:
                pieces.append(Piece(literal, False))
                literal = ""
            pieces.append(Piece(letter, True))
        index += 2
    if literal:
        pieces.append(Piece(literal, False))
    return pieces


def pattern_problem(pattern: str) -> str | None:
    """Why a pattern cannot be used, or None: an unknown directive, or no year/month/day."""
    try:
        pieces = split_pattern(pattern)
    except ValueError as exc:
        return str(exc)
    letters = {p.text for p in pieces if p.directive}
    if not letters & {"Y", "y"}:
        return f"`time_format: '{pattern}'` has no year (%Y or %y)"
    if not (letters & {"m", "b", "B"} and "d" in letters) and "j" not in letters:
        return f"`time_format: '{pattern}'` needs a month and a day (%m or %b, and %d) or a day of the year (%j)"
    if "I" in letters and "p" not in letters:
        return f"`time_format: '{pattern}'` has a 12-hour clock (%I) without AM/PM (%p); use %H for a 24-hour clock"
    return None


def has_time_of_day(pattern: str) -> bool:
    """Does the pattern read a time of day? Without one, the values are calendar dates."""
    return any(p.directive and p.text in _TIME_OF_DAY for p in split_pattern(pattern))


def has_offset(pattern: str) -> bool:
    """Does the pattern read a UTC offset (%z)? Then each value is an exact instant."""
    return any(p.directive and p.text == "z" for p in split_pattern(pattern))
