"""Customer attributes vs event attributes: declared by `event_dimensions`, else measured from the
data (checks/attributes.py), against pandas brute force, on the real datasets and the demo; and the
segment rules use only the customer ones."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATASETS, SPARKIFY_EVENTS, SPARKIFY_SPEC
from northstar.checks import run_checks
from northstar.checks.attributes import EVENT_SHARE, MIN_BUSY_PERIODS, dimension_kinds
from northstar.demo import generate_demo
from northstar.errors import SpecError
from northstar.project import Project
from northstar.spec.load import parse_spec
from synthetic import write_spec, write_synthetic

STACK = DATASETS / "stackexchange-history-meta"


# ---- the measurement, against brute force on messy generated data --------------------------

@st.composite
def events(draw: st.DrawFn) -> pd.DataFrame:
    """A few customers over 0-120 days: a plan that changes now and then, a page per event, nulls,
    empty and missing customers, customers with a single event, empty weeks."""
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    customers = draw(st.integers(1, 25))
    rows = draw(st.integers(0, 400))
    days = draw(st.integers(1, 120))
    change = draw(st.floats(0, 0.3))  # chance a customer's plan changes at one of its events
    who = rng.choice([*(f"c{i}" for i in range(customers)), "", None], rows,
                     p=[*(0.96 / customers for _ in range(customers)), 0.02, 0.02])
    ts = pd.Timestamp("2024-01-03") + pd.to_timedelta(np.sort(rng.integers(0, days * 86400, rows)), unit="s")
    frame = pd.DataFrame({"ts": ts, "user": who, "page": rng.choice(["home", "play", "pay", None], rows)})
    plan = {c: rng.choice(["free", "paid"]) for c in set(who)}
    plans = []
    for c in who:
        if rng.random() < change:
            plan[c] = "paid" if plan[c] == "free" else "free"
        plans.append(plan[c])
    frame["plan"] = plans
    frame["country"] = [None if c is None else f"k{hash(c) % 3}" for c in who]
    return frame


def brute_force(frame: pd.DataFrame, grain: str) -> dict[str, tuple[int, int, int, int]]:
    """{dimension: (busy periods, varying periods, busy customers, varying customers)} over the
    complete periods: up to the period before the one the day after the data's end falls in (all
    of the data when that leaves none)."""
    def period(ts: pd.Series) -> pd.Series:
        return ts.dt.floor("D") if grain == "day" else ts.dt.to_period("W-SUN").dt.start_time

    rows = frame[frame["user"].notna() & (frame["user"] != "")].copy()
    rows["period"] = period(rows["ts"])
    if len(frame):
        last = period(pd.Series([frame["ts"].max().floor("D") + pd.Timedelta(days=1)])).iloc[0] - \
            pd.Timedelta(days=1 if grain == "day" else 7)
        if last >= period(frame["ts"]).min():
            rows = rows[rows["period"] <= last]
    groups = rows.groupby(["user", "period"])
    size = groups.size()
    busy = size[size >= 2].index
    out = {}
    for dim in ("page", "plan", "country"):
        several = (groups[dim].nunique() >= 2).loc[busy] if len(busy) else pd.Series(dtype=bool)
        out[dim] = (len(busy), int(several.sum()), len({u for u, _ in busy}),
                    len({u for (u, _), v in several.items() if v}))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=events(), grain=st.sampled_from(["day", "week", "month", "quarter"]))
def test_the_measurement_equals_brute_force(tmp_path: Path, frame: pd.DataFrame, grain: str) -> None:
    folder = tmp_path / f"attr{abs(hash((len(frame), grain))) % 10**8}"
    folder.mkdir(exist_ok=True)
    frame.to_parquet(folder / "events.parquet", index=False)
    (folder / "northstar.yml").write_text(f"""\
project: Attributes
sources:
  events: {{path: events.parquet, timestamp: ts, entity: user, dimensions: [page, plan, country]}}
metrics:
  plays: {{source: events, where: "page = 'play'", agg: count}}
