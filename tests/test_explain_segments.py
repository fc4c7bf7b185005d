"""Which segment `explain` names: the sign rule, counting noise, overlap, exact splits.

Every expected value is computed here from the generated events with plain Python and pandas
(brute force per segment), independently of `explain/segments.py` and `analysis/attribution.py`;
the noise threshold's normal quantile comes from scipy.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from northstar.alerts.rules import why_of
from northstar.explain.segments import ALPHA, MIN_SCORE, all_splits
from northstar.project import Project
from northstar.report.text import why_paragraph

W0, W1 = dt.date(2024, 1, 1), dt.date(2024, 1, 8)  # two Monday weeks


def _rows(week: dt.date, segment: dict, count: int, start: int = 0, amount: float = 10.0,
          customer: str | None = None) -> list[dict]:
    """`count` orders in `week`, one per customer `<prefix><i>` (so distinct = count), spread
    over the seven days so that every week of the data is complete."""
    prefix = customer or "-".join(str(v) for v in segment.values())
    return [{"ts": dt.datetime.combine(week, dt.time(12)) + dt.timedelta(days=i % 7, minutes=i % 600),
             "customer": f"{prefix}{start + i}", "event": "order", "amount": amount, **segment}
            for i in range(count)]


def _project(folder: Path, rows: list[dict], dims: list[str], metrics: str, nsm: str, key: bool = False) -> Project:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame["invoice"] = [f"INV{i:06d}" for i in range(len(frame))]
    frame.to_parquet(folder / "events.parquet", index=False)
    (folder / "northstar.yml").write_text(
        "project: Shop\ntimezone: UTC\nsources:\n  events:\n    path: events.parquet\n    timestamp: ts\n"
        f"    entity: customer\n{'    key: invoice' + chr(10) if key else ''}    dimensions: [{', '.join(dims)}]\n"
        f"metrics:\n{metrics}north_star:\n  metric: {nsm}\n  grain: week\n"
        "  customer_value: Shoppers get the goods they want\n")
    return Project.load(folder / "northstar.yml")


BUYERS = "  buyers: {label: Weekly buyers, source: events, agg: count_distinct}\n"
ORDERS = "  orders: {label: Orders, source: events, agg: count}\n"
REVENUE = "  revenue: {label: Revenue, source: events, agg: sum, expr: amount}\n"


# ---- the sign rule (regressions) -------------------------------------------------------------

@pytest.fixture(scope="module")
def fall(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Buyers fall 81%: A falls 67% (less than the whole), B 95%, C 85%."""
    rows = []
    for country, before, now in (("A", 400, 132), ("B", 300, 15), ("C", 300, 45)):
        rows += _rows(W0, {"country": country}, before) + _rows(W1, {"country": country}, now)
    return _project(tmp_path_factory.mktemp("fall"), rows, ["country"], BUYERS, "buyers")


def test_the_segment_that_fell_least_is_not_named(fall: Project) -> None:
    """Regression: buyers fell 81% and `explain` named A (−67%, a positive excess: it fell less
    than the whole) because it ranked segments by |excess|. B (−95%) drove the fall."""
    e = fall.explain(period=W1)
    assert e.change == 192 - 1000
    assert e.lead is not None and e.lead.dimensions == {"country": "B"}
    assert [s.dimensions["country"] for s in e.segments] == ["B"]  # A fell less than the whole; C (−85%) barely more
    # brute force: B's contribution is -285 of -808 and its excess -285 - 0.3 * -808 = -42.6
    assert e.lead.contribution == -285 and e.lead.excess == pytest.approx(-285 + 0.3 * 808)
    assert e.lead.share == pytest.approx(285 / 808)
    assert "Led by country = B (weekly buyers −95.0% there against −80.8% overall, 35% of the fall)." in e.summary
    assert "country = A" not in e.summary


def test_every_consumer_names_the_same_segment(fall: Project) -> None:
    """The alerts' `why_of` (digests too), the report's Dutch paragraph and the CLI's JSON all
    take the named segment from the same rule."""
    lines = why_of(fall, "buyers", W1)
    assert any("country=B" in line for line in lines) and not any("country=A" in line for line in lines)
    e = fall.explain(period=W1)
    assert "country = B" in why_paragraph(e, "nl") and "country = A" not in why_paragraph(e, "nl")
    out = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(fall.path), "explain", "--period",
                          W1.isoformat(), "--format", "json"], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    assert data["lead_segment"]["dimensions"] == {"country": "B"} == data["segments"][0]["dimensions"]
    assert data["value"] == 192 and isinstance(data["value"], int)  # a count prints as 192, not 192.0
    assert data["summary"].startswith("Weekly buyers fell 80.8% (−808)")  # not "Weekly weekly buyers"


