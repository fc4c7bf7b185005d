"""Guess what a column means from its name and statistics: timestamp (and epoch unit),
entity, row key, event-name column, dimensions, and the kind of a measure.

Names are split into lower-case tokens (`userId` -> user, id), matched against small
vocabularies; numbers (null share, distinct and non-null counts, ranges, the share of text
values that parse as times) rule out the impossible. Real exports have columns that are
almost always empty (`CommunityOwnedDate`, `OwnerDisplayName`) and several times per row
(`CreationDate`, `LastAccessDate`): the null share comes first, the name decides between
the columns that are filled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TIMESTAMP_TOKENS = ("ts", "timestamp", "time", "datetime", "at", "date", "occurred", "created", "epoch")
# Names of the moment a row happened, best first; and of later or other moments of the same row.
EVENT_TIME_TOKENS = ("created", "creation", "create", "occurred", "event", "timestamp", "ts", "time", "datetime",
                     "date", "at", "epoch", "purchase", "sent", "submitted", "posted")
OTHER_TIME_TOKENS = ("last", "access", "accessed", "closed", "close", "edit", "edited", "community", "owned",
                     "modified", "updated", "update", "deleted", "delete", "due", "estimated", "estimate", "expires",
                     "expiry", "expiration", "end", "ended", "approved", "delivered", "shipping", "limit", "answer",
                     "birth", "birthday", "dob", "activity")
ENTITY_TOKENS = ("user", "userid", "uid", "customer", "account", "member", "client", "subscriber", "visitor",
                 "player", "listener", "buyer", "shopper", "person", "organisation", "organization", "org",
                 "company", "tenant", "workspace", "team", "device", "owner", "author")
# Ids of someone other than the actor of the row (the last editor, the referrer, the parent post).
NOT_ACTOR_TOKENS = ("last", "editor", "parent", "accepted", "previous", "referrer", "referred", "invited", "target")
EVENT_NAMES = ("event", "event_name", "event_type", "eventname", "eventtype", "action", "page", "activity",
               "name", "type", "verb", "screen", "step", "kind", "status", "class", "category")
# An integer column is a code list (1 question, 2 answer) only when its name says so.
CODE_TOKENS = ("type", "kind", "code", "event", "action", "status", "class", "category")
PERSONAL_TOKENS = ("name", "email", "mail", "phone", "address", "agent", "ip", "first", "last", "full", "song",
                   "title", "artist", "url", "path", "comment", "text", "description", "method", "auth", "http",
                   "status", "version")
# Words of a column naming a person (`OwnerDisplayName`): never the event.
PERSON_TOKENS = ("display", "owner", "user", "editor", "author", "first", "last", "full", "email", "mail", "phone",
                 "username", "nickname")
MONEY_TOKENS = ("amount", "price", "revenue", "spend", "cost", "fee", "gmv", "mrr", "arr", "sales", "payment",
                "paid", "eur", "usd", "gbp", "turnover", "income", "charge", "value")
DURATION_TOKENS = ("duration", "length", "seconds", "secs", "sec", "minutes", "mins", "ms", "millis",
                   "milliseconds", "hours", "watch", "listen", "playtime", "dwell")
QUANTITY_TOKENS = ("quantity", "qty", "items", "units", "count", "pages", "distance", "points", "messages",
                   "nights", "seats", "credits")
MAX_DIMENSION_VALUES = 64
MAX_EVENT_VALUES = 500
MAX_CODE_VALUES = 50
TIMESTAMP_FILLED = 0.95  # a timestamp is (almost) never null
TIMESTAMP_MIN_FILLED = 0.5  # below this a column cannot date the events at all
ENTITY_FILLED = 0.8
EVENT_FILLED = 0.9
EVENT_MIN_REPEATS = 5  # rows per event value on average: a name seen twice per value is no event list


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
    """One column's type and statistics (`time_parsed`: text values that parse as a time)."""

    name: str
    kind: str  # numeric | integer | string | temporal | boolean | other
    distinct: int
    non_null: int
    minimum: float | None = None
    maximum: float | None = None
    time_parsed: int | None = None

    def filled(self, rows: int) -> float:
        """The share of rows where the column has a value."""
        return self.non_null / rows if rows else 0.0


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


