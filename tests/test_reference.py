"""Unit tests of the brute-force reference (tests/reference.py) on tiny hand-computed examples.

These do not touch the engine: they are here so that the property tests' oracle is trusted.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import pytest

import reference as ref

UTC = timezone.utc


def T(s: str) -> datetime:
    """Naive UTC timestamp from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(s)


def spec(metrics: dict, tz: str = "UTC", **source) -> dict:
    src = {"path": "events.parquet", "timestamp": "ts", "entity": "user", "dimensions": ["country", "platform"]}
    src.update(source)
    return {"project": "T", "timezone": tz, "sources": {"events": src}, "metrics": metrics}


def row(ts, user="u1", event="play", country="NL", platform="ios", value=None) -> dict:
    return {"ts": ts, "user": user, "event": event, "country": country, "platform": platform, "value": value}


def grid(result: ref.Result, segments=None) -> list[tuple]:
    return [tuple(r.values()) for r in result.rows(segments)]


# --------------------------------------------------------------------------------------------
# time handling
# --------------------------------------------------------------------------------------------


def test_epoch_units():
    assert ref.to_utc(0, "s") == datetime(1970, 1, 1, tzinfo=UTC)
    assert ref.to_utc(1_700_000_000, "s") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert ref.to_utc(1_700_000_000_123, "ms") == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert ref.to_utc(None, "ms") is None


def test_naive_is_utc_unless_source_timezone():
    assert ref.to_utc(T("2024-03-31 00:30")) == datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    # recorded in Amsterdam wall time: CET (+1) before the switch, CEST (+2) after
    assert ref.to_utc(T("2024-03-31 01:30"), source_tz="Europe/Amsterdam") == datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    assert ref.to_utc(T("2024-03-31 03:30"), source_tz="Europe/Amsterdam") == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    aware = datetime(2024, 1, 1, 12, tzinfo=ref.ZoneInfo("America/New_York"))
    assert ref.to_utc(aware) == datetime(2024, 1, 1, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    "utc, tz, expected",
    [
        ("2024-03-30 23:30", "Europe/Amsterdam", date(2024, 3, 31)),  # 00:30 CET
        ("2024-03-30 22:59", "Europe/Amsterdam", date(2024, 3, 30)),  # 23:59 CET
        ("2024-03-31 21:59", "Europe/Amsterdam", date(2024, 3, 31)),  # 23:59 CEST
        ("2024-03-31 22:00", "Europe/Amsterdam", date(2024, 4, 1)),  # 00:00 CEST
        ("2024-10-26 22:00", "Europe/Amsterdam", date(2024, 10, 27)),  # 00:00 CEST
        ("2024-10-27 22:59", "Europe/Amsterdam", date(2024, 10, 27)),  # 23:59 CET
        ("2024-03-10 04:59", "America/New_York", date(2024, 3, 9)),  # 23:59 EST
        ("2024-03-10 05:00", "America/New_York", date(2024, 3, 10)),
        ("2024-03-11 03:59", "America/New_York", date(2024, 3, 10)),  # 23:59 EDT
        ("2024-03-11 04:00", "America/New_York", date(2024, 3, 11)),
        ("2024-11-03 03:59", "America/New_York", date(2024, 11, 2)),
        ("2024-11-04 04:59", "America/New_York", date(2024, 11, 3)),  # 23:59 EST
        ("2024-11-04 05:00", "America/New_York", date(2024, 11, 4)),
        ("2024-01-01 00:00", "America/New_York", date(2023, 12, 31)),
        ("2024-01-01 00:00", "UTC", date(2024, 1, 1)),
    ],
)
def test_local_date(utc, tz, expected):
    assert ref.local_date(T(utc).replace(tzinfo=UTC), tz) == expected


