"""A send never hangs and never holds the dashboard (issue 13, findings 4 and 5).

Real receivers on 127.0.0.1 that trickle their answer one byte at a time (each read gets its
byte in time, the answer never completes within the time-out), over HTTP and SMTP: the
time-out caps each attempt's whole duration. And `serve`'s scheduler sending to a webhook that
does not answer: an uncached page does not wait for it.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from alert_receivers import Receiver, Trickler
from northstar.alerts.delivery import deliver, load_state
from northstar.alerts.model import Alert, AlertMessage
from northstar.demo import generate_demo

HTTP_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def message(key: str = "anomaly:m:2026-04-13") -> AlertMessage:
    alert = Alert(key=key, kind="anomaly", metric="m", label="M", period=date(2026, 4, 13), title="M fell",
                  value=1.0, expected=2.0)
    return AlertMessage(key=key, title=alert.title, alerts=(alert,), text=alert.title)


@pytest.mark.parametrize("where", ["status line", "body"])
def test_a_webhook_trickling_its_answer_is_cut_at_the_timeout(tmp_path: Path, where: str) -> None:
    """1 byte every 0.25 s against a 1 s time-out (the finding: 1 byte every 5 s against 10 s):
    the whole answer would take 14 s; each attempt ends at 1 s, is retried, then recorded."""
    if where == "body":  # the status line and headers at once, then the body trickles
        trickler = Trickler(b"x" * 56, 0.25, head=b"HTTP/1.1 200 OK\r\nContent-Length: 56\r\nConnection: close\r\n\r\n")
    else:
        trickler = Trickler(HTTP_ANSWER, 0.25)
    try:
        channels = {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{trickler.port}/hook"}}
        state = tmp_path / "s.json"
        start = time.monotonic()
        [result] = deliver([message()], channels, state, retries=1, backoff=0.01, timeout=1.0)
        took = time.monotonic() - start
        assert took < 3.5, f"two attempts took {took:.1f}s"
        assert result.status == "failed" and result.attempts == 2
        assert result.error == "webhook timed out after 1s"
        entry = load_state(state)["deliveries"]["hook " + message().key]
        assert entry["status"] == "failed" and entry["retryable"] and "claim" not in entry  # not stuck pending
        assert trickler.connections == 2
    finally:
        trickler.close()


def test_a_smtp_server_trickling_its_greeting_is_cut_at_the_timeout(tmp_path: Path) -> None:
    trickler = Trickler(b"220 mail.example.com ESMTP ready\r\n", 0.25, wait_for_request=False)
    try:
        channels = {"mail": {"type": "email", "host": "127.0.0.1", "port": trickler.port, "starttls": False,
                             "sender": "a@example.com", "to": ["b@example.com"]}}
        start = time.monotonic()
        [result] = deliver([message()], channels, tmp_path / "s.json", retries=0, timeout=1.0)
        assert time.monotonic() - start < 2.5
        assert result.status == "failed" and result.error == f"SMTP server 127.0.0.1:{trickler.port} timed out after 1s"
    finally:
        trickler.close()


def test_a_fast_answer_is_not_cut(tmp_path: Path) -> None:
    """The deadline ends with the attempt: a quick receiver is delivered to, many times in a row."""
    receiver = Receiver()
    try:
        channels = {"hook": {"type": "webhook", "url": receiver.url()}}
        results = deliver([message(f"anomaly:m{i}:2026-04-13") for i in range(20)], channels, tmp_path / "s.json",
                          timeout=0.5)
        assert {r.status for r in results} == {"delivered"} and len(receiver.requests) == 20
    finally:
        receiver.close()


# ---- serve: the scheduler sends outside the dashboard's computation lock ---------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("timeouts") / "demo"
    generate_demo(folder, users=800)
    return folder


def test_a_webhook_that_does_not_answer_does_not_make_a_page_wait(demo: Path) -> None:
    import uvicorn

    from test_alerts_serve import _free_port
    from northstar.web import create_app

    receiver = Receiver()
    receiver.hold()  # takes every message and never answers (until released at the end)
    (demo / "hanging.yml").write_text((demo / "northstar.yml").read_text() + f"""
alerts:
  state: .northstar/hanging.json
  channels:
    hook: {{type: webhook, url: "{receiver.url()}"}}
  rules:
    - {{metrics: [listening_minutes, revenue, activation_rate], checks: [anomaly, focus, target], channels: [hook],
       sensitivity: 0.5, min_history: 12}}
""")
    app = create_app(demo / "hanging.yml", schedule=True)
    scheduler = app.state.scheduler
    scheduler.delay, scheduler.tick = 0, 0.2
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        receiver.wait_for(1, timeout=240)  # the scheduler's pass is computed and its send hangs
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            timings = []
            for by in ("country", "platform", "plan"):  # never computed before: each needs the engine
                start = time.monotonic()
                answer = client.get("/api/series", params={"metrics": "song_plays", "grain": "week", "by": by})
                timings.append(time.monotonic() - start)
                assert answer.status_code == 200, answer.text
            assert len(receiver.requests) == 1 and not receiver.answered  # the send still hangs meanwhile
        assert max(timings) < 5.0, f"uncached pages took {', '.join(f'{t:.2f}s' for t in timings)} behind a hung send"
    finally:
        receiver.release()
        server.should_exit = True
        thread.join(60)
        receiver.close()