def test_a_segment_that_fell_in_a_week_that_rose_is_not_named(tmp_path: Path) -> None:
    """Regression: orders rose 4% and `explain` named A, which fell 6% (tied |excess| with B)."""
    rows = []
    for country, before, now in (("A", 5000, 4700), ("B", 5000, 5700)):
        rows += _rows(W0, {"country": country}, before) + _rows(W1, {"country": country}, now)
    e = _project(tmp_path, rows, ["country"], ORDERS, "orders").explain(period=W1)
    assert e.change == 400
    assert e.lead is not None and e.lead.dimensions == {"country": "B"} and e.lead.contribution == 700
    assert [s.dimensions for s in e.segments] == [{"country": "B"}]


def test_sparse_counts_name_no_segment(tmp_path: Path) -> None:
    """A segment going from 3 buyers to 1 is noise, not a finding (it was named before)."""
    rows = []
    for country, before, now in (("A", 4, 4), ("B", 3, 1), ("C", 5, 4)):
        rows += _rows(W0, {"country": country}, before) + _rows(W1, {"country": country}, now)
    e = _project(tmp_path, rows, ["country"], BUYERS, "buyers").explain(period=W1)
    assert e.change == -3 and e.segments == () and e.segments_searched
    assert "No segment stands out: the change is spread across segments." in e.summary


def test_integer_codes_with_nulls_print_as_integers(tmp_path: Path) -> None:
    """A numeric dimension with nulls comes back as floats: the segment is `code = 2`, not 2.0."""
    rows = []
    for code, before, now in ((1.0, 500, 500), (2.0, 500, 100), (None, 200, 200)):
        segment = {"code": code if code is not None else math.nan}
        rows += _rows(W0, segment, before, customer=f"c{code}-") + _rows(W1, segment, now, customer=f"c{code}-")
    e = _project(tmp_path, rows, ["code"], ORDERS, "orders").explain(period=W1)
    assert e.lead is not None and e.lead.dimensions == {"code": 2} and isinstance(e.lead.dimensions["code"], int)
    assert "code = 2 (" in e.summary and "2.0" not in e.summary


# ---- overlap ---------------------------------------------------------------------------------

def test_overlapping_segments_of_a_distinct_count_are_said_so(tmp_path: Path) -> None:
    """Customers active on iOS and Android are in both segments: the segments' buyers add up to
    more than all buyers. A country (one per customer) does not overlap."""
    rows = []
    for week, ios_only, android_only, both in ((W0, 300, 200, 100), (W1, 300, 80, 20)):
        for platform, first, count in (("ios", 0, ios_only), ("android", 1000, android_only),
                                       ("ios", 2000, both), ("android", 2000, both)):
            for row in _rows(week, {"platform": platform}, count, start=first, customer="c"):
                rows.append({**row, "country": "NL" if int(row["customer"][1:]) % 2 else "DE"})
    events = pd.DataFrame(rows)
    project = _project(tmp_path, rows, ["platform", "country"], BUYERS, "buyers")
    e = project.explain(period=W1)
    per_week = events.groupby(events["ts"].dt.date.map(lambda d: d - dt.timedelta(days=d.weekday())))
    for _week, frame in per_week:  # brute force: platforms add up to more than all buyers, countries do not
        assert frame.groupby("platform")["customer"].nunique().sum() > frame["customer"].nunique()
        assert frame.groupby("country")["customer"].nunique().sum() == frame["customer"].nunique()
    assert [(o.metric, o.dimensions) for o in e.overlaps] == [("buyers", ("platform",))]
    assert "Segments by platform overlap: a customer can be in several; their changes do not add up to the " \
           "total." in e.summary
    data = e.to_dict()
    assert data["overlaps"] == [{"metric": "buyers", "dimensions": ["platform"]}]
    platform = [s for s in e.segments if "platform" in s.dimensions]
    assert all(s.overlap for s in platform) and not any(s.overlap for s in e.segments if "platform" not in s.dimensions)
    split = all_splits(project, ["buyers"], W1, W0, ("platform",))[0]
    # the segments' changes (iOS 400 -> 320, Android 300 -> 100) do not add up to the total's (600 -> 400)
    assert split.overlap and split.change == (320 + 100) - (400 + 300) and e.change == 400 - 600


# ---- the rule, on random sparse data, against brute force ----------------------------------------

counts = st.integers(min_value=0, max_value=20)  # sparse: means of 1-20, zeros