def is_time_named(name: str) -> bool:
    return bool(set(tokens(name)) & set(TIMESTAMP_TOKENS + EVENT_TIME_TOKENS))


def _time_kind(column: Column) -> tuple[int, str | None] | None:
    """How a column holds times (3 temporal, 2 epoch number, 1 parsed text) and its epoch unit;
    None when it holds no times."""
    if column.kind == "temporal":
        return 3, None
    unit = epoch_unit(column) if is_time_named(column.name) else None
    if unit:
        return 2, unit
    if column.kind == "string" and column.time_parsed and column.time_parsed >= TIMESTAMP_FILLED * column.non_null:
        return 1, None
    return None


@dataclass(frozen=True)
class TimestampGuess:
    column: str | None
    unit: str | None
    filled: float  # share of rows with a time


def guess_timestamp(columns: dict[str, Column], rows: int) -> TimestampGuess:
    """When each row happened: a column of times that is (almost) never null, named like the
    moment the row was created rather than a later one (CreationDate over LastAccessDate)."""
    found = []
    for c in columns.values():
        kind = _time_kind(c)
        if kind is None or not c.non_null:
            continue
        words = set(tokens(c.name))
        later = bool(words & set(OTHER_TIME_TOKENS))
        score = (c.filled(rows) >= TIMESTAMP_FILLED, not later, _name_score(c.name, EVENT_TIME_TOKENS), kind[0],
                 c.filled(rows))
        found.append((score, c, kind[1]))
    usable = [item for item in found if item[1].filled(rows) >= TIMESTAMP_MIN_FILLED]
    if not usable:
        return TimestampGuess(None, None, 0.0)
    _score, best, unit = max(usable, key=lambda item: item[0])
    return TimestampGuess(best.name, unit, best.filled(rows))


def _id_like(name: str) -> bool:
    return bool({"id", "uuid", "key", "uid", "userid"} & set(tokens(name)))


def guess_key(columns: dict[str, Column], rows: int, noun: str | None = None) -> str | None:
    """The column that identifies a row: unique, never null, named like an id. `Id`, or the
    file's own id (`order_id` in orders), before another unique id (`customer_id`)."""
    own = singular(noun) if noun else None
    pool = [c for c in columns.values() if c.kind in ("integer", "string") and rows and c.distinct == rows == c.non_null
            and ({"id", "uuid", "key"} & set(tokens(c.name)))]
    if not pool:
        return None

    def rank(c: Column) -> tuple[bool, bool, bool]:
        words = tokens(c.name)
        return words in (["id"], ["key"], ["uuid"]), bool(own and own in words), not (set(words) & set(ENTITY_TOKENS))

    return max(pool, key=rank).name


def entity_candidates(columns: dict[str, Column], rows: int, exclude: set[str]) -> list[Column]:
    """Columns named after who acts (user, customer, account) and like an id, mostly filled."""
    return [c for c in columns.values() if c.kind in ("integer", "string") and c.name not in exclude
            and _name_score(c.name, ENTITY_TOKENS) and c.distinct > 1
            and (_id_like(c.name) or c.distinct > MAX_DIMENSION_VALUES)
            and not set(tokens(c.name)) & {"name", "email", "agent", "display", *NOT_ACTOR_TOKENS}
            and c.filled(rows) >= ENTITY_FILLED]


def guess_entity(columns: dict[str, Column], rows: int, exclude: set[str]) -> str | None:
    """Who acted: a user/customer/account id with many values that repeat (fewer distinct
    values than rows: a column unique per row is the row's own id), rarely null."""
    pool = [c for c in entity_candidates(columns, rows, exclude) if c.distinct < c.non_null]
    if not pool:
        return None
    return max(pool, key=lambda c: (_name_score(c.name, ENTITY_TOKENS), "id" in tokens(c.name), c.filled(rows),
                                    c.distinct)).name


