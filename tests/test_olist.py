"""Integration tests on the real Olist marketplace sample (../shared/datasets/olist).

Every expected value is computed here with the csv module, plain loops and datetime,
independently of the engine. The dataset is read in place and never written.

The customer and payment tables have no time column, and every Northstar source needs a
`timestamp`, so the specs below read them inside `sql:` sources with DuckDB's
`read_csv(...)`. The orders and reviews tables, which have a time column, are sources and
are joined by their source names.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from conftest import ENGINE_KINDS, engine_for

from northstar import DataError, Project

# ../shared/datasets/olist beside the project; NORTHSTAR_DATASETS (the datasets folder) when it is not there.
OLIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "olist"
if not OLIST.exists() and os.environ.get("NORTHSTAR_DATASETS"):
    OLIST = Path(os.environ["NORTHSTAR_DATASETS"]) / "olist"

ORDERS = OLIST / "olist_orders_dataset.csv"
CUSTOMERS = OLIST / "olist_customers_dataset.csv"
PAYMENTS = OLIST / "olist_order_payments_dataset.csv"
REVIEWS = OLIST / "olist_order_reviews_dataset.csv"


@pytest.fixture(autouse=True)
def _dataset_present() -> None:
    if not ORDERS.exists():
        pytest.fail(f"the Olist dataset is missing at {OLIST}: CI must have ../shared/datasets beside the "
                    "project (or set NORTHSTAR_DATASETS)")


# ---- independent computation -------------------------------------------------------------

def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _time(text: str) -> dt.datetime | None:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S") if text else None


def _month(moment: dt.datetime) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


def _months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    out, current = [], first
    while current <= last:
        out.append(current)
        current = dt.date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return out


@cache
def _olist() -> dict:
    """Orders with their customer, payments and reviews, joined by hand."""
    customers = {r["customer_id"]: r for r in _rows(CUSTOMERS)}
    paid: dict[str, float] = defaultdict(float)
    payment_rows: dict[str, int] = defaultdict(int)
    for p in _rows(PAYMENTS):
        paid[p["order_id"]] += float(p["payment_value"])
        payment_rows[p["order_id"]] += 1
    scores: dict[str, list[int]] = defaultdict(list)
    for r in _rows(REVIEWS):
        scores[r["order_id"]].append(int(r["review_score"]))
    orders = []
    for o in _rows(ORDERS):
        customer = customers[o["customer_id"]]
        delivered = _time(o["order_delivered_customer_date"])
        promised = _time(o["order_estimated_delivery_date"])
        on_time = delivered is not None and promised is not None and delivered.date() <= promised.date()
        reviews = scores.get(o["order_id"], [])
        orders.append({
            "order_id": o["order_id"],
            "month": _month(_time(o["order_purchase_timestamp"])),
            "status": o["order_status"],
            "person": customer["customer_unique_id"],
            "state": customer["customer_state"],
            "paid": paid.get(o["order_id"], 0.0),
            "payment_rows": payment_rows.get(o["order_id"], 0),
            # the North Star: delivered, on or before the promised day, and every review 4 or 5
            "good": (o["order_status"] == "delivered" and on_time and bool(reviews) and min(reviews) >= 4),
            "delivered": o["order_status"] == "delivered",
        })
    months = _months_between(min(o["month"] for o in orders), max(o["month"] for o in orders))
    return {"orders": orders, "months": months}


def _monthly(value, keep=lambda o: True) -> dict[dt.date, float]:  # noqa: ANN001
    """Sum of value(order) per purchase month, every month present (0 when empty)."""
    data = _olist()
    out = {m: 0 for m in data["months"]}
    for o in data["orders"]:
        if keep(o):
            out[o["month"]] += value(o)
    return out


def _monthly_people(keep=lambda o: True) -> dict[dt.date, int]:  # noqa: ANN001
    people: dict[dt.date, set[str]] = {m: set() for m in _olist()["months"]}
    for o in _olist()["orders"]:
        if keep(o):
            people[o["month"]].add(o["person"])
    return {m: len(s) for m, s in people.items()}


# ---- specs -------------------------------------------------------------------------------

def _csv(path: Path) -> str:
    return "read_csv('" + str(path).replace("'", "''") + "')"


def _spec_text(extra_sources: str = "", extra_metrics: str = "", north_star: str = "good_orders") -> str:
    return f"""\
