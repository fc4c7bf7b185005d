"""Who is a customer: system accounts left out of the entity, and why no entity was found.

Community sites and SaaS exports carry accounts that are not customers: Stack Exchange's
`Community` user (`Id = -1`) owns wiki posts and casts automatic votes. Where the data shows
them (a negative id, or a display name such as "Community" or "System" on the entity's rows)
they are left out of every proposed metric by a filter, and discover says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from northstar.discover.guess import Column, entity_candidates, singular, tokens

SYSTEM_NAMES = ("community", "system")
MAX_LISTED = 5


@dataclass(frozen=True)
class Exclusion:
    """A filter keeping the entity's real customers: `condition` is SQL over the source's
    columns; rows without an entity stay (a deleted user's post is still a post)."""

    condition: str
    rows: int
    ids: tuple[str, ...]
    reason: str

    @property
    def note(self) -> str:
        shown = ", ".join(self.ids[:MAX_LISTED]) + (" ..." if len(self.ids) > MAX_LISTED else "")
        return (f"left out {shown} ({self.rows:,} row{'s' if self.rows != 1 else ''}): a system account "
                f"({self.reason}), not a customer (filter: {self.condition})")


def _quote(name: str) -> str:
    return name if name.replace("_", "a").isalnum() and not name[0].isdigit() else '"' + name.replace('"', '""') + '"'


def _name_columns(columns: dict[str, Column]) -> list[str]:
    """Columns holding a person's shown name (DisplayName, OwnerDisplayName, username)."""
    out = []
    for c in columns.values():
        words = set(tokens(c.name))
        if c.kind == "string" and ("name" in words or "username" in words) and \
                words & {"display", "user", "owner", "author", "username", "screen"}:
            out.append(c.name)
    return out


def system_accounts(table: ir.Table, columns: dict[str, Column], entity: str) -> Exclusion | None:
    """Negative integer ids, and ids whose display name is a system name, with their row count."""
    column = columns.get(entity)
    if column is None or column.kind not in ("integer", "string"):
        return None
    col = table[entity]
    negative = column.kind == "integer" and column.minimum is not None and column.minimum < 0
    named = ibis.literal(False)
    names = _name_columns(columns)
    for name in names:
        named = named | table[name].lower().strip().isin(SYSTEM_NAMES)
    hit = (col < 0) if negative else ibis.literal(False)
    hit = (hit | named) & col.notnull()
    if not negative and not names:
        return None
    rows = table.filter(hit)
    frame = rows.group_by(entity).aggregate(n=rows.count()).order_by(entity).execute()
    if frame.empty:
        return None
    ids = [int(v) if column.kind == "integer" else str(v) for v in frame[entity]]
    listed = [i for i in ids if not (negative and isinstance(i, int) and i < 0)]
    q = _quote(entity)
    keep = [f"{q} >= 0"] if negative else []
    if listed:
        values = ", ".join(str(i) if column.kind == "integer" else "'" + str(i).replace("'", "''") + "'"
                           for i in listed)
        keep.append(f"{q} NOT IN ({values})")
    condition = f"{q} IS NULL OR " + (keep[0] if len(keep) == 1 else "(" + " AND ".join(keep) + ")")
    reasons = []
    if negative and len(listed) < len(ids):
        reasons.append("a negative id")
    if names:
        shown = frame_names(table, names, entity, hit)
        if shown:
            reasons.append("named " + " or ".join(f"'{n}'" for n in shown))
    return Exclusion(condition, int(frame["n"].sum()), tuple(f"{entity} {i}" for i in ids),
                     ", ".join(reasons) or "a system name")


def frame_names(table: ir.Table, names: list[str], entity: str, hit: ir.BooleanValue) -> list[str]:
    """The system display names seen on the excluded rows (for the note)."""
    seen: list[str] = []
    for name in names:
        values = table.filter(hit & table[name].lower().strip().isin(SYSTEM_NAMES)).select(name).distinct().execute()[name]
        seen += [str(v) for v in values if v is not None and str(v) not in seen]
    return seen


def entity_notes(pattern: str, columns: dict[str, Column], rows: int, used: set[str], entity: str | None,
                 noun: str | None) -> list[str]:
    """Why no entity was taken: none named like one, or the one there is unique per row."""
    if entity is not None:
        return []
    file = Path(pattern).name
    unique = [c.name for c in entity_candidates(columns, rows, used)
              if c.distinct >= c.non_null]
    what = f"one per {singular(noun)}" if noun else "one per row"
    if unique:
        return [f"{file}: {', '.join(unique)} has a different value on every row ({what}), so it cannot tell "
                f"returning customers apart and is not taken as the entity; discover cannot count customers there, "
                f"only {noun or 'rows'} (join a file that maps it to a person, e.g. a customers file, in a `sql:` "
                "source)"]
    rows_are = noun or "rows"
    return [f"{file}: no column says who acted (a user, customer or account id), so discover cannot count customers "
            f"there, only {rows_are}; name the column under `columns: {{entity: ...}}` if there is one"]
