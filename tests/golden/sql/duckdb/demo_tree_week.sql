-- statement 1 of 1
SELECT
  "t2"."__period",
  SUM("t2"."duration_s" / 60) FILTER(WHERE
    "t2"."event" = 'song_play') AS "listening_minutes",
  COUNT(DISTINCT "t2"."user_id") FILTER(WHERE
    "t2"."event" = 'song_play') AS "active_listeners",
  COUNT(*) FILTER(WHERE
    "t2"."event" = 'song_play') AS "song_plays",
  AVG("t2"."duration_s" / 60) FILTER(WHERE
    "t2"."event" = 'song_play') AS "avg_song_minutes"
FROM (
  SELECT
    "t1"."ts",
    "t1"."user_id",
    "t1"."event",
    "t1"."duration_s",
    "t1"."__instant",
    "t1"."__local",
    CAST(DATE_TRUNC('WEEK', "t1"."__local") AS DATE) AS "__period"
  FROM (
    SELECT
      "t0"."ts",
      "t0"."user_id",
      "t0"."event",
      "t0"."duration_s",
      CAST("t0"."ts" AS TIMESTAMP) AS "__instant",
      CASE
        WHEN CAST("t0"."ts" AS TIMESTAMP) < MAKE_TIMESTAMP(2025, 3, 30, 1, 0, 0.0)
        THEN CAST("t0"."ts" AS TIMESTAMP) + INTERVAL '3600' SECOND
        WHEN CAST("t0"."ts" AS TIMESTAMP) < MAKE_TIMESTAMP(2025, 10, 26, 1, 0, 0.0)
        THEN CAST("t0"."ts" AS TIMESTAMP) + INTERVAL '7200' SECOND
        WHEN CAST("t0"."ts" AS TIMESTAMP) < MAKE_TIMESTAMP(2026, 3, 29, 1, 0, 0.0)
        THEN CAST("t0"."ts" AS TIMESTAMP) + INTERVAL '3600' SECOND
        WHEN CAST("t0"."ts" AS TIMESTAMP) < MAKE_TIMESTAMP(2026, 10, 25, 1, 0, 0.0)
        THEN CAST("t0"."ts" AS TIMESTAMP) + INTERVAL '7200' SECOND
        ELSE CAST("t0"."ts" AS TIMESTAMP) + INTERVAL '3600' SECOND
      END AS "__local"
    FROM "events" AS "t0"
  ) AS "t1"
  WHERE
    "t1"."ts" >= MAKE_TIMESTAMPTZ(2025, 3, 2, 0, 0, 0.0, 'UTC')
    AND "t1"."__instant" >= MAKE_TIMESTAMP(2025, 3, 2, 23, 0, 0.0)
    AND "t1"."ts" < MAKE_TIMESTAMPTZ(2025, 5, 6, 0, 0, 0.0, 'UTC')
    AND "t1"."__instant" < MAKE_TIMESTAMP(2025, 5, 4, 22, 0, 0.0)
) AS "t2"
GROUP BY
  1;
