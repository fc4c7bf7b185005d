-- statement 1 of 1
SELECT
  `t2`.`__period`,
  SUM(IF(`t2`.`event` = 'song_play', ieee_divide(`t2`.`duration_s`, 60), NULL)) AS `listening_minutes`,
  COUNT(DISTINCT IF(`t2`.`event` = 'song_play', `t2`.`user_id`, NULL)) AS `active_listeners`,
  COUNTIF(`t2`.`event` = 'song_play') AS `song_plays`,
  AVG(IF(`t2`.`event` = 'song_play', ieee_divide(`t2`.`duration_s`, 60), NULL)) AS `avg_song_minutes`
FROM (
  SELECT
    `t1`.`ts`,
    `t1`.`user_id`,
    `t1`.`event`,
    `t1`.`duration_s`,
    `t1`.`__instant`,
    `t1`.`__local`,
    DATE(TIMESTAMP_TRUNC(`t1`.`__local`, WEEK(MONDAY))) AS `__period`
  FROM (
    SELECT
      `t0`.`ts`,
      `t0`.`user_id`,
      `t0`.`event`,
      `t0`.`duration_s`,
      CAST(`t0`.`ts` AS DATETIME) AS `__instant`,
      CASE
        WHEN CAST(`t0`.`ts` AS DATETIME) < DATETIME('2025-03-30T01:00:00')
        THEN TIMESTAMP_ADD(CAST(`t0`.`ts` AS DATETIME), INTERVAL '3600' SECOND)
        WHEN CAST(`t0`.`ts` AS DATETIME) < DATETIME('2025-10-26T01:00:00')
        THEN TIMESTAMP_ADD(CAST(`t0`.`ts` AS DATETIME), INTERVAL '7200' SECOND)
        WHEN CAST(`t0`.`ts` AS DATETIME) < DATETIME('2026-03-29T01:00:00')
        THEN TIMESTAMP_ADD(CAST(`t0`.`ts` AS DATETIME), INTERVAL '3600' SECOND)
        WHEN CAST(`t0`.`ts` AS DATETIME) < DATETIME('2026-10-25T01:00:00')
        THEN TIMESTAMP_ADD(CAST(`t0`.`ts` AS DATETIME), INTERVAL '7200' SECOND)
        ELSE TIMESTAMP_ADD(CAST(`t0`.`ts` AS DATETIME), INTERVAL '3600' SECOND)
      END AS `__local`
    FROM `events` AS `t0`
  ) AS `t1`
  WHERE
    `t1`.`ts` >= TIMESTAMP('2025-03-02T00:00:00+00:00')
    AND `t1`.`__instant` >= DATETIME('2025-03-02T23:00:00')
    AND `t1`.`ts` < TIMESTAMP('2025-05-06T00:00:00+00:00')
    AND `t1`.`__instant` < DATETIME('2025-05-04T22:00:00')
) AS `t2`
GROUP BY
  1;