project: Olist
timezone: UTC
sources:
  orders:
    path: {ORDERS}
    timestamp: order_purchase_timestamp
    entity: customer_id
    key: order_id
    dimensions: [order_status]
  reviews:
    path: {REVIEWS}
    timestamp: review_creation_date
    dimensions: [review_score]
  orders_with_state:
    sql: >-
      select o.*, c.customer_unique_id, c.customer_state
      from orders o join {_csv(CUSTOMERS)} c using (customer_id)
    timestamp: order_purchase_timestamp
    entity: customer_unique_id
    key: order_id
    dimensions: [customer_state, order_status]
  paid_orders:
    sql: >-
      select o.order_id, o.order_purchase_timestamp, o.order_status, c.customer_unique_id,
             c.customer_state, p.paid, p.payments
      from orders o
      join {_csv(CUSTOMERS)} c using (customer_id)
      left join (select order_id, sum(payment_value) as paid, count(*) as payments
                 from {_csv(PAYMENTS)} group by order_id) p using (order_id)
    timestamp: order_purchase_timestamp
    entity: customer_unique_id
    key: order_id
    dimensions: [customer_state, order_status]
  rated_orders:
    sql: >-
      select o.order_id, o.order_purchase_timestamp, o.order_status,
             o.order_delivered_customer_date, o.order_estimated_delivery_date,
             c.customer_unique_id, c.customer_state, r.worst_score, r.reviews
      from orders o
      join {_csv(CUSTOMERS)} c using (customer_id)
      left join (select order_id, min(review_score) as worst_score, count(*) as reviews
                 from reviews group by order_id) r using (order_id)
    timestamp: order_purchase_timestamp
    entity: customer_unique_id
    key: order_id
    dimensions: [customer_state, order_status]
{extra_sources}
metrics:
  placed_orders:
    label: Orders placed
    source: orders_with_state
    agg: count
  buyers:
    label: Buyers (distinct people)
    source: orders_with_state
    agg: count_distinct
  customer_ids:
    source: orders
    agg: count_distinct
  payments:
    label: Payments
    unit: BRL
    source: paid_orders
    agg: sum
    expr: paid
  payment_rows:
    source: paid_orders
    agg: sum
    expr: payments
  delivered_orders:
    source: rated_orders
    where: order_status = 'delivered'
    agg: count
  good_orders:
    label: Good orders
    description: Delivered on or before the promised day to a buyer whose reviews are all 4 or 5.
    source: rated_orders
    where: >-
      order_status = 'delivered' and order_delivered_customer_date is not null
      and cast(order_delivered_customer_date as date) <= cast(order_estimated_delivery_date as date)
      and worst_score >= 4
    agg: count
  good_order_rate:
    formula: good_orders / delivered_orders
  orders_per_buyer:
    formula: placed_orders / buyers
{extra_metrics}
north_star:
  metric: {north_star}
  grain: month
  customer_value: Buyers get what they ordered, on time, and are happy with it
  tree:
    good_orders:
      formula: delivered_orders * good_order_rate
      owner: COO
    delivered_orders:
      owner: Operations
