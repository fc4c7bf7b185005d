"""Candidate metrics from a data profile: what the North Star, its tree and funnel could be.

Per event value: a count and a distinct-entity count, and sums of the measures filled in on
that event (a duration becomes minutes). For the end-result event: per-entity ratios that
decompose the North Star exactly, and an entity-based retention metric. Money columns make
a `revenue` metric tagged `revenue` (never proposed as the North Star); without one, a count
of a payment-like event is the revenue proxy. Event names such as `sign_up` or `invite`
suggest the pirate-funnel stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from northstar.discover.guess import singular, slug, tokens
from northstar.discover.placeholder import customer_value_placeholder
from northstar.discover.profile import DataProfile, Measure
from northstar.spec.model import FUNNEL_STAGES

MAX_EVENTS = 12
STAGE_WORDS: dict[str, tuple[str, ...]] = {
    "acquisition": ("sign_up", "signup", "register", "registration", "create_account", "account_created",
                    "install", "first_open"),
    "activation": ("onboarding_complete", "onboarded", "onboarding", "activate", "activation",
                   "tutorial_complete", "setup_complete", "first_"),
    "referral": ("invite", "refer", "share", "add_friend"),
}
PAYMENT_WORDS = ("payment", "purchase", "order", "checkout", "subscribe", "subscription", "submit_upgrade",
                 "upgrade", "paid")
EXTERNAL_WORDS = ("channel", "source", "partner", "campaign", "referrer", "utm", "medium", "affiliate", "network")
NAVIGATION_WORDS = ("home", "login", "logout", "settings", "help", "about", "error", "page_view", "pageview",
                    "session_start", "app_open", "screen_view")


@dataclass(frozen=True)
class Candidate:
    """A proposed metric: its name, its spec body and one line saying what it counts."""

    name: str
    body: dict[str, Any]
    what: str
    role: str  # value | users | count | ratio | quantity | money | retention
    event: str | None = None
    decomposition: str | None = None  # an exact formula of this metric over other candidates
    existing: bool = False

    @property
    def is_revenue(self) -> bool:
        return "revenue" in self.body.get("tags", ())


@dataclass(frozen=True)
class Proposal:
    """Every candidate and the proposed answer of each step that picks a metric."""

    source: str
    core_event: str | None
    candidates: dict[str, Candidate]
    north_star: str | None
    users: str | None
    revenue: str | None
    retention: str | None
    funnel: dict[str, str | None] = field(default_factory=dict)

    def north_star_options(self) -> list[Candidate]:
        """Candidates that may be the North Star (never money), core event first."""
        pool = [c for c in self.candidates.values() if not c.is_revenue and c.role != "money"]
        return sorted(pool, key=lambda c: (c.event != self.core_event, _ROLE_ORDER.index(c.role)))


_ROLE_ORDER = ("value", "users", "count", "custom", "ratio", "quantity", "retention", "money")


def quote_ident(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def quote_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def event_label(profile: DataProfile, event: str) -> str:
    """How an event reads: `next song` for NextSong; `post type 2` for code 2 of PostTypeId
    (an integer code says nothing more); the source's noun for a union's part (`posts`)."""
    if profile.event_codes and profile.event_column:
        column = " ".join(t for t in tokens(profile.event_column) if t != "id") or profile.event_column
        return f"{column} {event}"
    if profile.parts:
        return event
    return words(event)


def event_where(profile: DataProfile, event: str | None, target_group: str | None = None) -> str | None:
    """`page = 'NextSong'` (`PostTypeId = 2` for codes), with the target group's filter and the
    filter leaving out system accounts, when there are."""
    extras = [c for c in (target_group, profile.exclusion.condition if profile.exclusion else None) if c]
    if event is not None and profile.event_column:
        value = str(profile.event_value(event)) if profile.event_codes else quote_value(event)
        parts = [f"{quote_ident(profile.event_column)} = {value}"] + [f"({c})" for c in extras]
    else:
        parts = extras if len(extras) < 2 else [f"({c})" for c in extras]
    return " AND ".join(parts) or None


def words(value: str) -> str:
    return " ".join(tokens(value)) or value


def entity_word(profile: DataProfile) -> str:
    """`user` for user_id/OwnerUserId, `customer` for customer_id, ... (`customer` without an entity)."""
    return profile.who


def activity(profile: DataProfile) -> str | None:
    """What every row of the data is, in words: `posts`, `posts or comments`; None for an event log."""
    if profile.parts:
        return " or ".join(profile.parts)
    return profile.noun


def matches(value: str, vocabulary: tuple[str, ...]) -> bool:
    name = "_".join(tokens(value))
    return any(word in name for word in vocabulary)


def core_event(profile: DataProfile) -> str | None:
    """The event most likely to mark the job done: one carrying a duration; else, in a file
    named after what its rows are (Posts.csv, a union of posts and comments, Users.csv), none:
    every row is that activity and the event column only splits it (PostTypeId); else the most
    frequent event that is not navigation, sign-up or payment."""
    for measure in profile.measures:
        if measure.kind == "duration" and measure.events:
            return measure.events[0]
    if activity(profile) or profile.entity_table:
        return None
    skip = NAVIGATION_WORDS + PAYMENT_WORDS + tuple(w for ws in STAGE_WORDS.values() for w in ws)
    return next((v for v in profile.event_values if not matches(v, skip)), next(iter(profile.event_values), None))


def minutes_expr(measure: Measure) -> tuple[str, str]:
    """A duration column in minutes (assumed seconds unless its name says ms, minutes or hours)."""
    col, words_ = quote_ident(measure.column), set(tokens(measure.column))
    if words_ & {"ms", "millis", "milliseconds"}:
        return f"{col} / 60000", "milliseconds"
    if words_ & {"minutes", "mins", "min"}:
        return col, "minutes"
    if words_ & {"hours", "h"}:
        return f"{col} * 60", "hours"
    return f"{col} / 60", "seconds"


def _aggregate(source: str, where: str | None, agg: str, expr: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": source}
    if where:
        body["where"] = where
    body["agg"] = agg
    if expr:
        body["expr"] = expr
    body.update(extra)
    return body


def _named(profile: DataProfile, event: str | None, what: str) -> tuple[str, str]:
    """Name and label of a candidate on an event (`next_song_minutes`, `Next song minutes`),
    or on all rows when there is no event column (`minutes`, `Minutes`)."""
    if event is None:
        return slug(what), what.capitalize()
    label = event_label(profile, event)
    return f"{slug(label)}_{slug(what)}", f"{label[0].upper()}{label[1:]} {what}"


def _counted(profile: DataProfile, event: str | None) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """(name, label, what) of the row count and of the distinct-entity count on an event.

    An event log says `events` and `active users`; a file of posts says `posts` and `users with
    posts`; a union of posts and comments says `contributions` and `contributors`; a union's
    part reads as its noun (`users with comments`)."""
    who = entity_word(profile)
    doing = activity(profile)
    if event is None and profile.parts:
        one = " or ".join(singular(p) for p in profile.parts)
        return (("contributions", f"Contributions ({' and '.join(profile.parts)})", f"number of {doing}"),
                ("contributors", f"Contributors: {who}s with {doing}",
                 f"{who}s with at least one {one} in the period"))
    if event is None and doing:
        one = singular(doing)
        return ((slug(doing), doing.capitalize(), f"number of {doing}"),
                (f"{who}s_with_{slug(doing)}", f"{who.capitalize()}s with {doing}",
                 f"{who}s with at least one {one} in the period"))
    if event is None:
        return (("events", "Events", "number of events"),
                (f"active_{who}s", f"Active {who}s", f"{who}s with at least one event in the period"))
    label = event_label(profile, event)
    if profile.parts:
        return ((slug(label), label.capitalize(), f"number of {label}"),
                (f"{who}s_with_{slug(label)}", f"{who.capitalize()}s with {label}",
                 f"{who}s with at least one {singular(label)} in the period"))
    name, title = _named(profile, event, "events")
    return ((name, title, f"number of {label} events"),
            (f"{slug(label)}_{who}s", f"{who.capitalize()}s with {label}",
             f"{who}s with at least one {label} in the period"))


def event_candidates(profile: DataProfile, source: str, event: str | None, target: str | None,
                     core: bool) -> list[Candidate]:
    """Count, distinct entities, measure sums (and for the core event: per-entity ratios)."""
    on = f" {event_label(profile, event)}" if event is not None else ""
    where = event_where(profile, event, target if core else None)
    who = entity_word(profile)
    if profile.entity_table and event is None:
        return [_new_entities(profile, source, where)]
    (name, label, what), (users_name, users_label, users_what) = _counted(profile, event)
    out = [Candidate(name, _aggregate(source, where, "count", label=label), what, "count", event)]
    users = None
    if profile.entity:
        users = Candidate(users_name, _aggregate(source, where, "count_distinct", label=users_label), users_what,
                          "users", event)
        out.append(users)
    durations = [m for m in profile.measures if m.kind == "duration" and (event is None or event in m.events)]
    for measure in profile.measures:
        if event is not None and event not in measure.events or measure.kind == "money":
            continue
        if measure.kind == "duration":
            expr, unit = minutes_expr(measure)
            name, label = _named(profile, event, "minutes" if len(durations) == 1 else f"{measure.column} minutes")
            out.append(Candidate(name, _aggregate(source, where, "sum", expr, label=label, unit="minutes"),
                                 f"minutes of{on or ' use'} ({measure.column} in {unit}): time customers spend "
                                 "getting the value", "value", event))
        else:
            name, label = _named(profile, event, words(measure.column))
            out.append(Candidate(name, _aggregate(source, where, "sum", quote_ident(measure.column), label=label),
                                 f"total {words(measure.column)}{' of' + on if on else ''}", "quantity", event))
    if core and users is not None:
        out = _with_ratios(out, users, who)
    return out


def _new_entities(profile: DataProfile, source: str, where: str | None) -> Candidate:
    """A file of users (one row each): the users whose row was created in the period, i.e.
    sign-ups. It is the acquisition stage, not value delivered."""
    who = entity_word(profile)
    body = _aggregate(source, where, "count", label=f"New {who}s (sign-ups)",
                      description=f"{who.capitalize()}s whose {profile.timestamp} falls in the period: one row per "
                                  f"{who} in {Path(profile.path).name}, so this counts sign-ups, not use.")
    return Candidate(f"new_{who}s", body, f"{who}s who signed up in the period (one row per {who})", "count", None)


def _with_ratios(out: list[Candidate], users: Candidate, who: str) -> list[Candidate]:
    """Per-entity ratios, so that value = users * value per user is an exact tree."""
    result = []
    for cand in out:
        if cand.role in ("value", "count"):
            per = f"{cand.name}_per_{who}"
            label = f"{cand.body.get('label', cand.name)} per {who}"
            ratio = Candidate(per, {"formula": f"{cand.name} / {users.name}", "label": label}, label.lower(), "ratio",
                              cand.event)
            result += [replace(cand, decomposition=f"{users.name} * {per}"), ratio]
        else:
            result.append(cand)
    return result


def money_candidates(profile: DataProfile, source: str) -> list[Candidate]:
    """Sums of money columns, tagged revenue; without one, a payment-like event count as a proxy."""
    out = []
    for measure in (m for m in profile.measures if m.kind == "money"):
        for event in measure.events or (None,):
            where = event_where(profile, event)
            name = "revenue" if not out else \
                f"{slug(event_label(profile, event) if event else 'all')}_{slug(measure.column)}"
            out.append(Candidate(name, _aggregate(source, where, "sum", quote_ident(measure.column), label="Revenue",
                                                  tags=["revenue"]),
                                 f"sum of {measure.column}" + (f" on {event_label(profile, event)}" if event else ""),
                                 "money", event))
    if out:
        return out
    for word in PAYMENT_WORDS:
        event = next((v for v in profile.event_values if matches(v, (word,))), None)
        if event is not None:
            label = event_label(profile, event)
            body = _aggregate(source, event_where(profile, event), "count", label="Revenue (proxy)", tags=["revenue"],
                              description=f"A proxy: the data has no money column; this counts {label} events.")
            return [Candidate("revenue", body, f"number of {label} events (no money column: a proxy)",
                              "money", event)]
    return []


def retention_candidate(profile: DataProfile, source: str, event: str | None, target: str | None) -> Candidate | None:
    if not profile.entity or profile.entity_table:  # one row per user: nobody comes back
        return None
    who = entity_word(profile)
    body = {"type": "retention", "source": source, "label": f"{who.capitalize()} retention"}
    where = event_where(profile, event, target)
    if where:
        body["where"] = where
    doing = event_label(profile, event) if event else activity(profile)
    what = f"share of last period's {who}s" + (f" with {doing}" if doing else "") + " who come back"
    return Candidate(f"{who}_retention", body, what, "retention", event)


def stage_events(profile: DataProfile) -> dict[str, str | None]:
    """The event that measures acquisition, activation and referral, judged by its name."""
    return {stage: next((v for word in vocabulary for v in profile.event_values if matches(v, (word,))), None)
            for stage, vocabulary in STAGE_WORDS.items()}


def propose(profile: DataProfile, source: str, core: str | None, target: str | None = None) -> Proposal:
    """Every candidate metric, and the proposed North Star, revenue, retention and funnel."""
    stages = stage_events(profile)
    events = list(profile.event_values[:MAX_EVENTS])
    events += [e for e in [core, *stages.values()] if e is not None and e not in events]
    candidates: dict[str, Candidate] = {}
    for event in ([None] if core is None else []) + events or [None]:
        for cand in event_candidates(profile, source, event, target, core=event == core):
            candidates.setdefault(cand.name, cand)
    money = money_candidates(profile, source)
    for cand in money:
        candidates.setdefault(cand.name, cand)
    retention = retention_candidate(profile, source, core, target)
    if retention is not None:
        candidates[retention.name] = retention
    users = next((c.name for c in candidates.values() if c.event == core and c.role == "users"), None)
    best = next((c.name for c in candidates.values() if c.event == core and c.role == "value"), None)
    best = best or users or next(c.name for c in candidates.values() if c.event == core and c.role == "count")
    funnel = {stage: (f"{slug(stages[stage])}_events" if stages.get(stage) else None) for stage in STAGE_WORDS}
    funnel.update(retention=retention.name if retention else None, revenue=money[0].name if money else None)
    if profile.entity_table and core is None:  # a file of users: its new rows are sign-ups
        funnel["acquisition"] = best
    return Proposal(source, core, candidates, best, users, money[0].name if money else None,
                    retention.name if retention else None, {stage: funnel.get(stage) for stage in FUNNEL_STAGES})


def customer_value_template(profile: DataProfile, core: str | None) -> str:
    """A starting sentence for the customer value, marked as a placeholder: `check` reports it
    as an error until it is rewritten in the customer's words."""
    doing = event_label(profile, core) if core is not None else None if profile.entity_table else activity(profile)
    return customer_value_placeholder(entity_word(profile), doing)


def external_dimensions(dimensions: tuple[str, ...]) -> list[str]:
    """Dimensions named like acquisition channels, partners or campaigns."""
    return [d for d in dimensions if matches(d, EXTERNAL_WORDS)]
