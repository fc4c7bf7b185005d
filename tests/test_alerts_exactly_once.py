"""Each alert message goes out once however many processes run (issue 13, findings 3 and 13).

Real processes against a real receiver on 127.0.0.1 that counts the POSTs of each message key:
two `northstar monitor` runs started at once, `serve`'s scheduler beside a cron `monitor`, a run
killed while the receiver is processing (the next run sends that message again with the same
`X-Northstar-Delivery` key: at-least-once), a claim of another host, and a property test over
many concurrent senders and a receiver that fails at random.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alert_receivers import Receiver
from northstar.alerts import history
from northstar.alerts.delivery import deliver, load_state
from northstar.alerts.model import Alert, AlertMessage
from northstar.alerts.render import message_dict
from northstar.demo import generate_demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("once") / "demo"
    generate_demo(folder, users=800)
    return folder


def alerting_spec(demo: Path, name: str, url: str, extra: str = "") -> Path:
    """The demo spec with a webhook rule that fires several messages on the demo's last week."""
    spec = demo / f"{name}.yml"
    spec.write_text((demo / "northstar.yml").read_text() + f"""
alerts:
  state: .northstar/{name}.json
  channels:
    hook: {{type: webhook, url: "{url}"}}
  rules:
    - {{metrics: [listening_minutes, active_listeners, minutes_per_listener, revenue, activation_rate],
       checks: [anomaly, guardrail, focus, target], channels: [hook], sensitivity: 0.5, min_history: 12,
       cooldown: 7d}}
{extra}""")
    return spec


def monitor(spec: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "northstar.cli", "-f", spec.name, "monitor", "--no-explain"],
                            cwd=spec.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


@contextmanager
def serving(spec: Path) -> Iterator[Any]:
    """`serve` with its scheduler (a pass at once, then every 0.2 s a tick) on a free port; the
    scheduler, for its pass count."""
    import uvicorn

    from test_alerts_serve import _free_port
    from northstar.web import create_app

    app = create_app(spec, schedule=True)
    scheduler = app.state.scheduler
    scheduler.delay, scheduler.tick = 0, 0.2
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield scheduler
    finally:
        server.should_exit = True
        thread.join(60)


