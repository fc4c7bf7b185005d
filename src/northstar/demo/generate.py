"""Public API of the demo: a music streaming app over two years, deterministic by seed.

``generate_events`` and ``generate_marketing_spend`` build the tables in memory (the
benchmark uses them for ~10 million events); ``generate_demo`` writes a ready-to-use demo
project: ``data/events.parquet``, ``data/marketing_spend.parquet``, ``data/podcast_plays.parquet``
(the second product line, ``podcasts.py``) and ``northstar.yml``.
Every random draw comes from ``numpy.random.SeedSequence(seed)`` streams in a fixed order,
so the same seed gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from northstar.demo.clock import (
    DEMO_START,
    DEMO_WEEKS,
    SIGNUP_DAY_WEIGHTS,
    DataSpan,
    check_start,
    utc_offsets_us,
)
from northstar.demo.lifecycle import SimulatedEvents, WeekSimulation
from northstar.demo.population import (
    BASE_CHANNEL_SHARE,
    CAC_EUR,
    CHANNELS,
    COUNTRIES,
    COUNTRY_CAC_LEVEL,
    COUNTRY_SHARE,
    EVENTS,
    PAID_CHANNELS,
    PLANS,
    PLATFORMS,
    TIKTOK,
    TIKTOK_COUNTRY_SHARE,
    SignupPlan,
    draw_population,
    plan_signups,
)

EVENTS_PER_USER = 340.0
"""Events per user at the default parameters, measured; used by ``users_for_events``."""

EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.int64()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("user_id", pa.string()),
    ("event", pa.string()),
    ("duration_s", pa.float64()),
    ("amount", pa.float64()),
    ("country", pa.string()),
    ("platform", pa.string()),
    ("plan", pa.string()),
    ("channel", pa.string()),
])
MARKETING_SPEND_SCHEMA = pa.schema([
    ("date", pa.date32()),
    ("channel", pa.string()),
    ("country", pa.string()),
    ("spend", pa.float64()),
])
_PLAN, _POPULATION, _SIMULATION, _SPEND = range(4)


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote, for the CLI to print and tests to check."""

    events: int
    users: int
    start: date
    """The first day the data covers (the Wednesday the pipeline went live)."""
    end: date
    """The last day it covers (the Thursday of the export, until noon)."""
    out_dir: Path
    events_path: Path
    marketing_spend_path: Path
    spec_path: Path
    podcast_plays_path: Path | None = None


def users_for_events(n_events: int) -> int:
    """How many users to ask ``generate_events`` for to get about ``n_events`` events.

    Events grow linearly with users (every user follows the same process), so one measured
    ratio is a good estimate (within a few percent).
    """
    return max(50, round(n_events / EVENTS_PER_USER))


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent random streams per step, so e.g. spend does not depend on the events."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]


def _signup_plan(users: int, seed: int, start: date, weeks: int) -> SignupPlan:
    if users < 1 or weeks < 1:
        raise ValueError("users and weeks must be positive")
    check_start(start)
    return plan_signups(users, _streams(seed)[_PLAN], DataSpan(start, weeks))


def simulate(users: int, seed: int = 42, start: date = DEMO_START, weeks: int = DEMO_WEEKS) -> SimulatedEvents:
    """Run the simulation and return the raw event columns (integer codes, UTC microseconds)."""
    plan = _signup_plan(users, seed, start, weeks)
    streams = _streams(seed)
    population = draw_population(plan, streams[_POPULATION])
    offsets = utc_offsets_us(plan.span.sim_start, plan.span.sim_weeks * 7)
    return WeekSimulation(population, streams[_SIMULATION], plan.span, offsets).run()


def _user_ids(sim: SimulatedEvents) -> pa.Array:
    """'u000001'-style ids, one per simulated user slot, numbered in order of sign-up among the
    users the data holds (users who left before the data starts get no number)."""
    pop = sim.population
    present = np.unique(sim.user)
    order = present[np.lexsort((present, pop.signup_ts[present]))]
    rank = np.zeros(pop.capacity, dtype=np.int64)
    rank[order] = np.arange(1, order.shape[0] + 1)
    width = max(6, len(str(order.shape[0])))
    numbers = np.char.zfill(rank.astype(str), width)
    return pa.array(np.char.add("u", numbers).tolist(), type=pa.string())


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.string()).take(pa.array(codes.astype(np.int32)))


def events_table(sim: SimulatedEvents) -> pa.Table:
    """Turn simulated columns into the documented events table."""
    pop = sim.population
    user = sim.user.astype(np.int32)
    columns = [
        pa.array(np.arange(1, user.shape[0] + 1, dtype=np.int64)),
        pa.array(sim.ts_utc.astype(np.int64), type=pa.timestamp("us", tz="UTC")),
        _user_ids(sim).take(pa.array(user)),
        _labels(EVENTS, sim.event),
        pa.array(sim.duration_s, type=pa.float64(), from_pandas=True),
        pa.array(sim.amount, type=pa.float64(), from_pandas=True),
        _labels(COUNTRIES, pop.country[user]),
        _labels(PLATFORMS, pop.platform[user]),
        _labels(PLANS, sim.plan),
        _labels(CHANNELS, pop.channel[user]),
    ]
    return pa.Table.from_arrays(columns, schema=EVENTS_SCHEMA)


