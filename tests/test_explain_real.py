"""`explain` on real data: Olist's weekly payments (a sum by order) and History Meta's sparse
monthly contributors (a distinct count with an event-type dimension). Expected values come from
the CSV files with pandas, independently of the engine; the datasets are read in place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from conftest import DATASETS

from northstar.explain.segments import all_splits
from northstar.project import Project

OLIST = DATASETS / "olist"
STACK = DATASETS / "stackexchange-history-meta"


@pytest.fixture(autouse=True)
def _datasets_present() -> None:
    if not (OLIST / "olist_orders_dataset.csv").exists() or not (STACK / "Posts.csv").exists():
        pytest.fail(f"the real datasets are missing at {DATASETS}: CI must have ../shared/datasets beside the project")


def _csv(path: Path) -> str:
    return "read_csv('" + str(path).replace("'", "''") + "')"


@pytest.fixture(scope="module")
def olist(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("olist-explain")
    (folder / "northstar.yml").write_text(f"""\
project: Olist
timezone: UTC
sources:
  orders: {{path: {OLIST / 'olist_orders_dataset.csv'}, timestamp: order_purchase_timestamp, key: order_id}}
  paid_orders:
    sql: >-
      select o.order_id, o.order_purchase_timestamp, o.order_status, c.customer_unique_id, c.customer_state, p.paid
      from orders o join {_csv(OLIST / 'olist_customers_dataset.csv')} c using (customer_id)
      left join (select order_id, sum(payment_value) as paid
                 from {_csv(OLIST / 'olist_order_payments_dataset.csv')} group by order_id) p using (order_id)
    timestamp: order_purchase_timestamp
    entity: customer_unique_id
    key: order_id
    dimensions: [customer_state, order_status]
metrics:
  payments: {{label: Payments, unit: BRL, source: paid_orders, agg: sum, expr: paid}}
north_star:
  metric: payments
  grain: week
  customer_value: Shoppers get the goods they want
