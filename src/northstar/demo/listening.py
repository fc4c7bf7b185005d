"""How song plays are laid out in time: sessions of back-to-back songs.

Plays come in listening sessions: a session starts at a time drawn from the weekday/hour
profile and its songs follow one another, each starting when the previous one ended (plus a
short gap). Consecutive plays of a user are therefore at least one (possibly skipped) song
apart, never a second or two, which is what makes the duplicate-plays incident, and a
``duplicate-inflation`` check, clear-cut.
"""

from __future__ import annotations

import math

import numpy as np

from northstar.demo.clock import (
    PLAY_DAY_WEIGHTS,
    SECOND_US,
    WEEK_US,
    draw_week_times,
    squeeze_after,
)

SONG_MEDIAN_S = 212.0
SONG_SIGMA = 0.38
SKIP_P = 0.10
SESSION_PLAYS = 8.0
"""Average songs per listening session."""
RELEASE_SD = 0.15
"""Spread of the weekly release effect (of its log, before clipping): with the habit of
listening (``lifecycle.HABIT``) the week's listeners move by about +-5%."""
RELEASE_PERSISTENCE = 0.35
"""How much of a busy week carries into the next (an album is played for a while)."""
RELEASE_CLIP, RELEASE_DIP = 1.5, 0.75
"""Shocks are clipped at +1.5 and -0.75 standard deviations: busy weeks and ordinary ones, no
freak weeks and no deep slumps (a week without a big release is just an ordinary week)."""


def release_calendar(rng: np.random.Generator, weeks: int, quiet: frozenset[int] = frozenset()) -> np.ndarray:
    """A factor per week on how many users come back to listen: big releases, viral tracks and
    playlist features make some weeks busier than others, for everyone at once.

    Per-user chance alone averages out over thousands of users; this shared swing is what
    makes the North Star move from week to week, and what subscriptions then follow (see
    ``billing.py``). A log-normal AR(1) around 1 (clipped shocks of spread ``RELEASE_SD``). The
    ``quiet`` weeks are ordinary (factor 1): a planted incident and the week it is compared
    with get no release, so the incident is the one cause of its week's change and tests can
    hold explanations to it.
    """
    clipped = np.clip(rng.normal(0.0, 1.0, weeks), -RELEASE_DIP, RELEASE_CLIP) - _clipped_normal_mean(
        RELEASE_DIP, RELEASE_CLIP)
    shocks = clipped * RELEASE_SD * math.sqrt(1 - RELEASE_PERSISTENCE**2)
    level = np.empty(weeks)
    previous = rng.normal(0.0, RELEASE_SD)  # the calendar was already running at the launch
    for week in range(weeks):  # a loop over weeks, not users: ~130 steps
        previous = RELEASE_PERSISTENCE * previous + shocks[week]
        level[week] = previous
    factor = np.exp(level)  # around 1: an ordinary week
    factor[sorted(w for w in quiet if 0 <= w < weeks)] = 1.0
    return factor


def _clipped_normal_mean(low: float, high: float) -> float:
    """E[clip(Z, -low, high)] for a standard normal Z: the shocks are centred so that the
    calendar stays around an ordinary week however it is clipped."""
    def pdf(z: float) -> float:
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    def cdf(z: float) -> float:
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    return -low * cdf(-low) + high * (1 - cdf(high)) + pdf(low) - pdf(high)


def song_durations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds per play: lognormal around 3.5 minutes, with about 10% early skips (4-35 s)."""
    duration = rng.lognormal(np.log(SONG_MEDIAN_S), SONG_SIGMA, n)
    skip = rng.random(n) < SKIP_P
    return np.where(skip, rng.uniform(4.0, 35.0, n), duration)


def play_times(
    rng: np.random.Generator,
    week: int,
    plays: np.ndarray,
    durations: np.ndarray,
    hour_shift: np.ndarray,
    lower: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Local start times of each play, grouped into sessions per user.

    ``plays``, ``hour_shift`` and ``lower`` (earliest allowed time, e.g. the onboarding)
    are per user; ``durations`` per play, the plays of each user contiguous and in user
    order. Returns the times and a mask of the plays to keep: a session that cannot fit
    between ``lower`` and the end of the week loses its last songs, so that every play
    stays inside its week.
    """
    total = int(plays.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    n_users = plays.shape[0]
    per_session = 1 + rng.poisson(SESSION_PLAYS - 1, n_users)
    sessions = -(-plays // per_session)  # ceil, >= 1 because every user has >= 1 play
    user_of_play = np.repeat(np.arange(n_users), plays)
    first_play = np.cumsum(plays) - plays
    position = np.arange(total) - first_play[user_of_play]
    # Contiguous blocks: with sessions <= plays, every session gets at least one play.
    session_of_play = (np.cumsum(sessions) - sessions)[user_of_play] + (
        position * sessions[user_of_play] // plays[user_of_play]
    )
    session_user = np.repeat(np.arange(n_users), sessions)

    gaps = (durations * SECOND_US).astype(np.int64) + rng.integers(200_000, 3 * SECOND_US, total)
    ends = np.cumsum(gaps)
    starts = ends - gaps
    session_first = np.flatnonzero(np.r_[True, session_of_play[1:] != session_of_play[:-1]])
    session_last = np.r_[session_first[1:] - 1, total - 1]
    within = starts - starts[session_first][session_of_play]
    span = ends[session_last] - starts[session_first]

    week_start, week_end = week * WEEK_US, (week + 1) * WEEK_US
    begin = draw_week_times(rng, week, hour_shift[session_user], PLAY_DAY_WEIGHTS)
    begin = squeeze_after(begin, lower[session_user], week)
    # Late-Sunday sessions start earlier so they end inside the week; never before ``lower``.
    begin = np.maximum(np.minimum(begin, week_end - span), np.maximum(lower[session_user], week_start))
    ts = begin[session_of_play] + within
    return ts, ts < week_end


def duplicate_copies(
    rng: np.random.Generator,
    week: int,
    ts: np.ndarray,
    affected: np.ndarray,
    share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which plays a buggy client re-sends, and when: 1-2 seconds after the original.

    Only plays where ``affected`` is true can be copied, each with probability ``share``.
    A copy that would fall after the end of the week goes 1-2 seconds before the original
    instead, so the incident stays inside its week. Returns (indexes of copied plays, times).
    """
    copied = np.flatnonzero(affected & (rng.random(ts.shape[0]) < share))
    offset = rng.integers(SECOND_US, 2 * SECOND_US, copied.shape[0])
    later = ts[copied] + offset
    return copied, np.where(later < (week + 1) * WEEK_US, later, ts[copied] - offset)