"""


def _write(tmp_path: Path, text: str, name: str = "northstar.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=ENGINE_KINDS)
def project(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Project:
    """The Olist spec on each engine (only its `engine:` block differs), same expected numbers."""
    text = _spec_text()
    if request.param != "duckdb":
        from engines.parity import with_engine

        text = with_engine(text, engine_for(request, request.param))
    return Project.load(_write(tmp_path_factory.mktemp(f"olist-{request.param}"), text))


@pytest.fixture(scope="module")
def monthly(project: Project):  # noqa: ANN201
    return project.query(["placed_orders", "buyers", "customer_ids", "payments", "payment_rows",
                          "delivered_orders", "good_orders", "good_order_rate", "orders_per_buyer"],
                         grain="month")


def _series(frame, column: str) -> dict[dt.date, float]:  # noqa: ANN001
    return dict(zip(frame["period"], frame[column]))


# ---- the dataset is what docs/reference/spec.md (Joins and fan-out) says (guards the independent computation) ---------------

def test_sample_has_the_traps_the_readme_describes() -> None:
    orders = _olist()["orders"]
    assert len(orders) == len({o["order_id"] for o in orders}) > 8000
    assert sum(o["payment_rows"] > 1 for o in orders) > 100  # several payments: a join fans out
    people = defaultdict(int)
    for o in orders:
        people[o["person"]] += 1
    assert any(n > 1 for n in people.values())  # customer_id is per order, the person is not


# ---- values ------------------------------------------------------------------------------

def test_spec_validates_without_errors_or_warnings(project: Project) -> None:
    assert project.validate() == []


def test_monthly_orders(monthly) -> None:  # noqa: ANN001
    expected = _monthly(lambda o: 1)
    assert list(monthly["period"]) == list(expected)
    assert all(isinstance(p, dt.date) and p.day == 1 for p in monthly["period"])
    assert _series(monthly, "placed_orders") == expected
    assert sum(monthly["placed_orders"]) == len(_olist()["orders"])
    # months without any order (Nov-Dec 2016 in this sample) are there, with 0
    assert 0 in expected.values()


def test_monthly_distinct_people_not_customer_ids(monthly) -> None:  # noqa: ANN001
    people = _monthly_people()
    assert _series(monthly, "buyers") == people
    # customer_id is one per order: its distinct count is the order count, more than the people
    assert _series(monthly, "customer_ids") == _monthly(lambda o: 1)
    assert sum(monthly["customer_ids"]) > sum(people.values())
    for period, ratio in _series(monthly, "orders_per_buyer").items():
        if people[period]:
            assert ratio == pytest.approx(_monthly(lambda o: 1)[period] / people[period])
        else:
            assert ratio != ratio  # 0 / 0 is null


def test_monthly_payments_per_order_month_without_fan_out(monthly) -> None:  # noqa: ANN001
    expected = _monthly(lambda o: o["paid"])
    got = _series(monthly, "payments")
    assert got.keys() == expected.keys()
    for period, value in expected.items():
        assert got[period] == pytest.approx(value, rel=1e-9, abs=1e-6), period
    assert _series(monthly, "payment_rows") == _monthly(lambda o: o["payment_rows"])
    # the aggregated payments count every order once
    assert sum(monthly["placed_orders"]) == len(_olist()["orders"])


def test_north_star_good_orders_per_month(monthly) -> None:  # noqa: ANN001
    good = _monthly(lambda o: 1, keep=lambda o: o["good"])
    delivered = _monthly(lambda o: 1, keep=lambda o: o["delivered"])
    assert _series(monthly, "good_orders") == good
    assert _series(monthly, "delivered_orders") == delivered
    assert 0 < sum(good.values()) < sum(delivered.values())
    for period, rate in _series(monthly, "good_order_rate").items():
        if delivered[period]:
            assert rate == pytest.approx(good[period] / delivered[period])
        else:
            assert rate != rate


def test_breakdown_by_state_for_one_month(project: Project) -> None:
    month = dt.date(2018, 3, 1)
    frame = project.query(["placed_orders", "buyers", "good_orders"], grain="month", by=["customer_state"],
                          start="2018-03-15", end="2018-03-31")
    assert list(frame.columns) == ["period", "customer_state", "placed_orders", "buyers", "good_orders"]
    assert set(frame["period"]) == {month}
    orders: dict[str, int] = defaultdict(int)
    people: dict[str, set[str]] = defaultdict(set)
    good: dict[str, int] = defaultdict(int)
    for o in _olist()["orders"]:
        if o["month"] == month:
            orders[o["state"]] += 1
            people[o["state"]].add(o["person"])
            good[o["state"]] += o["good"]
    got = {r["customer_state"]: r for r in frame.to_dict("records")}
    assert got.keys() == orders.keys()
    for state in orders:
        assert got[state]["placed_orders"] == orders[state], state
        assert got[state]["buyers"] == len(people[state]), state
        assert got[state]["good_orders"] == good[state], state
    assert list(frame["customer_state"]) == sorted(orders)


def test_filter_on_a_state(project: Project) -> None:
    frame = project.query("placed_orders", grain="month", where="customer_state = 'SP'",
                          start="2017-01-01", end="2017-12-31")
    expected = _monthly(lambda o: 1, keep=lambda o: o["state"] == "SP")
    assert _series(frame, "placed_orders") == {m: v for m, v in expected.items() if m.year == 2017}


def test_compare_gives_previous_and_last_year(project: Project) -> None:
    frame = project.query("placed_orders", grain="month", start="2018-03-01", end="2018-03-01", compare=True)
    expected = _monthly(lambda o: 1)
    row = frame.to_dict("records")[0]
    assert row["placed_orders"] == expected[dt.date(2018, 3, 1)]
    assert row["placed_orders_previous"] == expected[dt.date(2018, 2, 1)]
    assert row["placed_orders_last_year"] == expected[dt.date(2017, 3, 1)]


def test_tree_for_a_month(project: Project) -> None:
    report = project.tree("2018-05-20")
    good = _monthly(lambda o: 1, keep=lambda o: o["good"])
    assert report.period == dt.date(2018, 5, 1)
    assert report.root.metric == "good_orders"
    assert report.root.value == good[dt.date(2018, 5, 1)]
    assert report.root.previous == good[dt.date(2018, 4, 1)]
    children = {c.metric: c for c in report.root.children}
    assert set(children) == {"delivered_orders", "good_order_rate"}
    assert children["delivered_orders"].owner == "Operations"


# ---- fan-out -----------------------------------------------------------------------------

_FAN_OUT = f"""\
  orders_payments:
    sql: select o.*, p.payment_value from orders o join {_csv(PAYMENTS)} p using (order_id)
    timestamp: order_purchase_timestamp
    entity: customer_id
{{key}}"""

_FAN_OUT_METRIC = """\
  naive_payments:
    source: orders_payments
    agg: sum
    expr: payment_value
  naive_orders:
    source: orders_payments
    agg: count