""")
    return Project.load(folder / "northstar.yml")


@pytest.fixture(scope="module")
def paid() -> pd.DataFrame:
    """Brute force: each order's payments and purchase week (Monday), with its state and status."""
    orders = pd.read_csv(OLIST / "olist_orders_dataset.csv", parse_dates=["order_purchase_timestamp"])
    customers = pd.read_csv(OLIST / "olist_customers_dataset.csv")
    payments = pd.read_csv(OLIST / "olist_order_payments_dataset.csv").groupby("order_id")["payment_value"].sum()
    frame = orders.merge(customers, on="customer_id").join(payments.rename("paid"), on="order_id")
    day = frame["order_purchase_timestamp"].dt.normalize()
    frame["week"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date
    return frame


def test_one_olist_order_made_a_third_of_a_week(olist: Project, paid: pd.DataFrame) -> None:
    """Payments fell 29% in the week of 2017-04-03; one order had made 31% of the week before."""
    week, before = dt.date(2017, 4, 3), dt.date(2017, 3, 27)
    e = olist.explain(period=week)
    totals = paid.groupby("week")["paid"].sum()
    assert e.value == pytest.approx(totals[week]) and e.baseline == pytest.approx(totals[before])
    top = paid[paid["week"] == before].sort_values("paid", ascending=False).iloc[0]
    finding = e.entities[0]
    assert finding.kind == "baseline" and finding.entities[0].id == top["order_id"]
    assert finding.share == pytest.approx(top["paid"] / totals[before]) and finding.share > 0.25
    assert finding.population == paid.loc[paid["week"].isin([week, before]), "order_id"].nunique()
    assert f"One order, {top['order_id']}, made 31% of payments in the baseline week of 2017-03-27" in e.summary
    # one big order lands in one state and one status: no segment stands out beyond noise
    assert e.lead is None and "No segment stands out" in e.summary


@pytest.mark.parametrize("week", [dt.date(2017, 11, 20), dt.date(2018, 1, 22), dt.date(2018, 7, 9)])
def test_olist_splits_add_up_and_a_named_segment_moved_with_the_change(olist: Project, paid: pd.DataFrame,
                                                                        week: dt.date) -> None:
    before = week - dt.timedelta(weeks=1)
    totals = paid.groupby("week")["paid"].sum()
    change = totals[week] - totals[before]
    for dim in ("customer_state", "order_status"):
        split = all_splits(olist, ["payments"], week, before, (dim,))[0]
        assert split.change == pytest.approx(change, rel=1e-9) and not split.overlap
        by = paid[paid["week"].isin([week, before])].pivot_table(index=dim, columns="week", values="paid",
                                                                 aggfunc="sum", fill_value=0)
        for effect in split.effects:
            row = by.loc[effect.segment[0]] if effect.segment[0] in by.index else None
            expected = 0.0 if row is None else row.get(week, 0.0) - row.get(before, 0.0)
            assert effect.contribution == pytest.approx(expected, abs=1e-6)
    e = olist.explain(period=week)
    for seg in e.segments:
        assert seg.contribution * e.change > 0 and seg.excess * e.change > 0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("stack-explain")
    (folder / "northstar.yml").write_text(f"""\
project: History Meta
sources:
  posts_raw: {{path: {STACK / 'Posts.csv'}, timestamp: CreationDate}}
  comments_raw: {{path: {STACK / 'Comments.csv'}, timestamp: CreationDate}}
  contributions:
    sql: >-
      select Id as id, CreationDate as created, OwnerUserId as user_id,
             case PostTypeId when 1 then 'question' when 2 then 'answer' else 'other' end as kind
      from posts_raw where OwnerUserId is not null
      union all
      select Id, CreationDate, UserId, 'comment' from comments_raw where UserId is not null
    timestamp: created
    entity: user_id
    dimensions: [kind]
metrics:
  contributors: {{label: Monthly contributors, source: contributions, agg: count_distinct}}
  contributions_made: {{label: Contributions, source: contributions, agg: count}}
north_star:
  metric: contributors
  grain: month
  customer_value: Members get good answers to their questions about the site
""")
    return Project.load(folder / "northstar.yml")


@pytest.fixture(scope="module")
def contributions() -> pd.DataFrame:
    posts = pd.read_csv(STACK / "Posts.csv", usecols=["OwnerUserId", "CreationDate", "PostTypeId"])
    posts = posts.dropna(subset=["OwnerUserId"]).rename(columns={"OwnerUserId": "user"})
    posts["kind"] = posts["PostTypeId"].map({1: "question", 2: "answer"}).fillna("other")
    comments = pd.read_csv(STACK / "Comments.csv", usecols=["UserId", "CreationDate"]).dropna(subset=["UserId"])
    comments = comments.rename(columns={"UserId": "user"}).assign(kind="comment")
    frame = pd.concat([posts[["user", "CreationDate", "kind"]], comments[["user", "CreationDate", "kind"]]])
    frame["month"] = pd.to_datetime(frame["CreationDate"]).dt.to_period("M").dt.start_time.dt.date
    return frame


def test_stack_exchange_contributors_by_kind_overlap(stack: Project, contributions: pd.DataFrame) -> None:
    """A member who asks and comments in a month is in two kinds: the kinds' contributors add up
    to more than the month's contributors, and the explanation says their changes do not add up."""
    month, before = dt.date(2023, 10, 1), dt.date(2023, 9, 1)
    rows = contributions[contributions["month"].isin([month, before])]
    per_kind = rows.groupby(["month", "kind"])["user"].nunique().groupby("month").sum()
    people = rows.groupby("month")["user"].nunique()
    assert (per_kind > people).any()
    e = stack.explain(period=month)
    assert e.value == people[month] and e.baseline == people[before]
    assert [(o.metric, o.dimensions) for o in e.overlaps] == [("contributors", ("kind",))]
    assert "Segments by kind overlap: a customer can be in several; their changes do not add up to the total." \
        in e.summary
    # a handful of contributors: no kind stands out from counting noise
    assert people[month] <= 15 and e.lead is None


def test_stack_exchange_empty_month_and_sparse_counts(stack: Project, contributions: pd.DataFrame) -> None:
    december = dt.date(2021, 12, 1)
    assert not (contributions["month"] == december).any()  # brute force: nobody contributed
    e = stack.explain(period=december)
    assert e.inactive == ("period",) and e.value == 0 and e.segments == ()
    assert "no activity in this period: a closure or a gap in the data" in e.summary
    after = stack.explain(period="2022-01-01")
    assert after.inactive == ("baseline",)
    # sparse months: counts of contributions by kind never name a kind from a move of a few
    for month in ("2023-11-01", "2022-03-01"):
        e = stack.explain("contributions_made", period=month)
        counts = contributions[contributions["month"] == dt.date.fromisoformat(month)].shape[0]
        assert e.value == counts and counts <= 10
        assert e.lead is None and e.entities == ()
