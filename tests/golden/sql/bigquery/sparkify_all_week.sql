-- statement 1 of 1
WITH `t4` AS (
  SELECT DISTINCT
    `t0`.`userId` AS `__entity`,
    DATE(TIMESTAMP_TRUNC(TIMESTAMP_MILLIS(`t0`.`ts`), WEEK(MONDAY))) AS `__from`
  FROM `events` AS `t0`
  WHERE
    `t0`.`page` = 'NextSong' AND `t0`.`userId` IS NOT NULL
)
SELECT
  COALESCE(`t33`.`__period`, `t16`.`__r2___period`) AS `__period`,
  `t33`.`listener_retention`,
  `t33`.`upgrade_conversion`,
  `t33`.`all_time_listeners`,
  `t16`.`listening_minutes`,
  `t16`.`active_listeners`,
  `t16`.`paid_listeners`,
  `t16`.`upgrades`
FROM (
  SELECT
    COALESCE(`t30`.`__period`, `t17`.`__r1___period`) AS `__period`,
    `t30`.`listener_retention`,
    `t30`.`upgrade_conversion`,
    `t17`.`all_time_listeners`
  FROM (
    SELECT
      COALESCE(`t25`.`__period`, `t27`.`__r0___period`) AS `__period`,
      `t25`.`listener_retention`,
      `t27`.`upgrade_conversion`
    FROM (
      SELECT
        `t20`.`__period`,
        ieee_divide(`t20`.`__retained`, `t20`.`__cohort`) AS `listener_retention`
      FROM (
        SELECT
          `t18`.`__period`,
          COUNT(*) AS `__cohort`,
          COUNT(`t18`.`__entity_again`) AS `__retained`
        FROM (
          SELECT
            `t13`.`__entity`,
            `t13`.`__from`,
            `t13`.`__period`,
            `t9`.`__entity_again`,
            `t9`.`__period_again`
          FROM (
            SELECT
              `t5`.`__entity`,
              `t5`.`__from`,
              DATE_ADD(`t5`.`__from`, INTERVAL '1' WEEK) AS `__period`
            FROM `t4` AS `t5`
          ) AS `t13`
          LEFT OUTER JOIN (
            SELECT
              `t5`.`__entity` AS `__entity_again`,
              `t5`.`__from` AS `__period_again`
            FROM `t4` AS `t5`
          ) AS `t9`
            ON `t13`.`__entity` = `t9`.`__entity_again`
            AND `t13`.`__period` = `t9`.`__period_again`
        ) AS `t18`
        GROUP BY
          1
      ) AS `t20`
    ) AS `t25`
    FULL OUTER JOIN (
      SELECT
        `t24`.`__period` AS `__r0___period`,
        ieee_divide(`t24`.`__conv`, `t24`.`__entities`) AS `upgrade_conversion`
      FROM (
        SELECT
          `t21`.`__period`,
          COUNT(*) AS `__entities`,
          SUM(CAST(`t21`.`__converted` AS INT64)) AS `__conv`
        FROM (
          SELECT
            `t19`.`__period`,
            `t19`.`userId` AS `__entity`,
            LOGICAL_OR(`t19`.`__converted`) AS `__converted`
          FROM (
            SELECT
              `t12`.`length`,
              `t12`.`level`,
              `t12`.`page`,
              `t12`.`ts`,
              `t12`.`userId`,
              `t12`.`__instant`,
              `t12`.`__local`,
              `t12`.`__period`,
              `t12`.`__is_from`,
              `t12`.`__is_to`,
              `t12`.`__next_to`,
              (
                `t12`.`__next_to` IS NOT NULL
              )
              AND (
                `t12`.`__next_to` <= TIMESTAMP_ADD(`t12`.`__instant`, INTERVAL '604800' SECOND)
              ) AS `__converted`
            FROM (
              SELECT
                `t3`.`length`,
                `t3`.`level`,
                `t3`.`page`,
                `t3`.`ts`,
                `t3`.`userId`,
                `t3`.`__instant`,
                `t3`.`__local`,
                `t3`.`__period`,
                `t3`.`__is_from`,
                `t3`.`__is_to`,
                MIN(CASE WHEN `t3`.`__is_to` THEN `t3`.`__instant` ELSE NULL END) OVER (
                  PARTITION BY `t3`.`userId`
                  ORDER BY `t3`.`__instant` ASC
                  RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
                ) AS `__next_to`
              FROM (
                SELECT
                  `t0`.`length`,
                  `t0`.`level`,
                  `t0`.`page`,
                  `t0`.`ts`,
                  `t0`.`userId`,
                  TIMESTAMP_MILLIS(`t0`.`ts`) AS `__instant`,
                  TIMESTAMP_MILLIS(`t0`.`ts`) AS `__local`,
                  DATE(TIMESTAMP_TRUNC(TIMESTAMP_MILLIS(`t0`.`ts`), WEEK(MONDAY))) AS `__period`,
                  COALESCE(`t0`.`page` = 'Upgrade', FALSE) AS `__is_from`,
                  COALESCE(`t0`.`page` = 'Submit Upgrade', FALSE) AS `__is_to`
                FROM `events` AS `t0`
                WHERE
                  (
                    (
                      `t0`.`page` = 'Upgrade'
                    ) OR (
                      `t0`.`page` = 'Submit Upgrade'
                    )
                  )
                  AND `t0`.`userId` IS NOT NULL
              ) AS `t3`
            ) AS `t12`
            WHERE
              `t12`.`__is_from`
          ) AS `t19`
          GROUP BY
            1,
            2
        ) AS `t21`
        GROUP BY
          1
      ) AS `t24`
      WHERE
        `t24`.`__period` <= DATE(2018, 11, 26)
    ) AS `t27`
      ON `t25`.`__period` IS NOT DISTINCT FROM `t27`.`__r0___period`
  ) AS `t30`
  FULL OUTER JOIN (
    SELECT
      `t11`.`__period` AS `__r1___period`,
      `t11`.`all_time_listeners`
    FROM (
      SELECT
        `t6`.`__period`,
        COUNT(*) AS `all_time_listeners`
      FROM (
        SELECT
          `t2`.`__value`,
          MIN(`t2`.`__period`) AS `__period`
        FROM (
          SELECT
            `t0`.`length`,
            `t0`.`level`,
            `t0`.`page`,
            `t0`.`ts`,
            `t0`.`userId`,
            TIMESTAMP_MILLIS(`t0`.`ts`) AS `__instant`,
            TIMESTAMP_MILLIS(`t0`.`ts`) AS `__local`,
            DATE(TIMESTAMP_TRUNC(TIMESTAMP_MILLIS(`t0`.`ts`), WEEK(MONDAY))) AS `__period`,
            `t0`.`userId` AS `__value`
          FROM `events` AS `t0`
          WHERE
            `t0`.`page` = 'NextSong' AND `t0`.`userId` IS NOT NULL
        ) AS `t2`
        GROUP BY
          1
      ) AS `t6`
      GROUP BY
        1
    ) AS `t11`
  ) AS `t17`
    ON `t30`.`__period` IS NOT DISTINCT FROM `t17`.`__r1___period`
) AS `t33`
FULL OUTER JOIN (
  SELECT
    `t10`.`__period` AS `__r2___period`,
    `t10`.`listening_minutes`,
    `t10`.`active_listeners`,
    `t10`.`paid_listeners`,
    `t10`.`upgrades`
  FROM (
    SELECT
      `t1`.`__period`,
      SUM(IF(`t1`.`page` = 'NextSong', ieee_divide(`t1`.`length`, 60), NULL)) AS `listening_minutes`,
      COUNT(DISTINCT IF(`t1`.`page` = 'NextSong', `t1`.`userId`, NULL)) AS `active_listeners`,
      COUNT(
        DISTINCT IF((
          `t1`.`page` = 'NextSong'
        ) AND (
          `t1`.`level` = 'paid'
        ), `t1`.`userId`, NULL)
      ) AS `paid_listeners`,
      COUNTIF(`t1`.`page` = 'Submit Upgrade') AS `upgrades`
    FROM (
      SELECT
        `t0`.`length`,
        `t0`.`level`,
        `t0`.`page`,
        `t0`.`ts`,
        `t0`.`userId`,
        TIMESTAMP_MILLIS(`t0`.`ts`) AS `__instant`,
        TIMESTAMP_MILLIS(`t0`.`ts`) AS `__local`,
        DATE(TIMESTAMP_TRUNC(TIMESTAMP_MILLIS(`t0`.`ts`), WEEK(MONDAY))) AS `__period`
      FROM `events` AS `t0`
    ) AS `t1`
    GROUP BY
      1
  ) AS `t10`
) AS `t16`
  ON `t33`.`__period` IS NOT DISTINCT FROM `t16`.`__r2___period`;
