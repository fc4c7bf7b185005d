"""Several files at once: which of them record what the same people do, and their union.

A community export has one file per kind of contribution (Posts.csv, Comments.csv), each with
its own user column (`OwnerUserId`, `UserId`). Counting "contributors" needs both: the files
whose rows are actions of the same kind of entity (user, customer) become one `sql:` source,
a UNION ALL of their entity, time and a constant naming the file (`activity`), which every
metric can read. Files that are not actions of someone stay sources of their own:
a file of the entities themselves (Users.csv: sign-ups), things given to people rather than
done by them (badges, awards), files without an entity (anonymous votes) or without times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ibis
import sqlglot
from sqlglot import exp

from northstar.discover.guess import tokens
from northstar.discover.profile import DataProfile, profile_table, read_table

RECEIVED_NOUNS = ("badges", "awards", "achievements", "notifications", "rewards", "trophies", "certificates")
ACTIVITY = "activity"


@dataclass(frozen=True)
class Union:
    """The `sql:` source combining the files of one kind of entity, and its profile."""

    name: str
    sql: str
    members: tuple[str, ...]  # source names
    profile: DataProfile

    def body(self) -> dict[str, object]:
        profile = self.profile
        return {"sql": self.sql, "timestamp": profile.timestamp, "entity": profile.entity, "dimensions": [],
                "description": f"{profile.who.capitalize()}s' {' and '.join(profile.parts)} in one table "
                               f"(written by northstar discover)"}


def why_not_member(profile: DataProfile) -> str | None:
    """Why a file's rows are not actions of its entity (None: they are)."""
    file = Path(profile.path).name
    if profile.timestamp is None:
        return f"{file} has no column of times: written as a source without `timestamp:`, for other sources' " \
               "`sql:` to join"
    if profile.entity is None:
        return f"{file} says nobody who acted: its rows are counted in a metric of their own"
    if profile.entity_table:
        return (f"{file} has one row per {profile.who} ({profile.key} is unique): it records when each signed up "
                f"({profile.timestamp}), not what they do; it is the funnel's acquisition stage")
    if profile.noun in RECEIVED_NOUNS:
        return f"{file}: {profile.noun} are given to {profile.who}s, not done by them; counted in a metric of their own"
    if profile.time_unit:
        return f"{file} has epoch times ({profile.timestamp}, {profile.time_unit}): not combined with the others"
    return None


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name)


def _common_name(profiles: list[DataProfile], role: str, who: str) -> str:
    """The union's column: the members' shared name, else the plainest (UserId over OwnerUserId)."""
    names = [getattr(p, role) for p in profiles]
    if len(set(names)) == 1:
        return names[0]
    if role == "entity":
        plain = [n for n in names if [t for t in tokens(n) if t != "id"] == [who]]
        return plain[0] if plain else f"{who}_id"
    return "event_time"


def union_sql(members: dict[str, DataProfile], entity: str, timestamp: str) -> str:
    """`SELECT OwnerUserId AS UserId, CreationDate, 'posts' AS activity FROM posts WHERE ...
    UNION ALL SELECT ...` (built with sqlglot, so names are quoted where they must be)."""
    kinds = {p.columns[p.entity].kind for p in members.values() if p.entity}
    time_kinds = {p.columns[p.timestamp].kind for p in members.values() if p.timestamp}
    selects = []
    for name, p in members.items():
        assert p.entity and p.timestamp
        ent: exp.Expression = exp.column(_ident(p.entity))
        if len(kinds) > 1:
            ent = exp.cast(ent, "VARCHAR")
        ts: exp.Expression = exp.column(_ident(p.timestamp))
        if len(time_kinds) > 1 and p.columns[p.timestamp].kind != "temporal":
            ts = exp.cast(ts, "TIMESTAMP")
        columns = [ent if p.entity == entity and len(kinds) == 1 else exp.alias_(ent, _ident(entity)),
                   ts if p.timestamp == timestamp and len(time_kinds) == 1 else exp.alias_(ts, _ident(timestamp)),
                   exp.alias_(exp.Literal.string(p.noun or name), ACTIVITY)]
        select = exp.select(*columns).from_(exp.to_table(name))
        if p.exclusion is not None:
            select = select.where(sqlglot.condition(p.exclusion.condition, dialect="duckdb"))
        selects.append(select)
    union: exp.Expression = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    return union.sql(dialect="duckdb")


def combine(profiles: dict[str, DataProfile], name: str) -> tuple[Union | None, list[str]]:
    """The union of the files whose rows are actions of the same kind of entity (at least two),
    and a note for each file left out of it and why."""
    notes = []
    groups: dict[str, list[str]] = {}
    for source, profile in profiles.items():
        reason = why_not_member(profile)
        if reason is None:
            groups.setdefault(profile.who, []).append(source)
        elif profile.entity is not None or profile.timestamp is None:  # no entity: the profile's note says it
            notes.append(reason)
    who, members = max(groups.items(), key=lambda item: len(item[1]), default=("", []))
    if len(members) < 2:
        return None, notes
    for other, sources in groups.items():
        if other != who:
            notes += [f"{Path(profiles[s].path).name} counts {other}s, not {who}s: kept as a source of its own"
                      for s in sources]
    chosen = {s: profiles[s] for s in members}
    entity = _common_name(list(chosen.values()), "entity", who)
    timestamp = _common_name(list(chosen.values()), "timestamp", who)
    sql = union_sql(chosen, entity, timestamp)
    con = ibis.duckdb.connect()
    for source, profile in chosen.items():
        read_table(list(profile.files), profile.format, con=con, table_name=source)
    table = con.sql(sql)
    nouns = tuple(p.noun or s for s, p in chosen.items())
    files = [f for p in chosen.values() for f in p.files]
    profile = profile_table(table, f"sources {' + '.join(chosen)}", files, "sql",
                            {"timestamp": timestamp, "entity": entity, "event": ACTIVITY}, None, nouns)
    return Union(name, sql, tuple(chosen), profile), notes


def union_note(union: Union, profiles: dict[str, DataProfile]) -> str:
    """How the union counts people, naming the source it is written as (a new one, or the
    existing source with the same SQL a rerun reuses)."""
    who = profiles[union.members[0]].who
    return (f"{who}s are counted across {', '.join(Path(profiles[s].path).name for s in union.members)} through the "
            f"`sql:` source '{union.name}' (UNION ALL of their {who} and time, `{ACTIVITY}` naming the file)")
