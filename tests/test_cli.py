"""The `northstar` command line, run as a user runs it: a subprocess in a project folder.

The data is a small Sparkify-like JSON-lines file written here (ts in epoch ms, userId,
page, length, level); expected values are computed from the same rows with plain Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SPEC = """\
project: Tiny tunes
timezone: UTC

sources:
  events:
    path: data/events.jsonl
    timestamp: ts
    time_unit: ms
    entity: userId
    dimensions: [level]

metrics:
  listening_minutes:
    label: Listening minutes
    source: events
    where: page = 'NextSong'
    agg: sum
    expr: length / 60
  active_users:
    source: events
    where: page = 'NextSong'
    agg: count_distinct
  minutes_per_user:
    formula: listening_minutes / active_users
  upgrades:
    source: events
    where: page = 'Submit Upgrade'
    agg: count

north_star:
  metric: listening_minutes
  grain: week
  tree:
    listening_minutes:
      formula: active_users * minutes_per_user
      owner: Product
    active_users:
      owner: Growth
    minutes_per_user:
      owner: Content
      drivers:
        - {metric: upgrades, direction: up, lag: 1}
"""

START = dt.datetime(2018, 11, 1, tzinfo=dt.timezone.utc)  # a Thursday


def _events() -> list[dict]:
    """About 600 events over 25 days; logged-out events have an empty userId and no length."""
    rng = random.Random(20181101)
    users = [str(n) for n in range(1, 13)]
    out = []
    for _ in range(600):
        moment = START + dt.timedelta(seconds=rng.randrange(0, 25 * 86400))
        page = rng.choice(["NextSong"] * 6 + ["Home", "Login", "Submit Upgrade"])
        user = "" if page in ("Home", "Login") and rng.random() < 0.5 else rng.choice(users)
        out.append({
            "ts": int(moment.timestamp() * 1000),
            "userId": user,
            "page": page,
            "length": round(rng.uniform(90, 420), 5) if page == "NextSong" else None,
            "level": "paid" if int(user or 0) % 3 == 0 else "free",
        })
    out.sort(key=lambda e: e["ts"])
    return out


EVENTS = _events()


def _week(ts_ms: int) -> dt.date:
    day = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).date()
    return day - dt.timedelta(days=day.weekday())


def _weekly(by_level: bool = False) -> dict:
    weeks = sorted({_week(e["ts"]) for e in EVENTS})
    minutes: dict = defaultdict(float)
    users: dict = defaultdict(set)
    for e in EVENTS:
        if e["page"] == "NextSong":
            key = (_week(e["ts"]), e["level"]) if by_level else _week(e["ts"])
            minutes[key] += e["length"] / 60
            users[key].add(e["userId"])
    if by_level:
        return {(w, lv): minutes[(w, lv)] for w in weeks for lv in ("free", "paid")}
    return {w: {"listening_minutes": minutes[w], "active_users": len(users[w])} for w in weeks}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    with (tmp_path / "data" / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in EVENTS:
            handle.write(json.dumps(event) + "\n")
    (tmp_path / "northstar.yml").write_text(SPEC, encoding="utf-8")
    return tmp_path


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


def _line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based number of the first line equal to `needle` (after the line equal to `after`)."""
    lines = text.splitlines()
    start = lines.index(after) if after is not None else 0
    return lines.index(needle, start) + 1