def test_trunc_and_shift():
    assert ref.trunc(date(2024, 1, 1), "week") == date(2024, 1, 1)  # a Monday
    assert ref.trunc(date(2023, 12, 31), "week") == date(2023, 12, 25)  # Sunday -> Monday before
    assert ref.trunc(date(2024, 5, 17), "month") == date(2024, 5, 1)
    assert ref.trunc(date(2024, 5, 17), "quarter") == date(2024, 4, 1)
    assert ref.trunc(date(2024, 12, 31), "quarter") == date(2024, 10, 1)
    assert ref.trunc(date(2024, 3, 31), "quarter") == date(2024, 1, 1)
    assert ref.shift(date(2024, 1, 1), "month", -1) == date(2023, 12, 1)
    assert ref.shift(date(2024, 1, 1), "quarter", -1) == date(2023, 10, 1)
    assert ref.shift(date(2024, 1, 1), "month", -12) == date(2023, 1, 1)
    assert ref.shift(date(2024, 1, 1), "week", -52) == date(2023, 1, 2)
    assert ref.shift(date(2024, 3, 1), "day", -364) == date(2023, 3, 3)
    assert ref.period_range(date(2024, 1, 31), date(2024, 4, 1), "month") == [
        date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)
    ]
    assert ref.period_range(date(2024, 1, 3), date(2024, 1, 8), "week") == [date(2024, 1, 1), date(2024, 1, 8)]


def test_parse_within():
    assert ref.parse_within("3d") == timedelta(days=3)
    assert ref.parse_within("12h") == timedelta(hours=12)
    assert ref.parse_within("2w") == timedelta(days=14)
    assert ref.parse_within("30m") == timedelta(minutes=30)


def test_sql_three_valued_predicates():
    p = ref.predicate("not (platform = 'ios')")
    assert p(row(None, platform="android")) is True
    assert p(row(None, platform="ios")) is False
    assert p(row(None, platform=None)) is False  # NOT NULL is NULL -> false
    q = ref.predicate("platform = 'android' or country = 'US'")
    assert q(row(None, platform=None, country="US")) is True
    assert q(row(None, platform=None, country="NL")) is False  # NULL or FALSE = NULL
    assert ref.predicate("value > 100")(row(None, value=None)) is False
    assert ref.predicate("country is null")(row(None, country=None)) is True
    assert ref.predicate("event in ('play', 'trial')")(row(None, event=None)) is False


# --------------------------------------------------------------------------------------------
# aggregates
# --------------------------------------------------------------------------------------------

AGG_METRICS = {
    "plays": {"source": "events", "where": "event = 'play'", "agg": "count"},
    "valued": {"source": "events", "agg": "count", "expr": "value"},
    "listeners": {"source": "events", "where": "event = 'play'", "agg": "count_distinct"},
    "countries": {"source": "events", "agg": "count_distinct", "expr": "country"},
    "minutes": {"source": "events", "agg": "sum", "expr": "value / 60"},
    "doubled": {"source": "events", "agg": "sum", "expr": "coalesce(value, 0) * 2"},
    "avg_value": {"source": "events", "agg": "avg", "expr": "value"},
    "lo": {"source": "events", "agg": "min", "expr": "value"},
    "hi": {"source": "events", "where": "value > 100", "agg": "max", "expr": "value"},
}


def agg_rows():
    return [
        row(T("2024-01-01 10:00"), "u1", "play", "NL", "ios", 120),
        row(T("2024-01-01 11:00"), "u1", "play", "DE", "ios", None),
        row(T("2024-01-01 11:00"), "u2", "trial", None, "android", 60),
        row(T("2024-01-03 09:00"), None, "play", "NL", None, 30),
        row(None, "u3", "play", "NL", "ios", 999),  # null timestamp: ignored
        row(T("2024-01-04 09:00"), "u2", None, "NL", "ios", None),
    ]