def is_code_column(column: Column) -> bool:
    """An integer column of a few codes named as such (`PostTypeId`, `status`)."""
    return (column.kind == "integer" and 2 <= column.distinct <= MAX_CODE_VALUES
            and bool(set(tokens(column.name)) & set(CODE_TOKENS)))


def guess_event_column(columns: dict[str, Column], rows: int, exclude: set[str]) -> str | None:
    """What happened: a low-cardinality column of event names (text) or codes (integers),
    rarely null, each value repeated; never a column naming people."""
    pool = [c for c in columns.values() if c.name not in exclude
            and ((c.kind == "string" and 2 <= c.distinct <= MAX_EVENT_VALUES) or is_code_column(c))
            and c.filled(rows) >= EVENT_FILLED and c.non_null >= EVENT_MIN_REPEATS * c.distinct
            and not set(tokens(c.name)) & set(PERSON_TOKENS)]
    scored = [(_name_score("_".join(tokens(c.name)), EVENT_NAMES) * 2 + (c.name.lower() in EVENT_NAMES),
               c.kind == "string", c) for c in pool]
    scored = [item for item in scored if item[0]]
    return max(scored, key=lambda item: item[:2])[2].name if scored else None


def guess_dimensions(columns: dict[str, Column], rows: int, exclude: set[str]) -> tuple[str, ...]:
    """Low-cardinality text, boolean or code columns that are not names, texts or identifiers."""
    out = []
    for c in columns.values():
        words = set(tokens(c.name))
        if c.name in exclude or words & set(PERSONAL_TOKENS):
            continue
        if c.kind in ("string", "boolean") and "id" not in words or is_code_column(c):
            if 2 <= c.distinct <= MAX_DIMENSION_VALUES and c.distinct <= max(2, rows // 10):
                out.append(c.name)
    return tuple(out)


# Words of a number that counts or orders things rather than measuring money or time
# (`payment_installments`, `payment_sequential`).
ORDINAL_TOKENS = ("sequential", "sequence", "seq", "installments", "installment", "number", "nr", "num", "type",
                  "code", "rank", "index")


def measure_kind(name: str) -> str | None:
    words = tokens(name)
    if "id" in words or "session" in words:
        return None
    if set(words) & set(ORDINAL_TOKENS):
        return "quantity" if set(words) & {"installments", "installment"} else None
    for kind, vocabulary in (("money", MONEY_TOKENS), ("duration", DURATION_TOKENS), ("quantity", QUANTITY_TOKENS)):
        if set(words) & set(vocabulary):
            return kind
    return None


GENERIC_NOUNS = ("events", "event", "data", "dataset", "datasets", "export", "exports", "dump", "dumps", "table",
                 "tables", "raw", "sample", "samples", "file", "files", "logs", "log", "records", "rows")


def file_noun(stem: str) -> str | None:
    """What one row of a file is, from its name: `Posts.csv` -> posts, `olist_orders_dataset` ->
    orders; None for a generic name (events, data, export) or one that is not a plural noun."""
    words = [w for w in tokens(stem) if w not in GENERIC_NOUNS and w.isalpha()]
    plural = [w for w in words if len(w) > 3 and w.endswith("s") and not w.endswith("ss")]
    return plural[-1] if plural else None


def singular(noun: str) -> str:
    """`posts` -> post, `badges` -> badge, `categories` -> category, `addresses` -> address."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("sses", "xes", "ches", "shes")):
        return noun[:-2]
    return noun[:-1] if noun.endswith("s") else noun


def is_entity_noun(noun: str | None) -> bool:
    """A file of users, customers, accounts: one row per entity, not per action."""
    return noun is not None and singular(noun) in ENTITY_TOKENS


def entity_word_of(column: str | None, noun: str | None = None) -> str | None:
    """`user` for OwnerUserId/userId, `customer` for customer_unique_id; the file's own noun
    for the id of a file of entities (`Id` in Users.csv)."""
    for token in tokens(column or ""):
        if token in ENTITY_TOKENS and token not in ("userid", "uid"):
            return "user" if token in ("owner", "author") else token
        if token in ("userid", "uid"):
            return "user"
    if column and is_entity_noun(noun):
        return singular(noun or "")
    return None
