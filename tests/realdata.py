"""Specs over the real datasets in ../shared/datasets, and their facts computed from the raw
files with the csv/json modules and datetime only (independent of the code under test).

Each `Dataset` writes a spec into a folder (the data is read in place, never written) with a
North Star, its tree, a funnel, an OMTM and a guardrail, so every command has something to
work on; `last_event` is the last event behind the North Star, from the raw file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from conftest import DATASETS

SPARKIFY = DATASETS / "sparkify" / "events.jsonl"
OLIST = DATASETS / "olist"
STACK = DATASETS / "stackexchange-history-meta"


@dataclass(frozen=True)
class Dataset:
    name: str
    grain: str
    write: Callable[[Path], Path]
    last_event: Callable[[], dt.datetime]
    first_event: Callable[[], dt.datetime]


# ---- Sparkify ---------------------------------------------------------------------------------

def _sparkify_spec(folder: Path) -> Path:
    text = (Path(__file__).parent / "sparkify.yml").read_text().replace("data/events.jsonl", str(SPARKIFY))
    text += ("focus:\n  - {team: Product, metric: listener_retention, baseline: 0.5, target: 0.6, from: 2018-11-01, "
             "to: 2019-01-31, owner: Mira}\n") if "focus:" not in text else ""
    path = folder / "northstar.yml"
    path.write_text(text)
    return path


@cache
def _sparkify_times() -> tuple[dt.datetime, dt.datetime]:
    stamps = []
    with SPARKIFY.open() as handle:
        for line in handle:
            row = json.loads(line)  # every event: the North Star's source is the whole log
            stamps.append(dt.datetime.fromtimestamp(row["ts"] / 1000, tz=dt.timezone.utc).replace(tzinfo=None))
    return min(stamps), max(stamps)


# ---- Olist ------------------------------------------------------------------------------------

def _olist_spec(folder: Path) -> Path:
    from test_olist import _spec_text

    text = _spec_text() + (
        "funnel: {acquisition: buyers, activation: delivered_orders, retention: null, referral: null, "
        "revenue: payments}\n"
        "focus:\n  - {team: Operations, metric: good_order_rate, baseline: 0.6, target: 0.7, from: 2018-01-01, "
        "to: 2018-03-31, owner: Ana}\n"
        "guardrails:\n  - {metric: orders_per_buyer, max: 1.5}\n")
    text = text.replace("    unit: BRL\n", "    unit: BRL\n    tags: [revenue]\n", 1)
    path = folder / "northstar.yml"
    path.write_text(text)
    return path


@cache
def _olist_times() -> tuple[dt.datetime, dt.datetime]:
    with (OLIST / "olist_orders_dataset.csv").open(newline="", encoding="utf-8") as handle:
        stamps = [dt.datetime.strptime(r["order_purchase_timestamp"], "%Y-%m-%d %H:%M:%S")
                  for r in csv.DictReader(handle)]
    return min(stamps), max(stamps)


# ---- Stack Exchange (History Meta): sparse, monthly, no revenue --------------------------------

STACK_SPEC = """\
project: History Meta
timezone: UTC
sources:
  posts:
    path: {stack}/Posts.csv
    timestamp: CreationDate
    entity: OwnerUserId
    key: Id
  comments:
    path: {stack}/Comments.csv
    timestamp: CreationDate
    entity: UserId
    key: Id
  votes:
    path: {stack}/Votes.csv
    timestamp: CreationDate
    key: Id
  contributions:
    sql: >-
      SELECT CreationDate, OwnerUserId AS user_id, 'post' AS kind FROM posts WHERE OwnerUserId > 0
      UNION ALL
      SELECT CreationDate, UserId AS user_id, 'comment' AS kind FROM comments WHERE UserId > 0
    timestamp: CreationDate
    entity: user_id
    dimensions: [kind]
metrics:
  contributors: {{label: Contributors, source: contributions, agg: count_distinct}}
  contributions: {{label: Contributions, source: contributions, agg: count}}
  contributions_per_contributor: {{formula: contributions / contributors}}
  questions: {{label: Questions, source: posts, where: "PostTypeId = 1", agg: count}}
  answers: {{label: Answers, source: posts, where: "PostTypeId = 2", agg: count}}
  upvotes: {{label: Upvotes, source: votes, where: "VoteTypeId = 2", agg: count}}
  downvotes: {{label: Downvotes, source: votes, where: "VoteTypeId = 3", agg: count, direction: down}}
  returning: {{label: Returning contributors, type: retention, source: contributions}}
  answered_in_30d:
    label: Questions answered within 30 days
    type: conversion
    source: posts
    from: PostTypeId = 1
    to: PostTypeId = 2
    within: 30d
north_star:
  metric: contributors
  grain: month
  customer_value: Members get their questions about the site answered and discussed
  tree:
    contributors:
      drivers:
        - {{metric: returning, direction: up, lag: 1}}
        - {{metric: questions, direction: up, lag: 0}}
        - {{metric: answered_in_30d, direction: up, lag: 1}}
  target: {{value: 20, by: 2024-06-30}}
funnel: {{acquisition: questions, activation: answers, retention: returning, referral: null, revenue: null}}
focus:
  - {{team: Community, metric: answered_in_30d, baseline: 0.5, target: 0.7, from: 2023-09-01, to: 2023-12-31, owner: Ann}}
guardrails:
  - {{metric: downvotes, max: 30}}
"""


def _stack_spec(folder: Path) -> Path:
    path = folder / "northstar.yml"
    path.write_text(STACK_SPEC.format(stack=STACK))
    return path


@cache
def _stack_times() -> tuple[dt.datetime, dt.datetime]:
    stamps = []
    for name, user in (("Posts.csv", "OwnerUserId"), ("Comments.csv", "UserId")):
        with (STACK / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row[user] and int(row[user]) > 0:
                    stamps.append(dt.datetime.fromisoformat(row["CreationDate"]))
    return min(stamps), max(stamps)


DATASETS_UNDER_TEST = (
    Dataset("sparkify", "week", _sparkify_spec, lambda: _sparkify_times()[1], lambda: _sparkify_times()[0]),
    Dataset("olist", "month", _olist_spec, lambda: _olist_times()[1], lambda: _olist_times()[0]),
    Dataset("stackexchange", "month", _stack_spec, lambda: _stack_times()[1], lambda: _stack_times()[0]),
)


def last_complete(grain: str, last: dt.datetime) -> dt.date:
    """Brute force: the last period (week or month) whose last day the data reaches."""
    day = last.date()
    if grain == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday if day.weekday() == 6 else monday - dt.timedelta(weeks=1)
    first = day.replace(day=1)
    if (day + dt.timedelta(days=1)).day == 1:
        return first
    return (first - dt.timedelta(days=1)).replace(day=1)
