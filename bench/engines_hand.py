"""The demo tree's numbers written by hand for each engine: DuckDB (tree_bench's HAND_SQL),
ClickHouse SQL (chdb), Spark SQL and Polars (lazy). Each returns a pandas frame with `period`
and the 12 TREE_METRICS, the same numbers as Northstar's `Project.query(TREE_METRICS, grain="week")`.

Same semantics everywhere: exact distinct counts, Monday weeks of the local time in
Europe/Amsterdam, retention = share of last week's listeners who listen this week, trial
conversion = share of (week, user) with a trial start followed by a subscribe within 14 days.
"""

from __future__ import annotations

import pandas as pd

from tree_bench import HAND_SQL

ZONE = "Europe/Amsterdam"

# The same query in ClickHouse's SQL; `file()` reads the Parquet files. Retention and
# conversion join on equality only (ClickHouse's joins), with the time window in the aggregate.
CLICKHOUSE_SQL = """
WITH base AS (
    SELECT user_id, event, duration_s, plan, ts, toMonday(toTimeZone(ts, '{zone}')) AS wk
    FROM file('{events}', Parquet)
),
fused AS (
    SELECT wk,
           sumIf(duration_s / 60, event = 'song_play') AS listening_minutes,
           uniqExactIf(user_id, event = 'song_play') AS active_listeners,
           countIf(event = 'song_play') AS song_plays,
           avgIf(duration_s / 60, event = 'song_play') AS avg_song_minutes,
           countIf(event = 'invite_sent') AS invites_sent,
           countIf(event = 'onboarding_complete') AS onboarded_users,
           countIf(event = 'sign_up') AS sign_ups,
           countIf(event = 'playlist_create') AS playlists_created,
           uniqExactIf(user_id, event = 'song_play' AND plan = 'premium') AS paid_listeners
    FROM base GROUP BY wk
),
active AS (SELECT DISTINCT user_id, wk FROM base WHERE event = 'song_play'),
retention AS (
    SELECT a.wk + 7 AS rwk, countIf(b.hit = 1) / count() AS listener_retention
    FROM active a LEFT JOIN (SELECT user_id, wk - 7 AS pwk, 1 AS hit FROM active) b
      ON a.user_id = b.user_id AND a.wk = b.pwk
    GROUP BY rwk
),
trial_users AS (
    SELECT t.wk AS twk, t.user_id,
           max(ifNull(s.sub_ts >= t.ts AND s.sub_ts <= t.ts + INTERVAL 14 DAY, 0)) AS converted
    FROM (SELECT user_id, ts, wk FROM base WHERE event = 'trial_start') t
    LEFT JOIN (SELECT user_id, ts AS sub_ts FROM base WHERE event = 'subscribe') s ON t.user_id = s.user_id
    GROUP BY twk, t.user_id
),
conversion AS (SELECT twk, sum(converted) / count() AS trial_conversion FROM trial_users GROUP BY twk),
spend AS (SELECT toMonday(date) AS swk, sum(spend) AS marketing_spend FROM file('{spend}', Parquet) GROUP BY swk)
SELECT f.wk AS period,
       f.listening_minutes, f.active_listeners,
       f.listening_minutes / nullIf(f.active_listeners, 0) AS minutes_per_listener,
       f.song_plays / nullIf(f.active_listeners, 0) AS plays_per_listener,
       f.avg_song_minutes, f.invites_sent,
       f.onboarded_users / nullIf(f.sign_ups, 0) AS activation_rate,
       r.listener_retention,
       f.playlists_created / nullIf(f.active_listeners, 0) AS playlists_per_listener,
       f.paid_listeners,
       ifNull(s.marketing_spend, 0) / nullIf(f.sign_ups, 0) AS cost_per_signup,
       c.trial_conversion
FROM fused f
LEFT JOIN retention r ON f.wk = r.rwk
LEFT JOIN conversion c ON f.wk = c.twk
LEFT JOIN spend s ON f.wk = s.swk
ORDER BY period
SETTINGS join_use_nulls = 1, session_timezone = 'UTC'
"""

