"""Incremental refresh (issue 14): what is recomputed after new data, `late_data` for engine
tables, `northstar refresh`, and stored results that stay right when two processes refresh at
once or a refresh is killed midway. (That incremental answers equal full recomputes for random
data and specs: test_incremental.py.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from northstar import Project

START = dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc)  # a Monday
METRICS = ["plays", "listeners", "minutes", "retained", "converted", "per_listener", "everyone"]


def events(weeks: range, seed: int, per_week: int = 400) -> pa.Table:
    rng = random.Random(seed)
    rows: dict[str, list] = {"ts": [], "user": [], "event": [], "country": [], "seconds": []}
    for week in weeks:
        for _ in range(per_week):
            rows["ts"].append(START + dt.timedelta(weeks=week, seconds=rng.randrange(7 * 86400)))
            rows["user"].append(f"u{rng.randrange(150)}")
            rows["event"].append(rng.choice(["play", "play", "trial", "buy"]))
            rows["country"].append(rng.choice(["NL", "DE", None]))
            rows["seconds"].append(rng.randrange(10, 400))
    return pa.table({"ts": pa.array(rows["ts"], pa.timestamp("us", tz="UTC")), "user": rows["user"],
                     "event": rows["event"], "country": rows["country"], "seconds": rows["seconds"]})


def spec(source: dict, cache: bool = True) -> str:
    return json.dumps({
        "project": "Refresh", "timezone": "Europe/Amsterdam", "engine": {"cache": cache},
        "sources": {"events": {"timestamp": "ts", "entity": "user", "dimensions": ["country"], **source}},
        "metrics": {
            "plays": {"source": "events", "where": "event = 'play'", "agg": "count"},
            "listeners": {"source": "events", "where": "event = 'play'", "agg": "count_distinct"},
            "minutes": {"source": "events", "agg": "sum", "expr": "seconds / 60"},
            "retained": {"type": "retention", "source": "events", "where": "event = 'play'"},
            "converted": {"type": "conversion", "source": "events", "from": "event = 'trial'",
                          "to": "event = 'buy'", "within": "3d"},
            "everyone": {"source": "events", "agg": "count_distinct", "cumulative": True},
            "per_listener": {"formula": "minutes / listeners"},
        },
        "north_star": {"metric": "minutes", "grain": "week"},
    })


def project_in(folder: Path, source: dict | None = None, cache: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "northstar.yml").write_text(spec(source or {"path": "data/*.parquet"}, cache))
    return folder / "northstar.yml"


def full_recompute(folder: Path, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """The same query on the same files with nothing stored."""
    other = folder.parent / f"{folder.name}-full"
    other.mkdir(exist_ok=True)
    text = (folder / "northstar.yml").read_text().replace('"cache": true', '"cache": false')
    (other / "northstar.yml").write_text(text.replace('"data/', f'"{folder}/data/'))
    return Project.load(other / "northstar.yml").query(METRICS, by=list(by))


def assert_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    (folder / "data").mkdir(parents=True)
    pq.write_table(events(range(0, 10), seed=1), folder / "data" / "part-0.parquet")
    pq.write_table(events(range(10, 20), seed=2), folder / "data" / "part-1.parquet")
    project_in(folder)
    return folder


def scans(folder: Path, by: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[tuple[str, dt.date, dt.date]]]:
    project = Project.load(folder / "northstar.yml")
    frame = project.query(METRICS, by=list(by))
    return frame, list(project.engine.scanned)


def test_a_new_file_recomputes_only_the_periods_it_touches(shop: Path) -> None:
    first, scanned = scans(shop, ("country",))
    assert scanned and scanned[0][1] <= dt.date(2025, 1, 6)  # the first answer computes everything
    again, scanned = scans(shop, ("country",))
    assert scanned == [] and again.equals(first)  # nothing changed: nothing scanned
    pq.write_table(events(range(20, 21), seed=3), shop / "data" / "part-2.parquet")  # one more week
    now, scanned = scans(shop, ("country",))
    # the new week, the week before it (the file's range is widened by two days, and a
    # conversion looks back by its window), and the running distinct count from there on
    assert [s[0] for s in scanned] == ["events"]
    assert scanned[0][1] >= dt.date(2025, 5, 12), scanned
    assert_equal(now, full_recompute(shop, ("country",)))


def test_late_events_three_weeks_back_recompute_their_periods(shop: Path) -> None:
    scans(shop)
    pq.write_table(events(range(16, 17), seed=4, per_week=50), shop / "data" / "late.parquet")
    now, scanned = scans(shop)
    assert scanned and scanned[0][1] >= dt.date(2025, 4, 14), scanned  # not the first 15 weeks
    assert_equal(now, full_recompute(shop))


def test_a_replaced_and_a_removed_file(shop: Path) -> None:
    scans(shop)
    tmp = shop / "data" / ".new"
    pq.write_table(events(range(3, 5), seed=9), tmp)
    os.replace(tmp, shop / "data" / "part-0.parquet")  # weeks 0-9 replaced by weeks 3-4
    assert_equal(scans(shop)[0], full_recompute(shop))
    (shop / "data" / "part-1.parquet").unlink()
    assert_equal(scans(shop)[0], full_recompute(shop))


def test_a_table_source_with_a_look_back(tmp_path: Path) -> None:
    """`late_data: 3d` on a table: older periods are kept, the last days recomputed each time;
    without it the table is computed in full every time, and refresh says so."""
    folder = tmp_path / "warehouse"
    folder.mkdir()
    database = folder / "events.duckdb"
    with duckdb.connect(str(database)) as con:
        con.register("rows", events(range(0, 12), seed=5))
        con.execute("CREATE TABLE events AS SELECT * FROM rows")
    text = spec({"table": "events", "late_data": "3d"}).replace('"cache": true', f'"cache": true, "database": "{database}"')
    (folder / "northstar.yml").write_text(text)
    first, _ = scans(folder)
    with duckdb.connect(str(database)) as con:  # late rows in the last two days, and a new week
        con.register("more", events(range(12, 13), seed=6))
        con.execute("INSERT INTO events SELECT * FROM more")
    now, scanned = scans(folder)
    assert scanned and scanned[0][1] >= dt.date(2025, 3, 10), scanned
    full = folder.parent / "full"
    full.mkdir()
    (full / "northstar.yml").write_text(text.replace('"cache": true', '"cache": false'))
    assert_equal(now, Project.load(full / "northstar.yml").query(METRICS))
    report = Project.load(full / "northstar.yml").refresh()
    assert report.recomputed == ()  # caching off: nothing stored, nothing to say
    no_rule = folder.parent / "no-rule"
    no_rule.mkdir()
    (no_rule / "northstar.yml").write_text(text.replace(', "late_data": "3d"', ""))
    said = Project.load(no_rule / "northstar.yml").refresh().recomputed
    assert said and "events" in said[0] and "late_data" in said[0]


def run_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=folder, capture_output=True,
                          text=True, timeout=600)


def test_refresh_command(shop: Path) -> None:
    done = run_cli(shop, "refresh")
    assert done.returncode == 0, done.stderr
    assert "only what changed computed" in done.stdout and "scanned events" in done.stdout
    assert done.stderr == ""  # no progress bar on a pipe
    again = json.loads(run_cli(shop, "refresh", "--format", "json").stdout)
    assert again["scanned"] == [] and again["review"].startswith("week of")
    since = json.loads(run_cli(shop, "refresh", "--since", "2025-04-01", "--format", "json").stdout)
    assert since["scanned"] and min(s["first"] for s in since["scanned"]) >= "2025-03-24", since["scanned"]
    full = json.loads(run_cli(shop, "refresh", "--full", "--format", "json").stdout)
    assert min(s["first"] for s in full["scanned"]) <= "2025-01-06"
    bad = run_cli(shop, "refresh", "--since", "soon")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --since: 'soon' is not a date; write YYYY-MM-DD"


def _stored(folder: Path) -> list[Path]:
    return sorted((folder / ".northstar" / "parts").glob("*.result"))


def test_two_processes_refreshing_at_once_and_a_killed_refresh(shop: Path) -> None:
    scans(shop)
    pq.write_table(events(range(20, 22), seed=7), shop / "data" / "part-2.parquet")
    both = [subprocess.Popen([sys.executable, "-m", "northstar.cli", "refresh"], cwd=shop,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in both:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    for by in ((), ("country",)):
        assert_equal(scans(shop, by)[0], full_recompute(shop, by))
    # killed at several moments of a refresh over new data: what is stored stays right
    for n, delay in enumerate((0.5, 1.5, 3.0)):
        pq.write_table(events(range(22 + n, 23 + n), seed=20 + n), shop / "data" / f"kill-{n}.parquet")
        process = subprocess.Popen([sys.executable, "-m", "northstar.cli", "refresh"], cwd=shop,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        for by in ((), ("country",)):
            assert_equal(scans(shop, by)[0], full_recompute(shop, by))
    assert _stored(shop)
    leftovers = [p for p in (shop / ".northstar" / "parts").iterdir() if p.name.startswith(".")]
    assert all(p.stat().st_size >= 0 for p in leftovers)  # a killed writer's temporary file, never an entry


def test_a_progress_bar_on_a_terminal_only(shop: Path) -> None:
    """On a terminal (a pseudo-terminal here) `refresh` draws its progress; on a pipe nothing
    (test_refresh_command: stderr empty)."""
    import pty
    import select

    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "northstar.cli", "refresh"], cwd=shop, stdin=child,
                               stdout=child, stderr=child, env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    os.close(child)
    seen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=600)
    os.close(main)
    text = seen.decode(errors="replace")
    assert process.returncode == 0, text
    # the bar and the step it is at (which steps are drawn depends on their speed: 10 frames a second)
    assert "refreshing" in text and "━" in text and "/5" in text, text
    assert "only what changed computed" in text


def test_a_check_report_is_kept_for_the_same_data_and_day(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check`, the overview and the digest of one day's data share one report: the second
    reads it back whole (findings, evidence, types), new data computes it again."""
    import northstar.checks as checks

    first = Project.load(shop / "northstar.yml").check()
    assert first.findings
    real = checks.run_checks
    calls: list[int] = []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(checks, "run_checks", counted)
    again = Project.load(shop / "northstar.yml").check()
    assert calls == [] and again == first  # read back, equal dataclass by dataclass
    assert json.dumps(again.to_dict(), default=str) == json.dumps(first.to_dict(), default=str)  # and in order
    pq.write_table(events(range(20, 21), seed=3), shop / "data" / "part-2.parquet")
    Project.load(shop / "northstar.yml").check()
    assert calls == [1]
    Project.load(shop / "northstar.yml").check(only=("funnel-coverage",))  # another selection: its own report
    assert calls == [1, 1]


