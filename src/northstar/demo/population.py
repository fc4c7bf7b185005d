"""Who the demo's users are and when they sign up.

The vocabulary (countries, platforms, channels, plans, events), the per-country and
per-channel parameters, the weekly sign-up plan (growth, yearly seasonality, the TikTok
burst) and the per-user attributes drawn from it. Marketing spend is derived from the same
plan, which is why the plan is its own step with its own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from northstar.demo.clock import (
    SIGNUP_DAY_WEIGHTS,
    WEEK_US,
    DataSpan,
    draw_week_times,
    yearly_wave,
)
from northstar.demo.incidents import CHRISTMAS_CLOSURE, TIKTOK_CAMPAIGN

EVENTS = (
    "sign_up", "onboarding_complete", "song_play", "playlist_create", "invite_sent",
    "trial_start", "subscribe", "payment", "cancel",
)
(SIGN_UP, ONBOARDING_COMPLETE, SONG_PLAY, PLAYLIST_CREATE, INVITE_SENT,
 TRIAL_START, SUBSCRIBE, PAYMENT, CANCEL) = range(len(EVENTS))

PLANS = ("free", "trial", "premium")
FREE, TRIAL, PREMIUM = range(len(PLANS))

COUNTRIES = ("DE", "NL", "SE", "GB", "US", "FR", "BR", "IS")
COUNTRY_SHARE = np.array([0.24, 0.10, 0.09, 0.14, 0.22, 0.12, 0.09, 0.006])
COUNTRY_SHARE = COUNTRY_SHARE / COUNTRY_SHARE.sum()
"""Iceland is a sparse segment on purpose: about 30 of 5,000 users, a handful active a week."""
TIKTOK_COUNTRY_SHARE = np.array([0.22, 0.08, 0.06, 0.16, 0.24, 0.12, 0.12, 0.0])
HOUR_SHIFT = np.array([0, 0, 0, 1, 6, 0, 4, 1])
"""Hours to add to a user's local hour to get Amsterdam time (US and BR approximated)."""
PRICE_EUR = np.array([2.49, 2.49, 2.59, 2.79, 2.69, 2.49, 0.99, 2.29])
"""Weekly premium price per country (premium is a weekly plan, billed by the app stores)."""
COUNTRY_CAC_LEVEL = np.array([1.0, 1.0, 1.1, 1.2, 1.4, 0.95, 0.35, 1.3])
"""How expensive a sign-up is per country, relative to Germany."""

PLATFORMS = ("ios", "android", "web")
IOS, ANDROID, WEB = range(len(PLATFORMS))
# Per country (rows as COUNTRIES): share of ios, android, web. The web player is a rare
# platform (about 2% of users): with countries it makes segments of one to a few listeners.
PLATFORM_SHARE = np.array([
    [0.45, 0.53, 0.02],
    [0.52, 0.46, 0.02],
    [0.52, 0.46, 0.02],
    [0.58, 0.40, 0.02],
    [0.62, 0.35, 0.03],
    [0.46, 0.52, 0.02],
    [0.22, 0.77, 0.01],
    [0.55, 0.43, 0.02],
])
TIKTOK_PLATFORM_SHARE = np.array([0.45, 0.55, 0.0])
"""The campaign ran in the mobile apps only."""

CHANNELS = ("organic", "search", "social", "referral", "tiktok_campaign")
ORGANIC, SEARCH, SOCIAL, REFERRAL, TIKTOK = range(len(CHANNELS))
BASE_CHANNEL_SHARE = np.array([0.50, 0.28, 0.22, 0.0, 0.0])
"""Channels of the planned sign-ups; referrals come from invites, TikTok from the campaign."""
PAID_CHANNELS = (SEARCH, SOCIAL, TIKTOK)
CAC_EUR = np.array([0.0, 11.0, 8.0, 0.0, 12.0])
"""Marketing cost per sign-up of each channel (before the country level)."""
ONBOARDING_P = np.array([0.78, 0.72, 0.62, 0.86, 0.05])
"""Probability that a sign-up completes onboarding, per channel: TikTok sign-ups almost never do."""
CHANNEL_ENGAGEMENT = np.array([1.10, 1.00, 0.85, 1.20, 0.50])
ENGAGEMENT_SIGMA = 0.5
"""Spread of how much users listen (log-normal): the keenest tenth listens ~3.6x the least keen tenth."""

REFERRAL_SHARE = 0.10
"""About this share of all users arrive by referral (calibrated in the simulation)."""
YEARLY_GROWTH = 1.45
SIGNUP_PEAK = date(2025, 1, 5)
SIGNUP_SEASON_AMPLITUDE = 0.22


@dataclass(frozen=True)
class SignupPlan:
    """Planned sign-ups per week; the simulation adds referral sign-ups as invites arrive."""

    span: DataSpan
    closed: frozenset[int]
    """Weeks the app was closed (no sign-ups, no events)."""
    base_expected: np.ndarray
    """Expected organic/search/social sign-ups per week (what marketing planned for)."""
    base_counts: np.ndarray
    tiktok_counts: np.ndarray
    referral_capacity: int

    @property
    def weeks(self) -> int:
        """Simulated weeks, from the launch."""
        return self.span.sim_weeks

    @property
    def tiktok_expected(self) -> np.ndarray:
        """The campaign bought its sign-ups evenly over its weeks."""
        return self.tiktok_counts.astype(np.float64)