def generate_events(users: int, seed: int = 42, start: date = DEMO_START, weeks: int = DEMO_WEEKS) -> pa.Table:
    """The events table: one row per event, sorted by ``ts``; ``event_id`` follows that order.

    ``users`` is the target number of users who sign up from the launch on (half a year before
    ``start``); referral sign-ups come from simulated invites, and users who left before the
    data starts are not in it, so the data holds a few percent fewer. ``start`` (a Monday) and
    ``weeks`` are the data's weeks: it runs from that week's Wednesday 09:00 to the last week's
    Thursday noon.
    """
    return events_table(simulate(users, seed, start, weeks))


def generate_marketing_spend(
    users: int, seed: int = 42, start: date = DEMO_START, weeks: int = DEMO_WEEKS
) -> pa.Table:
    """Daily spend per paid channel and country, consistent with the planned sign-ups.

    Spend is the expected sign-ups of the day times the channel's cost per sign-up and the
    country's price level, with noise; the campaign channel spends only in its weeks, and
    nothing is spent while the app is closed (zero rows then, so every (date, channel,
    country) from the launch to the export day has a row).
    """
    plan = _signup_plan(users, seed, start, weeks)
    rng = _streams(seed)[_SPEND]
    span = plan.span
    # The plan's weekly sign-ups spread over the days by weekday; nothing while closed.
    day_share = np.tile(SIGNUP_DAY_WEIGHTS / SIGNUP_DAY_WEIGHTS.sum(), span.sim_weeks) * span.open_days(plan.closed)
    first = (span.first_day - span.sim_start).days
    last = (span.last_day - span.sim_start).days
    base_daily = (np.repeat(plan.base_expected, 7) * day_share)[first : last + 1]
    tiktok_daily = (np.repeat(plan.tiktok_expected, 7) * day_share)[first : last + 1]
    days = last + 1 - first
    channels = np.array(PAID_CHANNELS)
    expected = np.empty((days, channels.shape[0], len(COUNTRIES)))
    for j, channel in enumerate(channels):
        if channel == TIKTOK:
            expected[:, j, :] = tiktok_daily[:, None] * TIKTOK_COUNTRY_SHARE[None, :]
        else:
            expected[:, j, :] = base_daily[:, None] * BASE_CHANNEL_SHARE[channel] * COUNTRY_SHARE[None, :]
    cost = CAC_EUR[channels][None, :, None] * COUNTRY_CAC_LEVEL[None, None, :]
    noise = rng.lognormal(0.0, 0.12, expected.shape)
    spend = np.round(expected * cost * noise, 2).ravel()

    day_index = np.repeat(np.arange(days), channels.shape[0] * len(COUNTRIES))
    channel_codes = np.tile(np.repeat(channels, len(COUNTRIES)), days)
    country_codes = np.tile(np.arange(len(COUNTRIES)), days * channels.shape[0])
    epoch_day = (span.first_day - date(1970, 1, 1)).days
    columns = [
        pa.array((epoch_day + day_index).astype(np.int32), type=pa.date32()),
        _labels(CHANNELS, channel_codes),
        _labels(COUNTRIES, country_codes),
        pa.array(spend, type=pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=MARKETING_SPEND_SCHEMA)


def demo_spec_text() -> str:
    """The demo's ``northstar.yml`` as shipped in the package."""
    return resources.files("northstar.demo").joinpath("northstar.yml").read_text(encoding="utf-8")


def generate_demo(out_dir: Path, users: int = 5000, seed: int = 42) -> DemoSummary:
    """Write a complete demo project into ``out_dir`` and say what was written."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    events = generate_events(users, seed)
    spend = generate_marketing_spend(users, seed)
    events_path = data_dir / "events.parquet"
    spend_path = data_dir / "marketing_spend.parquet"
    spec_path = out_dir / "northstar.yml"
    # Row groups of ~128k rows sorted by time (as DuckDB writes them) let engines skip the
    # groups outside a queried period by their min/max statistics.
    pq.write_table(events, events_path, compression="zstd", row_group_size=131_072)
    pq.write_table(spend, spend_path, compression="zstd")
    from northstar.demo.podcasts import podcast_plays

    podcasts_path = data_dir / "podcast_plays.parquet"
    pq.write_table(podcast_plays(events, seed), podcasts_path, compression="zstd", row_group_size=131_072)
    spec_path.write_text(demo_spec_text(), encoding="utf-8")
    n_users = len(events.column("user_id").unique())
    span = DataSpan(DEMO_START, DEMO_WEEKS)
    return DemoSummary(
        events=events.num_rows,
        users=n_users,
        start=span.first_day,
        end=span.last_day,
        out_dir=out_dir,
        events_path=events_path,
        marketing_spend_path=spend_path,
        spec_path=spec_path,
        podcast_plays_path=podcasts_path,
    )