def test_a_sql_source_over_files_is_recomputed_when_they_change(shop: Path) -> None:
    """A `sql:` source may move any row anywhere: a change to the files it reads recomputes it
    in full (no `late_data`), and its numbers equal a full recompute."""
    text = json.loads((shop / "northstar.yml").read_text())
    text["sources"]["plays"] = {"sql": "SELECT ts, user, seconds FROM events WHERE event = 'play'",
                                "timestamp": "ts", "entity": "user"}
    text["metrics"]["play_minutes"] = {"source": "plays", "agg": "sum", "expr": "seconds / 60"}
    text["metrics"]["players"] = {"source": "plays", "agg": "count_distinct"}
    (shop / "northstar.yml").write_text(json.dumps(text))

    def answer(folder: Path) -> tuple[pd.DataFrame, list]:
        project = Project.load(folder / "northstar.yml")
        return project.query(["play_minutes", "players", "minutes"]), project.engine.scanned

    answer(shop)
    assert answer(shop)[1] == []
    pq.write_table(events(range(20, 21), seed=3), shop / "data" / "part-2.parquet")
    now, scanned = answer(shop)
    plays = [s for s in scanned if s[0] == "plays"]
    assert plays and plays[0][1] == dt.date(2025, 1, 6)  # from the start: in full
    assert [s for s in scanned if s[0] == "events"][0][1] >= dt.date(2025, 5, 12)  # the files: incrementally
    full = shop.parent / "full-sql"
    full.mkdir()
    text["engine"]["cache"] = False
    text["sources"]["events"]["path"] = str(shop / "data" / "*.parquet")
    (full / "northstar.yml").write_text(json.dumps(text))
    assert_equal(now, answer(full)[0])