north_star: {{metric: plays, grain: {grain}}}
""")
    kinds = dimension_kinds(Project.load(folder / "northstar.yml"), "events")
    measured_by = "day" if grain == "day" else "week"  # coarser grains are measured by week
    for dim, (busy, varying, customers, varying_customers) in brute_force(frame, measured_by).items():
        kind = kinds[dim]
        assert (kind.busy_periods, kind.varying_periods, kind.busy_customers, kind.varying_customers) == (
            busy, varying, customers, varying_customers), dim
        assert kind.grain == measured_by
        expected = "event" if busy >= MIN_BUSY_PERIODS and varying / busy > EVENT_SHARE else "customer"
        assert kind.kind == expected and kind.how == ("measured" if busy >= MIN_BUSY_PERIODS else "too little data")


# ---- the real datasets and the demo ----------------------------------------------------------

def test_sparkify_page_is_an_event_attribute_level_gender_location_customer_ones(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy(SPARKIFY_EVENTS, tmp_path / "data" / "events.jsonl")
    text = SPARKIFY_SPEC.read_text().replace("dimensions: [level, gender, location]",
                                             "dimensions: [level, gender, location, page]")
    (tmp_path / "northstar.yml").write_text(text)
    kinds = dimension_kinds(Project.load(tmp_path / "northstar.yml"), "events")
    assert {d: k.kind for d, k in kinds.items()} == {"level": "customer", "gender": "customer",
                                                     "location": "customer", "page": "event"}
    # pandas: per user and ISO week (logged-out events have no user), the share of busy weeks with 2+ levels
    raw = pd.read_json(SPARKIFY_EVENTS, lines=True)
    raw = raw[raw["userId"].astype(str) != ""]
    raw["week"] = pd.to_datetime(raw["ts"], unit="ms").dt.to_period("W-SUN")
    raw = raw[raw["week"] < raw["week"].max()]  # complete weeks: the data ends on a Monday
    groups = raw.groupby(["userId", "week"])
    busy = groups.size() >= 2
    for dim in ("level", "page"):
        several = (groups[dim].nunique() >= 2)[busy]
        assert kinds[dim].share == pytest.approx(several.mean()) and kinds[dim].busy_periods == busy.sum()
    assert kinds["level"].share < 0.05 and kinds["page"].share > 0.5
    assert "of the customer-weeks with 2 or more events" in kinds["page"].reason


def _stack_spec(folder: Path, extra_source_keys: str = "", grain: str = "month") -> Path:
    """Stack Exchange contributions (questions, answers, comments) with the contributor's location."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "northstar.yml").write_text(f"""\
project: History Meta
sources:
  posts_raw: {{path: {STACK / 'Posts.csv'}, timestamp: CreationDate}}
  comments_raw: {{path: {STACK / 'Comments.csv'}, timestamp: CreationDate}}
  users_raw: {{path: {STACK / 'Users.csv'}}}
  contributions:
    sql: >-
      select c.*, coalesce(u.Location, 'unknown') as location
      from (select Id as id, CreationDate as created, OwnerUserId as user_id,
                   case PostTypeId when 1 then 'question' when 2 then 'answer' else 'other' end as kind
            from posts_raw where OwnerUserId is not null
            union all
            select Id, CreationDate, UserId, 'comment' from comments_raw where UserId is not null) c
      left join users_raw u on u.Id = c.user_id
    timestamp: created
    entity: user_id
    dimensions: [kind, location]
{extra_source_keys}
  posts: {{path: {STACK / 'Posts.csv'}, timestamp: CreationDate, entity: OwnerUserId, dimensions: [PostTypeId]}}
metrics:
  answers: {{source: contributions, where: "kind = 'answer'", agg: count}}
  posted_answers: {{source: posts, where: "PostTypeId = 2", agg: count}}
north_star:
  metric: answers
  grain: {grain}
  customer_value: Members get good answers to their questions about the site
