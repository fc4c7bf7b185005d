"""What a metric can be (`analysis.domain.domain_of`), from its definition, and checked against
the data: on generated formulas (every value a formula takes, for inputs its inputs' domains
allow, lies in the domain it is given) and on the real History Meta dataset (an average's
bounds are the column's range, computed here with the csv module)."""

from __future__ import annotations

import ast
import csv
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from northstar.analysis.attribution import evaluate
from northstar.analysis.domain import COUNT, REAL, Domain, domain_of, observed_domain
from northstar.spec.expressions import parse_formula
from northstar.spec.load import parse_spec

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if not DATASETS.exists() and os.environ.get("NORTHSTAR_DATASETS"):
    DATASETS = Path(os.environ["NORTHSTAR_DATASETS"])
HISTORY = DATASETS / "stackexchange-history-meta"

SPEC = """\
project: t
sources:
  events: {path: e.csv, timestamp: ts, entity: user_id, dimensions: [plan]}
  other: {path: o.csv, timestamp: ts, entity: user_id}
metrics:
  active: {source: events, where: "event = 'play'", agg: count_distinct}
  paid: {source: events, where: "event = 'play' AND plan = 'paid'", agg: count_distinct, expr: user_id}
  paid_other_way: {source: events, where: "(plan = 'paid') AND (event = 'play')", agg: count_distinct}
  free: {source: events, where: "event = 'play' AND plan <> 'paid'", agg: count_distinct}
  signups: {source: events, where: "event = 'signup'", agg: count}
  onboarded: {source: events, where: "event = 'onboard'", agg: count}
  plays: {source: events, where: "event = 'play'", agg: count}
  plays_with_length: {source: events, where: "event = 'play'", agg: count, expr: length}
  other_actives: {source: other, agg: count_distinct}
  minutes: {source: events, where: "event = 'play'", agg: sum, expr: length / 60}
  balance: {source: events, agg: sum, expr: amount}
  converted_flag: {source: events, agg: avg, expr: converted}
  score: {source: events, agg: avg, expr: score}
  longest: {source: events, agg: max, expr: length}
  all_time: {source: events, agg: count_distinct, cumulative: true}
  retention: {type: retention, source: events, where: "event = 'play'"}
  conversion: {type: conversion, source: events, from: "event = 'signup'", to: "event = 'pay'", within: 7d}
  paid_share: {formula: paid / active}
  paid_share_2: {formula: paid_other_way / active}
  activation: {formula: onboarded / signups}
  plays_per_listener: {formula: plays / active}
  measured_share: {formula: plays_with_length / plays}
  other_share: {formula: other_actives / active}
  listeners_and_plays: {formula: active + plays}
  minutes_per_listener: {formula: minutes / active}
  net: {formula: active - free}
  scaled: {formula: 2 * active}
  halved: {formula: active * 0.5}
  negated: {formula: -active}
  nested_share: {formula: paid_share * 1}
north_star: {metric: active}
"""


@pytest.fixture(scope="module")
def spec():
    return parse_spec(SPEC).spec


def test_each_kind_of_metric(spec) -> None:
    ranges = {"minutes": (0.0, 9.0), "balance": (-40.0, 120.0), "converted_flag": (0.0, 1.0),
              "score": (-3.0, 12.0), "longest": (0.5, 30.0)}

    def kind(name: str) -> tuple:
        d = domain_of(spec, name, observed=ranges)
        return d.kind, d.lower, d.upper

    assert kind("active") == kind("signups") == kind("all_time") == ("count", 0.0, None)
    assert kind("retention") == kind("conversion") == ("share", 0.0, 1.0)
    assert kind("minutes") == ("amount", 0.0, None)  # a sum of values >= 0
    assert kind("balance") == ("real", None, None)  # a sum of values that can be negative
    assert kind("converted_flag") == ("share", 0.0, 1.0)  # an average of a 0/1 flag
    assert kind("score") == ("real", -3.0, 12.0)  # an average stays in its values' range
    assert kind("longest") == ("amount", 0.5, 30.0)
    # formulas: a share only when the numerator counts a subset of the denominator's entities
    assert kind("paid_share") == kind("paid_share_2") == kind("measured_share") == ("share", 0.0, 1.0)
    assert kind("activation") == ("amount", 0.0, None)  # other events: can exceed 1
    assert kind("plays_per_listener") == ("amount", 0.0, None)  # count / count_distinct: not a share
    assert kind("other_share") == ("amount", 0.0, None)  # another source
    assert kind("listeners_and_plays") == ("count", 0.0, None)
    assert kind("minutes_per_listener") == ("amount", 0.0, None)
    assert kind("net") == kind("negated") == ("real", None, None)
    assert kind("scaled") == kind("halved") == kind("nested_share") == ("amount", 0.0, None)
    # without the data's range, a sum or an average is not claimed to be >= 0
    assert domain_of(spec, "minutes").kind == "real" and domain_of(spec, "score").kind == "real"
    assert domain_of(spec, "minutes", observed_min=0.0).kind == "amount"


def test_sizes_say_what_the_noise_is_counted_over(spec) -> None:
    assert domain_of(spec, "retention").size.kind == "denominator" and domain_of(spec, "retention").size.lag == 1
    cohort = domain_of(spec, "conversion").size.probe
    assert cohort.agg == "count_distinct" and "signup" in cohort.where
    assert domain_of(spec, "paid_share").size.metric == "active"
    assert domain_of(spec, "minutes", observed_min=0.0).size.kind == "rows"
    score = domain_of(spec, "score", observed_min=-3.0, observed_max=12.0).size
    assert score.kind == "spread" and score.square.expr == "(score) * (score)"
    assert domain_of(spec, "active").size is None  # a count is its own size


