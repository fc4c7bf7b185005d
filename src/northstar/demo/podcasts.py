"""The demo's second product line: podcasts, with a North Star of its own (issue 16).

Tunewave also streams podcasts, a product that differs from music (episodes of half an hour,
followed show by show, a listener who may never play a song's worth of them): the method allows
it its own North Star, weekly podcast listening minutes, beside listening minutes.

About a third of the people who play music also listen to podcasts, from their first play to
their last, or to the end of the data for one whose last play is less than three of their usual
gaps between days of listening before it (still listening: with their last play as the end, the
last weeks fell 20% short, a decline nobody planted, and every podcast metric alerted on them),
at their own pace (a gamma-distributed number of episodes a week); episodes last about 22
minutes (log-normal). Nothing plays in the week the app was closed (Christmas 2025).
The draws come from their own random stream (`SeedSequence(seed, spawn_key=(4,))`, the fifth
child of the demo's seed, after the four of `generate._streams`), so adding podcasts changed
no byte of the events or the marketing spend, and the same seed gives the same file.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from northstar.demo.incidents import CHRISTMAS_CLOSURE

PODCAST_STREAM = 4
"""The spawn key of the podcasts' random stream: the four before it are `generate._streams`'."""
SHARE = 0.34
"""Share of music listeners who also listen to podcasts."""
SHOWS = ("Morning Brief", "Deep Cuts", "True Crime Tuesday", "The Football Hour", "Science Weekly",
         "Comedy Club", "Mindful Minutes", "Tech Talk")
SHOW_WEIGHTS = np.array([0.22, 0.09, 0.18, 0.14, 0.1, 0.12, 0.07, 0.08])
MEDIAN_EPISODE_S = 22 * 60
PODCAST_SCHEMA = pa.schema([
    ("event_id", pa.int64()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("user_id", pa.string()),
    ("show", pa.string()),
    ("duration_s", pa.float64()),
    ("country", pa.string()),
    ("platform", pa.string()),
])
_WEEK_US = 7 * 86_400 * 1_000_000


def podcast_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PODCAST_STREAM,)))


def _closure_us(timezone: str = "Europe/Amsterdam") -> tuple[int, int]:
    """The closed week as [first, end) UTC microseconds (its local days in the spec's zone)."""
    zone = ZoneInfo(timezone)
    first = dt.datetime.combine(CHRISTMAS_CLOSURE.start, dt.time(), zone)
    end = dt.datetime.combine(CHRISTMAS_CLOSURE.end + dt.timedelta(days=1), dt.time(), zone)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (first - epoch) // dt.timedelta(microseconds=1), (end - epoch) // dt.timedelta(microseconds=1)


def _listeners(events: pa.Table) -> pa.Table:
    """Each music listener once: user_id, first and last play, the number of days they played,
    country and platform (fixed per user)."""
    plays = events.filter(pc.equal(events["event"], "song_play"))
    days = pc.divide(plays["ts"].cast(pa.int64()), 86_400 * 1_000_000)
    active = (plays.append_column("day", days).group_by(["user_id", "day"]).aggregate([])
              .group_by("user_id").aggregate([("day", "count")]))
    table = plays.group_by("user_id").aggregate([("ts", "min"), ("ts", "max"), ("country", "min"),
                                                 ("platform", "min")])
    return table.join(active, "user_id").sort_by("user_id")


def podcast_plays(events: pa.Table, seed: int = 42) -> pa.Table:
    """One row per podcast episode played, sorted by `ts`; `event_id` follows that order."""
    rng = podcast_rng(seed)
    people = _listeners(events)
    n = people.num_rows
    adopt = rng.random(n) < SHARE
    first = people["ts_min"].cast(pa.int64()).to_numpy()[adopt]
    last = people["ts_max"].cast(pa.int64()).to_numpy()[adopt]
    days = people["day_count"].to_numpy()[adopt]
    data_end = pc.max(events["ts"]).cast(pa.int64()).as_py()
    gap = (last - first) // np.maximum(days - 1, 1)  # a listener's usual time between days of listening
    last = np.where(data_end - last < 3 * gap, data_end, last)  # still listening when the data ends
    users = np.flatnonzero(adopt)
    pace = rng.gamma(1.5, 1.3, users.shape[0])  # episodes a week
    counts = rng.poisson(pace * np.maximum(last - first, 0) / _WEEK_US)
    owner = np.repeat(np.arange(users.shape[0]), counts)
    ts = first[owner] + np.floor(rng.random(owner.shape[0]) * (last - first)[owner]).astype(np.int64)
    show = rng.choice(len(SHOWS), size=owner.shape[0], p=SHOW_WEIGHTS / SHOW_WEIGHTS.sum())
    duration = np.clip(np.round(rng.lognormal(np.log(MEDIAN_EPISODE_S), 0.5, owner.shape[0])), 60, 3 * 3600)
    closed_from, closed_to = _closure_us()
    keep = (ts < closed_from) | (ts >= closed_to)
    order = np.argsort(ts[keep], kind="stable")
    rows = np.flatnonzero(keep)[order]
    who = pa.array(users[owner[rows]])
    columns = [
        pa.array(np.arange(1, rows.shape[0] + 1, dtype=np.int64)),
        pa.array(ts[rows], type=pa.timestamp("us", tz="UTC")),
        people["user_id"].take(who),
        pa.array(SHOWS, type=pa.string()).take(pa.array(show[rows].astype(np.int32))),
        pa.array(duration[rows], type=pa.float64()),
        people["country_min"].take(who),
        people["platform_min"].take(who),
    ]
    return pa.Table.from_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns],
                                schema=PODCAST_SCHEMA)
