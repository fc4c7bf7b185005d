"""The incidents planted in the demo data, as immutable data.

Later work (checks, explanations, anomaly detection, the dashboard) is tested against these
known causes: each record says when it happened (local dates in the spec's timezone,
Europe/Amsterdam, Monday to Sunday inclusive), where (the segment, a mapping of dimension
to value over the events source's dimensions) and what it did (the expected relative change
of named metrics of ``demo/northstar.yml``). The generator reads its parameters from these
records, so this module is the single source of truth for dates, segments and sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Literal

EffectScope = Literal["segment", "total"]


@dataclass(frozen=True)
class Incident:
    """One planted incident with a known cause.

    ``effects`` maps metric names of the demo spec to the expected relative change
    (``-0.35`` = 35% lower) over the incident's weeks, compared with the surrounding weeks.
    ``measured_on`` says where that change is measured: ``"segment"`` = only the rows of
    ``segment``; ``"total"`` = the whole product (used when the segment does not exist
    outside the incident, like a campaign channel, or when the segment is everything).
    ``rebound_end`` is the last day of an expected after-effect that belongs to the same
    cause (e.g. payments catching up after an outage), so anomaly tests need not flag it.
    """

    name: str
    description: str
    start: date
    end: date
    segment: Mapping[str, str] = field(hash=False)
    effects: Mapping[str, float] = field(hash=False)
    measured_on: EffectScope = "segment"
    rebound_end: date | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"incident {self.name!r} ends before it starts")
        if not self.effects:
            raise ValueError(f"incident {self.name!r} names no affected metric")
        # Freeze the mappings: a frozen dataclass alone would still let a caller mutate them.
        object.__setattr__(self, "segment", MappingProxyType(dict(self.segment)))
        object.__setattr__(self, "effects", MappingProxyType(dict(self.effects)))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The affected metrics, the primary one first."""
        return tuple(self.effects)

    @property
    def metric(self) -> str:
        """The primary affected metric (the one an explanation should start from)."""
        return self.metrics[0]

    @property
    def effect(self) -> float:
        """Expected relative change of the primary metric."""
        return self.effects[self.metric]

    @property
    def weeks(self) -> int:
        """Number of (Monday-to-Sunday) weeks the incident covers."""
        return ((self.end - self.start).days + 1) // 7

    def covers(self, day: date) -> bool:
        """Whether ``day`` (a local date) lies inside the incident (end inclusive)."""
        return self.start <= day <= self.end

    def week_starts(self) -> tuple[date, ...]:
        """The Mondays of the incident's weeks."""
        return tuple(self.start + timedelta(weeks=i) for i in range(self.weeks))

    def week_indexes(self, start: date, weeks: int) -> frozenset[int]:
        """Simulated week indexes (weeks since the Monday ``start``) the incident covers, inside
        ``range(weeks)``: empty when the simulated range does not reach it."""
        first = (self.start - start).days // 7
        return frozenset(w for w in range(first, first + self.weeks) if 0 <= w < weeks)


ANDROID_RELEASE_DE = Incident(
    name="android_release_de",
    description=(
        "Android release 8.4.0 shipped a playback regression for the German catalogue "
        "licence: tracks stopped early and autoplay was off, so Android listeners in Germany "
        "played fewer songs (-20%) and shorter (-19%), cutting minutes per listener by about "
        "35% until hotfix 8.4.2 three weeks later. Active listeners stayed the same."
    ),
    start=date(2026, 4, 13),
    end=date(2026, 5, 3),
    segment={"platform": "android", "country": "DE"},
    effects={
        "minutes_per_listener": -0.35,
        "listening_minutes": -0.35,
        "plays_per_listener": -0.20,
        "avg_song_minutes": -0.19,
        "active_listeners": 0.0,
    },
)

TIKTOK_CAMPAIGN = Incident(
    name="tiktok_campaign",
    description=(
        "A four-week TikTok influencer campaign bought a burst of sign-ups (+60% of all "
        "sign-ups) that almost never completed onboarding or played music: activation rate "
        "fell, marketing spend and cost per sign-up jumped, listening barely moved."
    ),
    start=date(2025, 9, 15),
    end=date(2025, 10, 12),
    segment={"channel": "tiktok_campaign"},
    effects={
        "sign_ups": 0.60,
        "activation_rate": -0.35,
        "marketing_spend": 1.65,
        "cost_per_signup": 0.65,
        "active_listeners": 0.0,
    },
    measured_on="total",
)

PAYMENT_OUTAGE = Incident(
    name="payment_outage",
    description=(
        "The payment provider rejected every renewal for a week in every country: no payment "
        "succeeded. Subscriptions were not cancelled; the failed payments were retried and "
        "collected in the following week, which shows about twice the usual payments and "
        "revenue."
    ),
    start=date(2025, 6, 9),
    end=date(2025, 6, 15),
    segment={},
    effects={"payments": -1.0, "revenue": -1.0},
    measured_on="total",
    rebound_end=date(2025, 6, 22),
)

DUPLICATE_PLAYS_BUG = Incident(
    name="duplicate_plays_bug",
    description=(
        "An iOS client bug re-sent about 30% of song_play events 1-2 seconds after the "
        "original (same user, same duration, new event_id): a data-quality incident that "
        "inflates plays and minutes on iOS but not distinct listeners."
    ),
    start=date(2026, 1, 19),
    end=date(2026, 1, 25),
    segment={"platform": "ios"},
    effects={
        "song_plays": 0.30,
        "listening_minutes": 0.30,
        "plays_per_listener": 0.30,
        "active_listeners": 0.0,
    },
)

CHRISTMAS_CLOSURE = Incident(
    name="christmas_closure",
    description=(
        "Tunewave's app was offline for the week of Christmas 2025 while its catalogue moved to "
        "a new platform: no plays, no sign-ups, no playlists or invites. Billing runs in the app "
        "stores, so payments, trial conversions and cancellations carried on as usual; nobody "
        "is counted as having stopped listening that week."
    ),
    start=date(2025, 12, 22),
    end=date(2025, 12, 28),
    segment={},
    effects={
        "listening_minutes": -1.0,
        "active_listeners": -1.0,
        "song_plays": -1.0,
        "sign_ups": -1.0,
        "revenue": 0.0,
    },
    measured_on="total",
)

INCIDENTS: tuple[Incident, ...] = (
    PAYMENT_OUTAGE,
    TIKTOK_CAMPAIGN,
    CHRISTMAS_CLOSURE,
    DUPLICATE_PLAYS_BUG,
    ANDROID_RELEASE_DE,
)

INCIDENTS_BY_NAME: Mapping[str, Incident] = MappingProxyType({i.name: i for i in INCIDENTS})
