"""`northstar discover` on real exports: the Stack Exchange dump (five files, integer codes, a
system user, 99%-null columns, anonymous votes), several files at once, and messy generated
data (hypothesis).

Every expected number is computed here from the CSV files with the csv module and plain
loops, independently of discover and the engine. The datasets are read in place, never
written: the specs are written in a temp folder and point at them.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATASETS

from northstar.checks import run_checks
from northstar.discover import NO_ANSWERS, run_discover
from northstar.discover.guess import Column, guess_entity, guess_event_column, guess_key, guess_timestamp
from northstar.discover.placeholder import MARK, is_placeholder
from northstar.engine.time import period_start
from northstar.project import Project
from northstar.spec.load import load_spec, parse_spec

NORTHSTAR = str(Path(sys.executable).with_name("northstar"))
SE = DATASETS / "stackexchange-history-meta"


@pytest.fixture(autouse=True)
def _dataset_present() -> None:
    if not (SE / "Posts.csv").exists():
        pytest.fail(f"the Stack Exchange dataset is missing at {SE}: CI must have ../shared/datasets beside the "
                    "project (or set NORTHSTAR_DATASETS)")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([NORTHSTAR, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


# ---- independent computation -------------------------------------------------------------

@cache
def rows(name: str) -> tuple[dict[str, str], ...]:
    with (SE / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def period(text: str, grain: str) -> dt.date:
    """The period of an ISO time (`2011-10-11T19:42:20.713`), weeks from Monday."""
    day = dt.date.fromisoformat(text[:10])
    if grain == "month":
        return day.replace(day=1)
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def user(text: str) -> int | None:
    return int(text) if text else None


def distinct_per_period(name: str, time: str, who: str, grain: str,
                        keep: object = lambda r: True) -> dict[dt.date, int]:
    """Distinct users (id >= 0: the system user -1 left out) per period."""
    seen: dict[dt.date, set[int]] = defaultdict(set)
    for r in rows(name):
        uid = user(r[who])
        if uid is not None and uid >= 0 and keep(r):  # type: ignore[operator]
            seen[period(r[time], grain)].add(uid)
    return {p: len(ids) for p, ids in seen.items()}


def count_per_period(name: str, time: str, grain: str, keep: object = lambda r: True) -> dict[dt.date, int]:
    out: dict[dt.date, int] = defaultdict(int)
    for r in rows(name):
        if keep(r):  # type: ignore[operator]
            out[period(r[time], grain)] += 1
    return dict(out)


def queried(spec: Path, metric: str, grain: str) -> dict[dt.date, float]:
    """The metric per period as the engine computes it, empty periods left out."""
    frame = Project.load(spec).query([metric], grain=grain)
    return {dt.date.fromisoformat(str(p)[:10]): float(v) for p, v in zip(frame["period"], frame[metric]) if v}


# ---- each file of the Stack Exchange dump --------------------------------------------------

# file: (timestamp, entity, North Star, the words its label must name, grain, expected per period)
EXPECTED = {
    "Posts": ("CreationDate", "OwnerUserId", "users_with_posts", "users with posts", "month",
              lambda g: distinct_per_period("Posts", "CreationDate", "OwnerUserId", g)),
    "Comments": ("CreationDate", "UserId", "users_with_comments", "users with comments", "month",
                 lambda g: distinct_per_period("Comments", "CreationDate", "UserId", g)),
    "Users": ("CreationDate", "Id", "new_users", "new users", "month",
              lambda g: count_per_period("Users", "CreationDate", g, lambda r: int(r["Id"]) >= 0)),
    "Votes": ("CreationDate", None, "votes", "votes", "week", lambda g: count_per_period("Votes", "CreationDate", g)),
    "Badges": ("Date", "UserId", "users_with_badges", "users with badges", "week",
               lambda g: distinct_per_period("Badges", "Date", "UserId", g)),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_stack_exchange_file(tmp_path: Path, name: str) -> None:
    timestamp, entity, nsm, words, grain, expected = EXPECTED[name]
    result = run(["discover", "--yes", "--data", str(SE / f"{name}.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    spec_path = tmp_path / "northstar.yml"
    spec = load_spec(spec_path).spec  # the written spec validates
    source = spec.sources["events"]
    assert (source.timestamp, source.entity, source.key) == (timestamp, entity, "Id")
    assert spec.north_star.metric == nsm
    assert words in (spec.metrics[nsm].label or "").lower()
    assert spec.north_star.grain == grain
    assert "user2590" not in spec_path.read_text()

    report = run_checks(Project.load(spec_path))  # check does not crash: no rule failed
    assert [f.message for f in report.findings if f.evidence.get("exception")] == []
    assert [f.rule for f in report.findings if f.severity == "error"] == ["placeholder-customer-value"]
    assert queried(spec_path, nsm, grain) == expected(grain)


def test_posts_never_takes_mostly_null_columns(tmp_path: Path) -> None:
    """The old guess: CommunityOwnedDate (99% null) as the time, OwnerDisplayName (96% null)
    as the event, and a North Star 'Owners with user2590'."""
    result = run(["discover", "--yes", "--data", str(SE / "Posts.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "northstar.yml").read_text()
    assert "CommunityOwnedDate" not in text and "OwnerDisplayName" not in text
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert spec.sources["events"].timestamp == "CreationDate"
    # the system user -1 is left out of the North Star, and the output says so
    assert spec.metrics["users_with_posts"].where == "OwnerUserId IS NULL OR OwnerUserId >= 0"
    assert "left out OwnerUserId -1 (17 rows)" in result.stdout


def test_integer_codes_are_events(tmp_path: Path) -> None:
    """PostTypeId holds codes (1 question, 2 answer): `end_result: 2` gives the answerers,
    `PostTypeId = 2` unquoted; the old code refused an integer event column."""
    (tmp_path / "answers.yml").write_text(f"data: {SE / 'Posts.csv'}\nend_result: 2\nnorth_star: post_type_2_users\n"
                                          "grain: month\n")
    result = run(["discover", "--answers", "answers.yml"], tmp_path)
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert spec.sources["events"].dimensions == ("ContentLicense",)
    metric = spec.metrics["post_type_2_users"]
    assert metric.where == "PostTypeId = 2 AND (OwnerUserId IS NULL OR OwnerUserId >= 0)"
    assert metric.label == "Users with post type 2"
    answerers = distinct_per_period("Posts", "CreationDate", "OwnerUserId", "month", lambda r: r["PostTypeId"] == "2")
    assert queried(tmp_path / "northstar.yml", "post_type_2_users", "month") == answerers


def test_votes_have_no_entity_and_say_so(tmp_path: Path) -> None:
    result = run(["discover", "--yes", "--data", str(SE / "Votes.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no column says who acted" in result.stdout and "cannot count customers" in result.stdout
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert spec.sources["events"].entity is None
    assert not any(m.type == "retention" for m in spec.metrics.values())


def test_users_file_leaves_out_the_community_user(tmp_path: Path) -> None:
    result = run(["discover", "--yes", "--data", str(SE / "Users.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "left out Id -1 (1 row): a system account (a negative id, named 'Community')" in result.stdout
    assert "counts sign-ups (acquisition)" in result.stdout
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert (spec.sources["events"].entity, spec.sources["events"].key) == ("Id", "Id")
    assert spec.metrics["new_users"].where == "Id IS NULL OR Id >= 0"
    assert spec.funnel is not None and spec.funnel.acquisition == "new_users"


# ---- several files: contributors across posts and comments ----------------------------------

def contributors(grain: str) -> dict[dt.date, int]:
    seen: dict[dt.date, set[int]] = defaultdict(set)
    for name, who in (("Posts", "OwnerUserId"), ("Comments", "UserId")):
        for r in rows(name):
            uid = user(r[who])
            if uid is not None and uid >= 0:
                seen[period(r["CreationDate"], grain)].add(uid)
    return {p: len(ids) for p, ids in seen.items()}


@pytest.mark.parametrize("how", ["twice", "glob"])
def test_contributors_across_files(tmp_path: Path, how: str) -> None:
    data = ["--data", str(SE / "Posts.csv"), "--data", str(SE / "Comments.csv")] if how == "twice" \
        else ["--data", str(SE / "*.csv")]
    result = run(["discover", "--yes", *data], tmp_path)
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert spec.north_star.metric == "contributors" and spec.north_star.grain == "month"
    assert spec.sources["posts"].entity == "OwnerUserId" and spec.sources["comments"].entity == "UserId"
    activity = spec.sources["activity"]
    assert activity.sql is not None and "UNION ALL" in activity.sql and activity.entity == "UserId"
    assert spec.metrics["contributors"].source == "activity"
    assert queried(tmp_path / "northstar.yml", "contributors", "month") == contributors("month")
    drivers = {d.metric for node in spec.north_star.tree.values() for d in node.drivers}
    assert spec.funnel is not None and spec.funnel.revenue not in drivers
    assert "through the `sql:` source 'activity'" in result.stdout
    if how == "twice":  # a rerun reuses the source and names it (it once said 'activity_2', a source it did not write)
        again = run(["discover", "--yes", *data], tmp_path)
        assert again.returncode == 0, again.stderr
        assert "through the `sql:` source 'activity'" in again.stdout and "activity_2" not in again.stdout
        assert set(load_spec(tmp_path / "northstar.yml").spec.sources) == set(spec.sources)
    if how == "glob":
        assert set(spec.sources) == {"badges", "comments", "posts", "users", "votes", "activity"}
        assert spec.funnel.acquisition == "new_users" and spec.metrics["new_users"].source == "users"
        assert spec.metrics["votes"].source == "votes" and spec.metrics["users_with_badges"].source == "badges"
        assert "Votes.csv: no column says who acted" in result.stdout
        assert "badges are given to users, not done by them" in result.stdout
        assert queried(tmp_path / "northstar.yml", "new_users", "month") == \
            count_per_period("Users", "CreationDate", "month", lambda r: int(r["Id"]) >= 0)


def test_columns_per_source_in_the_answers_file(tmp_path: Path) -> None:
    (tmp_path / "answers.yml").write_text(f"data: [{SE / 'Posts.csv'}, {SE / 'Comments.csv'}]\n"
                                          "columns: {post: {entity: OwnerUserId}}\n")
    result = run(["discover", "--answers", "answers.yml"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: answers.yml:2: 'columns.post': 'post' is not a source of the data. " \
                                    "Did you mean 'posts'?"
    (tmp_path / "answers.yml").write_text(f"data: [{SE / 'Posts.csv'}, {SE / 'Comments.csv'}]\n"
                                          "columns: {posts: {event: null}}\njob: Historians get answers\n")
    result = run(["discover", "--answers", "answers.yml"], tmp_path)
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "northstar.yml").spec
    assert spec.north_star.customer_value == "Historians get answers"
    assert not [m for m in spec.metrics if m.startswith("post_type")]


# ---- the placeholder customer value ---------------------------------------------------------

SPEC = """\
project: P
sources: {events: {path: e.csv, timestamp: ts, entity: user_id}}
metrics: {active: {source: events, agg: count_distinct}}
north_star: {metric: active, grain: week, customer_value: "%s"}
"""


@pytest.mark.parametrize(("text", "placeholder"), [
    (f"Users get what they came for: posts {MARK}", True),
    (f"Customers get the job they hired the product for done {MARK}", True),
    ("Users get what they came for: next song", True),  # what discover wrote before the mark
    ("Customers get the job they hired the product for done", True),
    ("Listeners spend time with music they love", False),
    ("Historians get their questions answered by experts", False),
])
def test_placeholder_customer_value_is_an_error(text: str, placeholder: bool) -> None:
    assert is_placeholder(text) == placeholder
    report = run_checks(Project(parse_spec(SPEC % text)), data=False)
    found = [f for f in report.findings if f.rule == "placeholder-customer-value"]
    assert [f.severity for f in found] == (["error"] if placeholder else [])


def test_discover_yes_writes_the_placeholder_and_check_reports_it(tmp_path: Path) -> None:
    result = run(["discover", "--yes", "--data", str(SE / "Comments.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    spec_path = tmp_path / "northstar.yml"
    assert is_placeholder(load_spec(spec_path).spec.north_star.customer_value)
    assert "placeholder-customer-value" in result.stdout and "1 error(s)" in result.stdout
    spec_path.write_text(spec_path.read_text().replace(
        load_spec(spec_path).spec.north_star.customer_value or "", "Historians get answers from peers"))
    report = run_checks(Project.load(spec_path), data=False)
    assert not [f for f in report.findings if f.rule == "placeholder-customer-value"]


# ---- the guesses, on column statistics --------------------------------------------------------

def col(name: str, kind: str, distinct: int, non_null: int) -> Column:
    return Column(name, kind, distinct, non_null)


def test_ids_entities_and_row_keys() -> None:
    posts = {c.name: c for c in [col("Id", "integer", 2277, 2277), col("OwnerUserId", "integer", 399, 2197),
                                 col("LastEditorUserId", "integer", 126, 1111), col("ParentId", "integer", 694, 1459)]}
    assert guess_key(posts, 2277, "posts") == "Id"
    assert guess_entity(posts, 2277, {"Id"}) == "OwnerUserId"
    for name in ("UserId", "user_id", "customer_id", "customer_unique_id", "userId", "AccountId"):
        columns = {"Id": col("Id", "integer", 500, 500), name: col(name, "string", 40, 490)}
        assert guess_key(columns, 500) == "Id"
        assert guess_entity(columns, 500, {"Id"}) == name
    orders = {c.name: c for c in [col("order_id", "string", 99, 99), col("customer_id", "string", 99, 99)]}
    assert guess_key(orders, 99, "orders") == "order_id"
    assert guess_entity(orders, 99, {"order_id"}) is None  # unique per row: it cannot tell returning customers


def test_timestamp_by_null_share_and_name() -> None:
    columns = {c.name: c for c in [col("CommunityOwnedDate", "temporal", 30, 30), col("LastActivityDate", "temporal",
               1711, 2277), col("CreationDate", "temporal", 2251, 2277), col("ClosedDate", "temporal", 8, 8),
               col("LastEditDate", "temporal", 689, 1134)]}
    assert guess_timestamp(columns, 2277).column == "CreationDate"
    users = {c.name: c for c in [col("LastAccessDate", "temporal", 3839, 3839), col("CreationDate", "temporal",
             3838, 3839)]}
    assert guess_timestamp(users, 3839).column == "CreationDate"


# property: whatever the columns, the timestamp is (almost) never null when such a column exists,
# never under half filled, and the event is never a mostly-null or person-naming column
TIME_NAMES = ["CreationDate", "created_at", "ts", "LastAccessDate", "ClosedDate", "CommunityOwnedDate", "Date",
              "LastEditDate", "event_time", "updated_at"]
EVENT_NAMES = ["PostTypeId", "event", "page", "OwnerDisplayName", "Name", "VoteTypeId", "action", "status",
               "DisplayName", "Score"]


@settings(max_examples=300, deadline=None)
@given(rows_=st.integers(20, 5000), data=st.data())
def test_guesses_respect_null_shares(rows_: int, data: st.DataObject) -> None:
    times = data.draw(st.lists(st.sampled_from(TIME_NAMES), min_size=1, max_size=5, unique=True))
    events = data.draw(st.lists(st.sampled_from(EVENT_NAMES), min_size=0, max_size=4, unique=True))
    columns: dict[str, Column] = {}
    for name in times:
        filled = data.draw(st.integers(0, rows_))
        columns[name] = col(name, "temporal", max(1, filled // 2), filled)
    for name in events:
        filled = data.draw(st.integers(0, rows_))
        distinct = data.draw(st.integers(1, 60))
        columns[name] = col(name, data.draw(st.sampled_from(["string", "integer"])), min(distinct, max(filled, 1)),
                            filled)
    guess = guess_timestamp(columns, rows_)
    best = max(c.non_null for n, c in columns.items() if n in times) / rows_
    if best < 0.5:
        assert guess.column is None
    else:  # a (almost) never-null column when there is one, else at least a half-filled one
        assert guess.column is not None and columns[guess.column].non_null / rows_ >= (0.95 if best >= 0.95 else 0.5)
    event = guess_event_column(columns, rows_, {guess.column} if guess.column else set())
    if event is not None:
        chosen = columns[event]
        assert chosen.non_null >= 0.9 * rows_ and chosen.non_null >= 5 * chosen.distinct
        assert event not in ("OwnerDisplayName", "DisplayName", "Score")


# property: contributors across two messy files equal the brute-force union per month
def _file(draw: st.DrawFn, who: str, extra: str) -> list[tuple[str, int | None]]:
    n = draw(st.integers(12, 60))
    pool = draw(st.integers(2, max(2, n // 3)))
    out = []
    for _ in range(n):
        day = dt.datetime(2020, 1, 1) + dt.timedelta(days=draw(st.integers(0, 540)), minutes=draw(st.integers(0, 1439)))
        uid = draw(st.one_of(st.integers(1, pool), st.just(None), st.just(-1)) if draw(st.booleans())
                   else st.integers(1, pool))
        out.append((day.isoformat(timespec="milliseconds"), uid))
    return out


@st.composite
def community(draw: st.DrawFn) -> tuple[list[tuple[str, int | None]], list[tuple[str, int | None]]]:
    posts, comments = _file(draw, "OwnerUserId", "PostTypeId"), _file(draw, "UserId", "PostId")
    for data in (posts, comments):  # an entity: two users at least, rarely null (under a tenth)
        data[0], data[1] = (data[0][0], 1), (data[1][0], 2)
        nulls = [i for i, (_t, u) in enumerate(data) if u is None]
        for i in nulls[len(data) // 10:]:
            data[i] = (data[i][0], 1)
    return posts, comments


def _write(path: Path, header: list[str], lines: list[list[object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in line] for line in lines])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(community())
def test_contributors_equal_the_brute_force_union(data: tuple[list, list]) -> None:
    posts, comments = data
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root / "Posts.csv", ["Id", "PostTypeId", "CreationDate", "OwnerUserId", "CommunityOwnedDate"],
               [[i + 1, 1 + i % 2, t, u, "2020-02-02T00:00:00.000" if i == 0 else None]
                for i, (t, u) in enumerate(posts)])
        _write(root / "Comments.csv", ["Id", "PostId", "CreationDate", "UserId"],
               [[i + 1, 1 + i % 5, t, u] for i, (t, u) in enumerate(comments)])
        spec = root / "northstar.yml"
        result = run_discover(spec, [str(root / "Posts.csv"), str(root / "Comments.csv")], NO_ANSWERS)
        assert result.decisions.north_star == "contributors"
        loaded = load_spec(spec).spec
        assert loaded.sources["posts"].timestamp == "CreationDate"
        seen: dict[dt.date, set[int]] = defaultdict(set)
        for t, u in posts + comments:
            if u is not None and u >= 0:
                seen[period_start(dt.date.fromisoformat(t[:10]), "month")].add(u)
        assert queried(spec, "contributors", "month") == {p: len(ids) for p, ids in seen.items()}


# property: sparse monthly data (2-15 contributors a month, empty months) gets a month grain,
# and a grain is only proposed when it is dense enough to read, or as the fallback
@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=14, max_size=48), st.integers(0, 2**32 - 1))
def test_sparse_monthly_data_gets_a_month_grain(per_month: list[int], seed: int) -> None:
    import random

    from northstar.discover.grain import MAX_EMPTY, MIN_TYPICAL, propose_grain
    from northstar.discover.profile import profile_data

    rng = random.Random(seed)
    per_month = [max(1, per_month[0]), *per_month[1:-1], max(1, per_month[-1])]  # a year or more of data
    lines = []
    for month, users in enumerate(per_month):
        start = dt.datetime(2019 + month // 12, month % 12 + 1, 1)
        for _ in range(users):
            for _ in range(rng.randint(1, 3)):  # a user's posts that month
                lines.append([start + dt.timedelta(days=rng.randint(0, 27), hours=rng.randint(0, 23)),
                              rng.randint(1, 40)])
    users = {u for _t, u in lines}
    # a user column with a different value on every row is rightly not taken as the entity
    # (entities.entity_notes): the property is about contributors who come back
    if len(users) < 2 or len(lines) < 10 or len(users) == len(lines):
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Posts.csv"
        _write(path, ["Id", "CreationDate", "UserId"],
               [[i + 1, t.isoformat(timespec="milliseconds"), u] for i, (t, u) in enumerate(sorted(lines))])
        profile = profile_data(str(path))
        choice = propose_grain(profile, {"source": "events", "agg": "count_distinct"})
    assert choice.grain == "month"
    week = next(f for f in choice.fits if f.grain == "week")
    seen: dict[dt.date, set[int]] = defaultdict(set)  # the weekly density, brute force
    for t, u in lines:
        seen[period_start(t.date(), "week")].add(u)
    first, last = min(seen), max(seen)
    counts = [len(seen.get(first + dt.timedelta(weeks=i), ())) for i in range((last - first).days // 7 + 1)]
    assert week.periods == len(counts)
    assert week.median == statistics.median(counts)
    assert week.empty == pytest.approx(counts.count(0) / len(counts))
    assert not week.dense and week.dense == (week.median >= MIN_TYPICAL and week.empty <= MAX_EMPTY)


# ---- Olist: a glob of nine different files ----------------------------------------------------

OLIST = DATASETS / "olist"


def test_olist_glob(tmp_path: Path) -> None:
    """Orders are the rows with their own id (customer_id is one per order: no entity, said);
    the items' prices are the revenue, tagged and never a driver; files without times are
    sources without `timestamp:`."""
    result = run(["discover", "--yes", "--data", str(OLIST / "*.csv")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "customer_id has a different value on every row (one per order)" in result.stdout
    spec_path = tmp_path / "northstar.yml"
    spec = load_spec(spec_path).spec
    orders = spec.sources["olist_orders_dataset"]
    assert (orders.timestamp, orders.entity, orders.key) == ("order_purchase_timestamp", None, "order_id")
    assert spec.sources["olist_customers_dataset"].timestamp is None
    assert spec.north_star.metric == "orders"
    revenue = spec.metrics["revenue"]
    assert (revenue.source, revenue.expr, revenue.tags) == ("olist_order_items_dataset", "price", ("revenue",))
    assert spec.funnel is not None and spec.funnel.revenue == "revenue"
    assert "revenue" not in {d.metric for node in spec.north_star.tree.values() for d in node.drivers}
    report = run_checks(Project.load(spec_path))
    assert [f.message for f in report.findings if f.evidence.get("exception")] == []
    expected: dict[dt.date, int] = defaultdict(int)
    with (OLIST / "olist_orders_dataset.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            expected[period(r["order_purchase_timestamp"], "month")] += 1
    assert queried(spec_path, "orders", "month") == dict(expected)
