"""`northstar monitor` and `northstar digest` on the demo product and its planted incidents."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from northstar.alerts import monitor as mon
from northstar.alerts.rules import evaluate, why_of
from northstar.demo import generate_demo
from northstar.project import Project

ALERTS = """
alerts:
  dashboard_url: http://127.0.0.1:8000
  channels:
    team-slack: {type: slack, url: "${SLACK_WEBHOOK_URL}"}
  rules:
    - {metrics: [listening_minutes, active_listeners, minutes_per_listener, revenue, activation_rate],
       checks: [anomaly, guardrail, focus, target], channels: [team-slack], sensitivity: 0.5, min_history: 12,
       cooldown: 7d}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder)  # the default demo, as `northstar demo` writes it
    spec = (folder / "northstar.yml").read_text()
    (folder / "alerting.yml").write_text(spec + ALERTS)
    return folder


def run_cli(folder: Path, *args: str, spec: str = "northstar.yml") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec, *args], cwd=folder,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def backtest(demo: Path) -> dict:
    done = run_cli(demo, "monitor", "--backtest", "--from", "2025-03-01", "--no-explain", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _alerts(result: dict, metric: str, kind: str = "anomaly") -> set[str]:
    return {a["period"] for a in result["alerts"] if a["metric"] == metric and a["kind"] == kind}


def test_backtest_finds_the_planted_incidents(backtest: dict) -> None:
    assert backtest["backtest"] is True
    assert "2025-06-09" in _alerts(backtest, "revenue")  # payment_outage
    # duplicate_plays_bug: +15% on the North Star is inside its noise at sensitivity 4, but
    # minutes per listener (its input) jumps far outside its own
    assert "2026-01-19" in _alerts(backtest, "minutes_per_listener")
    assert all(a["period"] >= "2025-02-24" for a in backtest["alerts"])  # from the week holding --from
    revenue = next(a for a in backtest["alerts"] if a["key"] == "anomaly:revenue:2025-06-09")
    assert revenue["value"] == 0 and revenue["lower"] > 0  # nothing collected, far below the interval
    assert revenue["severity"] in ("warning", "critical") and "Revenue fell" in revenue["title"]


def incidents_found_and_elsewhere(backtest: dict) -> list[dict]:
    """Assert every planted incident is found in its first week (a segment incident named by
    its segment); return the anomaly and segment alerts outside the incidents (and outside
    their documented after-effects, such as payments caught up after the outage)."""
    from northstar.demo.incidents import INCIDENTS

    for incident in INCIDENTS:
        week = incident.start.isoformat()
        hits = [a for a in backtest["alerts"] if a["period"] == week]
        assert hits, f"{incident.name} not found in the week of {week}"
        # a segment incident is named by its segment in the alert that finds it
        if incident.segment and not any(a["kind"] == "guardrail" for a in hits):
            words = " ".join(a["title"] + " ".join(a["why"]) for a in hits)
            assert any(f"{k}={v}" in words for k, v in incident.segment.items()), words

    def during(a: dict) -> bool:
        day = dt.date.fromisoformat(a["period"])
        return any(i.start <= day <= (i.rebound_end or i.end) for i in INCIDENTS)

    elsewhere = [a for a in backtest["alerts"] if a["kind"] in ("anomaly", "segment") and not during(a)]
    print(f"backtest: {len(backtest['alerts'])} alerts, {len(elsewhere)} anomaly/segment alerts outside "
          f"the incidents: {[(a['metric'], a['period']) for a in elsewhere]}")
    return elsewhere


def test_backtest_finds_each_incident_in_its_week_and_little_else(backtest: dict) -> None:
    """The issue's bar: every planted incident in its first week, at the default sensitivity,
    and no more than a handful of anomaly alerts elsewhere over the two years."""
    elsewhere = incidents_found_and_elsewhere(backtest)
    android = [a for a in backtest["alerts"] if a["kind"] == "segment" and a["period"] == "2026-04-13"]
    assert android and "country=DE" in android[0]["title"] + " ".join(android[0]["why"])
    assert len(elsewhere) <= 3  # measured: 0 (docs/guides/alerts.md)


@pytest.mark.parametrize("seed", [7, 2024])
def test_other_draws_of_the_demo_too(tmp_path: Path, seed: int) -> None:
    """The same incidents in other random draws of the demo's users (seed 2024 has a revenue
    series that starts 8 weeks late and swings 3x with the billing cycle, and segments of 1 to
    5 paying users): found in their first week, and little else."""
    generate_demo(tmp_path, seed=seed)
    done = run_cli(tmp_path, "monitor", "--backtest", "--from", "2025-03-01", "--no-explain", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert len(incidents_found_and_elsewhere(json.loads(done.stdout))) <= 5  # measured: 1 (seed 7), 2 (2024)


def test_backtest_groups_the_north_star_with_the_input_that_moved_it(backtest: dict) -> None:
    [message] = [m for m in backtest["messages"] if m["key"] == "anomaly:minutes_per_listener:2026-01-19"]
    metrics = [a["metric"] for a in message["alerts"]]
    assert metrics[0] == "minutes_per_listener" and "plays_per_listener" in metrics  # the input below it
    assert "related" in message["title"]
    kinds = {a["kind"] for a in message["alerts"]}
    assert kinds == {"anomaly", "segment"}  # the iOS segment joins the same message
    keys = [m["key"] for m in backtest["messages"]]
    assert len(keys) == len(set(keys))
    assert not any(m["key"] == "anomaly:plays_per_listener:2026-01-19" for m in backtest["messages"])
    # states fire when they begin, not every period they last
    guard = sorted(_alerts(backtest, "trial_conversion", "guardrail"))
    assert guard and len(guard) == len(set(guard))


def test_why_names_the_input_and_the_segment(demo: Project) -> None:
    project = Project.load(demo / "northstar.yml")
    why = why_of(project, "listening_minutes", dt.date(2026, 1, 19))
    assert why and why[0].startswith("Minutes per listener +")
    assert any("ios" in line for line in why)


def test_a_live_pass_without_channels_prints_and_exits_0_on_complete_periods_only(demo: Path) -> None:
    project = Project.load(demo / "northstar.yml")
    for fired in evaluate(project, explain=False):
        last = project.last_complete_period(metrics=[fired.alert.metric])
        assert fired.alert.period == last  # never the incomplete last period
    done = run_cli(demo, "monitor", "--no-explain")
    assert done.returncode == 0, done.stderr
    assert "alert" in done.stdout


def test_dry_run_never_sends_and_delivery_then_cooldown(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.load(demo / "alerting.yml")
    now = dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc)
    calls: list = []
    state: dict = {}

    def deliver(messages, channels, state_path, at):
        calls.append((messages, channels, state_path))
        out = []
        for m in messages:
            for name in channels:
                state[m.key] = {name: {"status": "delivered", "at": at.isoformat()}}
                out.append(types.SimpleNamespace(message_key=m.key, channel=name, status="delivered", error=None))
        return out

    fake = types.ModuleType("northstar.alerts.delivery")
    fake.deliver = deliver  # type: ignore[attr-defined]
    fake.load_state = lambda path: state  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "northstar.alerts.delivery", fake)

    dry = mon.run(project, now=now, dry_run=True, explain=False)
    assert dry.outgoing and {o.status for o in dry.outgoing} == {"dry run"} and not calls
    assert all(a.link and a.link.startswith("http://127.0.0.1:8000/metric/") for a in dry.alerts)

    sent = mon.run(project, now=now, explain=False)
    assert calls and {o.status for o in sent.outgoing} == {"sent"}
    messages, channels, path = calls[0]
    assert set(channels) == {"team-slack"} and path == demo / ".northstar" / "alerts.json"
    assert "${SLACK_WEBHOOK_URL}" == channels["team-slack"].url  # resolved only by the sender

    again = mon.run(project, now=now + dt.timedelta(hours=1), explain=False)
    assert {o.status for o in again.outgoing} == {"cooldown"} and len(calls) == 1


def test_cli_errors_and_the_digest(demo: Path) -> None:
    done = run_cli(demo, "monitor", "--backtest")
    assert done.returncode == 2 and "--from" in done.stderr
    done = run_cli(demo, "monitor", "--backtest", "--from", "someday")
    assert done.returncode == 2 and "not a date" in done.stderr
    done = run_cli(demo, "digest", "--channel", "nope", spec="alerting.yml")
    assert done.returncode == 2 and "nope" in done.stderr
    done = run_cli(demo, "digest", "--dry-run", spec="alerting.yml")
    assert done.returncode == 0, done.stderr
    for needle in ("weekly review", "North Star: Listening minutes", "Focus (OMTMs)", "Guardrails:", "Findings:",
                   "http://127.0.0.1:8000/metric/listening_minutes?period="):
        assert needle in done.stdout, (needle, done.stdout)
    findings = next(line for line in done.stdout.splitlines() if line.startswith("Findings:"))
    counted = re.findall(r"(\d+) (error|warning)(s?)\b", findings)
    assert counted and all((n == "1") == (s == "") for n, _, s in counted), findings  # "1 warning", "2 warnings"
