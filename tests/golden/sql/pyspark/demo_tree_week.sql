-- statement 1 of 1
SELECT
  `t2`.`__period`,
  SUM(IF(`t2`.`event` = 'song_play', `t2`.`duration_s` / 60, NULL)) AS `listening_minutes`,
  COUNT(DISTINCT IF(`t2`.`event` = 'song_play', `t2`.`user_id`, NULL)) AS `active_listeners`,
  SUM(CAST(`t2`.`event` = 'song_play' AS BIGINT)) AS `song_plays`,
  AVG(IF(`t2`.`event` = 'song_play', `t2`.`duration_s` / 60, NULL)) AS `avg_song_minutes`
FROM (
  SELECT
    `t1`.`ts`,
    `t1`.`user_id`,
    `t1`.`event`,
    `t1`.`duration_s`,
    `t1`.`__instant`,
    `t1`.`__local`,
    CAST(DATE_TRUNC('week', `t1`.`__local`) AS DATE) AS `__period`
  FROM (
    SELECT
      `t0`.`ts`,
      `t0`.`user_id`,
      `t0`.`event`,
      `t0`.`duration_s`,
      CAST(`t0`.`ts` AS TIMESTAMP) AS `__instant`,
      CASE
        WHEN CAST(`t0`.`ts` AS TIMESTAMP) < CAST('2025-03-30T01:00:00' AS TIMESTAMP)
        THEN CAST(`t0`.`ts` AS TIMESTAMP) + INTERVAL '3600' SECOND
        WHEN CAST(`t0`.`ts` AS TIMESTAMP) < CAST('2025-10-26T01:00:00' AS TIMESTAMP)
        THEN CAST(`t0`.`ts` AS TIMESTAMP) + INTERVAL '7200' SECOND
        WHEN CAST(`t0`.`ts` AS TIMESTAMP) < CAST('2026-03-29T01:00:00' AS TIMESTAMP)
        THEN CAST(`t0`.`ts` AS TIMESTAMP) + INTERVAL '3600' SECOND
        WHEN CAST(`t0`.`ts` AS TIMESTAMP) < CAST('2026-10-25T01:00:00' AS TIMESTAMP)
        THEN CAST(`t0`.`ts` AS TIMESTAMP) + INTERVAL '7200' SECOND
        ELSE CAST(`t0`.`ts` AS TIMESTAMP) + INTERVAL '3600' SECOND
      END AS `__local`
    FROM `events` AS `t0`
  ) AS `t1`
  WHERE
    `t1`.`ts` >= CAST('2025-03-02T00:00:00+00:00' AS TIMESTAMP)
    AND `t1`.`__instant` >= CAST('2025-03-02T23:00:00' AS TIMESTAMP)
    AND `t1`.`ts` < CAST('2025-05-06T00:00:00+00:00' AS TIMESTAMP)
    AND `t1`.`__instant` < CAST('2025-05-04T22:00:00' AS TIMESTAMP)
) AS `t2`
GROUP BY
  1;
