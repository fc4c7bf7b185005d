-- statement 1 of 1
WITH "t4" AS (
  SELECT DISTINCT
    "t0"."userId" AS "__entity",
    toDate(
      CAST(dateTrunc('WEEK', fromUnixTimestamp64Milli(toInt64("t0"."ts"))) AS Nullable(DateTime))
    ) AS "__from"
  FROM "events" AS "t0"
  WHERE
    "t0"."page" = 'NextSong' AND isNotNull("t0"."userId")
)
SELECT
  COALESCE("t33"."__period", "t16"."__r2___period") AS "__period",
  "t33"."listener_retention" AS "listener_retention",
  "t33"."upgrade_conversion" AS "upgrade_conversion",
  "t33"."all_time_listeners" AS "all_time_listeners",
  "t16"."listening_minutes" AS "listening_minutes",
  "t16"."active_listeners" AS "active_listeners",
  "t16"."paid_listeners" AS "paid_listeners",
  "t16"."upgrades" AS "upgrades"
FROM (
  SELECT
    COALESCE("t30"."__period", "t17"."__r1___period") AS "__period",
    "t30"."listener_retention" AS "listener_retention",
    "t30"."upgrade_conversion" AS "upgrade_conversion",
    "t17"."all_time_listeners" AS "all_time_listeners"
  FROM (
    SELECT
      COALESCE("t25"."__period", "t27"."__r0___period") AS "__period",
      "t25"."listener_retention" AS "listener_retention",
      "t27"."upgrade_conversion" AS "upgrade_conversion"
    FROM (
      SELECT
        "t20"."__period" AS "__period",
        "t20"."__retained" / "t20"."__cohort" AS "listener_retention"
      FROM (
        SELECT
          "t18"."__period" AS "__period",
          COUNT(*) AS "__cohort",
          COUNT("t18"."__entity_again") AS "__retained"
        FROM (
          SELECT
            "t13"."__entity" AS "__entity",
            "t13"."__from" AS "__from",
            "t13"."__period" AS "__period",
            "t9"."__entity_again" AS "__entity_again",
            "t9"."__period_again" AS "__period_again"
          FROM (
            SELECT
              "t5"."__entity" AS "__entity",
              "t5"."__from" AS "__from",
              "t5"."__from" + INTERVAL '1' WEEK AS "__period"
            FROM "t4" AS "t5"
          ) AS "t13"
          LEFT OUTER JOIN (
            SELECT
              "t5"."__entity" AS "__entity_again",
              "t5"."__from" AS "__period_again"
            FROM "t4" AS "t5"
          ) AS "t9"
            ON "t13"."__entity" = "t9"."__entity_again"
            AND "t13"."__period" = "t9"."__period_again"
        ) AS "t18"
        GROUP BY
          "t18"."__period"
      ) AS "t20"
    ) AS "t25"
    FULL OUTER JOIN (
      SELECT
        "t24"."__period" AS "__r0___period",
        "t24"."__conv" / "t24"."__entities" AS "upgrade_conversion"
      FROM (
        SELECT
          "t21"."__period" AS "__period",
          COUNT(*) AS "__entities",
          SUM(CAST("t21"."__converted" AS Nullable(Int64))) AS "__conv"
        FROM (
          SELECT
            "t19"."__period" AS "__period",
            "t19"."userId" AS "__entity",
            MAX("t19"."__converted") AS "__converted"
          FROM (
            SELECT
              "t12"."length" AS "length",
              "t12"."level" AS "level",
              "t12"."page" AS "page",
              "t12"."ts" AS "ts",
              "t12"."userId" AS "userId",
              "t12"."__instant" AS "__instant",
              "t12"."__local" AS "__local",
              "t12"."__period" AS "__period",
              "t12"."__is_from" AS "__is_from",
              "t12"."__is_to" AS "__is_to",
              "t12"."__next_to" AS "__next_to",
              isNotNull("t12"."__next_to")
              AND (
                "t12"."__next_to" <= (
                  "t12"."__instant" + INTERVAL '604800' SECOND
                )
              ) AS "__converted"
            FROM (
              SELECT
                "t3"."length" AS "length",
                "t3"."level" AS "level",
                "t3"."page" AS "page",
                "t3"."ts" AS "ts",
                "t3"."userId" AS "userId",
                "t3"."__instant" AS "__instant",
                "t3"."__local" AS "__local",
                "t3"."__period" AS "__period",
                "t3"."__is_from" AS "__is_from",
                "t3"."__is_to" AS "__is_to",
                MIN(CASE WHEN "t3"."__is_to" THEN "t3"."__instant" ELSE NULL END) OVER (
                  PARTITION BY "t3"."userId"
                  ORDER BY "t3"."__instant" ASC
                  RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
                ) AS "__next_to"
              FROM (
                SELECT
                  "t0"."length" AS "length",
                  "t0"."level" AS "level",
                  "t0"."page" AS "page",
                  "t0"."ts" AS "ts",
                  "t0"."userId" AS "userId",
                  fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__instant",
                  fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__local",
                  toDate(
                    CAST(dateTrunc('WEEK', fromUnixTimestamp64Milli(toInt64("t0"."ts"))) AS Nullable(DateTime))
                  ) AS "__period",
                  COALESCE("t0"."page" = 'Upgrade', FALSE) AS "__is_from",
                  COALESCE("t0"."page" = 'Submit Upgrade', FALSE) AS "__is_to"
                FROM "events" AS "t0"
                WHERE
                  (
                    (
                      "t0"."page" = 'Upgrade'
                    ) OR (
                      "t0"."page" = 'Submit Upgrade'
                    )
                  )
                  AND isNotNull("t0"."userId")
              ) AS "t3"
            ) AS "t12"
            WHERE
              "t12"."__is_from"
          ) AS "t19"
          GROUP BY
            "t19"."__period",
            "t19"."userId"
        ) AS "t21"
        GROUP BY
          "t21"."__period"
      ) AS "t24"
      WHERE
        "t24"."__period" <= toDate('2018-11-26')
    ) AS "t27"
      ON "t25"."__period" IS NOT DISTINCT FROM "t27"."__r0___period"
  ) AS "t30"
  FULL OUTER JOIN (
    SELECT
      "t11"."__period" AS "__r1___period",
      "t11"."all_time_listeners" AS "all_time_listeners"
    FROM (
      SELECT
        "t6"."__period" AS "__period",
        COUNT(*) AS "all_time_listeners"
      FROM (
        SELECT
          "t2"."__value" AS "__value",
          MIN("t2"."__period") AS "__period"
        FROM (
          SELECT
            "t0"."length" AS "length",
            "t0"."level" AS "level",
            "t0"."page" AS "page",
            "t0"."ts" AS "ts",
            "t0"."userId" AS "userId",
            fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__instant",
            fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__local",
            toDate(
              CAST(dateTrunc('WEEK', fromUnixTimestamp64Milli(toInt64("t0"."ts"))) AS Nullable(DateTime))
            ) AS "__period",
            "t0"."userId" AS "__value"
          FROM "events" AS "t0"
          WHERE
            "t0"."page" = 'NextSong' AND isNotNull("t0"."userId")
        ) AS "t2"
        GROUP BY
          "t2"."__value"
      ) AS "t6"
      GROUP BY
        "t6"."__period"
    ) AS "t11"
  ) AS "t17"
    ON "t30"."__period" IS NOT DISTINCT FROM "t17"."__r1___period"
) AS "t33"
FULL OUTER JOIN (
  SELECT
    "t10"."__period" AS "__r2___period",
    "t10"."listening_minutes" AS "listening_minutes",
    "t10"."active_listeners" AS "active_listeners",
    "t10"."paid_listeners" AS "paid_listeners",
    "t10"."upgrades" AS "upgrades"
  FROM (
    SELECT
      "t1"."__period" AS "__period",
      sumIf("t1"."length" / 60, "t1"."page" = 'NextSong') AS "listening_minutes",
      uniqExactIf("t1"."userId", "t1"."page" = 'NextSong') AS "active_listeners",
      uniqExactIf("t1"."userId", (
        "t1"."page" = 'NextSong'
      ) AND (
        "t1"."level" = 'paid'
      )) AS "paid_listeners",
      countIf("t1"."page" = 'Submit Upgrade') AS "upgrades"
    FROM (
      SELECT
        "t0"."length" AS "length",
        "t0"."level" AS "level",
        "t0"."page" AS "page",
        "t0"."ts" AS "ts",
        "t0"."userId" AS "userId",
        fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__instant",
        fromUnixTimestamp64Milli(toInt64("t0"."ts")) AS "__local",
        toDate(
          CAST(dateTrunc('WEEK', fromUnixTimestamp64Milli(toInt64("t0"."ts"))) AS Nullable(DateTime))
        ) AS "__period"
      FROM "events" AS "t0"
    ) AS "t1"
    GROUP BY
      "t1"."__period"
  ) AS "t10"
) AS "t16"
  ON "t33"."__period" IS NOT DISTINCT FROM "t16"."__r2___period";