def test_aggregates_by_day():
    r = ref.query(spec(AGG_METRICS), {"events": agg_rows()}, list(AGG_METRICS), "day")
    assert r.periods == [date(2024, 1, d) for d in (1, 2, 3, 4)]
    got = {row["period"]: row for row in r.rows()}
    d1 = got[date(2024, 1, 1)]
    assert d1["plays"] == 2
    assert d1["valued"] == 2
    assert d1["listeners"] == 1
    assert d1["countries"] == 2
    assert math.isclose(d1["minutes"], 3.0)
    assert d1["doubled"] == 360
    assert d1["avg_value"] == 90.0
    assert d1["lo"] == 60
    assert d1["hi"] == 120
    d2 = got[date(2024, 1, 2)]  # a gap
    assert (d2["plays"], d2["valued"], d2["listeners"], d2["countries"], d2["minutes"], d2["doubled"]) == (0,) * 6
    assert (d2["avg_value"], d2["lo"], d2["hi"]) == (None, None, None)
    d3 = got[date(2024, 1, 3)]
    assert d3["plays"] == 1 and d3["listeners"] == 0  # null entity not counted
    assert d3["hi"] is None and d3["lo"] == 30
    d4 = got[date(2024, 1, 4)]
    assert d4["plays"] == 0 and d4["valued"] == 0 and d4["doubled"] == 0 and d4["avg_value"] is None


def test_aggregates_week_with_breakdown_and_filter():
    r = ref.query(spec(AGG_METRICS), {"events": agg_rows()}, ["plays", "doubled"], "week", by=["country"])
    assert r.periods == [date(2024, 1, 1)]
    assert r.candidate_segments == {("NL",), ("DE",), (None,)}
    assert r.required_segments == {("NL",), ("DE",), (None,)}
    assert grid(r) == [
        (date(2024, 1, 1), "DE", 1, 0),
        (date(2024, 1, 1), "NL", 2, 300),
        (date(2024, 1, 1), None, 0, 120),
    ]
    r = ref.query(
        spec(AGG_METRICS), {"events": agg_rows()}, ["plays"], "week", by=["country"], where="not (platform = 'ios')"
    )
    # only the android row survives (the NULL-platform row is dropped)
    assert grid(r) == []  # no segment has a non-empty value
    assert grid(r, [(None,)]) == [(date(2024, 1, 1), None, 0)]
    assert r.required_segments == set()
    assert r.candidate_segments == {(None,)}


def test_timezone_moves_rows_across_periods():
    rows = [row(T("2024-03-31 22:30")), row(T("2024-03-31 21:30"))]  # 00:30 / 23:30 CEST
    m = {"plays": AGG_METRICS["plays"]}
    r = ref.query(spec(m, tz="Europe/Amsterdam"), {"events": rows}, ["plays"], "month")
    assert grid(r) == [(date(2024, 3, 1), 1), (date(2024, 4, 1), 1)]
    r = ref.query(spec(m, tz="UTC"), {"events": rows}, ["plays"], "month")
    assert grid(r) == [(date(2024, 3, 1), 2)]
    r = ref.query(spec(m, tz="America/New_York"), {"events": rows}, ["plays"], "quarter")
    assert grid(r) == [(date(2024, 1, 1), 2)]


def test_epoch_source():
    rows = [row(1_711_924_200_000), row(1_711_920_600_000), row(None)]  # 2024-03-31 22:30 / 21:30 UTC
    r = ref.query(
        spec({"plays": AGG_METRICS["plays"]}, tz="Europe/Amsterdam", time_unit="ms"), {"events": rows}, ["plays"], "day"
    )
    assert grid(r) == [(date(2024, 3, 31), 1), (date(2024, 4, 1), 1)]