""")
    return folder / "northstar.yml"


def test_stack_exchange_post_and_contribution_types_are_event_attributes(tmp_path: Path) -> None:
    project = Project.load(_stack_spec(tmp_path))
    assert dimension_kinds(project, "posts")["PostTypeId"].kind == "event"
    kinds = dimension_kinds(project, "contributions")
    assert kinds["kind"].kind == "event" and kinds["location"].kind == "customer"
    assert kinds["kind"].grain == "week"  # a monthly North Star is measured by week
    # pandas: Posts.csv by owner and ISO week
    posts = pd.read_csv(STACK / "Posts.csv", usecols=["OwnerUserId", "PostTypeId", "CreationDate"]).dropna(
        subset=["OwnerUserId"])
    posts["week"] = pd.to_datetime(posts["CreationDate"]).dt.to_period("W-SUN")
    groups = posts.groupby(["OwnerUserId", "week"])
    busy = groups.size() >= 2
    several = (groups["PostTypeId"].nunique() >= 2)[busy]
    assert dimension_kinds(project, "posts")["PostTypeId"].share == pytest.approx(several.mean())
    assert several.mean() > 0.4


def test_not_for_all_customers_does_not_treat_an_event_type_as_customers(tmp_path: Path) -> None:
    """Regression: 'answers does not hold for kind = comment: only 0% of its 398 active customers
    ever reached it' (commenters' comment rows never are answers: the event type, not a segment)."""
    as_before = Project.load(_stack_spec(tmp_path / "before", "    event_dimensions: []"))
    before = run_checks(as_before, only=["not-for-all-customers"]).findings
    assert {"kind = comment", "kind = question"} <= {f.subject for f in before}  # what the old code said
    for project in (Project.load(_stack_spec(tmp_path / "measured")),
                    Project.load(_stack_spec(tmp_path / "declared", "    event_dimensions: [kind]"))):
        findings = run_checks(project, only=["not-for-all-customers"]).findings
        assert not any(f.subject.startswith("kind") for f in findings), findings
        assert all(f.evidence.get("evaluated", True) for f in findings), findings
        for finding in findings:  # location segments, if any, say what was left out and why
            assert "Left out as event attributes, not customer segments: kind (" in finding.message


def test_a_source_with_only_event_dimensions_is_not_evaluated_and_says_why(tmp_path: Path) -> None:
    text = _stack_spec(tmp_path).read_text().replace("dimensions: [kind, location]", "dimensions: [kind]")
    (tmp_path / "northstar.yml").write_text(text)
    [note] = run_checks(Project.load(tmp_path / "northstar.yml"), only=["not-for-all-customers"]).findings
    assert note.severity == "info" and "every dimension of 'contributions' describes events" in note.message
    assert "kind (measured: in " in note.message and "customer-weeks" in note.message


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("synthetic-attributes")
    return folder, write_synthetic(folder).path


def test_the_synthetic_partner_is_left_out_and_the_finding_says_so(synthetic: tuple[Path, Path]) -> None:
    folder, path = synthetic
    project = Project.load(write_spec(folder, path, nsm="listens"))
    kinds = dimension_kinds(project, "events")
    assert {d: k.kind for d, k in kinds.items()} == {"country": "customer", "platform": "customer", "partner": "event"}
    [finding] = run_checks(project, only=["not-for-all-customers"]).findings
    assert finding.subject == "country = BE"
    assert "Left out as event attributes, not customer segments: partner (measured: in " in finding.message
    assert finding.evidence["customer_dimensions"] == ["country", "platform"]
    assert finding.evidence["event_dimensions"]["partner"]["how"] == "measured"
    assert dimension_kinds(project, "events") is dimension_kinds(project, "events")  # measured once per engine


def test_the_demo_dimensions_all_describe_customers_though_plans_change(tmp_path: Path) -> None:
    generate_demo(tmp_path)
    kinds = dimension_kinds(Project.load(tmp_path / "northstar.yml"), "events")
    assert {d: k.kind for d, k in kinds.items()} == dict.fromkeys(["country", "platform", "plan", "channel"], "customer")
    plan = kinds["plan"]
    assert 0 < plan.share < EVENT_SHARE / 2 and plan.customer_share > 0.2  # free -> trial -> premium, now and then


# ---- the spec key ----------------------------------------------------------------------------

SPEC = """\
project: Keys
sources:
  events:
    path: nowhere/events.parquet
    timestamp: ts
    entity: user_id
    dimensions: [plan, page]
    event_dimensions: [{events}]
metrics:
  plays: {{source: events, where: "page = 'play'", agg: count}}
north_star: {{metric: plays}}
"""


def test_declared_event_dimensions_need_no_data() -> None:
    project = Project(parse_spec(SPEC.format(events="page")))  # the data file does not exist
    kinds = dimension_kinds(project, "events")
    assert {d: (k.kind, k.how) for d, k in kinds.items()} == {"plan": ("customer", "declared"),
                                                             "page": ("event", "declared")}
    assert kinds["page"].reason == "the spec lists it in `event_dimensions`"


def test_an_unknown_event_dimension_is_an_error_with_its_line() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC.format(events="page, pgae"))
    message = str(info.value)
    assert "northstar.yml:8:" in message and "'pgae' is not one of its `dimensions`" in message
    assert "Did you mean 'page'?" in message and "event_dimensions" in message


def test_time_is_measured_in_local_weeks(tmp_path: Path) -> None:
    """Two events of one customer on Sunday 23:30 and Monday 00:30 in Amsterdam are in two weeks there
    (one each: not busy), though both fall on Sunday in UTC."""
    frame = pd.DataFrame({"ts": [dt.datetime(2024, 1, 7, 22, 30), dt.datetime(2024, 1, 7, 23, 30)],
                          "user": ["a", "a"], "page": ["home", "play"]})
    frame.to_parquet(tmp_path / "events.parquet", index=False)
    (tmp_path / "northstar.yml").write_text("""\
project: Local
timezone: Europe/Amsterdam
sources:
  events: {path: events.parquet, timestamp: ts, entity: user, dimensions: [page]}
metrics:
  plays: {source: events, agg: count}
north_star: {metric: plays}
""")
    kind = dimension_kinds(Project.load(tmp_path / "northstar.yml"), "events")["page"]
    assert (kind.busy_periods, kind.how) == (0, "too little data")