# The same query in Spark SQL (session time zone UTC).
SPARK_SQL = """
WITH base AS (
    SELECT user_id, event, duration_s, plan, ts,
           CAST(date_trunc('WEEK', from_utc_timestamp(ts, '{zone}')) AS DATE) AS week
    FROM parquet.`{events}`
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
    SELECT date_add(a.week, 7) AS week, count(b.user_id) / count(*) AS listener_retention
    FROM active a LEFT JOIN active b ON a.user_id = b.user_id AND b.week = date_add(a.week, 7)
    GROUP BY 1
),
trial_users AS (
    SELECT t.week, t.user_id, max(CASE WHEN s.user_id IS NOT NULL THEN 1 ELSE 0 END) AS converted
    FROM (SELECT user_id, ts, week FROM base WHERE event = 'trial_start') t
    LEFT JOIN (SELECT user_id, ts FROM base WHERE event = 'subscribe') s
      ON t.user_id = s.user_id AND s.ts >= t.ts AND s.ts <= t.ts + INTERVAL 14 DAYS
    GROUP BY t.week, t.user_id
),
conversion AS (SELECT week, sum(converted) / count(*) AS trial_conversion FROM trial_users GROUP BY week),
spend AS (
    SELECT CAST(date_trunc('WEEK', date) AS DATE) AS week, sum(spend) AS marketing_spend
    FROM parquet.`{spend}` GROUP BY 1
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
LEFT JOIN retention r ON f.week = r.week
LEFT JOIN conversion c ON f.week = c.week
LEFT JOIN spend s ON f.week = s.week
ORDER BY period
"""


def duckdb_hand(events: str, spend: str) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(HAND_SQL.format(events=events, spend=spend)).df()


def chdb_hand(events: str, spend: str) -> pd.DataFrame:
    import chdb

    return chdb.query(CLICKHOUSE_SQL.format(events=events, spend=spend, zone=ZONE), "DataFrame")


def spark_hand(events: str, spend: str, session) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return session.sql(SPARK_SQL.format(events=events, spend=spend, zone=ZONE)).toPandas()


def polars_hand(events: str, spend: str) -> pd.DataFrame:
    import polars as pl

    def monday(local: pl.Expr) -> pl.Expr:
        day = local.dt.date()
        return day - pl.duration(days=day.dt.weekday() - 1)

    ev = pl.scan_parquet(events).select(
        "user_id", "event", "duration_s", "plan", "ts",
        monday(pl.col("ts").dt.convert_time_zone(ZONE).dt.replace_time_zone(None)).alias("week"),
    )
    play = pl.col("event") == "song_play"
    minutes = pl.col("duration_s") / 60
    fused = ev.group_by("week").agg(
        minutes.filter(play).sum().alias("listening_minutes"),
        pl.col("user_id").filter(play).n_unique().alias("active_listeners"),
        play.sum().alias("song_plays"),
        minutes.filter(play).mean().alias("avg_song_minutes"),
        (pl.col("event") == "invite_sent").sum().alias("invites_sent"),
        (pl.col("event") == "onboarding_complete").sum().alias("onboarded_users"),
        (pl.col("event") == "sign_up").sum().alias("sign_ups"),
        (pl.col("event") == "playlist_create").sum().alias("playlists_created"),
        pl.col("user_id").filter(play & (pl.col("plan") == "premium")).n_unique().alias("paid_listeners"),
    )
    active = ev.filter(play).select("user_id", "week").unique()
    nxt = active.select("user_id", (pl.col("week") - pl.duration(days=7)).alias("week"), pl.lit(1).alias("hit"))
    retention = (active.join(nxt, on=["user_id", "week"], how="left")
                 .group_by("week").agg((pl.col("hit").count() / pl.len()).alias("listener_retention"))
                 .with_columns(pl.col("week") + pl.duration(days=7)))
    trials = ev.filter(pl.col("event") == "trial_start").select("user_id", "ts", "week")
    subs = ev.filter(pl.col("event") == "subscribe").select("user_id", pl.col("ts").alias("sub_ts"))
    won = ((pl.col("sub_ts") >= pl.col("ts")) & (pl.col("sub_ts") <= pl.col("ts") + pl.duration(days=14))).fill_null(False)
    conversion = (trials.join(subs, on="user_id", how="left").group_by("week", "user_id").agg(won.any().alias("c"))
                  .group_by("week").agg(pl.col("c").mean().alias("trial_conversion")))
    spent = (pl.scan_parquet(spend).with_columns(monday(pl.col("date")).alias("week"))
             .group_by("week").agg(pl.col("spend").sum().alias("marketing_spend")))
    out = (fused.join(retention, on="week", how="left").join(conversion, on="week", how="left")
           .join(spent, on="week", how="left")
           .select(
               pl.col("week").alias("period"), "listening_minutes", "active_listeners",
               (pl.col("listening_minutes") / pl.col("active_listeners")).alias("minutes_per_listener"),
               (pl.col("song_plays") / pl.col("active_listeners")).alias("plays_per_listener"),
               "avg_song_minutes", "invites_sent",
               (pl.col("onboarded_users") / pl.col("sign_ups")).alias("activation_rate"),
               "listener_retention",
               (pl.col("playlists_created") / pl.col("active_listeners")).alias("playlists_per_listener"),
               "paid_listeners",
               (pl.col("marketing_spend").fill_null(0) / pl.col("sign_ups")).alias("cost_per_signup"),
               "trial_conversion",
           ).sort("period"))
    return out.collect().to_pandas()