def _checked(folder: Path) -> tuple[dict, list[tuple[str, dt.date, dt.date]]]:
    project = Project.load(folder / "northstar.yml")
    return project.check().to_dict(), list(project.engine.scanned)


def _full_check(folder: Path) -> dict:
    other = folder.parent / f"{folder.name}-full-check"
    other.mkdir(exist_ok=True)
    text = (folder / "northstar.yml").read_text().replace('"cache": true', '"cache": false')
    (other / "northstar.yml").write_text(text.replace('"data/', f'"{folder}/data/'))
    return Project.load(other / "northstar.yml").check().to_dict()


def test_the_checks_raw_scans_are_kept_and_equal_a_full_recompute(shop: Path) -> None:
    """The data rules' own questions (repeats per period, reach over the window, which
    dimensions describe customers) are kept like the metric parts: events appended to the
    current period scan nothing from the start of the data, late events recompute what they
    touch, and the report equals one computed with nothing stored."""
    text = json.loads((shop / "northstar.yml").read_text())
    text["metrics"]["plays"]["where"] = "event = 'play' OR event = 'trial'"
    text["north_star"] = {"metric": "plays", "grain": "week"}  # a count: every data rule applies
    (shop / "northstar.yml").write_text(json.dumps(text))
    report, scanned = _checked(shop)
    assert {"duplicate-inflation", "not-for-all-customers"} <= set(report["rules_run"])
    assert not any(f["rule"] == "check-error" for f in report["findings"])
    assert any(s[1] == dt.date(2025, 1, 6) for s in scanned)  # cold: from the start
    def days(first: int, count: int, seed: int) -> pa.Table:  # events on days first.. of week 20, UTC
        table = events(range(0, 1), seed=seed, per_week=60)
        moved = [START + dt.timedelta(weeks=20, days=first) + dt.timedelta(seconds=(t - START).total_seconds()
                                                                           % (count * 86400 - 7200))
                 for t in table["ts"].to_pylist()]
        return table.set_column(0, "ts", pa.array(moved, pa.timestamp("us", tz="UTC")))

    pq.write_table(days(0, 2, seed=11), shop / "data" / "part-2.parquet")  # Monday and Tuesday of a new week
    _checked(shop)
    pq.write_table(days(2, 1, seed=12), shop / "data" / "part-3.parquet")  # then Wednesday: the current week
    report, scanned = _checked(shop)
    assert scanned and not any(s[1] == dt.date(2025, 1, 6) for s in scanned), scanned
    assert json.dumps(report, sort_keys=True, default=str) == json.dumps(_full_check(shop), sort_keys=True, default=str)
    pq.write_table(events(range(16, 17), seed=4, per_week=60), shop / "data" / "late.parquet")  # three weeks back
    report, scanned = _checked(shop)
    assert json.dumps(report, sort_keys=True, default=str) == json.dumps(_full_check(shop), sort_keys=True, default=str)


def test_explain_after_new_data_reads_what_is_kept(shop: Path) -> None:
    """Explaining a period again after data arrived later reads the kept parts, the kept segment
    splits and the kept ids behind a sum: nothing before the new file is scanned, and the answer
    equals one computed with nothing stored."""
    period = "2025-03-03"
    first = Project.load(shop / "northstar.yml").explain(period=period).to_dict()
    pq.write_table(events(range(20, 21), seed=3), shop / "data" / "part-2.parquet")
    project = Project.load(shop / "northstar.yml")
    again = project.explain(period=period).to_dict()
    assert all(lo >= dt.date(2025, 5, 12) for _source, lo, _hi in project.engine.scanned), project.engine.scanned
    other = shop.parent / "shop-full"
    other.mkdir()
    text = (shop / "northstar.yml").read_text().replace('"cache": true', '"cache": false')
    (other / "northstar.yml").write_text(text.replace('"data/', f'"{shop}/data/'))
    assert again == Project.load(other / "northstar.yml").explain(period=period).to_dict()
    assert again["period"] == first["period"]
