"""The week-by-week simulation of every user's life: the heart of the demo generator.

One loop over the weeks; inside a week every step is a numpy operation over all users or
all events, never a Python loop per user or per event. A week's steps: sign-ups and
onboarding, who churns or returns and who is active, plan changes (trials, subscriptions,
cancels), payments, listening (plays, playlists, invites) and the referral sign-ups that
the invites bring next week. The planted incidents (see ``incidents.py``) are applied in
the step they affect, each marked with a ``PLANTED INCIDENT`` comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from northstar.demo.clock import (
    DAY_US,
    FLAT_DAY_WEIGHTS,
    HOUR_US,
    PLAY_DAY_WEIGHTS,
    SECOND_US,
    SIGNUP_DAY_WEIGHTS,
    WEEK_US,
    draw_week_times,
    local_to_utc_us,
    squeeze_after,
    week_index,
    yearly_wave,
)
from northstar.demo.incidents import (
    ANDROID_RELEASE_DE,
    DUPLICATE_PLAYS_BUG,
    PAYMENT_OUTAGE,
    Incident,
)
from northstar.demo.listening import duplicate_copies, play_times, song_durations
from northstar.demo.population import (
    CANCEL, CHANNELS, COUNTRIES, FREE, HOUR_SHIFT, INVITE_SENT, ONBOARDING_COMPLETE, PAYMENT,
    PLATFORMS, PLAYLIST_CREATE, PREMIUM, PRICE_EUR, REFERRAL, SIGN_UP, SONG_PLAY, SUBSCRIBE,
    TRIAL, TRIAL_START, Population, draw_platforms,
)

NEVER = np.iinfo(np.int64).max
PAYMENT_PERIOD_US = 30 * DAY_US

# Behaviour parameters (per user per week unless stated).
PLAYS_PER_ENGAGEMENT = 18.0
PLAN_PLAYS = np.array([1.0, 1.15, 1.3])  # premium listens more
PLAYLIST_BOOST = 0.08  # extra plays next week per playlist created this week (max 3)
TRY_P, TRY_PLAYS = 0.30, 1.5  # non-onboarded sign-ups who try a song or two
REVIVE_P = 0.012
CANCEL_ACTIVE_P, CANCEL_DORMANT_P = 0.012, 0.12
DIRECT_SUBSCRIBE_P = 0.002
EARLY_CONVERT_P = 0.3
PLAYLIST_RATE, INVITE_RATE = 0.22, 0.06
REFERRAL_ACCEPT_P = 0.12
REFERRER_COUNTRY_P = 0.8
RETRY_DAY_WEIGHTS = np.array([3.0, 2.0, 1.0, 0.6, 0.4, 0.3, 0.3])  # retries catch up early in the week

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


def _weeks_of(incident: Incident, start: date, weeks: int) -> frozenset[int]:
    """Simulated week indexes an incident covers (empty when outside the simulated range)."""
    first = week_index(incident.start, start)
    return frozenset(w for w in range(first, first + incident.weeks) if 0 <= w < weeks)


class WeekSimulation:
    """Mutable per-user state advanced one week at a time; ``run`` returns the events."""

    def __init__(
        self,
        population: Population,
        rng: np.random.Generator,
        start: date,
        weeks: int,
        utc_offsets: np.ndarray,
    ) -> None:
        p = population
        self.rng, self.start, self.weeks, self.utc_offsets = rng, start, weeks, utc_offsets
        self.country, self.platform, self.channel = p.country.copy(), p.platform.copy(), p.channel
        self.engagement, self.onboarded = p.engagement, p.onboarded
        self.signup_week, self.signup_ts = p.signup_week.copy(), p.signup_ts.copy()
        self.next_referral, self.capacity = p.first_referral, p.capacity
        n = p.capacity
        self.first_ts = np.zeros(n, dtype=np.int64)  # sign-up, or onboarding if completed
        self.alive = np.zeros(n, dtype=bool)
        self.plan = np.full(n, FREE, dtype=np.int8)
        self.trialled = np.zeros(n, dtype=bool)
        self.will_convert = np.zeros(n, dtype=bool)
        self.decision_ts = np.full(n, NEVER, dtype=np.int64)  # trial converts or expires
        self.next_payment = np.full(n, NEVER, dtype=np.int64)
        self.retry_payment = np.full(n, NEVER, dtype=np.int64)
        self.last_playlists = np.zeros(n, dtype=np.int64)
        eng = self.engagement
        self.p_active = 0.42 + 0.5 * eng / (eng + 0.8)
        self.hazard = np.clip(0.022 / eng**0.6, 0.004, 0.3)
        self.p_trial = np.clip(0.03 * np.sqrt(eng), 0.0, 0.1)
        self.p_convert = 0.3 + 0.35 * eng / (eng + 1.0)
        self.play_season = yearly_wave(start, weeks, date(2025, 1, 20), 0.07)
        self.active_season = yearly_wave(start, weeks, date(2025, 1, 20), 0.04)
        self.android_weeks = _weeks_of(ANDROID_RELEASE_DE, start, weeks)
        self.duplicate_weeks = _weeks_of(DUPLICATE_PLAYS_BUG, start, weeks)
        self.outage_weeks = _weeks_of(PAYMENT_OUTAGE, start, weeks)
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
            self._week(week)
        user, ts, event, duration, amount, plan = (np.concatenate(parts) for parts in zip(*self.out, strict=True))
        # The final attributes, including the countries and platforms of referral sign-ups.
        population = Population(
            country=self.country, platform=self.platform, channel=self.channel,
            engagement=self.engagement, onboarded=self.onboarded, signup_week=self.signup_week,
            signup_ts=self.signup_ts, first_referral=self.capacity,
        )
        return SimulatedEvents(user, ts, event, duration, amount, plan, population)

    def _week(self, week: int) -> None:
        buf = _WeekBuffer()
        new = self.signup_week == week
        old = (self.signup_week >= 0) & (self.signup_week < week)
        self._sign_up(week, new, buf)
        active = self._activity(week, new, old)
        change_ts, plan_after = self._plan_changes(week, active, buf)
        self._payments(week, change_ts, plan_after, buf)
        inviters = self._listening(week, new, active, buf)
        self._referrals(week, inviters)
        self._flush(week, buf, change_ts, plan_after)
        self.plan = plan_after

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

    def _activity(self, week: int, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        """Churn, comebacks and who is active this week (activity decays as users churn)."""
        u = self.rng.random(self.capacity)
        age = week - self.signup_week
        hazard = self.hazard * (1.0 + 2.5 * np.exp(-(age - 1) / 3.0))
        dies = old & self.alive & (u < hazard)
        revives = old & ~self.alive & self.onboarded & (u < REVIVE_P)
        self.alive = (self.alive & ~dies) | revives
        v = self.rng.random(self.capacity)
        return (
            (old & self.alive & (v < self.p_active * self.active_season[week]))
            | (new & self.onboarded)
            | (new & ~self.onboarded & (v < TRY_P))
        )

    def _times(self, week: int, users: np.ndarray, day_weights: np.ndarray = FLAT_DAY_WEIGHTS) -> np.ndarray:
        """Times in ``week`` for events of ``users``, never before their sign-up/onboarding."""
        ts = draw_week_times(self.rng, week, HOUR_SHIFT[self.country[users]], day_weights)
        return squeeze_after(ts, self.first_ts[users], week)

    def _plan_changes(
        self, week: int, active: np.ndarray, buf: _WeekBuffer
    ) -> tuple[np.ndarray, np.ndarray]:
        """At most one plan change per user per week: trial ends, cancels, trial starts, upgrades.

        Returns when each user's plan changes (``NEVER`` if not) and the plan after it, which
        give every event of the week the plan the user had at that moment.
        """
        week_end = (week + 1) * WEEK_US
        change_ts = np.full(self.capacity, NEVER, dtype=np.int64)
        plan_after = self.plan.copy()

        decided = (self.plan == TRIAL) & (self.decision_ts < week_end)
        converts = np.flatnonzero(decided & self.will_convert)
        expires = np.flatnonzero(decided & ~self.will_convert)
        buf.emit(SUBSCRIBE, converts, self.decision_ts[converts])
        plan_after[converts], plan_after[expires] = PREMIUM, FREE
        change_ts[converts] = self.decision_ts[converts]
        change_ts[expires] = self.decision_ts[expires]
        self.next_payment[converts] = self.decision_ts[converts] + 2 * SECOND_US
        self.decision_ts[decided] = NEVER

        cancel_p = np.where(self.alive, CANCEL_ACTIVE_P, CANCEL_DORMANT_P)
        # Not while a failed payment is being retried: the retry settles the last period first.
        cancels = np.flatnonzero((self.plan == PREMIUM) & (change_ts == NEVER) & (self.retry_payment == NEVER)
                                 & (self.rng.random(self.capacity) < cancel_p))
        cancel_ts = self._times(week, cancels)
        buf.emit(CANCEL, cancels, cancel_ts)
        # The cancel event still carries 'premium'; the plan is free from the next microsecond.
        change_ts[cancels], plan_after[cancels] = cancel_ts + 1, FREE

        v = self.rng.random(self.capacity)
        can_upgrade = (self.plan == FREE) & self.onboarded & active & (change_ts == NEVER)
        trials = np.flatnonzero(can_upgrade & ~self.trialled & (v < self.p_trial))
        trial_ts = self._times(week, trials)
        buf.emit(TRIAL_START, trials, trial_ts)
        change_ts[trials], plan_after[trials] = trial_ts, TRIAL
        converting = self.rng.random(trials.shape[0]) < self.p_convert[trials]
        early = converting & (self.rng.random(trials.shape[0]) < EARLY_CONVERT_P)
        # Converting trials subscribe within 14 days; 7+ days keeps it out of this week.
        delay = np.where(early, self.rng.integers(7 * DAY_US, 13 * DAY_US, trials.shape[0]),
                         np.where(converting, 14 * DAY_US - HOUR_US, 14 * DAY_US))
        self.decision_ts[trials] = trial_ts + delay
        self.will_convert[trials] = converting
        self.trialled[trials] = True

        # Users whose trial expired may still subscribe later, without a new trial.
        direct = np.flatnonzero(can_upgrade & self.trialled & (change_ts == NEVER)
                                & (v > 1.0 - DIRECT_SUBSCRIBE_P))
        direct_ts = self._times(week, direct)
        buf.emit(SUBSCRIBE, direct, direct_ts)
        change_ts[direct], plan_after[direct] = direct_ts, PREMIUM
        self.next_payment[direct] = direct_ts + 2 * SECOND_US
        return change_ts, plan_after

    def _payments(self, week: int, change_ts: np.ndarray, plan_after: np.ndarray, buf: _WeekBuffer) -> None:
        """Monthly (30-day) payments of subscribers, plus retries of failed payments."""
        week_end = (week + 1) * WEEK_US
        retried = np.flatnonzero(self.retry_payment < week_end)
        buf.emit(PAYMENT, retried, self.retry_payment[retried],
                 amount=PRICE_EUR[self.country[retried]])
        self.retry_payment[retried] = NEVER

        due_mask = (self.next_payment < week_end) & ((plan_after == PREMIUM) | (self.next_payment < change_ts))
        due = np.flatnonzero(due_mask)
        paid = np.ones(due.shape[0], dtype=bool)
        if week in self.outage_weeks:
            # PLANTED INCIDENT payment_outage: the provider rejects ~98% of payments in every
            # country this week; each failed payment is retried and succeeds next week.
            paid = self.rng.random(due.shape[0]) < 1 + PAYMENT_OUTAGE.effects["payments"]
            failed = due[~paid]
            if week + 1 < self.weeks:
                self.retry_payment[failed] = self._times(week + 1, failed, RETRY_DAY_WEIGHTS)
        ok = due[paid]
        buf.emit(PAYMENT, ok, self.next_payment[ok], amount=PRICE_EUR[self.country[ok]])
        self.next_payment[due] += PAYMENT_PERIOD_US
        self.next_payment[plan_after != PREMIUM] = NEVER

    def _listening(self, week: int, new: np.ndarray, active: np.ndarray, buf: _WeekBuffer) -> np.ndarray:
        """Song plays, playlists and invites of the active users; returns the inviters."""
        idx = np.flatnonzero(active)
        week_end = (week + 1) * WEEK_US
        lower = np.maximum(self.first_ts[idx], week * WEEK_US)
        mean = (PLAYS_PER_ENGAGEMENT * self.engagement[idx] * self.play_season[week]
                * PLAN_PLAYS[self.plan[idx]] * (1 + PLAYLIST_BOOST * np.minimum(self.last_playlists[idx], 3))
                * (week_end - lower) / WEEK_US)  # a sign-up week counts from the onboarding on
        in_release = week in self.android_weeks
        if in_release:
            # PLANTED INCIDENT android_release_de: Android users in DE play 20% fewer songs.
            # Activity was decided before, so active listeners in the segment do not change.
            mean = np.where(self.segment_mask(ANDROID_RELEASE_DE, idx), mean * ANDROID_PLAY_FACTOR, mean)
        mean = np.where(new[idx] & ~self.onboarded[idx], TRY_PLAYS, mean)
        plays = np.maximum(self.rng.poisson(mean), 1)
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

    def _flush(self, week: int, buf: _WeekBuffer, change_ts: np.ndarray, plan_after: np.ndarray) -> None:
        """Give each event its plan, convert to UTC and sort the week by time."""
        user = np.concatenate(buf.user)
        local = np.concatenate(buf.ts)
        event = np.concatenate(buf.event)
        plan = np.where(local >= change_ts[user], plan_after[user], self.plan[user]).astype(np.int8)
        ts = local_to_utc_us(local, self.start, self.utc_offsets)
        order = np.lexsort((event, user, ts))
        self.out.append((user[order], ts[order], event[order], np.concatenate(buf.duration)[order],
                         np.concatenate(buf.amount)[order], plan[order]))