def test_date_range_and_gaps():
    rows = [row(T("2024-01-10 12:00")), row(T("2024-03-05 12:00"))]
    m = {"plays": AGG_METRICS["plays"], "avg_value": AGG_METRICS["avg_value"]}
    r = ref.query(spec(m), {"events": rows}, ["plays", "avg_value"], "month")
    assert grid(r) == [(date(2024, 1, 1), 1, None), (date(2024, 2, 1), 0, None), (date(2024, 3, 1), 1, None)]
    # start mid-period: the whole period containing it; end: periods whose first day <= end
    r = ref.query(spec(m), {"events": rows}, ["plays"], "month", start="2024-01-20", end="2024-04-01")
    assert grid(r) == [(date(2024, m_, 1), v) for m_, v in ((1, 1), (2, 0), (3, 1), (4, 0))]
    r = ref.query(spec(m), {"events": rows}, ["plays"], "week", start="2024-03-06", end="2024-03-10")
    assert grid(r) == [(date(2024, 3, 4), 1)]
    r = ref.query(spec(m), {"events": []}, ["plays"], "day")
    assert grid(r) == []


def test_period_span_ignores_filters():
    rows = [row(T("2024-01-01 12:00"), event="view"), row(T("2024-01-03 12:00"), country="DE")]
    m = {"plays": AGG_METRICS["plays"]}
    r = ref.query(spec(m), {"events": rows}, ["plays"], "day", where="country = 'NL'")
    assert grid(r) == [(date(2024, 1, 1), 0), (date(2024, 1, 2), 0), (date(2024, 1, 3), 0)]


# --------------------------------------------------------------------------------------------
# cumulative
# --------------------------------------------------------------------------------------------


def test_cumulative():
    metrics = {
        "c_plays": {"source": "events", "agg": "count", "cumulative": True},
        "c_users": {"source": "events", "agg": "count_distinct", "cumulative": True},
        "c_sum": {"source": "events", "agg": "sum", "expr": "value", "cumulative": True},
        "c_min": {"source": "events", "agg": "min", "expr": "value", "cumulative": True},
        "c_max": {"source": "events", "agg": "max", "expr": "value", "cumulative": True},
    }
    rows = [
        row(T("2024-01-01 00:00"), "u1", value=None),
        row(T("2024-01-03 00:00"), "u2", value=5),
        row(T("2024-01-03 00:00"), "u1", value=3, country="DE"),
        row(T("2024-01-04 00:00"), "u1", value=9),
    ]
    r = ref.query(spec(metrics), {"events": rows}, list(metrics), "day")
    assert grid(r) == [
        (date(2024, 1, 1), 1, 1, 0, None, None),
        (date(2024, 1, 2), 1, 1, 0, None, None),
        (date(2024, 1, 3), 3, 2, 8, 3, 5),
        (date(2024, 1, 4), 4, 2, 17, 3, 9),
    ]
    # a date range only trims the output
    r = ref.query(spec(metrics), {"events": rows}, ["c_plays", "c_users"], "day", start="2024-01-04", end="2024-01-05")
    assert grid(r) == [(date(2024, 1, 4), 4, 2), (date(2024, 1, 5), 4, 2)]
    # per segment
    r = ref.query(spec(metrics), {"events": rows}, ["c_plays", "c_min"], "day", by=["country"], start="2024-01-04")
    assert grid(r) == [(date(2024, 1, 4), "DE", 1, 3), (date(2024, 1, 4), "NL", 3, 5)]


# --------------------------------------------------------------------------------------------
# retention
# --------------------------------------------------------------------------------------------