def _threshold(n: int) -> float:
    return float(norm.ppf(1 - ALPHA / max(n, 1)))


def _expected_lead(frame: pd.DataFrame, value: str, dim: str, kind: str) -> tuple[dict | None, dict]:
    """Brute force: per segment of `dim`, c, w, e = c - w * D and the noise; the segment the rule
    names (or None), and every segment's (c, e)."""
    week = frame["ts"].dt.date.map(lambda d: d - dt.timedelta(days=d.weekday()))
    table = {}
    for segment in sorted(frame[dim].unique()):
        rows = frame[frame[dim] == segment]
        sides = [rows[week[rows.index] == w] for w in (W0, W1)]
        if kind == "sum":
            values = [float(side[value].sum()) for side in sides]
            variances = [float((side[value] ** 2).sum()) for side in sides]  # compound Poisson
        else:
            values = [float(len(side)) for side in sides]
            variances = [max(v, 1.0) for v in values]  # Poisson, an empty segment not certain
        table[segment] = (*values, *variances)
    total0, total1 = (sum(t[i] for t in table.values()) for i in (0, 1))
    all0, all1 = (sum(t[i] for t in table.values()) for i in (2, 3))
    change = total1 - total0
    effects, best = {}, None
    for segment, (v0, v1, var0, var1) in table.items():
        w0 = v0 / total0 if total0 else 0.0
        c, e = v1 - v0, v1 - v0 - w0 * change
        effects[segment] = (c, e)
        growth = total1 / total0 if total0 else 0.0
        spread = math.sqrt((1 - w0) ** 2 * var1 + w0 ** 2 * (all1 - var1)
                           + growth ** 2 * ((1 - w0) ** 2 * var0 + w0 ** 2 * (all0 - var0)))
        if not change or c / change <= 0 or e / change <= 0 or abs(e) < _threshold(len(table)) * spread:
            continue
        score = min(e / change, 1.0)
        if score >= MIN_SCORE and (best is None or score > best[0]):
            best = (score, segment)
    return ({dim: best[1]} if best else None), effects


@pytest.mark.parametrize("kind", ["count", "sum"])
def test_the_excess_noise_matches_a_simulation(kind: str) -> None:
    """The delta-method spread of a segment's excess (`additive_noise`) against 20,000 simulated
    pairs of periods in which every segment keeps its share (Poisson counts; for sums,
    lognormal amounts over Poisson counts)."""
    from northstar.analysis.attribution import additive_noise
    rng = np.random.default_rng(5)
    shares, rates = np.array([0.6, 0.3, 0.1]), (400.0, 150.0)  # the whole falls from 400 to 150
    draws = 20_000
    n = [rng.poisson(rate * shares, size=(draws, 3)) for rate in rates]
    if kind == "count":
        v = [x.astype(float) for x in n]
        expected_var = [rate * shares for rate in rates]
    else:
        mu, sigma = 3.0, 0.8  # amounts: lognormal; E[x^2] = exp(2 mu + 2 sigma^2)
        v = [np.array([[rng.lognormal(mu, sigma, k).sum() for k in row] for row in x[:4000]]) for x in n]
        draws = 4000
        expected_var = [rate * shares * math.exp(2 * mu + 2 * sigma ** 2) for rate in rates]
    means = [x.mean(axis=0) for x in v]
    excess = v[1] - v[0] / v[0].sum(axis=1, keepdims=True) * v[1].sum(axis=1, keepdims=True)
    spread = additive_noise({(i,): means[0][i] for i in range(3)}, {(i,): means[1][i] for i in range(3)},
                            {(i,): expected_var[0][i] for i in range(3)}, {(i,): expected_var[1][i] for i in range(3)})
    for i in range(3):
        assert spread[(i,)] == pytest.approx(excess[:, i].std(), rel=0.08), (i, draws)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.dictionaries(st.tuples(st.sampled_from(["UK", "DE", "FR", "IS"]), st.sampled_from(["web", "app"])),
                            st.tuples(counts, counts, st.sampled_from([1.0, 9.5, 40.0, 250.0])), min_size=1),
       shock=st.tuples(st.sampled_from(["UK", "DE", "FR", "IS"]), st.sampled_from([0, 1, 4, 12])),
       kind=st.sampled_from(["count", "sum"]))
