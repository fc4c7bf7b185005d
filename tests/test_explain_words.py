"""What `explain` says beyond segments: weeks without activity, the orders behind a sum,
partial periods, drivers at lag 0, labels and numbers. Expected values come from the generated
events (pandas), independently of the code under test."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from northstar.alerts.rules import why_of
from northstar.explain.entities import judge, noun_of
from northstar.explain.model import Contribution, DriverMove, Explanation, TopEntity
from northstar.explain.narrative import plural, summarise, titled
from northstar.project import Project
from northstar.report.text import why_paragraph
from northstar.spec.load import parse_spec

W0, W1, W2 = dt.date(2024, 1, 1), dt.date(2024, 1, 8), dt.date(2024, 1, 15)


def _week(week: dt.date, count: int, amount: float = 50.0, start: int = 0, prefix: str = "C") -> list[dict]:
    """`count` orders spread over the week's seven days, by customers C<start>.., two countries."""
    return [{"ts": dt.datetime.combine(week, dt.time(9)) + dt.timedelta(days=i % 7, minutes=7 * i % 600),
             "customer": f"{prefix}{start + i}", "event": "order", "amount": amount,
             "country": "UK" if i % 3 else "DE", "channel": "ads" if i % 2 else "organic"} for i in range(count)]


def _project(folder: Path, rows: list[dict], metrics: str, nsm: str, tree: str = "",
             invoices: dict[str, str] | None = None) -> tuple[Project, pd.DataFrame]:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows).sort_values("ts", kind="stable").reset_index(drop=True)
    frame["invoice"] = [f"INV{i:06d}" for i in range(len(frame))]
    for customer, name in (invoices or {}).items():  # a customer's order gets a known invoice number
        frame.loc[frame["customer"] == customer, "invoice"] = name
    frame.to_parquet(folder / "events.parquet", index=False)
    (folder / "northstar.yml").write_text(
        "project: Shop\ntimezone: UTC\nsources:\n  events:\n    path: events.parquet\n    timestamp: ts\n"
        "    entity: customer\n    key: invoice\n    dimensions: [country, channel]\n"
        f"metrics:\n{metrics}north_star:\n  metric: {nsm}\n  grain: week\n{tree}"
        "  customer_value: Shoppers get the goods they want\n")
    return Project.load(folder / "northstar.yml"), frame


METRICS = """\
  orders: {label: Orders, source: events, agg: count}
  buyers: {label: Weekly buyers, source: events, agg: count_distinct}
  orders_per_buyer: {label: Orders per buyer, formula: orders / buyers}
  revenue: {label: Revenue, source: events, agg: sum, expr: amount}
"""


# ---- no activity -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A shop closed in the week of W1 (no event at all), open before and after."""
    rows = _week(W0, 120) + _week(W2, 90)
    return _project(tmp_path_factory.mktemp("closed"), rows, METRICS, "orders",
                    "  tree:\n    orders: {formula: buyers * orders_per_buyer}\n")[0]


def test_a_closed_week_is_no_activity_not_a_segment(closed: Project) -> None:
    """Regression: the closed week was 'Mostly channel = ads (orders −100.0% there)'."""
    e = closed.explain(period=W1)
    assert e.inactive == ("period",) and e.segments == () and e.entities == () and e.drivers == ()
    assert e.value == 0 and e.baseline == 120
    assert e.summary == ("Weekly orders fell 100.0% (−120) in the week of 2024-01-08 against 2024-01-01: no activity "
                         "in this period: a closure or a gap in the data.")
    assert e.to_dict()["inactive"] == ["period"]
    assert why_of(closed, "orders", W1) == ("no activity in the week of 2024-01-08: a closure or a gap in the data",)
    assert why_paragraph(e, "nl") == "Orders: geen activiteit in de week van 2024-01-08: een sluiting of een gat in de data."