"""


def _extra_payment_rows() -> int:
    return sum(o["payment_rows"] - 1 for o in _olist()["orders"] if o["payment_rows"] > 1)


def test_fan_out_with_a_key_is_an_error(tmp_path: Path) -> None:
    spec = _write(tmp_path, _spec_text(_FAN_OUT.format(key="    key: order_id\n"), _FAN_OUT_METRIC))
    text = spec.read_text()
    project = Project.load(spec)
    problems = project.validate()
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, problems
    error = errors[0]
    assert "orders_payments" in error.message and "order_id" in error.message
    assert "not unique" in error.message
    assert f"{_extra_payment_rows():,} extra rows" in error.message
    lines = text.splitlines()
    key_line = lines.index("    key: order_id", lines.index("  orders_payments:")) + 1
    assert error.line == key_line
    # every query touching the source refuses to compute, not only validate
    with pytest.raises(DataError, match="not unique"):
        project.query("naive_payments", grain="month")
    with pytest.raises(DataError, match="order_id"):
        project.query(["placed_orders", "naive_orders"], grain="month")
    # the other sources still compute
    assert sum(project.query("placed_orders", grain="month")["placed_orders"]) == len(_olist()["orders"])


def test_fan_out_without_a_key_is_a_warning(tmp_path: Path) -> None:
    project = Project.load(_write(tmp_path, _spec_text(_FAN_OUT.format(key=""), _FAN_OUT_METRIC)))
    problems = project.validate()
    assert [p for p in problems if p.severity == "error"] == []
    warnings = [p for p in problems if p.severity == "warning"]
    assert len(warnings) == 1, problems
    assert "orders_payments" in warnings[0].message and "key" in warnings[0].message
    assert str(warnings[0]).startswith(f"{tmp_path / 'northstar.yml'}:")
    # Without a key nothing stops the double count: the naive sum repeats orders.
    frame = project.query(["naive_orders", "placed_orders"], grain="month")
    assert sum(frame["naive_orders"]) == len(_olist()["orders"]) + _extra_payment_rows()
    assert sum(frame["placed_orders"]) == len(_olist()["orders"])


def test_count_distinct_over_the_key_is_immune_to_fan_out(tmp_path: Path) -> None:
    metric = _FAN_OUT_METRIC + "  distinct_orders:\n    source: orders_payments\n    agg: count_distinct\n" \
        "    expr: order_id\n"
    project = Project.load(_write(tmp_path, _spec_text(_FAN_OUT.format(key=""), metric)))
    frame = project.query("distinct_orders", grain="month")
    assert _series(frame, "distinct_orders") == _monthly(lambda o: 1)


def test_duplicate_key_of_a_file_source_is_reported_by_validate(tmp_path: Path) -> None:
    # review_id repeats in this sample (a review can cover several orders)
    text = _spec_text().replace("    timestamp: review_creation_date\n",
                                "    timestamp: review_creation_date\n    key: review_id\n")
    problems = Project.load(_write(tmp_path, text)).validate()
    reviews = _rows(REVIEWS)
    extra = len(reviews) - len({r["review_id"] for r in reviews})
    assert extra > 0
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1 and "review_id" in errors[0].message
    assert f"{extra:,} extra rows" in errors[0].message


# ---- a revenue North Star ------------------------------------------------------------------

def test_revenue_north_star_loads_and_computes(tmp_path: Path) -> None:
    metric = """\
  revenue:
    label: Revenue
    unit: BRL
    source: paid_orders
    agg: sum
    expr: paid
    tags: [revenue]
