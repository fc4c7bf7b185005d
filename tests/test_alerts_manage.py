"""Alerts a team manages: `northstar alerts test`, snooze and acknowledge, against a real
recording HTTP server on 127.0.0.1 (no mocks); time is the `now` of each monitor pass."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from alert_receivers import Receiver

from northstar.alerts import manage
from northstar.alerts import monitor as mon
from northstar.alerts.delivery import load_state
from northstar.demo import generate_demo
from northstar.errors import QueryError
from northstar.project import Project

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("manage") / "demo"
    generate_demo(folder, users=800)
    return folder


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec_with(demo: Path, name: str, url: str, rule_extra: str = "") -> Path:
    spec = demo / f"{name}.yml"
    spec.write_text((demo / "northstar.yml").read_text() + f"""
alerts:
  state: .northstar/{name}.json
  channels:
    hook: {{type: webhook, url: "{url}"}}
    down: {{type: webhook, url: "http://127.0.0.1:{closed_port()}/hook"}}
  rules:
    - {{metrics: [listening_minutes, active_listeners, minutes_per_listener, revenue, activation_rate],
       checks: [anomaly, guardrail, focus, target], channels: [hook], sensitivity: 0.5, min_history: 12,
       cooldown: 7d{rule_extra}}}
""")
    return spec


def run_cli(spec: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", spec.name, *args], cwd=spec.parent,
                          capture_output=True, text=True, timeout=300, env=env)


def test_alerts_test_sends_a_marked_message_and_fails_cleanly(demo: Path, receiver: Receiver) -> None:
    spec = spec_with(demo, "testing", receiver.url())
    done = run_cli(spec, "alerts", "test", "hook")
    assert done.returncode == 0, done.stderr
    assert "delivered to hook" in done.stdout
    [body] = receiver.bodies()
    project = Project.load(spec).spec.project
    assert body["title"] == f"Northstar test message from project {project}"
    assert receiver.requests[0]["key"].startswith("test:hook:")

    done = run_cli(spec, "alerts", "test", "down")  # nothing listens there: connection refused
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "channel 'down'" in done.stderr and "refused" in done.stderr.lower(), done.stderr

    done = run_cli(spec, "alerts", "test", "nope")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "'nope'" in done.stderr and "down, hook" in done.stderr
    assert len(receiver.requests) == 1


def test_snooze_and_ack_validation(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert manage.snooze_end(now, duration="3d") == now + dt.timedelta(days=3)
    assert manage.snooze_end(now, until="2026-12-24") == dt.datetime(2026, 12, 24, tzinfo=UTC)
    for until, duration, option in [("2026-11-01", None, "--until"), ("someday", None, "--until"),
                                    (None, "3 days", "--for"), (None, "0d", "--for"), (None, None, "--until/--for"),
                                    ("2026-12-24", "3d", "--until/--for")]:
        with pytest.raises(QueryError) as error:
            manage.snooze_end(now, until, duration)
        assert str(error.value).startswith(option + ":") and "\n" not in str(error.value)
    with pytest.raises(QueryError, match="^ALERT_ID: no alert 'anomaly:x:2026-01-01'"):
        manage.snooze(tmp_path / "s.json", "anomaly:x:2026-01-01", now + dt.timedelta(days=1), None, now)
    with pytest.raises(QueryError, match="^ALERT_ID:"):
        manage.ack(tmp_path / "s.json", "anomaly:x:2026-01-01", None, now)


def test_a_snoozed_alert_is_held_then_delivered_after_the_snooze(demo: Path, receiver: Receiver) -> None:
    # quiet 11:30-12:30 in the demo's timezone (Europe/Amsterdam, UTC+1 in November)
    spec = spec_with(demo, "snoozing", receiver.url(), rule_extra=", quiet_hours: \"11:30-12:30\"")
    project = Project.load(spec)
    state = mon.state_path(project)
    start = dt.datetime(2026, 11, 25, 11, tzinfo=UTC)

    first = mon.run(project, now=start, explain=False)  # in quiet hours: recorded, not sent
    assert first.outgoing and {o.status for o in first.outgoing} == {"quiet hours"} and not receiver.requests
    held = first.outgoing[0].message.key
    assert f"(id {held})" in mon.render_text(first)
    done = run_cli(spec, "alerts", "snooze", held, "--for", "3d", "--note", "known outage")
    assert done.returncode == 0 and "snoozed until" in done.stdout, done.stderr
    assert run_cli(spec, "alerts", "snooze", held, "--until", "2020-01-01").returncode == 2
    manage.snooze(state, held, start + dt.timedelta(days=3), "known outage", start)  # on the test's clock
    [row] = [r for r in manage.rows(project.spec, load_state(state), start) if r["id"] == held]
    assert row["state"].startswith("snoozed until") and row["note"] == "known outage"
    listed = run_cli(spec, "alerts", "list", "--format", "json")
    assert listed.returncode == 0 and any(r["id"] == held for r in json.loads(listed.stdout))
    assert run_cli(spec, "alerts", "list").returncode == 0

    second = mon.run(project, now=start + dt.timedelta(days=1, hours=2), explain=False)
    status = {o.message.key: o.status for o in second.outgoing}
    assert status[held] == "snoozed" and all(s == "sent" for k, s in status.items() if k != held), status
    assert held not in receiver.keys() and len(receiver.requests) == len(status) - 1
    others = [k for k in status if k != held]

    # another, delivered already: snoozed for a day, it comes back after it despite the 7d cooldown
    reminded = others[0]
    manage.snooze(state, reminded, start + dt.timedelta(days=2), "look again", start + dt.timedelta(days=1))
    acked = others[1:2]
    for key in acked:
        manage.ack(state, key, "on it", start + dt.timedelta(days=1))

    after = start + dt.timedelta(days=3, hours=2)  # the snooze of `held` ended an hour ago
    third = mon.run(project, now=after, explain=False)
    status = {(o.message.alerts[0].key): (o.status, o.message.key) for o in third.outgoing}
    assert status[held] == ("sent", held)
    assert receiver.keys()[held] == 1
    assert status[reminded][0] == "sent" and status[reminded][1].startswith(reminded + "@snooze-")
    assert receiver.keys()[status[reminded][1]] == 1 and receiver.keys()[reminded] == 1
    for key in acked:
        assert status[key][0] == "acknowledged"
    alerts = load_state(state)["alerts"]
    assert "snooze" not in alerts[held] and "snooze" not in alerts[reminded]  # done: delivered again

    fourth = mon.run(project, now=after + dt.timedelta(hours=1), explain=False)
    status = {o.message.alerts[0].key: o.status for o in fourth.outgoing}
    assert status[held] == "cooldown" and status[reminded] == "cooldown"
    assert receiver.keys()[held] == 1 and len(receiver.requests) == len(second.outgoing) - 1 + 2


def test_without_channels_a_snoozed_alert_says_so_where_it_is_printed(demo: Path) -> None:
    """A team that only reads `monitor`'s output (no channel yet) snoozes an alert: the next pass
    still prints it (nothing is sent anyway) but marked, so the snooze visibly took."""
    spec = demo / "printing.yml"
    spec.write_text((demo / "northstar.yml").read_text() + """
