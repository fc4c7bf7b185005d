"""Plans and payments of the demo's users: trials, subscriptions, cancels, renewals, retries.

Kept apart from the week loop in ``lifecycle.py`` because this is where the demo's North Star
earns its place: every decision to pay depends on what the user listened to *before* it. A
free user who listened more than usual in the last weeks is more likely to start a trial or to
come back to premium; a trial converts when the trial weeks were full of music; a subscriber
who fell silent cancels. Premium is a weekly plan, so revenue is about the number of
subscribers and follows their net gains within a week or two: listening minutes lead revenue
by two to four weeks (measured in ``tests/test_demo_realism.py``).

``recent`` (per user, from ``lifecycle.py``) is the user's listening of the last weeks
relative to their own usual week: 1 is an ordinary stretch, 0 silence, 1.3 a busy one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from northstar.demo.clock import DAY_US, HOUR_US, SECOND_US, WEEK_US
from northstar.demo.incidents import PAYMENT_OUTAGE
from northstar.demo.population import (
    CANCEL,
    FREE,
    PAYMENT,
    PREMIUM,
    PRICE_EUR,
    SUBSCRIBE,
    TRIAL,
    TRIAL_START,
)

NEVER = np.iinfo(np.int64).max
PAYMENT_PERIOD_US = 7 * DAY_US
"""Premium is billed every week (the app stores' weekly plan), on the weekday it started."""
TRIAL_US = 14 * DAY_US

EARLY_DECISION_P = 0.3
"""Share of trials decided early (7-13 days in): a subscription before the trial ends, or a
trial cancelled; the others are decided an hour before the 14 days end."""
DIRECT_SUBSCRIBE_P = 0.05
"""Weekly chance that a free user whose trial is over subscribes (again), after an ordinary
week of listening: weekly plans are picked up and dropped as listening comes and goes."""
CANCEL_P = np.array([0.010, 0.20, 0.40])
"""A subscriber's weekly chance to cancel after 0, 1, and 2 or more silent weeks: people cancel
what they stopped using."""
UPGRADE_ELASTICITY = 3.5
"""Trials and returns to premium: hazard ~ recent^2.5 (twice the listening, 5.7 times the chance)."""
CONVERT_ELASTICITY = 3.0
"""A trial converts with chance ~ (listening during the trial)^2 (capped at 1.5x the usual)."""
RETRY_DAY_WEIGHTS = np.array([3.0, 2.0, 1.0, 0.6, 0.4, 0.3, 0.3])  # retries catch up early in the week

Emit = Callable[..., None]
Times = Callable[..., np.ndarray]


def _scaled(base: np.ndarray | float, recent: np.ndarray, elasticity: float) -> np.ndarray:
    """A weekly probability scaled by recent listening (bounded: at most 3x the usual listening counts)."""
    return np.clip(base * np.clip(recent, 0.0, 3.0) ** elasticity, 0.0, 0.9)


@dataclass(frozen=True)
class WeekPlans:
    """When each user's plan changes this week (``NEVER`` if not) and the plan after it."""

    change_ts: np.ndarray
    plan_after: np.ndarray


class Subscriptions:
    """Per-user plan state, advanced once a week by ``plan_changes`` then ``payments``."""

    def __init__(self, rng: np.random.Generator, country: np.ndarray, engagement: np.ndarray,
                 outage_weeks: frozenset[int], weeks: int) -> None:
        n = country.shape[0]
        self.rng, self.country, self.outage_weeks, self.weeks = rng, country, outage_weeks, weeks
        self.plan = np.full(n, FREE, dtype=np.int8)
        self.trialled = np.zeros(n, dtype=bool)
        self.decision_ts = np.full(n, NEVER, dtype=np.int64)  # trial converts or ends
        self.next_payment = np.full(n, NEVER, dtype=np.int64)
        self.retry_payment = np.full(n, NEVER, dtype=np.int64)
        self.p_trial = np.clip(0.05 * np.sqrt(engagement), 0.0, 0.15)
        self.p_convert = 0.35 + 0.35 * engagement / (engagement + 1.0)

    def plan_changes(self, week: int, active: np.ndarray, onboarded: np.ndarray, silent: np.ndarray,
                     recent: np.ndarray, times: Times, emit: Emit) -> WeekPlans:
        """``silent``: open weeks since the user last played music; ``recent``: how much, lately."""
        # At most one plan change per user per week: trial decisions, cancels, trial starts, upgrades.
        week_end = (week + 1) * WEEK_US
        n = self.plan.shape[0]
        change_ts = np.full(n, NEVER, dtype=np.int64)
        plan_after = self.plan.copy()

        # A trial converts when its weeks were full of music (``recent`` covers them).
        decided = np.flatnonzero((self.plan == TRIAL) & (self.decision_ts < week_end))
        converting = self.rng.random(decided.shape[0]) < _scaled(self.p_convert[decided],
                                                                  np.minimum(recent[decided], 1.5), CONVERT_ELASTICITY)
        converts, ends = decided[converting], decided[~converting]
        emit(SUBSCRIBE, converts, self.decision_ts[converts])
        plan_after[converts], plan_after[ends] = PREMIUM, FREE
        change_ts[decided] = self.decision_ts[decided]
        self.next_payment[converts] = self.decision_ts[converts] + 2 * SECOND_US
        self.decision_ts[decided] = NEVER

        cancel_p = CANCEL_P[np.minimum(silent, CANCEL_P.shape[0] - 1)]
        # Not while a failed payment is being retried: the retry settles the last period first.
        cancels = np.flatnonzero((self.plan == PREMIUM) & (change_ts == NEVER) & (self.retry_payment == NEVER)
                                 & (self.rng.random(n) < cancel_p))
        cancel_ts = times(week, cancels)
        emit(CANCEL, cancels, cancel_ts)
        # The cancel event still carries 'premium'; the plan is free from the next microsecond.
        change_ts[cancels], plan_after[cancels] = cancel_ts + 1, FREE

        v = self.rng.random(n)
        can_upgrade = (self.plan == FREE) & onboarded & active & (change_ts == NEVER)
        trial_p = _scaled(self.p_trial, recent, UPGRADE_ELASTICITY)
        trials = np.flatnonzero(can_upgrade & ~self.trialled & (v < trial_p))
        trial_ts = times(week, trials)
        emit(TRIAL_START, trials, trial_ts)
        change_ts[trials], plan_after[trials] = trial_ts, TRIAL
        early = self.rng.random(trials.shape[0]) < EARLY_DECISION_P
        # Decided 7-13 days in (never this week), or an hour before the 14 days end.
        delay = np.where(early, self.rng.integers(7 * DAY_US, 13 * DAY_US, trials.shape[0]), TRIAL_US - HOUR_US)
        self.decision_ts[trials] = trial_ts + delay
        self.trialled[trials] = True

        # Users whose trial ended may still subscribe later, without a new trial.
        direct_p = _scaled(DIRECT_SUBSCRIBE_P, recent, UPGRADE_ELASTICITY)
        direct = np.flatnonzero(can_upgrade & self.trialled & (change_ts == NEVER) & (v > 1.0 - direct_p))
        direct_ts = times(week, direct)
        emit(SUBSCRIBE, direct, direct_ts)
        change_ts[direct], plan_after[direct] = direct_ts, PREMIUM
        self.next_payment[direct] = direct_ts + 2 * SECOND_US
        return WeekPlans(change_ts, plan_after)

    def payments(self, week: int, plans: WeekPlans, times: Times, emit: Emit) -> None:
        """Weekly payments of subscribers, plus retries of failed payments."""
        week_end = (week + 1) * WEEK_US
        retried = np.flatnonzero(self.retry_payment < week_end)
        emit(PAYMENT, retried, self.retry_payment[retried], amount=PRICE_EUR[self.country[retried]])
        self.retry_payment[retried] = NEVER

        due_mask = (self.next_payment < week_end) & ((plans.plan_after == PREMIUM)
                                                     | (self.next_payment < plans.change_ts))
        due = np.flatnonzero(due_mask)
        paid = np.ones(due.shape[0], dtype=bool)
        if week in self.outage_weeks:
            # PLANTED INCIDENT payment_outage: the provider rejects every payment this week;
            # each failed payment is retried and succeeds next week.
            paid = self.rng.random(due.shape[0]) < 1 + PAYMENT_OUTAGE.effects["payments"]
            failed = due[~paid]
            if week + 1 < self.weeks:
                self.retry_payment[failed] = times(week + 1, failed, RETRY_DAY_WEIGHTS)
        ok = due[paid]
        emit(PAYMENT, ok, self.next_payment[ok], amount=PRICE_EUR[self.country[ok]])
        self.next_payment[due] += PAYMENT_PERIOD_US
        self.next_payment[plans.plan_after != PREMIUM] = NEVER

    def end_week(self, plans: WeekPlans) -> None:
        self.plan = plans.plan_after
