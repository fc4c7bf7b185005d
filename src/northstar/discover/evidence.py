"""Numbers from the data shown beside a step's question (interactive guide only).

Each function returns short lines of text; they read the profiled table through Ibis and
never fail the guide (a query that cannot run yields no lines).
"""

from __future__ import annotations

from typing import Any

import ibis

from northstar.discover.profile import DataProfile
from northstar.discover.propose import entity_word, event_label
from northstar.engine.sql_to_ibis import to_ibis

MAX_SEGMENTS = 12


def _table(profile: DataProfile) -> Any:
    """The profiled rows, without the system accounts the proposals leave out."""
    table = profile.extra.get("table")
    if table is not None and profile.exclusion is not None:
        table = table.filter(to_ibis(profile.exclusion.condition, table))
    return table


def _is_event(profile: DataProfile, table: Any, event: str | None) -> Any:
    if event is None or profile.event_column is None:
        return ibis.literal(True)
    return table[profile.event_column] == profile.event_value(event)


def data_summary(profile: DataProfile) -> list[str]:
    """What was read and what each column is taken to mean."""
    span = f", {profile.first:%Y-%m-%d} to {profile.last:%Y-%m-%d}" if profile.first and profile.last else ""
    rows_are = f" ({profile.noun})" if profile.noun else ""
    lines = [f"{profile.path}: {profile.rows:,} rows{rows_are}, {len(profile.columns)} columns{span}",
             f"timestamp: {profile.timestamp or '?'}" + (f" (epoch {profile.time_unit})" if profile.time_unit else "")
             + f"   entity: {profile.entity or '?'}   event column: {profile.event_column or 'none'}"
             + (f"   row key: {profile.key}" if profile.key else "")]
    if profile.measures:
        lines.append("measures: " + ", ".join(f"{m.column} ({m.kind})" for m in profile.measures))
    if profile.dimensions:
        lines.append("dimensions: " + ", ".join(profile.dimensions))
    return lines


def event_list(profile: DataProfile, limit: int = 20) -> list[str]:
    """The event values, numbered, with their counts."""
    codes = profile.event_codes
    lines = [f"{i:>3}. {value}  ({event_label(profile, value) + ', ' if codes else ''}"
             f"{count:,} event{'s' if count != 1 else ''})"
             for i, (value, count) in enumerate(profile.events[:limit], 1)]
    if len(profile.events) > limit:
        lines.append(f"     ... and {len(profile.events) - limit} more")
    return lines


def segment_reach(profile: DataProfile, event: str | None) -> list[str]:
    """Per dimension, the share of each segment's entities that reach the end result; low ones flagged."""
    table = _table(profile)
    if table is None or profile.entity is None or event is None:
        return []
    entity = table[profile.entity]
    reached = entity.nunique(where=_is_event(profile, table, event))
    try:
        overall = table.aggregate(all=entity.nunique(), hit=reached).execute().iloc[0]
        lines = [f"overall: {overall['hit'] / max(overall['all'], 1):.0%} of {int(overall['all']):,} "
                 f"{entity_word(profile)}s ({profile.entity}) reach {event_label(profile, event)}"]
        for dim in profile.dimensions[:6]:
            rows = table.filter(table[dim].notnull())
            frame = rows.group_by(dim).aggregate(all=rows[profile.entity].nunique(),
                                                 hit=rows[profile.entity].nunique(where=_is_event(profile, rows, event))
                                                 ).execute()
            frame["share"] = frame["hit"] / frame["all"].clip(lower=1)
            low = frame[frame["share"] < 0.5 * overall["hit"] / max(overall["all"], 1)].head(MAX_SEGMENTS)
            shown = ", ".join(f"{row[dim]} {row['share']:.0%}" for _, row in low.iterrows())
            lines.append(f"{dim}: " + (f"rarely reached by {shown}" if shown else "every segment reaches it"))
        return lines
    except Exception:
        return []


def concentration(profile: DataProfile, event: str | None, dimensions: list[str]) -> list[str]:
    """Per dimension, the share of end-result events in its largest segment."""
    table = _table(profile)
    if table is None:
        return []
    lines = []
    try:
        rows = table.filter(_is_event(profile, table, event))
        for dim in dimensions[:8]:
            frame = rows.group_by(dim).aggregate(n=rows.count()).order_by(ibis.desc("n")).execute()
            if len(frame):
                share = frame["n"].iloc[0] / max(frame["n"].sum(), 1)
                lines.append(f"{dim}: largest segment '{frame[dim].iloc[0]}' has {share:.0%} of "
                             f"{event_label(profile, event) if event else 'events'}")
    except Exception:
        return lines
    return lines


def span_note(profile: DataProfile) -> list[str]:
    """How many days and weeks the data covers (a grain needs several periods)."""
    if not profile.first or not profile.last:
        return []
    days = (profile.last - profile.first).days + 1
    return [f"the data covers {days:,} days (about {days / 7:.0f} weeks, {days / 30.4:.0f} months)"]