alerts:
  state: .northstar/printing.json
  rules:
    - {metrics: [listening_minutes, active_listeners, minutes_per_listener, revenue, activation_rate],
       checks: [anomaly, guardrail, focus, target], sensitivity: 0.5, min_history: 12}
""")
    project = Project.load(spec)
    start = dt.datetime(2026, 11, 25, 11, tzinfo=UTC)
    first = mon.run(project, now=start, explain=False)
    assert first.outgoing and {o.status for o in first.outgoing} == {"printed"}
    held, *others = [o.message.key for o in first.outgoing]
    manage.snooze(mon.state_path(project), held, start + dt.timedelta(days=3), "known", start)
    second = mon.run(project, now=start + dt.timedelta(hours=1), explain=False)
    status = {o.message.key: o.status for o in second.outgoing}
    assert status[held] == "snoozed" and all(status[k] == "printed" for k in others), status
    text = mon.render_text(second)
    assert f"  [snoozed]  (id {held})" in text and text.count("[snoozed]") == 1


def test_an_acknowledgement_ends_when_the_deviation_stops_firing(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    now = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    path.write_text(json.dumps({"version": 1, "deliveries": {}, "alerts": {
        "anomaly:revenue:2026-11-16": {"fired": now.isoformat(), "delivered": now.isoformat()},
        "guardrail:churn:2026-11-16": {"fired": now.isoformat(), "delivered": now.isoformat()}}}))
    manage.ack(path, "anomaly:revenue:2026-11-16", "on it", now)
    manage.ack(path, "guardrail:churn:2026-11-16", None, now)
    held = manage.holds(load_state(path), now)
    assert held["anomaly:revenue"][0] == "acknowledged"
    # the next period still deviates on revenue (same deviation); churn stopped firing
    manage.settle(path, ["anomaly:revenue:2026-11-23"], [], now + dt.timedelta(days=7))
    held = manage.holds(load_state(path), now + dt.timedelta(days=7))
    assert held == {"anomaly:revenue": ("acknowledged", "on it", None)}


def test_the_api_snoozes_and_acknowledges_with_a_token_only(demo: Path, receiver: Receiver) -> None:
    from fastapi.testclient import TestClient

    from northstar.web import create_app

    spec = spec_with(demo, "api", receiver.url())
    project = Project.load(spec)
    state = mon.state_path(project)
    now = dt.datetime.now(UTC)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"version": 1, "deliveries": {}, "alerts": {
        "anomaly:revenue:2026-11-16": {"fired": now.isoformat(), "delivered": now.isoformat()},
        "guardrail:churn:2026-11-16": {"fired": now.isoformat(), "delivered": now.isoformat()}}}))

    open_app = TestClient(create_app(spec))  # no token: the app refuses writes
    answer = open_app.post("/api/alerts/anomaly:revenue:2026-11-16/ack", json={})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "token_required"

    client = TestClient(create_app(spec, token="t0ken-for-writes"))
    assert client.post("/api/alerts/anomaly:revenue:2026-11-16/ack", json={}).status_code == 401
    auth = {"Authorization": "Bearer t0ken-for-writes"}
    answer = client.post("/api/alerts/anomaly:revenue:2026-11-16/snooze", json={"for": "3d", "note": "later"},
                         headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "snoozed" and answer.json()["note"] == "later"
    answer = client.post("/api/alerts/guardrail:churn:2026-11-16/ack", json={"note": "on it"}, headers=auth)
    assert answer.status_code == 200 and answer.json()["state"] == "acknowledged", answer.text
    held = manage.holds(load_state(state), now)
    assert held["anomaly:revenue"][0] == "snoozed" and held["guardrail:churn"] == ("acknowledged", "on it", None)

    answer = client.post("/api/alerts/anomaly:nope:2026-11-16/ack", json={}, headers=auth)
    assert answer.status_code == 404 and answer.json()["error"]["parameter"] == "alert_id"
    answer = client.post("/api/alerts/anomaly:revenue:2026-11-16/snooze", json={"for": "soon"}, headers=auth)
    assert answer.status_code == 400 and answer.json()["error"]["parameter"] == "for", answer.text
    answer = client.post("/api/alerts/anomaly:revenue:2026-11-16/snooze", json={"until": "2020-01-01"},
                         headers=auth)
    assert answer.status_code == 400 and answer.json()["error"]["parameter"] == "until", answer.text