def test_the_named_segment_follows_the_rule_on_sparse_data(data: dict, shock: tuple, kind: str) -> None:
    """Sparse segments (0-20 orders, zeros), one country's week multiplied by a shock (0: it
    stopped; 12: a campaign): the segment named is the one the rule names by brute force."""
    rows = []
    for (country, channel), (before, now, amount) in data.items():
        segment = {"country": country, "channel": channel}
        now = now * shock[1] if country == shock[0] else now
        rows += _rows(W0, segment, before, amount=amount) + _rows(W1, segment, now, amount=amount)
    # both weeks must hold events (a week without any is a closure: tested in test_explain_words.py)
    assume(any(r["ts"].date() >= W1 for r in rows) and any(r["ts"].date() < W1 for r in rows))
    with tempfile.TemporaryDirectory() as folder:
        project = _project(Path(folder), rows, ["country", "channel"],
                           ORDERS + REVENUE + "  order_value: {formula: revenue / orders}\n",
                           "orders" if kind == "count" else "revenue")
        metric = "orders" if kind == "count" else "revenue"
        frame = pd.DataFrame(rows)
        week = frame["ts"].dt.date.map(lambda d: d - dt.timedelta(days=d.weekday()))
        # every dimension's contributions add up exactly to the total change (counts: integers)
        total = {w: frame.loc[week == w, "amount"].sum() if kind == "sum" else int((week == w).sum())
                 for w in (W0, W1)}
        for dim in ("country", "channel"):
            split = all_splits(project, [metric], W1, W0, (dim,))[0]
            if kind == "count":
                assert split.change == total[W1] - total[W0]
            else:
                assert split.change == pytest.approx(total[W1] - total[W0], rel=1e-9, abs=1e-9)
            assert not split.overlap
            # a ratio: rate + mix effects add up to its change
            ratio = all_splits(project, ["order_value"], W1, W0, (dim,))[0]
            revenue = {w: frame.loc[week == w, "amount"].sum() for w in (W0, W1)}
            orders = {w: int((week == w).sum()) for w in (W0, W1)}
            assert ratio.change == pytest.approx(revenue[W1] / orders[W1] - revenue[W0] / orders[W0], rel=1e-9)
            assert all(x.rate_effect + x.mix_effect == pytest.approx(x.contribution) for x in ratio.effects)
        e = project.explain(period=W1, by=["country"])
        expected, effects = _expected_lead(frame, "amount", "country", kind)
        assert (e.lead.dimensions if e.lead else None) == expected
        for s in e.segments:
            assert s.contribution == pytest.approx(effects[s.dimensions["country"]][0])
        event("a segment named" if expected else "spread across segments")
        # over every dimension and pair: each segment listed moved with the change, beyond its weight
        e = project.explain(period=W1)
        value = frame["amount"] if kind == "sum" else pd.Series(1.0, index=frame.index)
        for seg in e.segments:
            inside = pd.Series(True, index=frame.index)
            for dim, wanted in seg.dimensions.items():
                inside &= frame[dim] == wanted
            v0, v1 = (float(value[inside & (week == w)].sum()) for w in (W0, W1))
            c, excess = v1 - v0, v1 - v0 - (v0 / total[W0] if total[W0] else 0.0) * (total[W1] - total[W0])
            assert seg.contribution == pytest.approx(c) and seg.excess == pytest.approx(excess)
            assert c * e.change > 0 and excess * e.change > 0


@settings(max_examples=30, deadline=None)
@given(before=st.dictionaries(st.sampled_from("abcde"), st.tuples(counts, counts), min_size=1),
       after=st.dictionaries(st.sampled_from("abcde"), st.tuples(counts, counts), min_size=1))
def test_rate_and_mix_add_up_with_empty_and_sparse_segments(before: dict, after: dict) -> None:
    """The centred mix effect keeps the split exact, with segments empty in one period (a
    segment without a denominator has no numerator: no orders without buyers)."""
    from northstar.analysis.attribution import ratio_effects
    before = {k: (n if d else 0, d) for k, (n, d) in before.items()}
    after = {k: (n if d else 0, d) for k, (n, d) in after.items()}
    n0 = {(k,): float(n) for k, (n, _d) in before.items()}
    d0 = {(k,): float(d) for k, (_n, d) in before.items()}
    n1 = {(k,): float(n) for k, (n, _d) in after.items()}
    d1 = {(k,): float(d) for k, (_n, d) in after.items()}
    if not sum(d0.values()) or not sum(d1.values()):
        return
    keys = [k for k in {**d0, **d1} if d0.get(k) or d1.get(k)]
    change = sum(n1.get(k, 0) for k in keys) / sum(d1.values()) - sum(n0.get(k, 0) for k in keys) / sum(d0.values())
    effects = ratio_effects(n0, d0, n1, d1)
    assert sum(x.contribution for x in effects) == pytest.approx(change, rel=1e-9, abs=1e-12)
