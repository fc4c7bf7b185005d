"""Benchmark: the demo's whole tree (NSM, inputs, guardrails) at weekly grain, all periods.

Northstar (`Project.query`, fresh project each run, no cache) against ONE hand-written DuckDB
SQL query computing the same numbers, in the same run, on N generated events with the demo's
shape (default 10 million). Each side runs in its own child process so that its peak memory
is its own; the best of `--repeat` runs is reported. The numbers must be equal.

    python bench/tree_bench.py [--events 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "out"

# The demo tree's metrics: every node, every driver, every guardrail.
TREE_METRICS = [
    "listening_minutes", "active_listeners", "minutes_per_listener", "plays_per_listener", "avg_song_minutes",
    "invites_sent", "activation_rate", "listener_retention", "playlists_per_listener", "paid_listeners",
    "cost_per_signup", "trial_conversion",
]

HAND_SQL = """
WITH base AS (
    SELECT user_id, event, duration_s, plan, ts,
           CAST(date_trunc('week', timezone('Europe/Amsterdam', ts)) AS DATE) AS week
    FROM read_parquet('{events}')
),
fused AS (
    SELECT week,
           sum(duration_s / 60) FILTER (WHERE event = 'song_play') AS listening_minutes,
           count(DISTINCT user_id) FILTER (WHERE event = 'song_play') AS active_listeners,
           count(*) FILTER (WHERE event = 'song_play') AS song_plays,
           avg(duration_s / 60) FILTER (WHERE event = 'song_play') AS avg_song_minutes,
           count(*) FILTER (WHERE event = 'invite_sent') AS invites_sent,
           count(*) FILTER (WHERE event = 'onboarding_complete') AS onboarded_users,
           count(*) FILTER (WHERE event = 'sign_up') AS sign_ups,
           count(*) FILTER (WHERE event = 'playlist_create') AS playlists_created,
           count(DISTINCT user_id) FILTER (WHERE event = 'song_play' AND plan = 'premium') AS paid_listeners
    FROM base GROUP BY week
),
active AS (SELECT DISTINCT user_id, week FROM base WHERE event = 'song_play'),
retention AS (
    SELECT CAST(a.week + INTERVAL 7 DAY AS DATE) AS week, count(b.user_id) / count(*) AS listener_retention
    FROM active a LEFT JOIN active b ON a.user_id = b.user_id AND b.week = a.week + INTERVAL 7 DAY
    GROUP BY 1
),
trial_events AS (
    SELECT user_id, ts, week, event,
           min(CASE WHEN event = 'subscribe' THEN ts END) OVER (
               PARTITION BY user_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_subscribe
    FROM base WHERE event IN ('trial_start', 'subscribe')
),
trial_users AS (
    SELECT week, user_id, bool_or(next_subscribe IS NOT NULL AND next_subscribe <= ts + INTERVAL 14 DAY) AS converted
    FROM trial_events WHERE event = 'trial_start' GROUP BY week, user_id
),
conversion AS (
    SELECT week, sum(CAST(converted AS INTEGER)) / count(*) AS trial_conversion FROM trial_users GROUP BY week
),
spend AS (
    SELECT CAST(date_trunc('week', date) AS DATE) AS week, sum(spend) AS marketing_spend
    FROM read_parquet('{spend}') GROUP BY 1
)
SELECT f.week AS period,
       f.listening_minutes, f.active_listeners,
       f.listening_minutes / nullif(f.active_listeners, 0) AS minutes_per_listener,
       f.song_plays / nullif(f.active_listeners, 0) AS plays_per_listener,
       f.avg_song_minutes, f.invites_sent,
       f.onboarded_users / nullif(f.sign_ups, 0) AS activation_rate,
       r.listener_retention,
       f.playlists_created / nullif(f.active_listeners, 0) AS playlists_per_listener,
       f.paid_listeners,
       coalesce(s.marketing_spend, 0) / nullif(f.sign_ups, 0) AS cost_per_signup,
       c.trial_conversion
FROM fused f
LEFT JOIN retention r USING (week)
LEFT JOIN conversion c USING (week)
LEFT JOIN spend s USING (week)
ORDER BY period
"""


def prepare(events: int, seed: int) -> Path:
    """Generate the events and spend tables and the demo spec into bench/out/."""
    from northstar.demo import generate_demo, users_for_events

    target = OUT / f"demo-{events}-{seed}"
    if not (target / "northstar.yml").exists():
        if target.exists():
            shutil.rmtree(target)
        started = time.perf_counter()
        summary = generate_demo(target, users=users_for_events(events), seed=seed)
        print(f"generated {summary.events:,} events ({summary.users:,} users) in {time.perf_counter() - started:.1f} s")
    return target


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_northstar(spec: str, queue: mp.Queue) -> None:
    from northstar import Project

    started = time.perf_counter()
    frame = Project.load(spec).query(TREE_METRICS, grain="week")
    queue.put((time.perf_counter() - started, frame, _peak_mb()))


def _run_hand(folder: str, queue: mp.Queue) -> None:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = HAND_SQL.format(events=f"{folder}/data/events.parquet", spend=f"{folder}/data/marketing_spend.parquet")
    frame = con.execute(sql).df()
    queue.put((time.perf_counter() - started, frame, _peak_mb()))


def _child(target, *args):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.get_context("fork").Queue()
    process = mp.get_context("fork").Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def compare(ours: pd.DataFrame, hand: pd.DataFrame) -> float:
    """Largest relative difference over all metrics and weeks (raises when shapes differ)."""
    ours = ours.set_index(pd.to_datetime(ours["period"]))[TREE_METRICS]
    hand = hand.set_index(pd.to_datetime(hand["period"]))[TREE_METRICS]
    if list(ours.index) != list(hand.index):
        raise SystemExit(f"different weeks: {len(ours)} vs {len(hand)}")
    worst = 0.0
    for metric in TREE_METRICS:
        a, b = ours[metric].astype(float).to_numpy(), hand[metric].astype(float).to_numpy()
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            raise SystemExit(f"{metric}: null in different weeks")
        ok = ~np.isnan(a)
        rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)
        worst = max(worst, float(rel.max(initial=0.0)))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = prepare(args.events, args.seed)
    rows = pd.read_parquet(folder / "data" / "events.parquet", columns=["event"]).shape[0]
    ours_runs, hand_runs = [], []
    for _ in range(args.repeat):  # alternate, so load on the machine hits both alike
        ours_runs.append(_child(_run_northstar, str(folder / "northstar.yml")))
        hand_runs.append(_child(_run_hand, str(folder)))
    ours = min(ours_runs, key=lambda r: r[0])
    hand = min(hand_runs, key=lambda r: r[0])
    worst = compare(ours[1], hand[1])
    ratio = ours[0] / hand[0]
    print(f"events: {rows:,}  weeks: {len(ours[1])}  metrics: {len(TREE_METRICS)}  runs: {args.repeat} (best)")
    print(f"northstar:    {ours[0]:7.2f} s   peak RSS {ours[2]:7.0f} MB   all runs: "
          + ", ".join(f"{r[0]:.2f}" for r in ours_runs))
    print(f"hand-written: {hand[0]:7.2f} s   peak RSS {hand[2]:7.0f} MB   all runs: "
          + ", ".join(f"{r[0]:.2f}" for r in hand_runs))
    print(f"ratio: {ratio:.2f}  (target <= 1.5)   numbers equal: max relative difference {worst:.2e}")
    sys.exit(0 if worst < 1e-9 else 1)


if __name__ == "__main__":
    main()
