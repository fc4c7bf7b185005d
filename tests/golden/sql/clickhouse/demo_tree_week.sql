-- statement 1 of 1
SELECT
  "t2"."__period" AS "__period",
  sumIf("t2"."duration_s" / 60, "t2"."event" = 'song_play') AS "listening_minutes",
  uniqExactIf("t2"."user_id", "t2"."event" = 'song_play') AS "active_listeners",
  countIf("t2"."event" = 'song_play') AS "song_plays",
  avgIf("t2"."duration_s" / 60, "t2"."event" = 'song_play') AS "avg_song_minutes"
FROM (
  SELECT
    "t1"."ts" AS "ts",
    "t1"."user_id" AS "user_id",
    "t1"."event" AS "event",
    "t1"."duration_s" AS "duration_s",
    "t1"."__instant" AS "__instant",
    "t1"."__local" AS "__local",
    toDate(CAST(dateTrunc('WEEK', "t1"."__local") AS Nullable(DateTime))) AS "__period"
  FROM (
    SELECT
      "t0"."ts" AS "ts",
      "t0"."user_id" AS "user_id",
      "t0"."event" AS "event",
      "t0"."duration_s" AS "duration_s",
      CAST("t0"."ts" AS Nullable(DateTime64(6))) AS "__instant",
      CASE
        WHEN CAST("t0"."ts" AS Nullable(DateTime64(6))) < parseDateTimeBestEffort('2025-03-30T01:00:00')
        THEN CAST("t0"."ts" AS Nullable(DateTime64(6))) + INTERVAL '3600' SECOND
        WHEN CAST("t0"."ts" AS Nullable(DateTime64(6))) < parseDateTimeBestEffort('2025-10-26T01:00:00')
        THEN CAST("t0"."ts" AS Nullable(DateTime64(6))) + INTERVAL '7200' SECOND
        WHEN CAST("t0"."ts" AS Nullable(DateTime64(6))) < parseDateTimeBestEffort('2026-03-29T01:00:00')
        THEN CAST("t0"."ts" AS Nullable(DateTime64(6))) + INTERVAL '3600' SECOND
        WHEN CAST("t0"."ts" AS Nullable(DateTime64(6))) < parseDateTimeBestEffort('2026-10-25T01:00:00')
        THEN CAST("t0"."ts" AS Nullable(DateTime64(6))) + INTERVAL '7200' SECOND
        ELSE CAST("t0"."ts" AS Nullable(DateTime64(6))) + INTERVAL '3600' SECOND
      END AS "__local"
    FROM "events" AS "t0"
  ) AS "t1"
  WHERE
    "t1"."ts" >= parseDateTimeBestEffort('2025-03-02T00:00:00+00:00', 'UTC')
    AND "t1"."__instant" >= parseDateTimeBestEffort('2025-03-02T23:00:00')
    AND "t1"."ts" < parseDateTimeBestEffort('2025-05-06T00:00:00+00:00', 'UTC')
    AND "t1"."__instant" < parseDateTimeBestEffort('2025-05-04T22:00:00')
) AS "t2"
GROUP BY
  "t2"."__period";