def test_the_week_after_a_closure_is_activity_coming_back(closed: Project) -> None:
    e = closed.explain(period=W2)
    assert e.inactive == ("baseline",) and e.segments == ()
    assert "no activity in the baseline period (the week of 2024-01-08): a closure or a gap in the data" in e.summary
    # a ratio has no value in the closed week: said so, not an error
    ratio = closed.explain("orders_per_buyer", period=W1)
    assert ratio.inactive == ("period",) and ratio.value is None and ratio.change is None
    assert "no activity in this period: a closure or a gap in the data" in ratio.summary
    assert json.loads(json.dumps(ratio.to_dict()))["value"] is None  # valid JSON, no NaN


# ---- the orders behind a sum ---------------------------------------------------------------------

def test_one_invoice_that_made_41_percent_of_the_week(tmp_path: Path) -> None:
    """Regression: a £3,500 invoice made 41% of a week's revenue and nothing said so."""
    rows = _week(W0, 100) + _week(W1, 100, start=100)
    rows.append({**rows[-1], "customer": "C999", "amount": 3500.0})
    project, frame = _project(tmp_path, rows, METRICS, "revenue", invoices={"C999": "INV581483"})
    week = frame["ts"].dt.date.map(lambda d: d - dt.timedelta(days=d.weekday()))
    by_invoice = frame[week == W1].groupby("invoice")["amount"].sum()
    share = by_invoice.max() / by_invoice.sum()  # brute force: 3500 / 8500
    e = project.explain(period=W1)
    finding = e.entities[0]
    assert (finding.kind, finding.noun, finding.column) == ("period", "invoice", "invoice")
    assert finding.entities[0].id == by_invoice.idxmax() == "INV581483"
    assert finding.share == pytest.approx(share) and round(share, 2) == 0.41
    assert "One invoice, INV581483, made 41% of revenue in the week of 2024-01-08 (3,500 of 8,500)." in e.summary
    assert e.to_dict()["top_entities"][0]["entities"][0] == {"id": "INV581483", "value": 3500, "baseline": 0,
                                                             "change": 3500}
    assert any(line.startswith("One invoice, INV581483") for line in why_of(project, "revenue", W1))


def test_three_orders_that_explain_the_rise(tmp_path: Path) -> None:
    rows = _week(W0, 100) + _week(W1, 100, start=100)
    big = [{**rows[-1], "customer": f"B{i}", "amount": 600.0} for i in range(3)]
    project, frame = _project(tmp_path, rows + big, METRICS, "revenue")
    e = project.explain(period=W1)
    finding = e.entities[0]
    week = frame["ts"].dt.date.map(lambda d: d - dt.timedelta(days=d.weekday()))
    change = frame.loc[week == W1, "amount"].sum() - frame.loc[week == W0, "amount"].sum()
    assert finding.kind == "change" and len(finding.entities) == 3 and finding.total == change == 1800
    assert {x.id for x in finding.entities} == set(frame.loc[frame["amount"] == 600, "invoice"])
    assert "Three invoices explain 100% of the rise: " in e.summary


def test_no_order_dominates_a_small_shop_or_a_small_change() -> None:
    one = TopEntity("INV1", 40.0, 0.0)
    assert judge("revenue", "invoice", [one], (3, 3, 2), 100.0, 90.0) is None  # three invoices: one has a third
    assert judge("revenue", "invoice", [one], (50, 50, 50), 100.0, 90.0) is not None  # 40% of 50 invoices
    spread = [TopEntity(f"INV{i}", 6.0, 3.0) for i in range(5)]  # 0.5% rise, ids of the usual size
    assert judge("revenue", "invoice", spread, (200, 200, 200), 1005.0, 1000.0) is None
    assert noun_of("order_id") == "order" and noun_of("InvoiceNo") == "invoice" and noun_of("OwnerUserId") == \
        "owner user" and noun_of("customer") == "customer"


# ---- caveats ---------------------------------------------------------------------------------------