def _one_error(result: subprocess.CompletedProcess[str], *, one_line: bool = True) -> str:
    """A failed command: non-zero exit, nothing on stdout, one `error:` line and no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert result.stderr.count("error:") == 1, result.stderr
    if one_line:
        assert len(lines) == 1, result.stderr
    return " ".join(lines)


# ---- validate ----------------------------------------------------------------------------

def test_validate_a_valid_spec(project_dir: Path) -> None:
    result = run(project_dir, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "northstar.yml: valid (4 metrics, 1 sources)"


def test_validate_reports_misspelt_tree_metrics_with_their_lines(project_dir: Path) -> None:
    bad = (SPEC.replace("    active_users:\n      owner: Growth", "    activ_users:\n      owner: Growth")
               .replace("{metric: upgrades,", "{metric: upgrade,")
               .replace("formula: active_users * minutes_per_user", "formula: active_users * minutes_per_usr"))
    (project_dir / "northstar.yml").write_text(bad, encoding="utf-8")
    result = run(project_dir, "validate")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr  # every problem at once, one line each
    node = _line_of(bad, "    activ_users:")
    driver = _line_of(bad, "        - {metric: upgrade, direction: up, lag: 1}")
    formula = _line_of(bad, "      formula: active_users * minutes_per_usr")
    by_line = {}
    for line in lines:
        assert line.startswith("error: northstar.yml:"), line
        by_line[int(line.split(":")[2])] = line
    assert set(by_line) == {node, driver, formula}
    assert "'activ_users'" in by_line[node] and "Did you mean 'active_users'?" in by_line[node]
    assert "'upgrade'" in by_line[driver] and "Did you mean 'upgrades'?" in by_line[driver]
    assert "'minutes_per_usr'" in by_line[formula] and "Did you mean 'minutes_per_user'?" in by_line[formula]


def test_validate_reports_data_problems_with_file_and_line(project_dir: Path) -> None:
    bad = SPEC.replace("expr: length / 60", "expr: page / 60")
    (project_dir / "northstar.yml").write_text(bad, encoding="utf-8")
    result = run(project_dir, "validate")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"northstar.yml:{_line_of(bad, '    expr: page / 60')}: ")
    assert "listening_minutes" in lines[0] and "page / 60" in lines[0]


def test_validate_no_data_does_not_read_the_data(project_dir: Path) -> None:
    (project_dir / "data" / "events.jsonl").unlink()
    assert run(project_dir, "validate", "--no-data").returncode == 0
    assert run(project_dir, "validate").returncode == 2


def test_spec_option_points_at_another_file(project_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = run(elsewhere, "-f", str(project_dir / "northstar.yml"), "query", "upgrades", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == len(_weekly())


# ---- query -------------------------------------------------------------------------------

def _status(week: dt.date) -> str:
    """Brute force: a week is partial when the data's first or last event falls inside it
    (the data starts on a Thursday; the last event's day closes the data)."""
    days = sorted(dt.datetime.fromtimestamp(e["ts"] / 1000, tz=dt.timezone.utc).date() for e in EVENTS)
    first, last = days[0], days[-1]
    return "partial" if first > week or last < week + dt.timedelta(days=6) else "complete"


def test_query_json(project_dir: Path) -> None:
    result = run(project_dir, "query", "listening_minutes", "active_users", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = _weekly()
    assert isinstance(rows, list)
    assert [r["period"] for r in rows] == [w.isoformat() for w in expected]
    for row in rows:
        assert list(row) == ["period", "period_status", "listening_minutes", "active_users"]
        assert row["period_status"] == _status(dt.date.fromisoformat(row["period"]))
        assert dt.date.fromisoformat(row["period"]).weekday() == 0
        want = expected[dt.date.fromisoformat(row["period"])]
        assert row["listening_minutes"] == pytest.approx(want["listening_minutes"], rel=1e-12)
        assert row["active_users"] == want["active_users"]
        assert isinstance(row["active_users"], int)


def test_query_csv(project_dir: Path) -> None:
    result = run(project_dir, "query", "listening_minutes", "minutes_per_user", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "period,period_status,listening_minutes,minutes_per_user"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = _weekly()
    assert [r["period"] for r in rows] == [w.isoformat() for w in expected]
    for row in rows:
        want = expected[dt.date.fromisoformat(row["period"])]
        assert float(row["listening_minutes"]) == pytest.approx(want["listening_minutes"], rel=1e-12)
        assert float(row["minutes_per_user"]) == pytest.approx(want["listening_minutes"] / want["active_users"])


def test_query_by_adds_the_dimension_after_period(project_dir: Path) -> None:
    expected = _weekly(by_level=True)
    result = run(project_dir, "query", "listening_minutes", "--by", "level", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "period,period_status,level,listening_minutes"
    got = {(dt.date.fromisoformat(r["period"]), r["level"]): float(r["listening_minutes"])
           for r in csv.DictReader(io.StringIO(result.stdout))}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9)
    rows = json.loads(run(project_dir, "query", "listening_minutes", "--by", "level", "--format", "json").stdout)
    assert all(list(r) == ["period", "period_status", "level", "listening_minutes"] for r in rows)
    assert len(rows) == len(expected)


def test_query_grain_from_and_to(project_dir: Path) -> None:
    result = run(project_dir, "query", "active_users", "--grain", "day", "--from", "2018-11-05",
                 "--to", "2018-11-07", "--format", "json")
    assert result.returncode == 0, result.stderr
    users: dict[dt.date, set[str]] = defaultdict(set)
    for e in EVENTS:
        if e["page"] == "NextSong":
            users[dt.datetime.fromtimestamp(e["ts"] / 1000, tz=dt.timezone.utc).date()].add(e["userId"])
    rows = json.loads(result.stdout)
    days = [dt.date(2018, 11, d) for d in (5, 6, 7)]
    assert [r["period"] for r in rows] == [d.isoformat() for d in days]
    assert [r["active_users"] for r in rows] == [len(users[d]) for d in days]


def test_query_table(project_dir: Path) -> None:
    result = run(project_dir, "query", "active_users", "upgrades")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    header = next(line for line in result.stdout.splitlines() if "period" in line)
    assert header.index("period") < header.index("active_users") < header.index("upgrades")
    for week, values in _weekly().items():
        line = next(line for line in result.stdout.splitlines() if week.isoformat() in line)
        assert str(values["active_users"]) in line


# ---- tree --------------------------------------------------------------------------------

def test_tree_json(project_dir: Path) -> None:
    result = run(project_dir, "tree", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    last_day = dt.datetime.fromtimestamp(EVENTS[-1]["ts"] / 1000, tz=dt.timezone.utc).date()
    week = last_day - dt.timedelta(days=last_day.weekday())
    if last_day < week + dt.timedelta(days=6):
        week -= dt.timedelta(days=7)  # the last week is incomplete
    expected = _weekly()
    previous = week - dt.timedelta(days=7)
    assert report["period"] == week.isoformat()
    assert report["previous_period"] == previous.isoformat()
    assert report["grain"] == "week" and report["north_star"] == "listening_minutes"
    root = report["root"]
    assert root["metric"] == "listening_minutes" and root["owner"] == "Product"
    assert root["value"] == pytest.approx(expected[week]["listening_minutes"])
    assert root["previous"] == pytest.approx(expected[previous]["listening_minutes"])
    children = {c["metric"]: c for c in root["children"]}
    assert set(children) == {"active_users", "minutes_per_user"}
    assert children["active_users"]["value"] == expected[week]["active_users"]
    assert children["active_users"]["owner"] == "Growth"
    driver = children["minutes_per_user"]["children"][0]
    assert driver["metric"] == "upgrades" and driver["link"] == "driver" and driver["lag"] == 1


def test_tree_for_a_chosen_period(project_dir: Path) -> None:
    result = run(project_dir, "tree", "--period", "2018-11-08", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["period"] == "2018-11-05"
    assert report["root"]["value"] == pytest.approx(_weekly()[dt.date(2018, 11, 5)]["listening_minutes"])


# ---- bad input: one clear line, no traceback -------------------------------------------------

def _rewrite(project_dir: Path, old: str, new: str) -> None:
    spec = project_dir / "northstar.yml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new), encoding="utf-8")


def test_missing_spec_file(tmp_path: Path) -> None:
    for args in (["validate"], ["query", "x"], ["tree"]):
        result = run(tmp_path, *args)
        message = _one_error(result)
        assert result.returncode == 2
        assert "spec file not found" in message and "northstar.yml" in message


def test_missing_data_file(project_dir: Path) -> None:
    (project_dir / "data" / "events.jsonl").unlink()
    result = run(project_dir, "query", "listening_minutes")
    message = _one_error(result)
    assert result.returncode == 1
    assert "data file not found" in message and "data/events.jsonl" in message
    # validate names the spec line of the source's path
    result = run(project_dir, "validate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"northstar.yml:{_line_of(SPEC, '    path: data/events.jsonl')}: ")


def test_empty_data_file(project_dir: Path) -> None:
    (project_dir / "data" / "events.jsonl").write_text("")
    for args in (["query", "listening_minutes"], ["tree"]):
        result = run(project_dir, *args)
        message = _one_error(result)
        assert "empty" in message, message
    result = run(project_dir, "validate")
    assert result.returncode == 2 and "empty" in result.stderr and "Traceback" not in result.stderr


def test_expression_on_a_column_of_the_wrong_type(project_dir: Path) -> None:
    _rewrite(project_dir, "expr: length / 60", "expr: page / 60")
    result = run(project_dir, "query", "listening_minutes")
    message = _one_error(result)
    assert "listening_minutes" in message and "events" in message


def test_time_unit_on_a_string_column(project_dir: Path) -> None:
    _rewrite(project_dir, "timestamp: ts\n", "timestamp: page\n")
    result = run(project_dir, "query", "listening_minutes")
    # see test_long_errors_stay_on_one_line: this message is longer than the console width
    message = _one_error(result, one_line=False)
    assert "page" in message
    validate = run(project_dir, "validate")
    assert validate.returncode == 2 and "Traceback" not in validate.stderr
    assert "time_unit" in validate.stderr


CSV_SPEC = """\
project: CSV events
sources:
  events:
    path: events.csv
    timestamp: happened_at
    entity: user
metrics:
  plays:
    source: events
    where: page = 'NextSong'
    agg: count
north_star:
  metric: plays
  grain: day
"""


def test_unparsable_timestamps_in_a_csv(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("happened_at,user,page\n2018-11-01 10:00:00,a,NextSong\n"
                                         "yesterday noon,b,NextSong\n2018-11-02 09:30:00,c,Home\n")
    (tmp_path / "northstar.yml").write_text(CSV_SPEC)
    result = run(tmp_path, "validate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"northstar.yml:{_line_of(CSV_SPEC, '    timestamp: happened_at')}: ")
    assert "yesterday noon" in lines[0] and "happened_at" in lines[0]
    for args in (["query", "plays"], ["tree"]):
        result = run(tmp_path, *args)
        message = _one_error(result, one_line=False)  # see test_long_errors_stay_on_one_line
        assert result.returncode == 1
        assert "happened_at" in message and "yesterday noon" in message


def test_unknown_metric_on_the_command_line(project_dir: Path) -> None:
    result = run(project_dir, "query", "listening_minutes", "activ_users")
    message = _one_error(result)
    assert result.returncode == 2
    assert "unknown metric 'activ_users'" in message and "Did you mean 'active_users'?" in message


def test_unknown_by_dimension(project_dir: Path) -> None:
    result = run(project_dir, "query", "listening_minutes", "--by", "levl")
    message = _one_error(result)
    assert result.returncode == 2
    assert "'levl'" in message and "Did you mean 'level'?" in message
    message = _one_error(run(project_dir, "query", "listening_minutes", "--by", "page"))
    assert "'page'" in message and "level" in message  # a column, but not a declared dimension


@pytest.mark.parametrize("option, value", [("--from", "2018-13-01"), ("--from", "last week"), ("--to", "11/30/2018")])
def test_bad_dates(project_dir: Path, option: str, value: str) -> None:
    result = run(project_dir, "query", "listening_minutes", option, value)
    message = _one_error(result)
    assert result.returncode == 2
    assert option in message and value in message and "YYYY-MM-DD" in message


def test_from_after_to_and_bad_where(project_dir: Path) -> None:
    message = _one_error(run(project_dir, "query", "upgrades", "--from", "2018-11-20", "--to", "2018-11-01"))
    assert "--from" in message and "--to" in message
    message = _one_error(run(project_dir, "query", "upgrades", "--where", "levle = 'paid'"))
    assert "levle" in message and "Did you mean 'level'?" in message


def test_debug_shows_the_traceback(project_dir: Path) -> None:
    result = run(project_dir, "--debug", "query", "activ_users")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "QueryError" in result.stderr
    assert "error: unknown metric 'activ_users'" in result.stderr
    (project_dir / "data" / "events.jsonl").unlink()
    result = run(project_dir, "--debug", "query", "upgrades")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr and "DataError" in result.stderr


# ---- init writes whole files or nothing ------------------------------------------------------

def test_init_does_not_overwrite_an_existing_spec(project_dir: Path) -> None:
    spec = project_dir / "northstar.yml"
    before = spec.read_bytes()
    listing = sorted(p.name for p in project_dir.iterdir())
    result = run(project_dir, "init", "--template", "marketplace")
    message = _one_error(result)
    assert result.returncode == 2
    assert "--force" in message and "northstar.yml" in message
    assert spec.read_bytes() == before
    assert sorted(p.name for p in project_dir.iterdir()) == listing  # no temporary file left


def test_init_unknown_template_writes_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, "init", "--template", "marketplac")
    message = _one_error(result)
    assert "Did you mean 'marketplace'?" in message
    assert list(tmp_path.iterdir()) == []


def test_init_writes_a_valid_spec_and_force_overwrites(project_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    empty = tmp_path_factory.mktemp("init")
    result = run(empty, "init", "--template", "marketplace")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in empty.iterdir()] == ["northstar.yml"]
    assert "MARKETPLACE" in (empty / "northstar.yml").read_text()
    assert run(empty, "validate", "--no-data").returncode == 0
    result = run(project_dir, "init", "--template", "ecommerce", "--force")
    assert result.returncode == 0, result.stderr
    assert "E-COMMERCE" in (project_dir / "northstar.yml").read_text()
    assert sorted(p.name for p in project_dir.iterdir()) == ["data", "northstar.yml"]


# ---- known product bugs ------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["time_unit_on_string", "unparsable_csv", "long_spec_path"])
def test_long_errors_stay_on_one_line(tmp_path: Path, case: str) -> None:
    if case == "time_unit_on_string":
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
        (tmp_path / "northstar.yml").write_text(SPEC.replace("timestamp: ts\n", "timestamp: page\n"))
        result = run(tmp_path, "query", "listening_minutes")
    elif case == "unparsable_csv":
        (tmp_path / "events.csv").write_text("happened_at,user,page\n2018-11-01 10:00:00,a,NextSong\n"
                                             "yesterday noon,b,NextSong\n")
        (tmp_path / "northstar.yml").write_text(CSV_SPEC)
        result = run(tmp_path, "query", "plays")
    else:
        result = run(tmp_path, "-f", "a-rather-long-folder-name-for-the-project/" * 5 + "northstar.yml", "validate")
    _one_error(result, one_line=True)


def test_time_unit_on_a_timestamp_column_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text("happened_at,user,page\n2018-11-01 10:00:00,a,NextSong\n"
                                         "2018-11-02 09:30:00,c,Home\n")
    (tmp_path / "northstar.yml").write_text(CSV_SPEC.replace("entity: user\n", "entity: user\n    time_unit: ms\n"))
    assert "time_unit" in run(tmp_path, "validate").stderr  # validate does say it
    message = _one_error(run(tmp_path, "query", "plays"))
    assert "unexpected" not in message and "time_unit" in message


def test_init_writes_a_file_with_normal_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    if mask & 0o044 == 0o044:
        pytest.skip("the umask already keeps new files private")
    reference = tmp_path / "reference.txt"
    reference.write_text("x")
    result = run(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "northstar.yml").stat().st_mode & 0o777 == reference.stat().st_mode & 0o777


def test_query_outside_the_data_is_an_error_not_a_bare_header(project_dir: Path) -> None:
    result = run(project_dir, "query", "listening_minutes", "--from", "2030-01-01", "--format", "csv")
    assert result.returncode != 0 and result.stdout == ""
    assert "no period from 2030-01-01 to the end has data: the data covers 2018-11-01 to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
