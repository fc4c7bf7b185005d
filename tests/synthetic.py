"""Generated event data with known answers for the checks (independent of the code under test).

One `events` table over 104 weeks from Monday 2024-01-01 (UTC), with:
- `listen`: weekly totals follow a random walk (no weekday pattern); 90% of NL/DE users listen, only
  10% of BE users do (BE is ~20% of users); 70% of listens come through partner `acme`; in the
  week of 2024-12-09 (week 49), 30% of iOS listens are logged twice, 1 s apart.
- `payment`: weekly count = 30% of listens exactly two weeks earlier (revenue lags listens by 2).
- `browse`: a flat level with a strong weekday pattern (weekdays 800, weekends 250 a day, Poisson),
  spread evenly over partners: pure noise to revenue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

START = dt.datetime(2024, 1, 1)
WEEKS = 104
LEAD_LAG = 2
DUPLICATE_WEEK = 49  # 2024-12-09


@dataclass(frozen=True)
class Synthetic:
    path: Path
    listens: np.ndarray  # weekly listen counts before duplication
    payments: np.ndarray


def write_synthetic(folder: Path, seed: int = 7) -> Synthetic:
    rng = np.random.default_rng(seed)
    n_users = 3000
    country = rng.choice(["NL", "DE", "BE"], n_users, p=[0.4, 0.4, 0.2])
    platform = rng.choice(["ios", "android"], n_users)
    listens_at_all = np.where(country == "BE", rng.random(n_users) < 0.10, rng.random(n_users) < 0.90)
    listeners = np.flatnonzero(listens_at_all)
    walk = np.cumsum(rng.normal(0, 0.08, WEEKS + LEAD_LAG))
    full = np.round(2000 * np.exp(walk - walk.mean())).astype(int)  # two weeks of pre-history first
    listens = full[LEAD_LAG:]
    payments = np.round(0.3 * full[:-LEAD_LAG]).astype(int)  # week t pays for the listens of week t-2
    frames = []
    for week in range(WEEKS):
        week_start = START + dt.timedelta(weeks=week)
        frames.append(_listens(rng, week, week_start, listens[week], listeners, platform))
        frames.append(_events(rng, "payment", week_start, payments[week], listeners, partner_p=None,
                              amount=9.99, seconds=7 * 86400))
        for day in range(7):
            count = rng.poisson(800 if day < 5 else 250)
            frames.append(_events(rng, "browse", week_start + dt.timedelta(days=day), count,
                                  np.arange(n_users), partner_p=None, seconds=86400))
    events = pd.concat(frames, ignore_index=True)
    events["country"] = country[events["user_id"]]
    events["platform"] = platform[events["user_id"]]
    events["user_id"] = events["user_id"].map(lambda u: f"u{u:05d}")
    events = events.sort_values("ts", kind="stable").reset_index(drop=True)
    events.insert(0, "event_id", np.arange(len(events)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.parquet"
    events.to_parquet(path, index=False)
    return Synthetic(path, listens, payments)


def _events(rng: np.random.Generator, name: str, start: dt.datetime, count: int, users: np.ndarray,
            partner_p: list[float] | None, amount: float | None = None, seconds: int = 86400) -> pd.DataFrame:
    offsets = np.sort(rng.integers(0, seconds * 1_000_000, count))
    partners = ["acme", "globex", "initech"]
    return pd.DataFrame({
        "ts": pd.Timestamp(start) + pd.to_timedelta(offsets, unit="us"),
        "user_id": rng.choice(users, count),
        "event": name,
        "partner": rng.choice(partners, count, p=partner_p) if partner_p else rng.choice(partners, count),
        "amount": amount if amount is not None else np.nan,
    })


def _listens(rng: np.random.Generator, week: int, start: dt.datetime, count: int, listeners: np.ndarray,
             platform: np.ndarray) -> pd.DataFrame:
    frame = _events(rng, "listen", start, count, listeners, partner_p=[0.7, 0.2, 0.1], seconds=7 * 86400)
    if week == DUPLICATE_WEEK:
        ios = frame[(platform[frame["user_id"]] == "ios") & (rng.random(len(frame)) < 0.3)].copy()
        ios["ts"] = ios["ts"] + pd.Timedelta(seconds=1)
        frame = pd.concat([frame, ios], ignore_index=True)
    return frame


SPEC = """\
project: Synthetic
timezone: UTC
sources:
  events:
    path: {path}
    timestamp: ts
    entity: user_id
    key: event_id
    dimensions: [country, platform, partner]
metrics:
  listens: {{source: events, where: "event = 'listen'", agg: count, label: Listens}}
  listeners: {{source: events, where: "event = 'listen'", agg: count_distinct}}
  listens_per_listener: {{formula: listens / listeners}}
  browses: {{source: events, where: "event = 'browse'", agg: count}}
  browses_per_listener: {{formula: browses / listeners}}
  payments: {{source: events, where: "event = 'payment'", agg: count}}
  revenue: {{source: events, where: "event = 'payment'", agg: sum, expr: amount, unit: EUR, tags: [revenue]}}
north_star:
  metric: {nsm}
  grain: {grain}
  customer_value: Listeners enjoy music every week
{tree}
guardrails:
  - {{metric: listens_per_listener, min: 1}}
funnel: {{acquisition: listeners, activation: listeners, retention: listeners, referral: listeners, revenue: payments}}
{extra}"""


def write_spec(folder: Path, data: Path, nsm: str = "listens", grain: str = "week", tree: str = "",
               extra: str = "") -> Path:
    """A spec over the synthetic events; `tree` is the YAML of `north_star.tree` (indented 2)."""
    tree_block = ("  tree:\n" + tree) if tree else ("  tree:\n    " + nsm + ":\n      formula: listeners * "
                                                    "listens_per_listener\n" if nsm == "listens" else "")
    text = SPEC.format(path=data, nsm=nsm, grain=grain, tree=tree_block, extra=extra)
    path = folder / f"{nsm}-{grain}-{abs(hash(tree + extra)) % 10**8}.yml"
    path.write_text(text)
    return path
