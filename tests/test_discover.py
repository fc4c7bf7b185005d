"""`northstar discover`: the 9 steps from an answers file, with --yes, and in a real terminal.

Runs the command as a user does (a subprocess; pexpect for the interactive guide) on the
Sparkify events and on generated demo data. The written spec must load, its North Star
must compute the numbers the raw rows give (computed here in plain Python), and an update
must keep the user's comments and metrics.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pexpect
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from northstar.checks import run_checks
from northstar.checks.render import print_report
from northstar.demo import generate_demo
from northstar.project import Project
from northstar.spec.load import load_spec
from northstar.spec.model import GRAINS

NORTHSTAR = str(Path(sys.executable).with_name("northstar"))

SPARKIFY_ANSWERS = """\
# Answers for the Sparkify events
data: data/events.jsonl
project: Sparkify
job: Listen to music they love
end_result: NextSong
segments_ok: true
north_star: next_song_minutes
grain: week
external: []
revenue: revenue
funnel:
  acquisition: null
  referral: null
change_frequency: Only when we change what the product offers
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([NORTHSTAR, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def check_summary(spec: Path) -> str:
    """The summary line `northstar check` prints for a spec (computed in this process)."""
    out = io.StringIO()
    print_report(Console(file=out, width=250, no_color=True), run_checks(Project.load(spec)))
    return next(line for line in out.getvalue().splitlines() if "North Star '" in line)


def sparkify_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def iso_week(ms: int) -> dt.date:
    day = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date()
    return day - dt.timedelta(days=day.weekday())


# ---- non-interactive: answers file, --yes ------------------------------------------------------

def test_answers_file_writes_a_spec_whose_north_star_computes(sparkify_dir: Path) -> None:
    (sparkify_dir / "answers.yml").write_text(SPARKIFY_ANSWERS)
    spec = sparkify_dir / "discovered.yml"
    result = run(["-f", str(spec), "discover", "--answers", "answers.yml"], sparkify_dir)
    assert result.returncode == 0, result.stderr
    assert f"wrote {spec}: North Star 'next_song_minutes' per week" in result.stdout
    assert check_summary(spec) in result.stdout  # discover ends with `check`

    loaded = load_spec(spec).spec
    assert loaded.project == "Sparkify"
    assert loaded.north_star.metric == "next_song_minutes"
    assert loaded.north_star.grain == "week"
    assert loaded.north_star.customer_value == "Listen to music they love"
    source = loaded.sources["events"]
    assert (source.path, source.timestamp, source.time_unit, source.entity) == \
        ("data/events.jsonl", "ts", "ms", "userId")
    assert loaded.metrics["revenue"].tags == ("revenue",)
    assert loaded.funnel is not None and loaded.funnel.retention == "user_retention"
    assert loaded.metrics["user_retention"].type == "retention"
    assert not loaded.checks.external_dimensions  # none answered: nothing written
    assert loaded.north_star.tree["next_song_minutes"].formula == "next_song_users * next_song_minutes_per_user"
    text = spec.read_text()
    assert "# How often the North Star changes (discover, step 9): Only when we change what the product offers" in text

    frame = Project.load(spec).query(["next_song_minutes", "next_song_users"], grain="week")
    rows = [r for r in sparkify_rows(sparkify_dir / "data" / "events.jsonl") if r["page"] == "NextSong"]
    assert frame["next_song_minutes"].sum() == pytest.approx(sum(r["length"] for r in rows) / 60)
    users: dict[dt.date, set[str]] = defaultdict(set)
    for r in rows:
        users[iso_week(r["ts"])].add(r["userId"])
    got = {dt.date.fromisoformat(str(p)[:10]): int(v) for p, v in zip(frame["period"], frame["next_song_users"])}
    assert got == {week: len(ids) for week, ids in users.items()}


def test_yes_accepts_every_proposal(sparkify_dir: Path) -> None:
    spec = sparkify_dir / "new.yml"
    result = run(["-f", "new.yml", "discover", "--yes", "--data", "data/events.jsonl"], sparkify_dir)
    assert result.returncode == 0, result.stderr
    loaded = load_spec(spec).spec
    assert loaded.north_star.metric == "next_song_minutes"  # the duration of the most frequent event
    metric = loaded.metrics["next_song_minutes"]
    assert (metric.where, metric.agg, metric.expr) == ("page = 'NextSong'", "sum", "length / 60")
    assert "revenue" in loaded.metrics["revenue"].tags  # no money column: a proxy, tagged, not the NSM
    assert loaded.metrics["revenue"].where == "page = 'Submit Upgrade'"
    assert loaded.funnel is not None and loaded.funnel.revenue == "revenue"
    assert "method" not in loaded.sources["events"].dimensions  # technical columns are no dimensions
    assert set(loaded.sources["events"].dimensions) >= {"level", "gender"}


def test_not_a_terminal_needs_answers_or_yes(sparkify_dir: Path) -> None:
    result = subprocess.run([NORTHSTAR, "-f", "x.yml", "discover", "--data", "data/events.jsonl"], cwd=sparkify_dir,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 2
    assert "--answers FILE or --yes" in result.stderr
    assert not (sparkify_dir / "x.yml").exists()


# ---- demo data: a money column, funnel events, and updating an existing spec -------------------

@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder, users=300, seed=1)
    return folder


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    for item in (demo_template / "data").iterdir():
        (tmp_path / "data" / item.name).write_bytes(item.read_bytes())
    (tmp_path / "northstar.yml").write_text((demo_template / "northstar.yml").read_text())
    return tmp_path


def test_demo_data_proposes_revenue_funnel_and_key(demo_dir: Path) -> None:
    result = run(["-f", "fresh.yml", "discover", "--yes", "--data", "data/events.parquet"], demo_dir)
    assert result.returncode == 0, result.stderr
    spec = load_spec(demo_dir / "fresh.yml").spec
    source = spec.sources["events"]
    assert (source.timestamp, source.entity, source.key, source.time_unit) == ("ts", "user_id", "event_id", None)
    assert spec.north_star.metric == "song_play_minutes"
    revenue = spec.metrics["revenue"]
    assert (revenue.agg, revenue.expr, revenue.where, revenue.tags) == ("sum", "amount", "event = 'payment'",
                                                                        ("revenue",))
    assert spec.funnel is not None
    assert spec.funnel.stages() == {"acquisition": "sign_up_events", "activation": "onboarding_complete_events",
                                    "retention": "user_retention", "referral": "invite_sent_events",
                                    "revenue": "revenue"}
    assert spec.checks.external_dimensions == ("channel",)
    drivers = {d.metric for node in spec.north_star.tree.values() for d in node.drivers}
    # revenue is what the North Star leads (the funnel's revenue stage, tagged), never a driver of it
    assert drivers == {"sign_up_events", "onboarding_complete_events", "user_retention", "invite_sent_events"}

    frame = Project.load(demo_dir / "fresh.yml").query(["song_play_minutes", "revenue"], grain="month")
    events = pq.read_table(demo_dir / "data" / "events.parquet").to_pylist()
    minutes = sum(e["duration_s"] for e in events if e["event"] == "song_play") / 60
    money = sum(e["amount"] for e in events if e["event"] == "payment")
    assert frame["song_play_minutes"].sum() == pytest.approx(minutes)
    assert frame["revenue"].sum() == pytest.approx(money)


UPDATE_ANSWERS = """\
job: Listeners build playlists of the music they love
end_result: playlist_create
segments_ok: true
north_star: playlist_create_users
grain: month
external: [channel]
funnel:
  referral: invite_sent_users
change_frequency: When we change what Premium offers
change_reason: Playlists show the value better than minutes
metrics:
  premium_minutes:
    label: Premium minutes
    where: event = 'song_play' and plan = 'premium'
    agg: sum
    expr: duration_s / 60
"""


def test_update_keeps_comments_and_metrics(demo_dir: Path) -> None:
    spec_path = demo_dir / "northstar.yml"
    before_text = spec_path.read_text()
    before = load_spec(spec_path).spec
    (demo_dir / "answers.yml").write_text(UPDATE_ANSWERS)
    result = run(["discover", "--answers", "answers.yml"], demo_dir)  # data: the spec's first source
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout

    text = spec_path.read_text()
    comments = [line.strip() for line in before_text.splitlines() if line.strip().startswith("#")]
    comments += [line.split(" # ", 1)[1].strip() for line in before_text.splitlines() if " # " in line]
    assert comments and all(comment in text for comment in comments)
    after = load_spec(spec_path).spec
    for name, metric in before.metrics.items():
        assert after.metrics[name] == metric  # never replaced, never deleted
    assert after.north_star.metric == "playlist_create_users"
    assert after.north_star.grain == "month"
    assert after.north_star.customer_value == "Listeners build playlists of the music they love"
    assert after.north_star.history[-1].metric == "listening_minutes"
    assert after.north_star.history[-1].reason == "Playlists show the value better than minutes"
    assert after.north_star.history[:-1] == before.north_star.history
    assert after.funnel is not None and before.funnel is not None
    assert after.funnel.referral == "invite_sent_users"
    assert after.funnel.acquisition == before.funnel.acquisition  # unanswered: the spec's answer stays
    assert after.metrics["premium_minutes"].source == "events"
    assert list(after.north_star.tree)[0] == "playlist_create_users"
    assert after.focus == before.focus and after.guardrails == before.guardrails

    frame = Project.load(spec_path).query(["playlist_create_users"], grain="month")
    events = pq.read_table(demo_dir / "data" / "events.parquet", columns=["event", "user_id"]).to_pylist()
    assert frame["playlist_create_users"].max() > 0
    creators = {e["user_id"] for e in events if e["event"] == "playlist_create"}
    assert frame["playlist_create_users"].max() <= len(creators)


def test_running_again_changes_nothing(demo_dir: Path) -> None:
    first = run(["discover", "--yes"], demo_dir)
    assert first.returncode == 0, first.stderr
    once = (demo_dir / "northstar.yml").read_text()
    second = run(["discover", "--yes"], demo_dir)
    assert second.returncode == 0, second.stderr
    assert (demo_dir / "northstar.yml").read_text() == once
    assert "0 metric(s) added" in second.stdout
    assert once.count("# How often the North Star changes") == 1


def test_with_several_north_stars_it_updates_the_one_named(demo_dir: Path) -> None:
    """The demo has `north_stars:` (music, the primary, and podcasts): discover changes the
    entry `--north-star` names, in place, and leaves the other one as it was."""
    spec_path = demo_dir / "northstar.yml"
    before = load_spec(spec_path).spec
    answers = demo_dir / "answers.yml"
    answers.write_text("grain: month\nchange_frequency: When the shows change\n")
    result = run(["--north-star", "podcasts", "discover", "--answers", "answers.yml"], demo_dir)
    assert result.returncode == 0, result.stderr
    text = spec_path.read_text()
    assert "north_star:" not in [line.split(" ")[0] for line in text.splitlines()]  # no second form
    after = load_spec(spec_path).spec
    assert after.for_north_star("podcasts").north_star.grain == "month"
    assert after.for_north_star("music").north_star == before.for_north_star("music").north_star
    lines = text.splitlines()
    at = lines.index("  - name: podcasts")
    assert lines[at - 1] == "  # How often the North Star changes (discover, step 9): When the shows change"
    assert text.count("# How often the North Star changes") == 1
    again = run(["--north-star", "podcasts", "discover", "--answers", "answers.yml"], demo_dir)
    assert again.returncode == 0, again.stderr
    assert spec_path.read_text() == text  # running again changes nothing
    unknown = run(["--north-star", "podcast", "discover", "--yes"], demo_dir)
    assert unknown.returncode == 2 and "'podcast' is not a North Star of the spec" in unknown.stderr
    assert spec_path.read_text() == text


# ---- bad answers: one line, file:line, exit 2 ----------------------------------------------------

@pytest.mark.parametrize(("answers", "line", "message"), [
    ("job: x\ngrian: week\n", 2, "'grian': unknown key. Did you mean 'grain'?"),
    ("grain: wekly\n", 1, f"'grain': 'wekly' is not a grain; expected {', '.join(GRAINS)}. Did you mean 'week'?"),
    ("job: x\nend_result: NextSon\n", 2, "'end_result': 'NextSon' is not an event of column 'page'. Did you mean "
                                        "'NextSong'?"),
    ("funnel:\n  acquisition: next_song_user\n", 2, "'funnel.acquisition': metric 'next_song_user' is neither"),
    ("funnel:\n  aquisition: null\n", 2, "'funnel.aquisition': unknown funnel stage. Did you mean 'acquisition'?"),
    ("segments_ok: maybe\n", 1, "'segments_ok': expected true or false"),
    ("north_star: revenue\n", 1, "'north_star': 'revenue' is money customers pay, not value they get"),
    ("external: [levl]\n", 1, "'external': 'levl' is not a dimension of the data. Did you mean 'level'?"),
    ("metrics:\n  x:\n    agg: sum\n    expr: lenght\n", 4, "'metrics.x.expr': column 'lenght' does not exist"),
    ("metrics:\n  x:\n    agg: summ\n", 3, "'metrics.x.agg': 'summ' is not allowed"),
    ("segments_ok: true\ntarget_group: level = 'paid'\n", 2, "'target_group': a target group narrows"),
    ("job: [unclosed\n", 2, "invalid YAML"),
])
def test_bad_answers_are_one_line_errors(sparkify_dir: Path, answers: str, line: int, message: str) -> None:
    (sparkify_dir / "answers.yml").write_text(answers)
    result = run(["-f", "out.yml", "discover", "--answers", "answers.yml", "--data", "data/events.jsonl"], sparkify_dir)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: answers.yml:{line}: "), lines[0]
    assert message in lines[0]
    assert not (sparkify_dir / "out.yml").exists()


def test_missing_data_is_an_error(tmp_path: Path) -> None:
    result = run(["discover", "--yes"], tmp_path)
    assert result.returncode == 2
    assert "no data to discover: pass --data FILE" in result.stderr


def test_csv_with_money_and_iso_timestamps(tmp_path: Path) -> None:
    rows = ["ts,customer_id,action,price,country,channel"]
    start = dt.datetime(2024, 1, 1, 9)
    for i in range(600):
        action = ["view", "order", "order", "sign_up", "invite"][i % 5]
        price = f"{10 + i % 7}.5" if action == "order" else ""
        rows.append(f"{(start + dt.timedelta(hours=7 * i)).isoformat()},c{i % 40},{action},{price},"
                    f"{['NL', 'SE', 'DE'][i % 3]},{['ads', 'organic'][i % 2]}")
    (tmp_path / "shop.csv").write_text("\n".join(rows) + "\n")
    result = run(["discover", "--yes", "--data", "shop.csv"], tmp_path)
    assert result.returncode == 0, result.stderr
    spec = load_spec(tmp_path / "northstar.yml").spec
    source = spec.sources["events"]
    assert (source.timestamp, source.entity, source.time_unit) == ("ts", "customer_id", None)
    assert set(source.dimensions) == {"country", "channel"}
    assert spec.metrics["revenue"].expr == "price" and spec.metrics["revenue"].tags == ("revenue",)
    assert spec.north_star.metric != "revenue"
    assert spec.funnel is not None and spec.funnel.acquisition == "sign_up_events"
    assert spec.checks.external_dimensions == ("channel",)
    (tmp_path / "a.yml").write_text("north_star: revenue\n")
    refused = run(["-f", "other.yml", "discover", "--answers", "a.yml", "--data", "shop.csv"], tmp_path)
    assert refused.returncode == 2 and "must not be revenue" in refused.stderr


# ---- interactive: a real pseudo-terminal ---------------------------------------------------------

def _answer(child: pexpect.spawn, prompt: str, answer: str = "") -> None:
    child.expect_exact(prompt)
    child.expect(r"\]?: $")
    child.sendline(answer)


def test_interactive_guide_in_a_terminal(sparkify_dir: Path) -> None:
    spec = sparkify_dir / "guided.yml"
    env = {**os.environ, "TERM": "dumb", "NO_COLOR": "1"}
    child = pexpect.spawn(NORTHSTAR, ["-f", str(spec), "discover", "--data", "data/events.jsonl"],
                          cwd=str(sparkify_dir), env=env, encoding="utf-8", timeout=120, dimensions=(40, 200))
    transcript = io.StringIO()
    child.logfile_read = transcript
    try:
        for prompt in ("Timestamp column", "Entity column", "Event-name column"):
            _answer(child, prompt)  # Enter accepts the guesses
        _answer(child, "Project name", "Sparkify")
        child.expect_exact("Step 1/9")
        _answer(child, "What job do customers hire the product for?", "Listen to music they love")
        _answer(child, "Which event marks it?", "NextSon")
        child.expect_exact("Did you mean 'NextSong'?")  # asked again
        child.expect(r"\]: $")
        child.sendline("")
        _answer(child, "Does that hold for all customers?")
        _answer(child, "Which metric counts the job done?")
        _answer(child, "Which frequency", "month")
        for prompt in ("outside your control", "Which metric is the money", "Acquisition", "Activation",
                       "Retention", "Referral", "Revenue:", "How often will the North Star change?"):
            _answer(child, prompt)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", transcript.getvalue())
    assert child.exitstatus == 0, output
    loaded = load_spec(spec).spec
    assert loaded.north_star.metric == "next_song_minutes"
    assert loaded.north_star.grain == "month"
    assert loaded.north_star.customer_value == "Listen to music they love"
    assert f"wrote {spec}" in output
    assert " ".join(check_summary(spec).split()) in " ".join(output.split())  # the terminal may wrap it


def test_documented_answers_example_runs(sparkify_dir: Path) -> None:
    """The answers file shown in docs/guides/discover.md (the README's section before the docs site)."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "discover.md").read_text()
    section = page[page.index("# Finding the North Star: `northstar discover`"):]
    example = section[section.index("```yaml\n") + 8:section.index("```\n", section.index("```yaml\n") + 8)]
    (sparkify_dir / "answers.yml").write_text(example)
    result = run(["-f", "readme.yml", "discover", "--answers", "answers.yml"], sparkify_dir)
    assert result.returncode == 0, result.stderr
    spec = load_spec(sparkify_dir / "readme.yml").spec
    assert spec.north_star.metric == "next_song_minutes"
    assert spec.metrics["next_song_minutes"].where == "page = 'NextSong' AND (level = 'paid')"
    assert spec.checks.external_dimensions == ("location",)
    assert "premium_minutes" in spec.metrics