def passed(scheduler: Any, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while scheduler.passes < 1:
        assert time.monotonic() < deadline, "the scheduler did not finish its pass"
        time.sleep(0.1)


def test_two_monitor_processes_started_at_once_send_each_message_once(demo: Path) -> None:
    receiver = Receiver(delay=0.5)  # a receiver that takes its time widens the window for a race
    try:
        spec = alerting_spec(demo, "two", receiver.url())
        first, second = monitor(spec), monitor(spec)
        outputs = [finished(first), finished(second)]
        keys = receiver.keys()
        assert len(keys) >= 3, keys  # the rule fires several messages on the demo's last week
        assert set(keys.values()) == {1}, f"POSTs per message: {dict(keys)}"
        state = load_state(demo / ".northstar" / "two.json")
        assert {e["message_key"] for e in state["deliveries"].values()} == set(keys)
        assert all(e["status"] == "delivered" and e["attempts"] == 1 and "claim" not in e
                   for e in state["deliveries"].values())
        # both runs report the messages (one sent them, the other found them delivered or being sent)
        assert all("[sent: hook]" in out or "[pending: hook]" in out for out in outputs)
        assert len(history.read(demo / ".northstar" / "two.json")["recorded"]) >= len(keys)  # no write lost
        third = finished(monitor(spec))  # and a later run sends nothing again
        assert receiver.keys() == keys and "[cooldown: hook]" in third
    finally:
        receiver.close()


def test_serve_scheduler_beside_a_cron_monitor_sends_each_message_once(demo: Path) -> None:
    """The scheduler's first send is held at the receiver while a cron `monitor` runs its whole
    pass: the monitor sends the other messages, the scheduler then finds them delivered."""
    receiver = Receiver()
    receiver.hold()
    receiver.release_at = 2  # the first request waits until the cron monitor sends one
    spec = alerting_spec(demo, "both", receiver.url(), "  every: 1h\n")
    try:
        with serving(spec) as scheduler:
            receiver.wait_for(1, timeout=240)  # the scheduler is sending its first message
            finished(monitor(spec))
            passed(scheduler)
            keys = receiver.keys()
            assert len(keys) >= 3 and set(keys.values()) == {1}, f"POSTs per message: {dict(keys)}"
            state = history.read(demo / ".northstar" / "both.json")
            assert state["schedule"]["monitor"]["error"] is None
            assert set(state["schedule"]["monitor"]["messages"]) == set(keys)
            assert all(e["status"] == "delivered" for e in state["deliveries"].values())
    finally:
        receiver.close()


def test_serve_scheduler_and_two_monitors_together_send_each_message_once(demo: Path) -> None:
    """The issue's case whole: `serve`'s scheduler and two cron `monitor` runs start together,
    against a receiver slow enough (0.5 s a message) that their sends overlap."""
    receiver = Receiver(delay=0.5)
    spec = alerting_spec(demo, "three", receiver.url(), "  every: 1h\n")
    try:
        with serving(spec) as scheduler:
            runs = [monitor(spec), monitor(spec)]
            outputs = [finished(run) for run in runs]
            passed(scheduler)
            keys = receiver.keys()
            assert len(keys) >= 3 and set(keys.values()) == {1}, f"POSTs per message: {dict(keys)}"
            # each run reports the messages: sent by it, being sent or just sent by another
            assert all(any(f"[{w}: hook]" in out for w in ("sent", "pending", "cooldown")) for out in outputs)
            state = history.read(demo / ".northstar" / "three.json")
            assert state["schedule"]["monitor"]["error"] is None
            assert all(e["status"] == "delivered" and e["attempts"] == 1 for e in state["deliveries"].values())
            assert {e["message_key"] for e in state["deliveries"].values()} == set(keys)
    finally:
        receiver.close()


def test_a_monitor_killed_while_the_receiver_processes_sends_again_with_the_same_key(demo: Path) -> None:
    """At-least-once: the run dies after the receiver got the message but before its answer
    came back; the next run cannot know, sends it again with the same key, and nothing is lost."""
    receiver = Receiver()
    receiver.hold()  # the receiver "processes" the first message until released
    try:
        spec = alerting_spec(demo, "killed", receiver.url())
        state_file = demo / ".northstar" / "killed.json"
        run = monitor(spec)
        receiver.wait_for(1, timeout=240)
        run.kill()
        run.wait(30)
        [held] = receiver.requests
        entry = load_state(state_file)["deliveries"]["hook " + held["key"]]
        assert entry["status"] == "pending" and entry["claim"]["pid"] == run.pid  # the dead run's claim
        receiver.release()

        finished(monitor(spec))  # the next run: the dead run's claim does not hold it back
        keys = receiver.keys()
        assert keys[held["key"]] == 2 and len(keys) >= 3
        assert all(n == 1 for key, n in keys.items() if key != held["key"])
        again = [r for r in receiver.requests if r["key"] == held["key"]]
        assert again[0]["headers"]["X-Northstar-Delivery"] == again[1]["headers"]["X-Northstar-Delivery"]
        assert json.loads(again[0]["body"])["id"] == json.loads(again[1]["body"])["id"]
        assert all(e["status"] == "delivered" for e in load_state(state_file)["deliveries"].values())
        finished(monitor(spec))
        assert receiver.keys() == keys  # delivered: never again
    finally:
        receiver.close()


# ---- claims, in one process ---------------------------------------------------------------------

def message(key: str) -> AlertMessage:
    alert = Alert(key=key, kind="anomaly", metric="m", label="M", period=dt.date(2026, 4, 13), title=f"{key} moved",
                  value=1.0, expected=2.0)
    return AlertMessage(key=key, title=alert.title, alerts=(alert,), text=alert.title)


def claimed_state(path: Path, key: str, host: str, until: dt.datetime, pid: int = 1) -> None:
    path.write_text(json.dumps({"version": 1, "alerts": {}, "deliveries": {f"hook {key}": {
        "message_key": key, "channel": "hook", "status": "pending", "attempts": 1, "error": None,
        "at": until.isoformat(), "retryable": True, "message": message_dict(message(key)),
        "claim": {"token": "theirs", "pid": pid, "host": host, "started": "", "until": until.isoformat()}}}}))


def test_a_claim_of_another_host_holds_until_it_lapses(tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        hook = {"hook": {"type": "webhook", "url": receiver.url()}}
        state = tmp_path / "s.json"
        now = dt.datetime.now(dt.timezone.utc)
        claimed_state(state, "k:1", "elsewhere pid:[1]", now + dt.timedelta(minutes=5))
        [skipped] = deliver([message("k:1")], hook, state)
        assert skipped.status == "pending" and receiver.requests == []  # being sent over there
        claimed_state(state, "k:1", "elsewhere pid:[1]", now - dt.timedelta(seconds=1))
        [sent] = deliver([message("k:1")], hook, state)
        assert sent.status == "delivered" and sent.attempts == 2 and receiver.keys() == Counter({"k:1": 1})
    finally:
        receiver.close()


def test_a_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    from northstar.alerts.claims import host_id

    receiver = Receiver()
    try:
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        gone = int(child.stdout)  # a pid that has ended (and was reaped)
        state = tmp_path / "s.json"
        claimed_state(state, "k:1", host_id(), dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), pid=gone)
        [sent] = deliver([], {"hook": {"type": "webhook", "url": receiver.url()}}, state)
        assert sent.status == "delivered" and receiver.keys() == Counter({"k:1": 1})
    finally:
        receiver.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(senders=st.integers(2, 6), messages=st.integers(1, 6), failure_rate=st.sampled_from([0.0, 0.2, 0.5]),
       seed=st.integers(0, 2**16))
def test_concurrent_senders_deliver_each_message_exactly_once(tmp_path: Path, senders: int, messages: int,
                                                              failure_rate: float, seed: int) -> None:
    """Threads with their own `deliver` calls (each opens the lock file itself, as a process
    does) against a receiver that answers 500 at random: every message ends delivered, and each
    was accepted (answered 200) exactly once, whatever the interleaving."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def answer(request: dict) -> tuple[int, bytes]:
        with lock:
            return (500, b"busy") if rng.random() < failure_rate else (200, b"ok")

    receiver = Receiver(delay=0.005, answer=answer)
    state = tmp_path / f"s{seed}-{senders}-{messages}.json"
    keys = [f"k:{i}:2026-04-13" for i in range(messages)]
    hook = {"hook": {"type": "webhook", "url": receiver.url()}}
    start = threading.Barrier(senders)

    def sender(index: int) -> None:
        start.wait()
        order = keys[index % messages:] + keys[:index % messages]  # each starts elsewhere in the list
        deliver([message(k) for k in order], hook, state, retries=30, backoff=0.001)

    try:
        threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        accepted = Counter(r["key"] for r in receiver.answered if r["status"] == 200)
        assert accepted == Counter({k: 1 for k in keys}), (accepted, receiver.keys())
        final = load_state(state)["deliveries"]
        assert {e["message_key"]: e["status"] for e in final.values()} == {k: "delivered" for k in keys}
    finally:
        receiver.close()



def test_the_docs_promise_what_delivery_does() -> None:
    """Never lost, at-least-once, de-duplicated by the key: not "sends nothing twice", which a
    kill while the receiver processes disproves (the test above). The promise is in
    docs/guides/alerts.md (the README's *Alerts* section before the docs site)."""
    page = (ROOT / "docs" / "guides" / "alerts.md").read_text(encoding="utf-8")
    delivery = page[page.index("**Delivery.**"):page.index("**On a schedule")]
    assert "sends nothing twice" not in delivery
    assert "at-least-once" in delivery and "loses nothing" in delivery
    assert "same `X-Northstar-Delivery` key" in delivery and "drops a message whose `X-Northstar-Delivery` key" in delivery
    assert "<state>.lock" in delivery  # the lock file people will find beside the state