def test_a_year_on_year_change_against_a_three_day_first_week_carries_a_caveat(tmp_path: Path) -> None:
    first = dt.date(2023, 1, 2)  # the data starts on Friday 2023-01-06: three days of that week
    rows = [r for r in _week(first, 100 * 7 // 3 + 1) if r["ts"].date() >= dt.date(2023, 1, 6)]
    rows += _week(dt.date(2024, 1, 1), 170, start=500)
    rows += [r for r in _week(dt.date(2024, 1, 8), 30, start=900) if r["ts"].date() <= dt.date(2024, 1, 10)]
    project, frame = _project(tmp_path, rows, METRICS, "orders")
    e = project.explain(period="2024-01-01", vs="year")
    assert e.baseline_period == first and e.baseline == frame["ts"].lt(pd.Timestamp("2023-01-09")).sum()
    assert e.root.change_pct == pytest.approx(170 / e.baseline - 1) and e.root.change_pct > 0.6
    assert "Careful: the baseline week of 2023-01-02 is partial (the data starts on 2023-01-06, after this week " \
           "began), so part of the change is days without data." in e.summary
    assert e.to_dict()["caveats"] and not project.explain(period="2024-01-01", vs="2023-12-25").caveats
    # a partial last week: the alerts' reasons carry the caveat too
    lines = why_of(project, "orders", dt.date(2024, 1, 8))
    assert "careful: the week of 2024-01-08 is partial (the data ends on 2024-01-10, before this week ends on " \
           "2024-01-14), so part of the change is days without data" in lines


# ---- words ---------------------------------------------------------------------------------------------

def _explanation(label: str, grain: str, lag: int) -> Explanation:
    root = Contribution("m", label, 100.0, 97.2, -2.8, 1.0, "formula")
    driver = DriverMove("m", "invites", "up", lag, W1, -0.028, True, 0.8, 0.01)
    return Explanation("m", label, grain, W1, W0, 97.2, 100.0, root, drivers=(driver,))


def test_a_driver_at_lag_0_moved_in_the_same_week_and_plurals() -> None:
    """Regression: 'moved −2.8% 0 week(s) earlier, and has led it before'."""
    spec = parse_spec("project: P\nsources: {s: {path: x.csv, timestamp: t}}\nmetrics:\n  m: {source: s, agg: count}\n"
                      "north_star: {metric: m}\n").spec
    same = summarise(spec, _explanation("Invites", "week", 0))
    assert "Its driver invites moved −2.8% in the same week, and has moved with it before (r=+0.80)." in same
    assert "led" not in same and "(s)" not in same
    assert "moved −2.8% 1 week earlier, and has led it before" in summarise(spec, _explanation("X", "week", 1))
    assert "moved −2.8% 2 months earlier" in summarise(spec, _explanation("X", "month", 2))
    assert "in the same day" in summarise(spec, _explanation("X", "day", 0))


def test_labels_that_say_their_period_and_plurals() -> None:
    assert titled("Weekly buyers", "week") == "Weekly buyers"  # not "Weekly weekly buyers"
    assert titled("Monthly contributors", "week") == "Monthly contributors"
    assert titled("daily active users", "day") == "Daily active users"
    assert titled("Buyers", "month") == "Monthly buyers" and titled("MRR", "month") == "Monthly MRR"
    assert titled("Orders", "year") == "Yearly orders"
    assert [plural("user", 1), plural("user", 2), plural("invoice"), plural("category"), plural("day")] == \
        ["user", "users", "invoices", "categories", "days"]


def test_the_cli_shows_the_orders_and_no_activity(tmp_path: Path, closed: Project) -> None:
    rows = _week(W0, 100) + _week(W1, 100, start=100)
    rows.append({**rows[-1], "customer": "C999", "amount": 3500.0})
    project, _frame = _project(tmp_path, rows, METRICS, "revenue", invoices={"C999": "INV581483"})

    def run(path: Path, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(path), "explain", *args],
                              capture_output=True, text=True, check=True).stdout

    table = run(project.path, "--period", W1.isoformat())
    assert "Invoices behind revenue (invoice)" in table and "INV581483" in table and "3,500" in table
    markdown = run(project.path, "--period", W1.isoformat(), "--format", "markdown")
    assert "| INV581483 | 0 | 3,500 | 3,500 |" in markdown
    assert "no activity in this period" in run(closed.path, "--period", W1.isoformat())
