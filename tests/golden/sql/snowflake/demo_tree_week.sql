-- statement 1 of 1
SELECT
  "t2"."__period",
  SUM(IFF("t2"."event" = 'song_play', "t2"."duration_s" / 60, NULL)) AS "listening_minutes",
  COUNT(DISTINCT IFF("t2"."event" = 'song_play', "t2"."user_id", NULL)) AS "active_listeners",
  COUNT_IF("t2"."event" = 'song_play') AS "song_plays",
  AVG(IFF("t2"."event" = 'song_play', "t2"."duration_s" / 60, NULL)) AS "avg_song_minutes"
FROM (
  SELECT
    "t1"."ts",
    "t1"."user_id",
    "t1"."event",
    "t1"."duration_s",
    "t1"."__instant",
    "t1"."__local",
    TO_DATE(DATE_TRUNC('WEEK', "t1"."__local")) AS "__period"
  FROM (
    SELECT
      "t0"."ts",
      "t0"."user_id",
      "t0"."event",
      "t0"."duration_s",
      CAST("t0"."ts" AS TIMESTAMP) AS "__instant",
      CASE
        WHEN CAST("t0"."ts" AS TIMESTAMP) < TIMESTAMP_FROM_PARTS(2025, 3, 30, 1, 0, 0, 0)
        THEN DATEADD(SECOND, '3600', CAST("t0"."ts" AS TIMESTAMP))
        WHEN CAST("t0"."ts" AS TIMESTAMP) < TIMESTAMP_FROM_PARTS(2025, 10, 26, 1, 0, 0, 0)
        THEN DATEADD(SECOND, '7200', CAST("t0"."ts" AS TIMESTAMP))
        WHEN CAST("t0"."ts" AS TIMESTAMP) < TIMESTAMP_FROM_PARTS(2026, 3, 29, 1, 0, 0, 0)
        THEN DATEADD(SECOND, '3600', CAST("t0"."ts" AS TIMESTAMP))
        WHEN CAST("t0"."ts" AS TIMESTAMP) < TIMESTAMP_FROM_PARTS(2026, 10, 25, 1, 0, 0, 0)
        THEN DATEADD(SECOND, '7200', CAST("t0"."ts" AS TIMESTAMP))
        ELSE DATEADD(SECOND, '3600', CAST("t0"."ts" AS TIMESTAMP))
      END AS "__local"
    FROM "events" AS "t0"
  ) AS "t1"
  WHERE
    "t1"."ts" >= TIMESTAMP_TZ_FROM_PARTS(2025, 3, 2, 0, 0, 0, 0, 'UTC')
    AND "t1"."__instant" >= TIMESTAMP_FROM_PARTS(2025, 3, 2, 23, 0, 0, 0)
    AND "t1"."ts" < TIMESTAMP_TZ_FROM_PARTS(2025, 5, 6, 0, 0, 0, 0, 'UTC')
    AND "t1"."__instant" < TIMESTAMP_FROM_PARTS(2025, 5, 4, 22, 0, 0, 0)
) AS "t2"
GROUP BY
  1;
