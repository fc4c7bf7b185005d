"""The week-by-week simulation of every user's life: the heart of the demo generator.

One loop over the weeks; inside a week every step is a numpy operation over all users or
all events, never a Python loop per user or per event. A week's steps: sign-ups and
onboarding, who churns or returns and who is active, plan changes and payments (in
``billing.py``, driven by each user's recent listening), listening (plays, playlists,
invites) and the referral sign-ups that the invites bring next week. The planted incidents
(see ``incidents.py``) are applied in the step they affect, each marked with a
``PLANTED INCIDENT`` comment. The data is cut to what an export would hold: from the launch
on the first Wednesday to the export on the last Thursday (``clock.DataSpan``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from northstar.demo.billing import Subscriptions, WeekPlans
from northstar.demo.clock import (
    FLAT_DAY_WEIGHTS,
    PLAY_DAY_WEIGHTS,
    SECOND_US,
    SIGNUP_DAY_WEIGHTS,
    WEEK_US,
    DataSpan,
    draw_week_times,
    local_to_utc_us,
    squeeze_after,
    yearly_wave,
)
from northstar.demo.incidents import (
    ANDROID_RELEASE_DE,
    CHRISTMAS_CLOSURE,
    DUPLICATE_PLAYS_BUG,
    INCIDENTS,
    PAYMENT_OUTAGE,
    Incident,
)
from northstar.demo.listening import (
    duplicate_copies,
    play_times,
    release_calendar,
    song_durations,
)
from northstar.demo.population import (
    CHANNELS,
    COUNTRIES,
    HOUR_SHIFT,
    INVITE_SENT,
    ONBOARDING_COMPLETE,
    PLATFORMS,
    PLAYLIST_CREATE,
    REFERRAL,
    SIGN_UP,
    SONG_PLAY,
    Population,
    draw_platforms,
)

# Behaviour parameters (per user per week unless stated).
PLAYS_PER_ENGAGEMENT = 18.0
PLAN_PLAYS = np.array([1.0, 1.04, 1.08])  # premium listens a little more (no ads, offline)
PLAY_SEASON_AMPLITUDE = 0.02  # people listen a little more in winter
PLAYLIST_BOOST = 0.08  # extra plays next week per playlist created this week (max 3)
TRY_P, TRY_PLAYS = 0.30, 1.5  # non-onboarded sign-ups who try a song or two
REVIVE_P = 0.012
PLAYLIST_RATE, INVITE_RATE = 0.22, 0.06
REFERRAL_ACCEPT_P = 0.12
REFERRER_COUNTRY_P = 0.8
ACTIVE_BASE, ACTIVE_RANGE = 0.40, 0.40
"""A living user's chance to listen in a week: 40% to 80% with engagement. Kept well below 1, so
that a busy week (``listening.release_calendar``, up to ~1.2x) brings every user back alike
instead of capping the keenest at certainty, which would tilt a busy week's listeners towards
casual ones and move minutes per listener."""
HABIT = 0.25
"""Listening is a habit: who listened last week is more likely to listen this week (and who did
not, less), with the same share active on average. Fewer users swap in and out each week."""
QUIET_BEFORE = (-2, -1, 0)
"""An incident's weeks and the two before it get no release (``listening.release_calendar``):
the week an incident is compared with is ordinary, and so is the one before it, which busy
weeks would otherwise still echo in (habits and recent listening carry over)."""
RECENT_DECAY = 0.5
"""Weight of the weeks before in a user's recent listening: last week counts 1/2, the week
before 1/4, and so on (about the last 2-4 weeks)."""

# The Android release cuts plays and durations; their product is the incident's effect.
ANDROID_PLAY_FACTOR = 1 + ANDROID_RELEASE_DE.effects["plays_per_listener"]
ANDROID_DURATION_FACTOR = (1 + ANDROID_RELEASE_DE.effects["minutes_per_listener"]) / ANDROID_PLAY_FACTOR


@dataclass(frozen=True)
class SimulatedEvents:
    """Event columns (sorted by time) plus the final per-user attributes."""

    user: np.ndarray
    ts_utc: np.ndarray
    event: np.ndarray
    duration_s: np.ndarray
    amount: np.ndarray
    plan: np.ndarray
    population: Population


@dataclass
class _WeekBuffer:
    """Events emitted during one week, before sorting."""

    user: list[np.ndarray] = field(default_factory=list)
    ts: list[np.ndarray] = field(default_factory=list)
    event: list[np.ndarray] = field(default_factory=list)
    duration: list[np.ndarray] = field(default_factory=list)
    amount: list[np.ndarray] = field(default_factory=list)

    def emit(
        self,
        code: int,
        user: np.ndarray,
        ts: np.ndarray,
        duration: np.ndarray | None = None,
        amount: np.ndarray | None = None,
    ) -> None:
        n = user.shape[0]
        self.user.append(user.astype(np.int32, copy=False))
        self.ts.append(ts)
        self.event.append(np.full(n, code, dtype=np.int8))
        self.duration.append(np.full(n, np.nan) if duration is None else duration)
        self.amount.append(np.full(n, np.nan) if amount is None else amount)


class WeekSimulation:
    """Mutable per-user state advanced one week at a time; ``run`` returns the events."""

    def __init__(self, population: Population, rng: np.random.Generator, span: DataSpan,
                 utc_offsets: np.ndarray) -> None:
        p = population
        self.rng, self.span, self.utc_offsets = rng, span, utc_offsets
        self.start, self.weeks = span.sim_start, span.sim_weeks  # from the launch
        self.country, self.platform, self.channel = p.country.copy(), p.platform.copy(), p.channel
        self.engagement, self.onboarded = p.engagement, p.onboarded
        self.signup_week, self.signup_ts = p.signup_week.copy(), p.signup_ts.copy()
        self.next_referral, self.capacity = p.first_referral, p.capacity
        n = p.capacity
        self.first_ts = np.zeros(n, dtype=np.int64)  # sign-up, or onboarding if completed
        self.alive = np.zeros(n, dtype=bool)
        self.last_playlists = np.zeros(n, dtype=np.int64)
        self.recent = np.ones(n)  # recent listening relative to the user's usual week
        self.silent = np.zeros(n, dtype=np.int64)  # open weeks since the user last played music
        eng = self.engagement
        self.p_active = ACTIVE_BASE + ACTIVE_RANGE * eng / (eng + 0.8)
        self.usual_plays = PLAYS_PER_ENGAGEMENT * eng * self.p_active
        self.hazard = np.clip(0.022 / eng**0.6, 0.004, 0.3)
        self.play_season = yearly_wave(self.start, self.weeks, date(2025, 1, 20), PLAY_SEASON_AMPLITUDE)
        self.active_season = yearly_wave(self.start, self.weeks, date(2025, 1, 20), 0.04)
        self.android_weeks = ANDROID_RELEASE_DE.week_indexes(self.start, self.weeks)
        self.duplicate_weeks = DUPLICATE_PLAYS_BUG.week_indexes(self.start, self.weeks)
        self.closed_weeks = CHRISTMAS_CLOSURE.week_indexes(self.start, self.weeks)
        quiet = {w + shift for i in INCIDENTS for w in i.week_indexes(self.start, self.weeks) for shift in QUIET_BEFORE}
        self.releases = release_calendar(rng, self.weeks, frozenset(quiet))
        self.billing = Subscriptions(rng, self.country, eng,
                                     PAYMENT_OUTAGE.week_indexes(self.start, self.weeks), self.weeks)
        self.out: list[tuple[np.ndarray, ...]] = []

    def segment_mask(self, incident: Incident, users: np.ndarray) -> np.ndarray:
        """Which of ``users`` belong to the incident's segment (user-level dimensions only)."""
        columns = {"country": (self.country, COUNTRIES), "platform": (self.platform, PLATFORMS),
                   "channel": (self.channel, CHANNELS)}
        mask = np.ones(users.shape[0], dtype=bool)
        for dimension, value in incident.segment.items():
            values, names = columns[dimension]
            mask &= values[users] == names.index(value)
        return mask

    def run(self) -> SimulatedEvents:
        for week in range(self.weeks):
            if week in self.closed_weeks:
                self._closed(week)
            else:
                self._week(week)
        user, ts, event, duration, amount, plan = (np.concatenate(parts) for parts in zip(*self.out, strict=True))
        # The final attributes, including the countries and platforms of referral sign-ups.
        population = Population(
            country=self.country, platform=self.platform, channel=self.channel,
            engagement=self.engagement, onboarded=self.onboarded, signup_week=self.signup_week,
            signup_ts=self.signup_ts, first_referral=self.capacity,
        )
        return SimulatedEvents(user, ts, event, duration, amount, plan, population)

    def _closed(self, week: int) -> None:
        """PLANTED INCIDENT christmas_closure: the app is offline for the week: no sign-ups, no
        listening, no trials (they start in the app). Billing runs in the app stores and goes
        on: renewals, trial conversions, cancellations. The sign-ups that would have come (the
        referrals of last week's invites) come the week after, and nobody's listening habit
        counts the closed week (``recent`` and ``silent`` stay as they were)."""
        buf = _WeekBuffer()
        waiting = self.signup_week == week
        self.signup_week[waiting] = week + 1
        self.signup_ts[waiting] += WEEK_US
        nobody = np.zeros(self.capacity, dtype=bool)
        plans = self.billing.plan_changes(week, nobody, self.onboarded, self.silent, self.recent, self._times,
                                          buf.emit)
        self.billing.payments(week, plans, self._times, buf.emit)
        self._flush(week, buf, plans)
        self.billing.end_week(plans)

    def _week(self, week: int) -> None:
        buf = _WeekBuffer()
        new = self.signup_week == week
        old = (self.signup_week >= 0) & (self.signup_week < week)
        self._sign_up(week, new, buf)
        active = self._activity(week, new, old)
        plans = self.billing.plan_changes(week, active, self.onboarded, self.silent, self.recent, self._times,
                                          buf.emit)
        self.billing.payments(week, plans, self._times, buf.emit)
        inviters = self._listening(week, new, active, buf)
        self._referrals(week, inviters)
        self._flush(week, buf, plans)
        self.billing.end_week(plans)

    def _sign_up(self, week: int, new: np.ndarray, buf: _WeekBuffer) -> None:
        idx = np.flatnonzero(new)
        ts = self.signup_ts[idx]
        buf.emit(SIGN_UP, idx, ts)
        done = self.onboarded[idx]
        delay = (self.rng.lognormal(np.log(240.0), 0.8, int(done.sum())) * SECOND_US).astype(np.int64)
        onboard_ts = np.maximum(np.minimum(ts[done] + delay, (week + 1) * WEEK_US - SECOND_US), ts[done])
        buf.emit(ONBOARDING_COMPLETE, idx[done], onboard_ts)
        self.first_ts[idx] = ts
        self.first_ts[idx[done]] = onboard_ts
        self.alive[idx] = done
        self.recent[idx] = 1.0  # a new user starts from an ordinary week

    def _activity(self, week: int, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        """Churn, comebacks and who is active this week (activity decays as users churn).

        A big release week (``releases``) brings more of the living users back to the app.
        """
        u = self.rng.random(self.capacity)
        age = week - self.signup_week
        hazard = self.hazard * (1.0 + 2.5 * np.exp(-(age - 1) / 3.0))
        dies = old & self.alive & (u < hazard)
        revives = old & ~self.alive & self.onboarded & (u < REVIVE_P)
        self.alive = (self.alive & ~dies) | revives
        v = self.rng.random(self.capacity)
        # A release week brings everyone back a little more often, casual and keen alike (so
        # it moves the number of listeners, not the mix of who listens).
        p_active = np.minimum(self.p_active * self.active_season[week] * self.releases[week], 0.98)
        # Listening is a habit.
        p_active = np.where(self.silent == 0, p_active + HABIT * (1 - p_active), p_active * (1 - HABIT))
        return (
            (old & self.alive & (v < p_active))
            | (new & self.onboarded)
            | (new & ~self.onboarded & (v < TRY_P))
        )

    def _times(self, week: int, users: np.ndarray, day_weights: np.ndarray = FLAT_DAY_WEIGHTS) -> np.ndarray:
        """Times in ``week`` for events of ``users``, never before their sign-up/onboarding."""
        ts = draw_week_times(self.rng, week, HOUR_SHIFT[self.country[users]], day_weights)
        return squeeze_after(ts, self.first_ts[users], week)

    def _listening(self, week: int, new: np.ndarray, active: np.ndarray, buf: _WeekBuffer) -> np.ndarray:
        """Song plays, playlists and invites of the active users; returns the inviters."""
        idx = np.flatnonzero(active)
        week_end = (week + 1) * WEEK_US
        lower = np.maximum(self.first_ts[idx], week * WEEK_US)
        mean = (PLAYS_PER_ENGAGEMENT * self.engagement[idx] * self.play_season[week]
                * PLAN_PLAYS[self.billing.plan[idx]] * (1 + PLAYLIST_BOOST * np.minimum(self.last_playlists[idx], 3))
                * (week_end - lower) / WEEK_US)  # a sign-up week counts from the onboarding on
        in_release = week in self.android_weeks
        if in_release:
            # PLANTED INCIDENT android_release_de: Android users in DE play 20% fewer songs.
            # Activity was decided before, so active listeners in the segment do not change.
            mean = np.where(self.segment_mask(ANDROID_RELEASE_DE, idx), mean * ANDROID_PLAY_FACTOR, mean)
        mean = np.where(new[idx] & ~self.onboarded[idx], TRY_PLAYS, mean)
        plays = np.maximum(self.rng.poisson(mean), 1)
        week_plays = np.zeros(self.capacity)
        week_plays[idx] = plays
        self.recent = RECENT_DECAY * self.recent + (1 - RECENT_DECAY) * week_plays / self.usual_plays
        self.silent = np.where(week_plays > 0, 0, self.silent + 1)
        users = np.repeat(idx, plays)
        duration = song_durations(self.rng, users.shape[0])
        if in_release:
            # PLANTED INCIDENT android_release_de: ...and those plays stop early (-19%),
            # together -35% minutes per listener, for exactly the incident's three weeks.
            duration = np.where(self.segment_mask(ANDROID_RELEASE_DE, users),
                                duration * ANDROID_DURATION_FACTOR, duration)
        duration = np.round(duration, 3)
        ts, keep = play_times(self.rng, week, plays, duration, HOUR_SHIFT[self.country[idx]], lower)
        users, ts, duration = users[keep], ts[keep], duration[keep]
        buf.emit(SONG_PLAY, users, ts, duration=duration)
        if week in self.duplicate_weeks:
            # PLANTED INCIDENT duplicate_plays_bug: the iOS client re-sends ~30% of plays
            # 1-2 s after the original (same user and duration, new event): plays and
            # minutes rise on iOS, distinct listeners do not.
            copied, copy_ts = duplicate_copies(self.rng, week, ts, self.segment_mask(DUPLICATE_PLAYS_BUG, users),
                                               DUPLICATE_PLAYS_BUG.effects["song_plays"])
            buf.emit(SONG_PLAY, users[copied], copy_ts, duration=duration[copied])

        engaged = idx[self.onboarded[idx]]
        root = np.sqrt(self.engagement[engaged])
        playlists = self.rng.poisson(PLAYLIST_RATE * root)
        self.last_playlists[:] = 0
        self.last_playlists[engaged] = playlists
        creators = np.repeat(engaged, playlists)
        buf.emit(PLAYLIST_CREATE, creators, self._times(week, creators, PLAY_DAY_WEIGHTS))
        inviters = np.repeat(engaged, self.rng.poisson(INVITE_RATE * root))
        buf.emit(INVITE_SENT, inviters, self._times(week, inviters, PLAY_DAY_WEIGHTS))
        return inviters

    def _referrals(self, week: int, inviters: np.ndarray) -> None:
        """Invites sent this week bring referral sign-ups next week (most from the same country)."""
        if week + 1 >= self.weeks or inviters.shape[0] == 0:
            return
        accepted = int(self.rng.binomial(inviters.shape[0], REFERRAL_ACCEPT_P))
        accepted = min(accepted, self.capacity - self.next_referral)
        new = np.arange(self.next_referral, self.next_referral + accepted)
        self.next_referral += accepted
        referrer = inviters[self.rng.integers(0, inviters.shape[0], accepted)]
        same = self.rng.random(accepted) < REFERRER_COUNTRY_P
        self.country[new] = np.where(same, self.country[referrer], self.country[new])
        self.platform[new] = draw_platforms(self.country[new], self.rng)
        assert (self.channel[new] == REFERRAL).all()
        self.signup_week[new] = week + 1
        self.signup_ts[new] = draw_week_times(self.rng, week + 1, HOUR_SHIFT[self.country[new]],
                                              SIGNUP_DAY_WEIGHTS)

    def _flush(self, week: int, buf: _WeekBuffer, plans: WeekPlans) -> None:
        """Give each event its plan, keep what the export holds, convert to UTC, sort by time."""
        user = np.concatenate(buf.user)
        local = np.concatenate(buf.ts)
        event = np.concatenate(buf.event)
        plan = np.where(local >= plans.change_ts[user], plans.plan_after[user], self.billing.plan[user]).astype(np.int8)
        duration, amount = np.concatenate(buf.duration), np.concatenate(buf.amount)
        keep = (local >= self.span.first_us) & (local < self.span.end_us)
        user, local, event, plan, duration, amount = (a[keep] for a in (user, local, event, plan, duration, amount))
        ts = local_to_utc_us(local, self.start, self.utc_offsets)
        order = np.lexsort((event, user, ts))
        self.out.append((user[order], ts[order], event[order], duration[order], amount[order], plan[order]))