def test_retention():
    metrics = {"ret": {"type": "retention", "source": "events", "where": "event = 'play'"}}
    rows = [
        # week of 2024-01-01
        row(T("2024-01-01 10:00"), "u1", country="NL"),
        row(T("2024-01-02 10:00"), "u2", country="NL"),
        row(T("2024-01-02 10:00"), "u3", country="DE"),
        row(T("2024-01-02 10:00"), None, country="DE"),  # null entity: not in a cohort
        row(T("2024-01-03 10:00"), "u4", event="trial", country="DE"),  # not a `where` row
        # week of 2024-01-08: u1 back (in another country), u3 back with a non-where row only
        row(T("2024-01-09 10:00"), "u1", country="DE"),
        row(T("2024-01-09 10:00"), "u3", event="view", country="DE"),
        row(T("2024-01-10 10:00"), "u4", country="DE"),
        # week of 2024-01-22 (gap before it)
        row(T("2024-01-22 10:00"), "u4", country="DE"),
    ]
    r = ref.query(spec(metrics), {"events": rows}, ["ret"], "week")
    assert grid(r) == [
        (date(2024, 1, 1), None),
        (date(2024, 1, 8), 1 / 3),
        (date(2024, 1, 15), 0.0),
        (date(2024, 1, 22), None),
    ]
    r = ref.query(spec(metrics), {"events": rows}, ["ret"], "week", by=["country"])
    assert r.required_segments == {("NL",), ("DE",)}
    assert grid(r) == [
        (date(2024, 1, 1), "DE", None),
        (date(2024, 1, 1), "NL", None),
        (date(2024, 1, 8), "DE", 0.0),  # cohort {u3}; u3 only viewed
        (date(2024, 1, 8), "NL", 0.5),  # cohort {u1, u2}; u1 played (in DE)
        (date(2024, 1, 15), "DE", 0.0),  # cohort {u1, u4}
        (date(2024, 1, 15), "NL", None),
        (date(2024, 1, 22), "DE", None),
        (date(2024, 1, 22), "NL", None),
    ]
    # the query filter applies before anything: u1's DE play is gone
    r = ref.query(spec(metrics), {"events": rows}, ["ret"], "week", where="country = 'NL'", end="2024-01-08")
    assert grid(r) == [(date(2024, 1, 1), None), (date(2024, 1, 8), 0.0)]


# --------------------------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------------------------


def test_conversion():
    metrics = {
        "conv": {"type": "conversion", "source": "events", "from": "event = 'trial'", "to": "event = 'buy'", "within": "3d"}
    }
    rows = [
        row(T("2024-01-01 10:00"), "u1", "trial", "NL"),
        row(T("2024-01-04 10:00"), "u1", "buy", "NL"),  # exactly at f + 3d: converts
        row(T("2024-01-02 10:00"), "u2", "trial", "DE"),
        row(T("2024-01-05 10:00:01"), "u2", "buy", "DE"),  # one second late
        row(T("2024-01-03 10:00"), "u3", "buy", "DE"),  # buy before trial: no
        row(T("2024-01-03 11:00"), "u3", "trial", "DE"),
        row(T("2024-01-06 10:00"), "u4", "trial", "NL"),  # week 2, same-instant buy converts
        row(T("2024-01-06 10:00"), "u4", "buy", "NL"),
        row(T("2024-01-07 10:00"), None, "trial", "NL"),  # null entity ignored
        row(T("2024-01-08 10:00"), "u5", "trial", "DE"),  # next week, buy in a later week
        row(T("2024-01-08 11:00"), "u5", "trial", "NL"),
        row(T("2024-01-10 10:00"), "u5", "buy", None),
    ]
    r = ref.query(spec(metrics), {"events": rows}, ["conv"], "week")
    assert grid(r) == [(date(2024, 1, 1), 2 / 4), (date(2024, 1, 8), 1.0)]
    r = ref.query(spec(metrics), {"events": rows}, ["conv"], "day", end="2024-01-03")
    assert grid(r) == [(date(2024, 1, 1), 1.0), (date(2024, 1, 2), 0.0), (date(2024, 1, 3), 0.0)]
    r = ref.query(spec(metrics), {"events": rows}, ["conv"], "week", by=["country"])
    assert r.required_segments == {("NL",), ("DE",)}
    assert grid(r) == [
        (date(2024, 1, 1), "DE", 0.0),
        (date(2024, 1, 1), "NL", 1.0),
        (date(2024, 1, 8), "DE", 1.0),
        (date(2024, 1, 8), "NL", 1.0),
    ]
    # the `to` row must also pass the query filter
    r = ref.query(spec(metrics), {"events": rows}, ["conv"], "week", where="country in ('NL', 'DE')")
    assert grid(r) == [(date(2024, 1, 1), 2 / 4), (date(2024, 1, 8), 0.0)]


