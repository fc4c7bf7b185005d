"""Guess what a column means from its name and statistics: timestamp (and epoch unit),
entity, row key, event-name column, dimensions, and the kind of a measure.

Names are split into lower-case tokens (`userId` -> user, id), matched against small
vocabularies; numbers (distinct and non-null counts, ranges) rule out the impossible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TIMESTAMP_TOKENS = ("ts", "timestamp", "time", "datetime", "at", "date", "occurred", "created", "epoch")
ENTITY_TOKENS = ("user", "userid", "uid", "customer", "account", "member", "client", "subscriber", "visitor",
                 "player", "listener", "buyer", "shopper", "person", "organisation", "organization", "org",
                 "company", "tenant", "workspace", "team", "device")
EVENT_NAMES = ("event", "event_name", "event_type", "eventname", "eventtype", "action", "page", "activity",
               "name", "type", "verb", "screen", "step")
PERSONAL_TOKENS = ("name", "email", "mail", "phone", "address", "agent", "ip", "first", "last", "full", "song",
                   "title", "artist", "url", "path", "comment", "text", "description", "method", "auth", "http",
                   "status", "version")
MONEY_TOKENS = ("amount", "price", "revenue", "spend", "cost", "fee", "gmv", "mrr", "arr", "sales", "payment",
                "paid", "eur", "usd", "gbp", "turnover", "income", "charge", "value")
DURATION_TOKENS = ("duration", "length", "seconds", "secs", "sec", "minutes", "mins", "ms", "millis",
                   "milliseconds", "hours", "watch", "listen", "playtime", "dwell")
QUANTITY_TOKENS = ("quantity", "qty", "items", "units", "count", "pages", "distance", "points", "messages",
                   "nights", "seats", "credits")
MAX_DIMENSION_VALUES = 64
MAX_EVENT_VALUES = 500


def tokens(name: str) -> list[str]:
    """`userId` -> [user, id]; `duration_s` -> [duration, s]; `Submit Upgrade` -> [submit, upgrade]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def slug(name: str) -> str:
    """A metric-name fragment: letters, digits and `_`, never starting with a digit."""
    text = "_".join(tokens(name)) or "value"
    return text if text[0].isalpha() else f"e_{text}"


@dataclass(frozen=True)
class Column:
    """One column's type and statistics."""

    name: str
    kind: str  # numeric | integer | string | temporal | boolean | other
    distinct: int
    non_null: int
    minimum: float | None = None
    maximum: float | None = None


def epoch_unit(column: Column) -> str | None:
    """`s`, `ms`, `us` or `ns` when a numeric column's values look like epoch times after 1973."""
    if column.kind not in ("integer", "numeric") or column.minimum is None or column.maximum is None:
        return None
    if column.minimum < 1e8:
        return None
    for unit, limit in (("s", 1e11), ("ms", 1e14), ("us", 1e17), ("ns", 1e20)):
        if column.maximum < limit:
            return unit
    return None


def _name_score(name: str, wanted: tuple[str, ...]) -> int:
    """Higher for a name whose tokens come early in `wanted`; 0 when none matches."""
    found = [wanted.index(t) for t in tokens(name) if t in wanted]
    return len(wanted) - min(found) if found else 0


def guess_timestamp(columns: dict[str, Column]) -> tuple[str | None, str | None]:
    """The event-time column and, for epoch numbers, its unit."""
    temporal = [c for c in columns.values() if c.kind == "temporal" and c.non_null]
    if temporal:
        return max(temporal, key=lambda c: _name_score(c.name, TIMESTAMP_TOKENS)).name, None
    numeric = [(c, epoch_unit(c)) for c in columns.values() if _name_score(c.name, TIMESTAMP_TOKENS)]
    numeric = [(c, unit) for c, unit in numeric if unit]
    if numeric:
        best, unit = max(numeric, key=lambda pair: _name_score(pair[0].name, TIMESTAMP_TOKENS))
        return best.name, unit
    strings = [c for c in columns.values() if c.kind == "string" and tokens(c.name)[-1:] in (["ts"], ["timestamp"])]
    return (strings[0].name, None) if strings else (None, None)


def guess_key(columns: dict[str, Column], rows: int) -> str | None:
    """A column that identifies a row: unique, never null, named like an id."""
    for c in columns.values():
        if c.kind in ("integer", "string") and rows and c.distinct == rows == c.non_null and \
                ({"id", "uuid", "key"} & set(tokens(c.name))):
            return c.name
    return None


def guess_entity(columns: dict[str, Column], rows: int, exclude: set[str]) -> str | None:
    """Who acted: a user/customer/account column that repeats (not a row key), named like an id
    or with more values than a dimension (`device` with 2 values is a dimension)."""
    pool = [c for c in columns.values() if c.kind in ("integer", "string") and c.name not in exclude
            and 1 < c.distinct < rows and _name_score(c.name, ENTITY_TOKENS)
            and ("id" in tokens(c.name) or c.distinct > MAX_DIMENSION_VALUES)
            and not set(tokens(c.name)) & {"name", "email", "agent"}]
    if not pool:
        return None
    return max(pool, key=lambda c: (_name_score(c.name, ENTITY_TOKENS), "id" in tokens(c.name))).name


def guess_event_column(columns: dict[str, Column], exclude: set[str]) -> str | None:
    """A low-cardinality string column holding event names (event, action, page, ...)."""
    pool = [c for c in columns.values() if c.kind == "string" and c.name not in exclude
            and 2 <= c.distinct <= MAX_EVENT_VALUES and not set(tokens(c.name)) & {"first", "last", "full", "user"}]
    scored = [(_name_score("_".join(tokens(c.name)), EVENT_NAMES) * 2 + (c.name.lower() in EVENT_NAMES), c)
              for c in pool]
    scored = [(s, c) for s, c in scored if s]
    return max(scored, key=lambda pair: pair[0])[1].name if scored else None


def guess_dimensions(columns: dict[str, Column], rows: int, exclude: set[str]) -> tuple[str, ...]:
    """Low-cardinality string or boolean columns that are not names, texts or identifiers."""
    out = []
    for c in columns.values():
        words = set(tokens(c.name))
        if c.name in exclude or c.kind not in ("string", "boolean") or words & set(PERSONAL_TOKENS) or "id" in words:
            continue
        if 2 <= c.distinct <= MAX_DIMENSION_VALUES and c.distinct <= max(2, rows // 10):
            out.append(c.name)
    return tuple(out)


def measure_kind(name: str) -> str | None:
    words = tokens(name)
    if "id" in words or "session" in words:
        return None
    for kind, vocabulary in (("money", MONEY_TOKENS), ("duration", DURATION_TOKENS), ("quantity", QUANTITY_TOKENS)):
        if set(words) & set(vocabulary):
            return kind
    return None