def plan_signups(users: int, rng: np.random.Generator, span: DataSpan) -> SignupPlan:
    """Split ``users`` into weekly sign-ups from the launch on, with growth and yearly seasonality.

    The TikTok burst is sized from its incident record: +60% of all sign-ups in its weeks. The
    closed week gets none.
    """
    weeks = span.sim_weeks
    closed = CHRISTMAS_CLOSURE.week_indexes(span.sim_start, weeks)
    t_years = np.arange(weeks) / 52.0
    intensity = YEARLY_GROWTH**t_years * yearly_wave(span.sim_start, weeks, SIGNUP_PEAK, SIGNUP_SEASON_AMPLITUDE)
    intensity = intensity * np.exp(rng.normal(0.0, 0.05, weeks))
    intensity[sorted(closed)] = 0.0
    share = intensity / intensity.sum()

    campaign = np.zeros(weeks, dtype=bool)
    campaign[sorted(TIKTOK_CAMPAIGN.week_indexes(span.sim_start, weeks))] = True
    non_referral = round(users * (1 - REFERRAL_SHARE))
    # The burst is relative to all sign-ups of those weeks, referrals included.
    uplift = TIKTOK_CAMPAIGN.effects["sign_ups"] / (1 - REFERRAL_SHARE)
    base = round(non_referral / (1 + uplift * share[campaign].sum()))
    tiktok = non_referral - base
    tiktok_counts = np.zeros(weeks, dtype=np.int64)
    if campaign.any():
        tiktok_counts[campaign] = rng.multinomial(tiktok, np.full(campaign.sum(), 1 / campaign.sum()))
    return SignupPlan(
        span=span,
        closed=closed,
        base_expected=base * share,
        base_counts=rng.multinomial(base, share),
        tiktok_counts=tiktok_counts,
        referral_capacity=max(10, round(users * REFERRAL_SHARE * 3)),
    )


@dataclass(frozen=True)
class Population:
    """Per-user attributes for every possible user: planned sign-ups then the referral pool.

    Referral-pool users have ``signup_week == -1`` until an invite brings them in.
    """

    country: np.ndarray
    platform: np.ndarray
    channel: np.ndarray
    engagement: np.ndarray
    onboarded: np.ndarray
    signup_week: np.ndarray
    signup_ts: np.ndarray
    first_referral: int

    @property
    def capacity(self) -> int:
        return int(self.country.shape[0])


def draw_platforms(country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A platform per user from its country's platform mix."""
    cdf = np.cumsum(PLATFORM_SHARE, axis=1)[country]
    return (rng.random(country.shape[0])[:, None] >= cdf[:, :-1]).sum(axis=1).astype(np.int8)


def draw_population(plan: SignupPlan, rng: np.random.Generator) -> Population:
    """Draw the attributes of planned, campaign and referral-pool users."""
    n_base = int(plan.base_counts.sum())
    n_tiktok = int(plan.tiktok_counts.sum())
    n_pool = plan.referral_capacity
    weeks = np.arange(plan.weeks)

    country = np.concatenate([
        rng.choice(len(COUNTRIES), n_base, p=COUNTRY_SHARE),
        rng.choice(len(COUNTRIES), n_tiktok, p=TIKTOK_COUNTRY_SHARE),
        rng.choice(len(COUNTRIES), n_pool, p=COUNTRY_SHARE),
    ]).astype(np.int8)
    platform = draw_platforms(country, rng)
    platform[n_base : n_base + n_tiktok] = rng.choice(len(PLATFORMS), n_tiktok, p=TIKTOK_PLATFORM_SHARE)
    channel = np.concatenate([
        rng.choice(len(CHANNELS), n_base, p=BASE_CHANNEL_SHARE),
        np.full(n_tiktok, TIKTOK),
        np.full(n_pool, REFERRAL),
    ]).astype(np.int8)

    web = platform == WEB
    engagement = rng.lognormal(0.0, ENGAGEMENT_SIGMA, country.shape[0]) * CHANNEL_ENGAGEMENT[channel]
    engagement = np.where(web, engagement * 0.85, engagement)
    onboarded = rng.random(country.shape[0]) < ONBOARDING_P[channel] * np.where(web, 0.92, 1.0)

    signup_week = np.concatenate([
        np.repeat(weeks, plan.base_counts),
        np.repeat(weeks, plan.tiktok_counts),
        np.full(n_pool, -1),
    ]).astype(np.int32)
    signup_ts = np.zeros(country.shape[0], dtype=np.int64)
    planned = n_base + n_tiktok
    signup_ts[:planned] = draw_signup_times(rng, signup_week[:planned], country[:planned])
    return Population(
        country=country,
        platform=platform,
        channel=channel,
        engagement=engagement,
        onboarded=onboarded,
        signup_week=signup_week,
        signup_ts=signup_ts,
        first_referral=planned,
    )


def draw_signup_times(rng: np.random.Generator, signup_week: np.ndarray, country: np.ndarray) -> np.ndarray:
    """Local sign-up times inside each user's sign-up week (vectorised over users)."""
    inside = draw_week_times(rng, 0, HOUR_SHIFT[country], SIGNUP_DAY_WEIGHTS)
    return signup_week.astype(np.int64) * WEEK_US + inside