def test_conversion_window_is_absolute_time_across_dst():
    metrics = {
        "conv": {"type": "conversion", "source": "events", "from": "event = 'trial'", "to": "event = 'buy'", "within": "1d"}
    }
    # Amsterdam switches to CEST on 2024-03-31: local 12:00 -> next day's local 12:00 is 23h
    rows = [row(T("2024-03-30 11:00"), "u1", "trial"), row(T("2024-03-31 11:00"), "u1", "buy")]
    r = ref.query(spec(metrics, tz="Europe/Amsterdam"), {"events": rows}, ["conv"], "week")
    assert grid(r) == [(date(2024, 3, 25), 1.0)]
    rows = [row(T("2024-03-30 11:00"), "u1", "trial"), row(T("2024-03-31 11:00:01"), "u1", "buy")]
    r = ref.query(spec(metrics, tz="Europe/Amsterdam"), {"events": rows}, ["conv"], "week")
    assert grid(r) == [(date(2024, 3, 25), 0.0)]


# --------------------------------------------------------------------------------------------
# formulas and compare
# --------------------------------------------------------------------------------------------


def test_formula():
    metrics = {
        "plays": AGG_METRICS["plays"],
        "listeners": AGG_METRICS["listeners"],
        "minutes": {"source": "events", "where": "event = 'play'", "agg": "sum", "expr": "value / 60"},
        "per_listener": {"formula": "minutes / listeners"},
        "diff": {"formula": "(plays - listeners) * 2 + 1"},
        "nested": {"formula": "per_listener * 60"},
    }
    rows = [
        row(T("2024-01-01 10:00"), "u1", value=120),
        row(T("2024-01-01 11:00"), "u1", value=60),
        row(T("2024-01-03 10:00"), None, value=60),
    ]
    r = ref.query(spec(metrics), {"events": rows}, ["per_listener", "diff", "nested"], "day")
    assert grid(r) == [
        (date(2024, 1, 1), 3.0, 3, 180.0),
        (date(2024, 1, 2), None, 1, None),  # 0 / 0
        (date(2024, 1, 3), None, 3, None),  # 1 / 0
    ]
    assert ref.eval_formula("a / b", {"a": 1, "b": None}) is None
    assert ref.eval_formula("-a + 2", {"a": 1}) == 1


def test_compare():
    metrics = {"plays": AGG_METRICS["plays"]}
    rows = [row(T("2023-01-05 10:00")), row(T("2024-01-03 10:00")), row(T("2024-01-04 10:00"))]
    r = ref.query(spec(metrics), {"events": rows}, ["plays"], "month", start="2023-12-01", end="2024-01-31", compare=True)
    assert r.columns == ["period", "plays", "plays_previous", "plays_last_year"]
    # 2022-12 lies before the data: null
    assert grid(r) == [(date(2023, 12, 1), 0, 0, None), (date(2024, 1, 1), 2, 0, 1)]
    r = ref.query(spec(metrics), {"events": rows}, ["plays"], "month", end="2023-02-28", compare=True)
    assert grid(r) == [(date(2023, 1, 1), 1, None, None), (date(2023, 2, 1), 0, 1, None)]
    r = ref.query(spec(metrics), {"events": rows}, ["plays"], "week", start="2024-01-01", end="2024-01-01", compare=True)
    # 52 weeks before 2024-01-01 is 2023-01-02, the week holding 2023-01-05
    assert grid(r) == [(date(2024, 1, 1), 2, 0, 1)]
    r = ref.query(spec(metrics), {"events": rows}, ["plays"], "day", start="2024-01-04", end="2024-01-04", compare=True)
    # 364 days before 2024-01-04 is 2023-01-05
    assert grid(r) == [(date(2024, 1, 4), 1, 1, 1)]
