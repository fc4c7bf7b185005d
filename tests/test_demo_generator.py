"""Tests of the demo data generator itself, computed with plain pandas.

Later features are tested against the planted incidents, so these tests pin down that the
data is deterministic, has the documented shape, and that every incident is visible where
and when ``northstar.demo.incidents`` says, and nowhere else (what makes the data as messy as
real exports is tested in ``test_demo_realism.py``). Speed is measured by the benchmark, not
asserted here.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from demo_frames import (  # noqa: F401 - the *_fixture imports register the fixtures
    CLOSURE,
    DEMO_END,
    DEMO_FIRST,
    around,
    events_fixture,
    events_table_fixture,
    in_segment,
    incident_weeks,
    minutes_per_listener,
    near_duplicate,
    plays_fixture,
    relative_change,
    spend_fixture,
    weekly,
)
from ruamel.yaml import YAML

from northstar.demo import (
    DEMO_START,
    DEMO_WEEKS,
    INCIDENTS,
    INCIDENTS_BY_NAME,
    generate_demo,
    generate_events,
    generate_marketing_spend,
    users_for_events,
)
from northstar.demo.generate import demo_spec_text

EVENT_NAMES = {
    "sign_up", "onboarding_complete", "song_play", "playlist_create", "invite_sent",
    "trial_start", "subscribe", "payment", "cancel",
}


# --- determinism ------------------------------------------------------------------------

def test_same_seed_gives_identical_tables_and_other_seeds_differ() -> None:
    first = generate_events(400, seed=3)
    assert first.equals(generate_events(400, seed=3))
    assert not first.equals(generate_events(400, seed=4))
    assert generate_marketing_spend(400, seed=3).equals(generate_marketing_spend(400, seed=3))


def test_generate_demo_writes_byte_identical_files(tmp_path: Path) -> None:
    one = generate_demo(tmp_path / "one", users=400, seed=5)
    two = generate_demo(tmp_path / "two", users=400, seed=5)
    for name in ("events_path", "marketing_spend_path", "spec_path"):
        assert getattr(one, name).read_bytes() == getattr(two, name).read_bytes()
    assert one.events_path == tmp_path / "one" / "data" / "events.parquet"
    assert one.marketing_spend_path == tmp_path / "one" / "data" / "marketing_spend.parquet"
    assert one.spec_path.read_text(encoding="utf-8") == demo_spec_text()
    assert (one.start, one.end) == (DEMO_FIRST, DEMO_END)
    assert DEMO_START == date(2024, 11, 4) and DEMO_WEEKS == 105
    events = pd.read_parquet(one.events_path)
    assert one.events == len(events)
    assert one.users == events["user_id"].nunique()
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.events = 0  # type: ignore[misc]


# --- shape ------------------------------------------------------------------------------

def test_events_schema(events_table: pa.Table) -> None:
    assert events_table.schema.names == [
        "event_id", "ts", "user_id", "event", "duration_s", "amount",
        "country", "platform", "plan", "channel",
    ]
    types = dict(zip(events_table.schema.names, events_table.schema.types, strict=True))
    assert types["event_id"] == pa.int64()
    assert types["ts"] == pa.timestamp("us", tz="UTC")
    assert types["duration_s"] == types["amount"] == pa.float64()
    for name in ("user_id", "event", "country", "platform", "plan", "channel"):
        assert types[name] == pa.string()


def test_event_values(events: pd.DataFrame) -> None:
    assert set(events["event"]) == EVENT_NAMES
    assert set(events["platform"]) == {"ios", "android", "web"}
    assert set(events["plan"]) == {"free", "trial", "premium"}
    assert set(events["country"]) == {"DE", "NL", "SE", "GB", "US", "FR", "BR", "IS"}
    assert set(events["channel"]) == {"organic", "search", "social", "referral", "tiktok_campaign"}
    is_play, is_payment = events["event"] == "song_play", events["event"] == "payment"
    assert events["duration_s"].notna().eq(is_play).all()
    assert events["amount"].notna().eq(is_payment).all()
    assert (events.loc[is_play, "duration_s"] > 0).all()
    assert 3.2 < events.loc[is_play, "duration_s"].mean() / 60 < 3.8
    # premium is a weekly plan: one price a week per country
    assert set(events.loc[is_payment, "amount"].round(2)) <= {2.49, 2.59, 2.79, 2.69, 0.99, 2.29}
    assert events["user_id"].str.fullmatch(r"u\d{6}").all()


def test_ids_times_and_users_are_consistent(events: pd.DataFrame) -> None:
    assert events["event_id"].is_unique
    assert events["event_id"].is_monotonic_increasing
    assert events["ts"].is_monotonic_increasing
    assert events["day"].min() == pd.Timestamp(DEMO_FIRST)
    assert events["day"].max() == pd.Timestamp(DEMO_END)
    per_user = events.groupby("user_id")
    assert (per_user[["channel", "country", "platform"]].nunique() == 1).all().all()
    sign_ups = events[events["event"] == "sign_up"]
    assert sign_ups["user_id"].is_unique
    # Users who signed up in the data start with their sign-up; the others had signed up before
    # the pipeline went live and show up from its first day on.
    signed = sign_ups.set_index("user_id")["ts"]
    assert (per_user["ts"].min()[signed.index] == signed).all()
    before = sorted(set(events["user_id"]) - set(signed.index))
    assert 100 <= len(before) <= 1000
    # Ids are numbered in order of sign-up: those who signed up before the data come first.
    numbers = events["user_id"].str[1:].astype(int)
    assert sorted(numbers.unique()) == list(range(1, events["user_id"].nunique() + 1))
    assert sign_ups["user_id"].is_monotonic_increasing
    assert max(before) < sign_ups["user_id"].iloc[0]


def test_plan_follows_the_subscription_lifecycle(events: pd.DataFrame) -> None:
    plan_of = events.groupby("event")["plan"].agg(lambda s: set(s))
    assert plan_of["sign_up"] == {"free"}
    assert plan_of["trial_start"] == {"trial"}
    assert plan_of["subscribe"] == {"premium"}
    assert plan_of["cancel"] == {"premium"}
    payments = events[events["event"] == "payment"]
    assert (payments["plan"] == "premium").mean() > 0.99


def test_default_size_and_users(events: pd.DataFrame) -> None:
    assert 1_000_000 <= len(events) <= 3_000_000
    assert 4500 <= events["user_id"].nunique() <= 5500


def test_users_for_events_estimates_size() -> None:  # bench/ asks for ~10 million events this way
    table = generate_events(users_for_events(200_000), seed=11)
    assert 150_000 <= table.num_rows <= 250_000


def test_start_must_be_a_monday() -> None:
    with pytest.raises(ValueError, match="Monday"):
        generate_events(100, start=date(2024, 11, 5))


# --- behaviour ------------------------------------------------------------------------

def test_weekends_have_more_plays_than_weekdays(plays: pd.DataFrame) -> None:
    by_weekday = plays.groupby(plays["day"].dt.day_of_week).size()
    assert by_weekday[[5, 6]].min() > 1.15 * by_weekday[[0, 1, 2, 3]].max()


def test_growth_and_yearly_seasonality_of_sign_ups(events: pd.DataFrame) -> None:
    sign_ups = events[events["event"] == "sign_up"]
    month = sign_ups.groupby(sign_ups["day"].dt.strftime("%Y-%m")).size()
    assert month["2026-01"] > month["2025-01"]  # growth
    assert month["2025-01"] > month[["2025-06", "2025-07"]].mean()  # winter peak, summer dip
    assert month["2026-01"] > month[["2026-06", "2026-07"]].mean()


def test_referral_sign_ups_follow_invites(events: pd.DataFrame) -> None:
    invites = weekly(events[events["event"] == "invite_sent"], lambda g: g.size())
    referrals = weekly(events[(events["event"] == "sign_up") & (events["channel"] == "referral")],
                       lambda g: g.size())
    assert referrals.iloc[:4].sum() > 0  # the product ran before the data: invites were already out
    assert np.corrcoef(invites.iloc[:-1], referrals.iloc[1:])[0, 1] > 0.6


def test_marketing_spend_shape_and_campaign(spend: pd.DataFrame) -> None:
    table = generate_marketing_spend(5000, seed=42)
    assert table.schema.names == ["date", "channel", "country", "spend"]
    assert table.schema.field("date").type == pa.date32()
    days = (DEMO_END - DEMO_FIRST).days + 1  # from the day the data starts to the export day
    assert len(spend) == days * 3 * 8
    assert spend["date"].min() == DEMO_FIRST and spend["date"].max() == DEMO_END
    assert not spend.duplicated(["date", "channel", "country"]).any()
    assert set(spend["channel"]) == {"search", "social", "tiktok_campaign"}
    assert (spend["spend"] >= 0).all()
    campaign = INCIDENTS_BY_NAME["tiktok_campaign"]
    tiktok = spend[spend["channel"] == "tiktok_campaign"]
    inside = tiktok["date"].map(campaign.covers)
    iceland = tiktok["country"] == "IS"  # the campaign did not run in Iceland
    assert (tiktok.loc[inside & ~iceland, "spend"] > 0).all() and (tiktok.loc[iceland, "spend"] == 0).all()
    assert (tiktok.loc[~inside, "spend"] == 0).all()
    closed = spend["date"].map(CLOSURE.covers)
    assert closed.sum() == 7 * 3 * 8 and (spend.loc[closed, "spend"] == 0).all()  # nothing spent while closed
    assert (spend.loc[~closed & (spend["channel"] != "tiktok_campaign"), "spend"] > 0).all()


# --- incidents --------------------------------------------------------------------------

def test_incident_records_are_immutable_and_inside_the_data() -> None:
    spec = YAML(typ="safe").load(demo_spec_text())
    assert len({i.name for i in INCIDENTS}) == len(INCIDENTS) >= 5
    for incident in INCIDENTS:
        assert incident.start.weekday() == 0 and incident.end.weekday() == 6
        assert DEMO_START <= incident.start <= incident.end <= DEMO_END
        assert set(incident.metrics) <= set(spec["metrics"])
        assert set(incident.segment) <= {"country", "platform", "plan", "channel"}
        with pytest.raises(dataclasses.FrozenInstanceError):
            incident.start = date(2025, 1, 1)  # type: ignore[misc]
        with pytest.raises(TypeError):
            incident.segment["country"] = "NL"  # type: ignore[index]
    ordered = sorted(INCIDENTS, key=lambda i: i.start)
    for before, after in itertools.pairwise(ordered):
        assert (before.rebound_end or before.end) < after.start - timedelta(weeks=3)


def test_android_release_cuts_minutes_per_listener_not_listeners(plays: pd.DataFrame) -> None:
    incident = INCIDENTS_BY_NAME["android_release_de"]
    weeks = incident_weeks(incident)
    segment = in_segment(plays, incident)
    inside = relative_change(minutes_per_listener(plays[segment]), weeks)
    outside = relative_change(minutes_per_listener(plays[~segment]), weeks)
    assert abs(outside) < 0.06
    assert -0.45 < (1 + inside) / (1 + outside) - 1 < -0.25
    listeners = weekly(plays[segment], lambda g: g["user_id"].nunique())
    assert abs(relative_change(listeners, weeks)) < 0.12
    # Confined: once the segment has enough listeners, no other week drops like that.
    mpl = minutes_per_listener(plays[segment])
    others = mpl.drop(weeks).loc[20 : DEMO_WEEKS - 2]  # the last week is partial
    assert (others / others.rolling(7, center=True, min_periods=3).median()).min() > 0.75


def test_tiktok_campaign_brings_sign_ups_that_do_not_activate(
    events: pd.DataFrame, spend: pd.DataFrame
) -> None:
    incident = INCIDENTS_BY_NAME["tiktok_campaign"]
    weeks = incident_weeks(incident)
    sign_ups = weekly(events[events["event"] == "sign_up"], lambda g: g.size())
    onboarded = weekly(events[events["event"] == "onboarding_complete"], lambda g: g.size())
    # +60% expected; a few dozen sign-ups a week at this size make it noisy.
    assert 0.3 < relative_change(sign_ups, weeks, k=4) < 0.95
    assert relative_change(onboarded / sign_ups, weeks, k=4) < -0.2
    campaign_users = events[events["channel"] == "tiktok_campaign"]
    assert campaign_users["week"].groupby(campaign_users["user_id"]).min().isin(weeks).all()
    n_users = campaign_users["user_id"].nunique()
    assert (campaign_users["event"] == "onboarding_complete").sum() < 0.15 * n_users
    others = events[events["channel"] != "tiktok_campaign"]
    plays_per_campaign_user = (campaign_users["event"] == "song_play").sum() / n_users
    plays_per_other_user = (others["event"] == "song_play").sum() / others["user_id"].nunique()
    assert plays_per_campaign_user < 0.1 * plays_per_other_user
    weekly_spend = spend.groupby("week")["spend"].sum()
    assert relative_change(weekly_spend, weeks, k=4) > 1.0
    cost_per_signup = weekly_spend / sign_ups
    assert relative_change(cost_per_signup, weeks, k=4) > 0.3


def test_payment_outage_and_catch_up(events: pd.DataFrame) -> None:
    incident = INCIDENTS_BY_NAME["payment_outage"]
    weeks = incident_weeks(incident)
    catch_up = weeks[-1] + 1
    payments = weekly(events[events["event"] == "payment"], lambda g: g.size())
    before = payments.loc[weeks[0] - 3 : weeks[0] - 1].mean()
    assert payments[weeks].max() == 0  # the provider rejected every payment
    assert payments[catch_up] >= 1.4 * before
    assert incident.rebound_end == date(2025, 6, 22)
    # Confined: no other week is near zero (billing went on while the app was closed).
    later = payments.drop([*weeks, catch_up]).loc[10:]
    assert (later / later.rolling(5, center=True, min_periods=3).median()).min() > 0.5


def test_duplicate_plays_bug_inflates_ios_plays_not_listeners(plays: pd.DataFrame) -> None:
    incident = INCIDENTS_BY_NAME["duplicate_plays_bug"]
    weeks = incident_weeks(incident)
    frame = plays.assign(duplicate=near_duplicate(plays), ios=in_segment(plays, incident))
    share = frame.groupby(["week", "ios"])["duplicate"].mean().unstack()
    # A copy is 1 of (1 + 0.3) plays: about 23% of iOS plays that week.
    assert 0.18 < share.loc[weeks[0], True] < 0.28
    assert share.loc[weeks[0], False] < 0.005
    assert share.drop(weeks).max().max() < 0.005
    ios = frame[frame["ios"]]
    assert 0.2 < relative_change(weekly(ios, lambda g: g.size()), weeks) < 0.4
    assert abs(relative_change(weekly(ios, lambda g: g["user_id"].nunique()), weeks)) < 0.1


def test_christmas_closure_stops_the_app_but_not_billing(events: pd.DataFrame) -> None:
    """The app was offline the week of 2025-12-22: nothing happened in it (no plays, sign-ups,
    trials, playlists or invites); billing runs in the app stores and went on."""
    closed = events["day"].between(pd.Timestamp(CLOSURE.start), pd.Timestamp(CLOSURE.end))
    week = incident_weeks(CLOSURE)[0]
    in_app = {"song_play", "sign_up", "onboarding_complete", "playlist_create", "invite_sent", "trial_start"}
    assert not events.loc[closed, "event"].isin(in_app).any()
    assert set(events.loc[closed, "event"]) == {"payment", "subscribe", "cancel"}
    for name in in_app - {"trial_start"}:
        counts = weekly(events[events["event"] == name], lambda g: g.size())
        assert counts[week - 1] > 0 and counts[week + 1] > 0, name
    payments = weekly(events[events["event"] == "payment"], lambda g: g.size())
    assert abs(payments[week] / around(payments, [week], k=2) - 1) < 0.1  # renewals as usual
    # Nobody is counted as silent for the closed week: cancellations do not jump after it.
    cancels = weekly(events[events["event"] == "cancel"], lambda g: g.size())
    assert cancels[week + 1] < 2 * around(cancels, [week, week + 1], k=3)


# --- the demo spec ----------------------------------------------------------------------

def test_demo_spec_uses_every_feature() -> None:
    spec = YAML(typ="safe").load(demo_spec_text())
    assert spec["timezone"] == "Europe/Amsterdam"
    events_source = spec["sources"]["events"]
    assert {k: events_source[k] for k in ("path", "timestamp", "entity", "dimensions")} == {
        "path": "data/events.parquet", "timestamp": "ts", "entity": "user_id",
        "dimensions": ["country", "platform", "plan", "channel"],
    }
    assert spec["sources"]["marketing_spend"]["path"] == "data/marketing_spend.parquet"
    metrics: dict[str, dict[str, object]] = spec["metrics"]
    assert all("label" in m for m in metrics.values())
    assert {m["agg"] for m in metrics.values() if "agg" in m} == {
        "count", "count_distinct", "sum", "avg", "min", "max"}
    assert {m.get("type") for m in metrics.values()} >= {"retention", "conversion"}
    assert any(m.get("cumulative") for m in metrics.values())
    assert any("formula" in m for m in metrics.values())
    assert metrics["revenue"]["tags"] == ["revenue"]
    assert metrics["cost_per_signup"]["direction"] == "down"
    assert metrics["trial_conversion"]["within"] == "14d"
    # a long window in the tree: its last 9 weeks are provisional at any review
    assert metrics["paid_conversion"]["within"] == "60d" and metrics["paid_conversion"]["type"] == "conversion"
    # two product lines (issue 16): music, the primary North Star, and podcasts
    assert [(n["name"], n.get("primary")) for n in spec["north_stars"]] == [("music", True), ("podcasts", None)]
    north_star = spec["north_stars"][0]
    assert {"metric": "paid_conversion", "direction": "up", "lag": 4} in north_star["tree"]["paid_listeners"]["drivers"]
    assert north_star["metric"] == "listening_minutes" and north_star["grain"] == "week"
    assert north_star["tree"]["listening_minutes"]["formula"] == "active_listeners * minutes_per_listener"
    named = {north_star["metric"], *north_star["tree"], *spec["funnel"].values()}
    for node in north_star["tree"].values():
        named |= {d["metric"] for d in node.get("drivers", [])}
    named |= {f["metric"] for f in spec["focus"]} | {g["metric"] for g in spec["guardrails"]}
    assert named <= set(metrics)
    assert len({f["team"] for f in spec["focus"] if f["north_star"] == "music"}) == 2
    for focus in spec["focus"]:
        assert 55 <= (focus["to"] - focus["from"]).days <= 125  # 2 to 4 months
    assert set(spec["funnel"]) == {"acquisition", "activation", "retention", "referral", "revenue"}


def test_demo_spec_is_valid_for_the_spec_loader() -> None:
    from northstar.spec import parse_spec

    loaded = parse_spec(demo_spec_text(), "northstar.yml")
    assert loaded.warnings == ()
    assert loaded.spec.north_star.metric == "listening_minutes"
