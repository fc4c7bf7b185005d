"""Messy generated data, as real exports are: an online shop's visits and orders with partial first
and last weeks, closed weeks (a Christmas closure), sparse small segments, a long conversion
window and a dominant order. Independent of the code under test (numpy and pandas only).

`write_shop(folder, ...)` writes `events.parquet` and returns a `Shop` with the events frame;
`shop_spec(...)` writes a spec over it. Weeks start on Monday; the data starts on a Wednesday
and ends on a Thursday unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

START = dt.datetime(2023, 1, 4, 9, 0)  # a Wednesday: the first week is partial


@dataclass(frozen=True)
class Shop:
    path: Path
    events: pd.DataFrame
    first: dt.datetime
    last: dt.datetime
    closed: tuple[dt.date, ...] = ()  # Mondays of closed weeks
    dominant: str | None = None  # the invoice of the dominant order
    extra: dict = field(default_factory=dict)


def write_shop(folder: Path, seed: int = 0, weeks: int = 60, customers: int = 400, closed: tuple[int, ...] = (),
               visits_per_week: float = 300.0, conversion: float = 0.12, mean_lag_days: float = 20.0,
               small_country_share: float = 0.02, dominant_week: int | None = None, end_weekday: int = 3,
               start: dt.datetime = START) -> Shop:
    """`weeks` weeks of visits and orders from `start`; `closed`: week numbers with no events at all
    (0 = the first, partial week); `dominant_week`: one order of 50x the usual amount in that week."""
    rng = np.random.default_rng(seed)
    countries = rng.choice(["UK", "DE", "FR", "IS"], customers,
                           p=[0.6, 0.25, 0.15 - small_country_share, small_country_share])
    channels = rng.choice(["organic", "ads", "partner"], customers, p=[0.5, 0.35, 0.15])
    weight = rng.gamma(1.5, 1.0, customers)
    weight /= weight.sum()
    monday0 = start.date() - dt.timedelta(days=start.weekday())
    end = dt.datetime.combine(monday0 + dt.timedelta(weeks=weeks - 1, days=end_weekday), dt.time(17, 30))
    total_seconds = int((end - start).total_seconds())
    n_visits = int(visits_per_week * total_seconds / (7 * 86400))
    visit_ts = start + pd.to_timedelta(np.sort(rng.integers(0, total_seconds, n_visits)), unit="s")
    visitor = rng.choice(customers, n_visits, p=weight)
    converts = rng.random(n_visits) < conversion
    lag = pd.to_timedelta(rng.exponential(mean_lag_days * 86400, n_visits).astype(int), unit="s")
    order_ts = visit_ts[converts] + lag[converts]
    buyer = visitor[converts]
    keep = order_ts <= end
    order_ts, buyer = order_ts[keep], buyer[keep]
    amount = np.round(rng.lognormal(3.5, 0.6, len(order_ts)), 2)
    visits = pd.DataFrame({"ts": visit_ts, "customer": visitor, "event": "visit", "amount": np.nan})
    orders = pd.DataFrame({"ts": order_ts, "customer": buyer, "event": "order", "amount": amount})
    events = pd.concat([visits, orders], ignore_index=True)
    week_of = ((events["ts"].dt.normalize() - pd.Timestamp(monday0)).dt.days // 7).to_numpy()
    closed_mondays = tuple(monday0 + dt.timedelta(weeks=w) for w in closed)
    events = events[~np.isin(week_of, list(closed))].reset_index(drop=True)
    events = events.sort_values("ts", kind="stable").reset_index(drop=True)
    events["invoice"] = [f"INV{i:06d}" for i in range(len(events))]
    dominant = None
    if dominant_week is not None:
        week = (events["ts"].dt.normalize() - pd.Timestamp(monday0)).dt.days // 7
        in_week = events.index[(events["event"] == "order") & (week == dominant_week)]
        if len(in_week):
            # one order as large as all the week's other orders together
            i = in_week[len(in_week) // 2]
            events.loc[i, "amount"] = round(float(events.loc[in_week, "amount"].sum()) * 1.5, 2)
            dominant = events.loc[i, "invoice"]
    events["country"] = countries[events["customer"]]
    events["channel"] = channels[events["customer"]]
    events["customer"] = [f"C{c:05d}" for c in events["customer"]]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.parquet"
    events.to_parquet(path, index=False)
    return Shop(path, events, events["ts"].min().to_pydatetime(), events["ts"].max().to_pydatetime(),
                closed_mondays, dominant)


SHOP_METRICS = """
metrics:
  buyers: {label: Weekly buyers, source: events, where: "event = 'order'", agg: count_distinct}
  orders: {label: Orders, source: events, where: "event = 'order'", agg: count}
  revenue: {label: Revenue, source: events, where: "event = 'order'", agg: sum, expr: amount, tags: [revenue]}
  visitors: {label: Visitors, source: events, where: "event = 'visit'", agg: count_distinct}
  visits: {label: Visits, source: events, where: "event = 'visit'", agg: count}
  orders_per_buyer: {label: Orders per buyer, formula: orders / buyers}
  buyers_per_visitor: {label: Buyers per visitor, formula: buyers / visitors}
  visit_conversion:
    label: Visit conversion
    type: conversion
    source: events
    from: event = 'visit'
    to: event = 'order'
    within: {window}
  repeat_rate: {label: Repeat buyers, type: retention, source: events, where: "event = 'order'"}
"""


def shop_spec(folder: Path, shop: Shop, nsm: str = "orders", grain: str = "week", window: str = "60d",
              tree: str | None = None, funnel: str | None = None, extra: str = "", timezone: str = "UTC") -> Path:
    """A spec over the shop: by default the North Star `orders` = buyers x orders per buyer, the
    60-day visit conversion and the repeat rate as drivers of buyers, and a full funnel."""
    tree = tree if tree is not None else (
        "  tree:\n"
        "    orders: {formula: buyers * orders_per_buyer}\n"
        "    buyers:\n"
        "      owner: Growth\n"
        "      drivers:\n"
        "        - {metric: visit_conversion, direction: up, lag: 1}\n"
        "        - {metric: repeat_rate, direction: up, lag: 1}\n"
        "    orders_per_buyer: {owner: Product}\n")
    funnel = funnel if funnel is not None else (
        "funnel: {acquisition: visitors, activation: visit_conversion, retention: repeat_rate, "
        "referral: null, revenue: revenue}\n")
    text = (f"project: Shop\ntimezone: {timezone}\n"
            f"sources:\n  events:\n    path: {shop.path.name}\n    timestamp: ts\n    entity: customer\n"
            f"    key: invoice\n    dimensions: [country, channel]\n"
            + SHOP_METRICS.replace("{window}", window)
            + f"north_star:\n  metric: {nsm}\n  grain: {grain}\n  customer_value: Shoppers get the goods they want\n"
            + tree + funnel + extra)
    path = folder / "northstar.yml"
    path.write_text(text)
    return path


def weekly(events: pd.DataFrame, where: str, how: str, column: str = "customer") -> pd.Series:
    """Brute force: a weekly aggregate of the events (Monday weeks, UTC)."""
    rows = events[events["event"] == where]
    week = rows["ts"].dt.normalize() - pd.to_timedelta(rows["ts"].dt.day_of_week, unit="D")
    grouped = rows.groupby(week.dt.date)[column]
    return {"count": grouped.size, "count_distinct": grouped.nunique, "sum": grouped.sum}[how]()
