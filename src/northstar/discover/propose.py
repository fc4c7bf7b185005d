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
from typing import Any

from northstar.discover.guess import slug, tokens
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


def event_where(profile: DataProfile, event: str | None, target_group: str | None = None) -> str | None:
    """`page = 'NextSong'`, with the target group's filter when there is one."""
    parts = []
    if event is not None and profile.event_column:
        parts.append(f"{quote_ident(profile.event_column)} = {quote_value(event)}")
    if target_group:
        parts.append(f"({target_group})" if parts else target_group)
    return " AND ".join(parts) or None


def words(value: str) -> str:
    return " ".join(tokens(value)) or value


def entity_word(profile: DataProfile) -> str:
    """`user` for user_id/userId, `customer` for customer_id, ... (`customer` without an entity)."""
    for token in tokens(profile.entity or ""):
        if token not in ("id", "uid", "key") and token.isalpha():
            return token
    return "user" if profile.entity else "customer"


def matches(value: str, vocabulary: tuple[str, ...]) -> bool:
    name = "_".join(tokens(value))
    return any(word in name for word in vocabulary)


def core_event(profile: DataProfile) -> str | None:
    """The event most likely to mark the job done: one carrying a duration, else the most frequent
    event that is not navigation, sign-up or payment."""
    for measure in profile.measures:
        if measure.kind == "duration" and measure.events:
            return measure.events[0]
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


def _named(event: str | None, what: str) -> tuple[str, str]:
    """Name and label of a candidate on an event (`next_song_minutes`, `Next song minutes`),
    or on all rows when there is no event column (`minutes`, `Minutes`)."""
    if event is None:
        return slug(what), what.capitalize()
    return f"{slug(event)}_{slug(what)}", f"{words(event).capitalize()} {what}"


def event_candidates(profile: DataProfile, source: str, event: str | None, target: str | None,
                     core: bool) -> list[Candidate]:
    """Count, distinct entities, measure sums (and for the core event: per-entity ratios)."""
    on = f" {words(event)}" if event is not None else ""
    where = event_where(profile, event, target if core else None)
    who = entity_word(profile)
    name, label = _named(event, "events")
    out = [Candidate(name, _aggregate(source, where, "count", label=label), f"number of{on} events", "count", event)]
    users = None
    if profile.entity:
        name = f"{slug(event)}_{who}s" if event is not None else f"active_{who}s"
        label = f"{who.capitalize()}s with {words(event)}" if event is not None else f"Active {who}s"
        users = Candidate(name, _aggregate(source, where, "count_distinct", label=label),
                          f"{who}s with at least one{on or ' event'} in the period", "users", event)
        out.append(users)
    durations = [m for m in profile.measures if m.kind == "duration" and (event is None or event in m.events)]
    for measure in profile.measures:
        if event is not None and event not in measure.events or measure.kind == "money":
            continue
        if measure.kind == "duration":
            expr, unit = minutes_expr(measure)
            name, label = _named(event, "minutes" if len(durations) == 1 else f"{measure.column} minutes")
            out.append(Candidate(name, _aggregate(source, where, "sum", expr, label=label, unit="minutes"),
                                 f"minutes of{on or ' use'} ({measure.column} in {unit}): time customers spend "
                                 "getting the value", "value", event))
        else:
            name, label = _named(event, words(measure.column))
            out.append(Candidate(name, _aggregate(source, where, "sum", quote_ident(measure.column), label=label),
                                 f"total {words(measure.column)}{' of' + on if on else ''}", "quantity", event))
    if core and users is not None:
        out = _with_ratios(out, users, who)
    return out


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
            name = "revenue" if not out else f"{slug(event or 'all')}_{slug(measure.column)}"
            out.append(Candidate(name, _aggregate(source, where, "sum", quote_ident(measure.column), label="Revenue",
                                                  tags=["revenue"]),
                                 f"sum of {measure.column}" + (f" on {words(event)}" if event else ""), "money", event))
    if out:
        return out
    for word in PAYMENT_WORDS:
        event = next((v for v in profile.event_values if matches(v, (word,))), None)
        if event is not None:
            body = _aggregate(source, event_where(profile, event), "count", label="Revenue (proxy)", tags=["revenue"],
                              description=f"A proxy: the data has no money column; this counts {words(event)} events.")
            return [Candidate("revenue", body, f"number of {words(event)} events (no money column: a proxy)",
                              "money", event)]
    return []


def retention_candidate(profile: DataProfile, source: str, event: str | None, target: str | None) -> Candidate | None:
    if not profile.entity:
        return None
    who = entity_word(profile)
    body = {"type": "retention", "source": source, "label": f"{who.capitalize()} retention"}
    where = event_where(profile, event, target)
    if where:
        body["where"] = where
    what = f"share of last period's {who}s" + (f" with {words(event)}" if event else "") + " who come back"
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
    for event in events or [None]:
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
    return Proposal(source, core, candidates, best, users, money[0].name if money else None,
                    retention.name if retention else None, {stage: funnel.get(stage) for stage in FUNNEL_STAGES})


def customer_value_template(profile: DataProfile, core: str | None) -> str:
    """A starting sentence for the customer value, to be rewritten in the customer's words."""
    who = entity_word(profile).capitalize()
    if core is None:
        return f"{who}s get the job they hired the product for done"
    return f"{who}s get what they came for: {words(core)}"


def external_dimensions(dimensions: tuple[str, ...]) -> list[str]:
    """Dimensions named like acquisition channels, partners or campaigns."""
    return [d for d in dimensions if matches(d, EXTERNAL_WORDS)]
