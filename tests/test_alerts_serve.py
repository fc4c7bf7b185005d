"""`northstar serve` runs the monitor on its schedule and sends the weekly digest in the spec's
language: the policy (`schedule.due`) without threads, then the thread in a served app against
a webhook server on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn

from northstar.alerts import history, schedule
from northstar.alerts import monitor as mon
from northstar.alerts.delivery import deliver
from northstar.alerts.digest import digest
from northstar.demo import generate_demo
from northstar.project import Project
from northstar.spec.settings import Alerts
from northstar.web import create_app

UTC = dt.timezone.utc
AMS = "Europe/Amsterdam"
MONDAY_0905 = dt.datetime(2026, 11, 2, 8, 5, tzinfo=UTC)  # Monday 09:05 in Amsterdam (CET, UTC+1)


def settings(**digest: object) -> Alerts:
    return Alerts.model_validate({"every": "1h", "channels": {"hook": {"type": "webhook", "url": "http://x"}},
                                  "digest": {"channel": "hook", "weekday": "monday", "time": "09:00", **digest}})


# ---- the policy, without threads -----------------------------------------------------------------

def test_a_pass_is_due_every_alerts_every() -> None:
    alerts = settings()
    assert schedule.due(MONDAY_0905, {}, alerts, AMS).monitor  # never ran: due now
    ran = {"schedule": {"monitor": {"last": (MONDAY_0905 - dt.timedelta(minutes=59)).isoformat()}}}
    assert not schedule.due(MONDAY_0905, ran, alerts, AMS).monitor
    ran["schedule"]["monitor"]["last"] = (MONDAY_0905 - dt.timedelta(hours=1)).isoformat()
    assert schedule.due(MONDAY_0905, ran, alerts, AMS).monitor
    assert Alerts().every == "1h"  # the default; a spec without `alerts:` is monitored too (recording only)
    assert schedule.due(MONDAY_0905, {}, Alerts(), AMS) == schedule.Due(True, None)


def test_the_digest_is_due_once_a_week_at_its_local_time() -> None:
    alerts = settings()
    before = MONDAY_0905 - dt.timedelta(minutes=10)  # 08:55 in Amsterdam
    assert schedule.due(before, {}, alerts, AMS).digest is None
    slot = schedule.due(MONDAY_0905, {}, alerts, AMS).digest
    assert slot is not None and slot.isoformat() == "2026-11-02T09:00:00+01:00"
    sent = {"schedule": {"digest": {"slot": slot.isoformat()}}}
    assert schedule.due(MONDAY_0905 + dt.timedelta(hours=3), sent, alerts, AMS).digest is None  # not twice
    next_week = schedule.due(MONDAY_0905 + dt.timedelta(days=7), sent, alerts, AMS).digest
    assert next_week is not None and next_week - slot == dt.timedelta(days=7)
    # a server started on Thursday does not send Monday's digest; in summer the slot is 09:00 CEST
    assert schedule.due(MONDAY_0905 + dt.timedelta(days=3), {}, alerts, AMS).digest is None
    summer = schedule.due(dt.datetime(2026, 6, 1, 7, 1, tzinfo=UTC), {}, alerts, AMS).digest
    assert summer is not None and summer.isoformat() == "2026-06-01T09:00:00+02:00"
    # without a channel there is nowhere to send it
    assert schedule.due(MONDAY_0905, {}, settings(channel=None), AMS).digest is None


# ---- the digest's language ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "demo"
    generate_demo(folder, users=800)
    return folder


def test_the_dutch_digest_has_dutch_headings(demo: Path) -> None:
    spec = (demo / "northstar.yml").read_text()
    (demo / "dutch.yml").write_text(spec + "\nalerts:\n  digest: {weekday: monday, time: '09:00', lang: nl}\n")
    dutch = digest(Project.load(demo / "dutch.yml"))
    english = digest(Project.load(demo / "northstar.yml"))
    assert "weekoverzicht" in dutch.title and "in de week van" in dutch.title
    for heading in ("Waarom:", "Focusmetrieken (OMTM's):", "Vangrails:", "Bevindingen:"):
        assert heading in dutch.text, (heading, dutch.text)
    for heading in ("Why:", "Focus (OMTMs):", "Guardrails:", "Findings:"):
        assert heading not in dutch.text and heading in english.text
    assert "weekly review" in english.title
    assert "op schema" in dutch.text or "bereikt" in dutch.text
    assert "Skyddsräcken:" in digest(Project.load(demo / "northstar.yml"), lang="sv").text
    (demo / "bad.yml").write_text(spec + "\nalerts:\n  digest: {lang: de}\n")
    with pytest.raises(Exception, match="de"):
        Project.load(demo / "bad.yml")


# ---- the thread in a served app --------------------------------------------------------------------

class Recorder:
    """An HTTP server on 127.0.0.1 that answers 200 and keeps every JSON body it receives."""

    def __init__(self) -> None:
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_until(app, done, timeout: float = 240.0) -> None:  # noqa: ANN001
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert time.monotonic() < deadline, "the monitor did not run in time"
            assert thread.is_alive(), "the server stopped"
            time.sleep(0.2)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
    assert not thread.is_alive()


def test_serve_runs_a_pass_and_sends_the_digest_once(demo: Path) -> None:
    recorder = Recorder()
    spec = (demo / "northstar.yml").read_text()
    (demo / "served.yml").write_text(spec + f"""