def test_clip_contains_and_observed() -> None:
    share = Domain("share", 0.0, 1.0)
    assert share.clip(4.4) == 1.0 and share.clip(-0.2) == 0.0 and share.clip(0.3) == 0.3
    assert math.isnan(share.clip(float("nan")))
    assert COUNT.clip(-6073.0) == 0.0 and not COUNT.contains(-1.0) and COUNT.contains(0.0)
    assert REAL.clip(-5.0) == -5.0 and not REAL.contains(float("inf"))
    assert observed_domain([0, 3, None, float("nan")]).kind == "amount" and observed_domain([-1, 2]) is REAL


# ---- soundness on generated formulas ----------------------------------------------------------

LEAVES = {"active": "count", "signups": "count", "minutes": "amount", "balance": "real", "paid": "count"}
RANGES = {"minutes": (0.0, 9.0), "balance": (-40.0, 120.0)}


@st.composite
def formulas(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(sorted(LEAVES)), min_size=1, max_size=4))
    text = names[0]
    for name in names[1:]:
        op = draw(st.sampled_from("+-*/"))
        text = f"({text}) {op} {name}" if draw(st.booleans()) else f"{name} {op} ({text})"
    if draw(st.booleans()):
        text = f"{draw(st.sampled_from(['2', '0.5', '-1', '3']))} * ({text})"
    return text


def _draw_value(kind: str, data: st.DataObject) -> float:
    if kind == "count":
        return float(data.draw(st.integers(0, 50)))
    if kind == "amount":
        return data.draw(st.floats(0.0, 9.0))
    return data.draw(st.floats(-40.0, 120.0))


@settings(max_examples=200, deadline=None)
@given(text=formulas(), data=st.data())
def test_a_formula_never_leaves_its_domain(spec, text: str, data: st.DataObject) -> None:
    """For inputs anywhere in their own domains (paid <= active: a subset), the formula's value,
    computed by plain evaluation, lies in the domain `domain_of` gives it."""
    local = parse_spec(SPEC.replace("  nested_share:", f"  probe: {{formula: '{text}'}}\n  nested_share:")).spec
    domain = domain_of(local, "probe", observed=RANGES)
    values = {name: _draw_value(kind, data) for name, kind in LEAVES.items()}
    values["paid"] = float(data.draw(st.integers(0, int(values["active"]))))
    tree = parse_formula(text).tree
    try:
        result = evaluate(tree, values)
    except ZeroDivisionError:
        return
    if result is None or not math.isfinite(result):
        return
    assert domain.contains(result, tolerance=1e-9), (text, values, result, domain)
    if domain.kind == "count":
        assert result == int(result)


def test_paid_over_active_is_a_share_for_any_subset(spec) -> None:
    tree = parse_formula("paid / active").tree
    for active in range(1, 30):
        for paid in range(0, active + 1):
            assert 0.0 <= evaluate(tree, {"paid": paid, "active": active}) <= 1.0
    assert isinstance(tree, ast.BinOp)


# ---- the real History Meta data ------------------------------------------------------------------

HISTORY_SPEC = """\
project: History Meta
sources:
  posts: {path: Posts.csv, timestamp: CreationDate, entity: OwnerUserId, key: Id, dimensions: [PostTypeId]}
metrics:
  answers: {source: posts, where: "PostTypeId = 2", agg: count}
  questions: {source: posts, where: "PostTypeId = 1", agg: count}
  answer_score: {source: posts, where: "PostTypeId = 2", agg: avg, expr: Score}
  post_score: {source: posts, agg: sum, expr: Score}
  views: {source: posts, where: "PostTypeId = 1", agg: sum, expr: ViewCount}
  answers_per_question: {formula: answers / questions}
north_star: {metric: answers, grain: month}
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    from northstar.project import Project

    if not (HISTORY / "Posts.csv").exists():
        pytest.fail(f"the History Meta dataset is missing at {HISTORY}")
    folder = tmp_path_factory.mktemp("history")
    (folder / "Posts.csv").symlink_to(HISTORY / "Posts.csv")
    (folder / "northstar.yml").write_text(HISTORY_SPEC)
    return Project.load(folder / "northstar.yml")


def _csv_scores(post_type: str | None) -> list[float]:
    with (HISTORY / "Posts.csv").open(newline="", encoding="utf-8") as handle:
        return [float(r["Score"]) for r in csv.DictReader(handle)
                if r["Score"] != "" and (post_type is None or r["PostTypeId"] == post_type)]


def test_domains_on_history_meta_read_the_data(history) -> None:
    from northstar.domains import metric_domain

    answer_scores = _csv_scores("2")
    score = metric_domain(history, "answer_score")
    assert (score.lower, score.upper) == (min(answer_scores), max(answer_scores))
    assert score.kind == ("real" if min(answer_scores) < 0 else "amount")
    # post scores go below zero (a downvoted post): their sum is real, never clipped at 0
    assert min(_csv_scores(None)) < 0 and metric_domain(history, "post_score").kind == "real"
    assert metric_domain(history, "views").kind == "amount"  # view counts are never negative
    assert metric_domain(history, "answers").kind == "count"
    assert metric_domain(history, "answers_per_question").kind == "amount"  # answers are not a subset of questions
