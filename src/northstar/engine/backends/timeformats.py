"""A source's strptime pattern (`time_format:`) in each engine's own syntax.

DuckDB's strptime takes the pattern as it is (Ibis passes it through). sqlglot translates
patterns for the other engines, but it leaves literal letters unquoted (the `T` of
`%Y-%m-%dT%H:%M` then reads as a field: PostgreSQL silently returns 00:00) and writes `%z` as
PostgreSQL's `OF`, which to_timestamp refuses; so the patterns are written here from the
pieces `spec.timeformat.split_pattern` gives.
"""

from __future__ import annotations

from northstar.errors import DataError
from northstar.spec.timeformat import Piece, split_pattern

# PostgreSQL's to_timestamp template fields. %z is TZHTZM: the text's offset is written
# without its colon first (see backends/postgres.py), as Python's %z reads both forms.
_POSTGRES = {"Y": "YYYY", "y": "YY", "m": "MM", "d": "DD", "H": "HH24", "I": "HH12", "M": "MI", "S": "SS",
             "f": "US", "p": "AM", "z": "TZHTZM", "a": "Dy", "A": "Day", "b": "Mon", "B": "Month", "j": "DDD"}

# Spark's datetime pattern letters: (between separators, beside another field). A single
# letter reads one or two digits (Python's %d reads '1' and '01'); two fields side by side
# (yyyyMMdd) need fixed widths. %z reads +0200, +02:00 and Z.
_SPARK = {"Y": ("yyyy", "yyyy"), "y": ("yy", "yy"), "m": ("M", "MM"), "d": ("d", "dd"), "H": ("H", "HH"),
          "I": ("h", "hh"), "M": ("m", "mm"), "S": ("s", "ss"), "f": ("SSSSSS", "SSSSSS"), "p": ("a", "a"),
          "z": ("[XXX][XX]", "[XXX][XX]"), "b": ("MMM", "MMM"), "B": ("MMMM", "MMMM"), "j": ("D", "DDD")}

# ClickHouse's parseDateTime64 (MySQL-style) specifiers: %i is the minute, %M the month name.
_CLICKHOUSE = {"Y": "%Y", "y": "%y", "m": "%m", "d": "%d", "H": "%H", "I": "%h", "M": "%i", "S": "%s",
               "f": "%f", "p": "%p", "z": "%z", "a": "%a", "A": "%W", "b": "%b", "B": "%M", "j": "%j"}


def postgres_template(pattern: str) -> str:
    out = []
    for piece in split_pattern(pattern):
        if piece.directive:
            out.append(_POSTGRES[piece.text])
        else:
            out.append(_postgres_literal(piece.text))
    return "".join(out)


def _postgres_literal(text: str) -> str:
    """Punctuation and spaces stand for themselves; letters and digits are quoted (a bare `T`
    or `D` would be read as a field)."""
    out, run = [], ""
    for char in text:
        if char.isalnum() or char in '"\\':
            run += "\\" + char if char in '"\\' else char
            continue
        if run:
            out.append(f'"{run}"')
            run = ""
        out.append(char)
    if run:
        out.append(f'"{run}"')
    return "".join(out)


# Spark parses no day-of-week ('E' is for formatting only): the weekday name is taken out of
# the text (it repeats what the date says) and its field out of the pattern.
SPARK_WEEKDAYS = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*[.]?"


def has_weekday(pattern: str) -> bool:
    return any(p.directive and p.text in "aA" for p in split_pattern(pattern))


def spark_pattern(pattern: str) -> str:
    pieces = [p for p in split_pattern(pattern) if not (p.directive and p.text in "aA")]
    out = []
    for index, piece in enumerate(pieces):
        if piece.directive:
            beside = any(0 <= other < len(pieces) and pieces[other].directive for other in (index - 1, index + 1))
            out.append(_SPARK[piece.text][1 if beside else 0])
        else:
            out.append("'" + piece.text.replace("'", "''") + "'")
    return "".join(out)


def clickhouse_format(pattern: str) -> str:
    return "".join(_CLICKHOUSE[p.text] if p.directive else p.text.replace("%", "%%")
                   for p in split_pattern(pattern))


def pieces_or_error(pattern: str, engine: str) -> list[Piece]:
    """The pattern's pieces; a pattern `validate` would reject is a one-line error here too."""
    try:
        return split_pattern(pattern)
    except ValueError as exc:
        raise DataError(f"{exc} (engine {engine})") from None