alerts:
  every: 1h
  state: .northstar/served.json
  channels:
    hook: {{type: webhook, url: "{recorder.url}"}}
  digest: {{channel: hook, weekday: monday, time: "09:00", lang: nl}}
""")
    state_file = demo / ".northstar" / "served.json"

    def served(clock: dt.datetime) -> None:
        app = create_app(demo / "served.yml", schedule=True)
        scheduler = app.state.scheduler
        scheduler.delay, scheduler.tick, scheduler.clock = 0, 0.2, lambda: clock
        start = scheduler.passes
        _serve_until(app, lambda: scheduler.passes > start and "digest" in history.read(state_file).get("schedule", {}))
        assert not scheduler.running  # stopped with the server

    served(MONDAY_0905)
    state = history.read(state_file)
    assert state["schedule"]["monitor"]["last"] == MONDAY_0905.isoformat() and state["schedule"]["monitor"]["error"] is None
    assert state["schedule"]["digest"]["status"] == "delivered"
    [body] = recorder.bodies
    assert body["id"].startswith("digest:") and "weekoverzicht" in body["title"] and "Vangrails:" in body["text"]
    # a restart an hour later: a pass again, but the week's digest is not sent twice
    served(MONDAY_0905 + dt.timedelta(hours=1, minutes=1))
    assert len(recorder.bodies) == 1
    recorder.server.shutdown()


def test_a_failing_pass_is_logged_in_one_line_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def exclusive(self):  # noqa: ANN201
            self.calls += 1
            raise RuntimeError("the spec is invalid:\nline 3: bad")

    service = Broken()
    scheduler = schedule.Scheduler(service, tick=0.05, delay=0)
    scheduler.start()
    deadline = time.monotonic() + 10
    while service.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert service.calls >= 3 and not scheduler.running
    lines = [r.getMessage() for r in caplog.records if r.name == "northstar.alerts.schedule"]
    assert lines and all("\n" not in line and "the spec is invalid: line 3: bad" in line for line in lines)


def test_a_pass_finishes_a_digest_an_earlier_run_could_not_send(demo: Path) -> None:
    """A digest that failed on a retryable error (the webhook was down) is sent by the next
    monitor pass, though no rule names its channel and nothing new fires; and only once."""
    recorder = Recorder()
    spec = (demo / "northstar.yml").read_text()
    (demo / "late.yml").write_text(spec + f"""
alerts:
  state: .northstar/late.json
  channels:
    hook: {{type: webhook, url: "{recorder.url}"}}
  digest: {{channel: hook}}
""")
    project = Project.load(demo / "late.yml")
    state_file = demo / ".northstar" / "late.json"
    message = digest(project)
    down = {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{_free_port()}/hook"}}  # nothing listens
    [failed] = deliver([message], down, state_file, retries=0)
    assert failed.status == "failed" and recorder.bodies == []
    mon.run(project)  # the default rule prints only: no rule names `hook`
    [body] = recorder.bodies
    assert body["id"] == message.key
    entry = next(e for e in history.read(state_file)["deliveries"].values() if e["message_key"] == message.key)
    assert entry["status"] == "delivered"
    mon.run(project)
    assert len(recorder.bodies) == 1
    recorder.server.shutdown()