"""
    text = _spec_text(extra_metrics=metric, north_star="revenue")
    text = text[: text.index("  tree:")]  # the good-orders tree does not start at revenue
    project = Project.load(_write(tmp_path, text))
    assert project.spec.north_star.metric == "revenue"
    assert "revenue" in project.spec.metrics["revenue"].tags
    frame = project.query("revenue")  # the North Star's grain: month
    expected = _monthly(lambda o: o["paid"])
    assert list(frame["period"]) == list(expected)
    for period, value in _series(frame, "revenue").items():
        assert value == pytest.approx(expected[period], rel=1e-9, abs=1e-6)
    report = project.tree("2018-01-10")
    assert report.root.value == pytest.approx(expected[dt.date(2018, 1, 1)])


# ---- known gaps ----------------------------------------------------------------------------

def test_validate_reports_fan_out_even_when_another_source_has_a_column_problem(tmp_path: Path) -> None:
    text = _spec_text(_FAN_OUT.format(key="    key: order_id\n"), _FAN_OUT_METRIC)
    text = text.replace("    dimensions: [review_score]\n", "    dimensions: [review_scor]\n")
    problems = Project.load(_write(tmp_path, text)).validate()
    messages = [p.message for p in problems if p.severity == "error"]
    assert any("review_scor" in m for m in messages)
    assert any("not unique" in m for m in messages)


def test_lookup_tables_without_a_time_column_can_be_joined_by_name(tmp_path: Path) -> None:
    text = f"""\
project: Olist
sources:
  orders:
    path: {ORDERS}
    timestamp: order_purchase_timestamp
    key: order_id
  customers:
    path: {CUSTOMERS}
    key: customer_id
  orders_with_state:
    sql: select o.*, c.customer_unique_id, c.customer_state from orders o join customers c using (customer_id)
    timestamp: order_purchase_timestamp
    entity: customer_unique_id
    key: order_id
    dimensions: [customer_state]
metrics:
  placed_orders:
    source: orders_with_state
    agg: count
north_star:
  metric: placed_orders
  grain: month
"""
    project = Project.load(_write(tmp_path, text))
    assert [p for p in project.validate() if p.severity == "error"] == []
