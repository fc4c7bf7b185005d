"""Alert channels and delivery against real servers on 127.0.0.1 (no mocks).

An HTTP server records requests for Slack, Teams and webhooks and can be told to answer 500,
429 (with Retry-After), another 4xx, or to hang; a closed port gives "connection refused".
E-mail goes to an aiosmtpd server that requires STARTTLS (a self-signed certificate made with
the openssl CLI) and AUTH LOGIN/PLAIN only over TLS.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from northstar.alerts.channels import ChannelError, resolve, send
from northstar.alerts.delivery import deliver, load_state
from northstar.alerts.model import Alert, AlertMessage

SLACK_TOKEN_PATH = "/services/T0SECRET/B0SECRET/xoxbSECRETTOKEN123"
HOOK_SECRET = "hook-secret-4f9a1c"
SMTP_PASSWORD = "smtp-pass-8d2e7b"


# --- servers -------------------------------------------------------------------------------------

class Recorder:
    """A threaded HTTP server on 127.0.0.1 that records each request and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list = []          # consumed one per request; then `default`
        self.default = (200, {}, b"ok")
        self.release = threading.Event()
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with recorder.lock:
                    recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    action = recorder.script.pop(0) if recorder.script else recorder.default
                if action == "hang":
                    recorder.release.wait(10)
                    return
                status, headers, answer = action if isinstance(action, tuple) else (action, {}, b"")
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                answer = answer.replace(b"{path}", self.path.encode())  # a server echoing the URL
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def json(self, i: int = -1) -> dict:
        return json.loads(self.requests[i]["body"])

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http():
    recorder = Recorder()
    yield recorder
    recorder.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- messages ------------------------------------------------------------------------------------

def make_message(key: str = "anomaly:listening_minutes:2026-04-13", link: bool = True) -> AlertMessage:
    nsm = Alert(key=key, kind="anomaly", metric="listening_minutes", label="Listening minutes",
                period=date(2026, 4, 13), title="Listening minutes fell 18% (−16.3k) in the week of 2026-04-13",
                value=74200.0, expected=90500.0, lower=84000.0, upper=97000.0,
                why=("Minutes per listener −35%: android, DE", "Sessions <5 min & skips up"),
                link="http://127.0.0.1:8000/metric/listening_minutes?period=2026-04-13" if link else None,
                severity="critical")
    cause = Alert(key="anomaly:minutes_per_listener:2026-04-13", kind="anomaly", metric="minutes_per_listener",
                  label="Minutes per listener", period=date(2026, 4, 13), title="Minutes per listener fell 35%",
                  value=31.0, expected=47.5, why=("android, DE",),
                  link="http://127.0.0.1:8000/metric/minutes_per_listener?period=2026-04-13" if link else None)
    return AlertMessage(key=key, title=nsm.title, alerts=(nsm, cause), text=f"{nsm.title}\nWhy: {nsm.why[0]}\n")


@pytest.fixture
def env(monkeypatch, http):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", http.url(SLACK_TOKEN_PATH))
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", http.url("/teams/SECRETTEAMS"))
    monkeypatch.setenv("HOOK_URL", http.url("/hook"))
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    return monkeypatch


# --- payload formats -----------------------------------------------------------------------------

SLACK_BLOCK_TYPES = {"header", "section", "divider", "context", "actions"}


def test_slack_payload_is_block_kit(http, env, tmp_path):
    [result] = deliver([make_message()], {"team-slack": {"type": "slack", "url": "${SLACK_WEBHOOK_URL}"}},
                       tmp_path / "state.json", retries=0)
    assert result.status == "delivered" and result.attempts == 1
    request = http.requests[0]
    assert request["path"] == SLACK_TOKEN_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    payload = http.json()
    assert payload["text"].startswith("Listening minutes fell 18%")  # the notification fallback
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= 50
    assert {b["type"] for b in blocks} <= SLACK_BLOCK_TYPES
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert 0 < len(header["text"]["text"]) <= 150
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == 2
    for section in sections:
        assert section["text"]["type"] == "mrkdwn" and len(section["text"]["text"]) <= 3000
        assert 1 <= len(section["fields"]) <= 10
        assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in section["fields"])
    field_texts = " ".join(f["text"] for f in sections[0]["fields"])
    assert "74.2k" in field_texts and "90.5k" in field_texts and "84k – 97k" in field_texts
    contexts = [b for b in blocks if b["type"] == "context"]
    assert contexts and all(e["type"] in ("mrkdwn", "plain_text", "image") for c in contexts for e in c["elements"])
    assert "&lt;5 min &amp; skips" in json.dumps(contexts)  # mrkdwn control characters escaped
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["url"] for b in buttons] == [a.link for a in make_message().alerts]
    for button in buttons:
        assert button["type"] == "button" and button["text"]["type"] == "plain_text"
        assert len(button["action_id"]) <= 255
    assert len({b["action_id"] for b in buttons}) == len(buttons)


def test_slack_without_link_has_no_button(http, env, tmp_path):
    deliver([make_message(link=False)], {"s": {"type": "slack", "url": "${SLACK_WEBHOOK_URL}"}}, tmp_path / "s.json")
    assert not [b for b in http.json()["blocks"] if b["type"] == "actions"]


def test_teams_payload_is_an_adaptive_card(http, env, tmp_path):
    http.default = (202, {}, b"")  # a Teams workflow answers 202 Accepted
    [result] = deliver([make_message()], {"leads": {"type": "teams", "url": "${TEAMS_WEBHOOK_URL}"}},
                       tmp_path / "state.json", retries=0)
    assert result.status == "delivered"
    payload = http.json()
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert tuple(int(p) for p in card["version"].split(".")) >= (1, 4)
    assert {e["type"] for e in card["body"]} <= {"TextBlock", "FactSet"}
    for element in card["body"]:
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
            assert element.get("size", "Default") in ("Small", "Default", "Medium", "Large", "ExtraLarge")
            assert element.get("weight", "Default") in ("Lighter", "Default", "Bolder")
            assert element.get("color", "Default") in ("Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention")
        else:
            assert element["facts"] and all(set(f) == {"title", "value"} and isinstance(f["value"], str)
                                            for f in element["facts"])
    assert card["body"][0]["text"] == make_message().title
    facts = {f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]}
    assert facts["Period"] == "2026-04-13"
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl", "Action.OpenUrl"]
    assert [a["url"] for a in card["actions"]] == [a.link for a in make_message().alerts]
    assert all(a["title"] for a in card["actions"])


def test_webhook_json_is_signed_with_hmac_sha256(http, env, tmp_path):
    message = make_message()
    [result] = deliver([message], {"hook": {"type": "webhook", "url": "${HOOK_URL}", "secret": "${HOOK_SECRET}"}},
                       tmp_path / "state.json", retries=0)
    assert result.status == "delivered"
    request = http.requests[0]
    body = request["body"]
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Northstar-Signature"] == expected
    wrong = "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Northstar-Signature"] != wrong
    payload = json.loads(body)
    assert payload["event"] == "northstar.alert" and payload["key"] == message.key
    assert payload["title"] == message.title and payload["text"] == message.text
    assert [a["key"] for a in payload["alerts"]] == [a.key for a in message.alerts]
    assert payload["alerts"][0]["period"] == "2026-04-13" and payload["alerts"][0]["value"] == 74200.0
    stamp = int(request["headers"]["X-Northstar-Timestamp"])
    assert abs(stamp - time.time()) < 60
    assert datetime.fromisoformat(payload["sent_at"]).timestamp() == stamp
    assert request["headers"]["X-Northstar-Delivery"] == message.key


def test_webhook_without_secret_is_not_signed(http, tmp_path):
    deliver([make_message()], {"hook": {"type": "webhook", "url": http.url()}}, tmp_path / "s.json")
    assert "X-Northstar-Signature" not in http.requests[0]["headers"]
    assert "X-Northstar-Timestamp" in http.requests[0]["headers"]


def test_spec_channel_models_are_accepted(http, env, tmp_path):
    from northstar.spec.model import AlertChannel
    channels = {"hook": AlertChannel(type="webhook", url="${HOOK_URL}", secret="${HOOK_SECRET}"),
                "s": AlertChannel(type="slack", url="${SLACK_WEBHOOK_URL}")}
    results = deliver([make_message()], channels, tmp_path / "s.json")
    assert [d.status for d in results] == ["delivered", "delivered"]
    assert http.requests[0]["headers"]["X-Northstar-Signature"].startswith("sha256=")


def test_pydantic_like_config_objects_are_accepted(http, tmp_path):
    class Config:  # the spec's channel models are read with getattr
        type = "webhook"
        url = http.url()
        secret = None
    [result] = deliver([make_message()], {"hook": Config()}, tmp_path / "s.json")
    assert result.status == "delivered" and len(http.requests) == 1


# --- failures: retried, then recorded ------------------------------------------------------------

def hook(http):
    return {"hook": {"type": "webhook", "url": http.url()}}


def test_500_is_retried_with_backoff_then_delivered(http, tmp_path):
    http.script = [500, (503, {}, b"busy")]
    start = time.monotonic()
    [result] = deliver([make_message()], hook(http), tmp_path / "s.json", retries=3, backoff=0.1)
    assert time.monotonic() - start >= 0.1 + 0.2  # backoff doubles
    assert result.status == "delivered" and result.attempts == 3 and result.error is None
    assert len(http.requests) == 3
    assert {json.loads(r["body"])["key"] for r in http.requests} == {make_message().key}
    assert load_state(tmp_path / "s.json")["deliveries"]["hook " + make_message().key]["status"] == "delivered"


def test_429_honours_retry_after(http, tmp_path):
    http.script = [(429, {"Retry-After": "1"}, b"rate limited")]
    start = time.monotonic()
    [result] = deliver([make_message()], hook(http), tmp_path / "s.json", retries=2, backoff=0.01)
    assert time.monotonic() - start >= 1.0
    assert result.status == "delivered" and result.attempts == 2


def test_429_asking_for_a_long_wait_is_left_to_the_next_run(http, tmp_path):
    http.script = [(429, {"Retry-After": "3600"}, b"")]
    start = time.monotonic()
    [result] = deliver([make_message()], hook(http), tmp_path / "s.json", retries=3, backoff=0.01)
    assert time.monotonic() - start < 5
    assert result.status == "failed" and result.attempts == 1
    assert result.error == "webhook answered HTTP 429 (retry after 3600s)"
    assert load_state(tmp_path / "s.json")["deliveries"]["hook " + make_message().key]["retryable"]


def test_exhausted_retries_are_recorded_not_raised_and_retried_next_run(http, tmp_path):
    http.default = (500, {}, b"internal error")
    state = tmp_path / "s.json"
    [result] = deliver([make_message()], hook(http), state, retries=2, backoff=0.01)
    assert result.status == "failed" and result.attempts == 3
    assert result.error == "webhook answered HTTP 500: internal error"
    assert len(http.requests) == 3
    entry = load_state(state)["deliveries"]["hook " + make_message().key]
    assert entry["status"] == "failed" and entry["retryable"] and entry["error"] == result.error
    # the next run (even without the message) tries again and, the server being back, delivers once
    http.default = (200, {}, b"ok")
    [again] = deliver([], hook(http), state, retries=2, backoff=0.01)
    assert again.status == "delivered" and again.attempts == 4
    assert len(http.requests) == 4
    assert deliver([make_message()], hook(http), state)[0].status == "delivered"
    assert len(http.requests) == 4


def test_timeout_is_retried_then_recorded(http, tmp_path):
    http.default = "hang"
    start = time.monotonic()
    [result] = deliver([make_message()], hook(http), tmp_path / "s.json", retries=1, backoff=0.01, timeout=0.3)
    assert time.monotonic() - start < 5
    assert result.status == "failed" and result.attempts == 2
    assert result.error == "webhook timed out after 0.3s"
    assert len(http.requests) == 2


def test_connection_refused_is_retried_then_recorded(tmp_path):
    channels = {"hook": {"type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/x"}}
    [result] = deliver([make_message()], channels, tmp_path / "s.json", retries=2, backoff=0.01)
    assert result.status == "failed" and result.attempts == 3
    assert result.error == "webhook: connection refused"


def test_permanent_4xx_is_not_retried(http, env, tmp_path):
    http.default = (404, {}, b"no_service")
    state = tmp_path / "s.json"
    channels = {"s": {"type": "slack", "url": "${SLACK_WEBHOOK_URL}"}}
    [result] = deliver([make_message()], channels, state, retries=3, backoff=0.01)
    assert result.status == "failed" and result.attempts == 1
    assert result.error == "Slack answered HTTP 404: no_service"
    assert not load_state(state)["deliveries"]["s " + make_message().key]["retryable"]
    deliver([], channels, state)  # a permanent failure is not retried on its own
    assert len(http.requests) == 1


def test_one_failing_channel_does_not_stop_the_others(http, tmp_path):
    channels = {"dead": {"type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/x"},
                "bad": {"type": "carrier-pigeon"}, "hook": {"type": "webhook", "url": http.url()}}
    results = {d.channel: d for d in deliver([make_message()], channels, tmp_path / "s.json", retries=0)}
    assert results["dead"].status == "failed" and results["bad"].status == "failed"
    assert "unknown channel type" in results["bad"].error
    assert results["hook"].status == "delivered"


# --- state across restarts and cooldown ------------------------------------------------------------

def test_delivered_is_never_resent(http, tmp_path):
    state = tmp_path / "s.json"
    first = deliver([make_message()], hook(http), state)
    second = deliver([make_message()], hook(http), state)
    assert [d.status for d in first + second] == ["delivered", "delivered"]
    assert len(http.requests) == 1
    assert second[0].attempts == 1


def test_pending_entry_of_a_crashed_run_is_sent_once(http, tmp_path):
    state = tmp_path / "s.json"
    deliver([make_message("anomaly:a:2026-04-13")], hook(http), state)
    data = load_state(state)
    # a run that died between recording "pending" and sending
    crashed = make_message("anomaly:b:2026-04-13")
    from northstar.alerts.render import message_dict
    data["deliveries"]["hook " + crashed.key] = {
        "message_key": crashed.key, "channel": "hook", "status": "pending", "attempts": 0, "error": None,
        "at": "2026-04-14T06:00:00+00:00", "retryable": True, "message": message_dict(crashed)}
    state.write_text(json.dumps(data))
    results = deliver([], hook(http), state)
    assert [(d.message_key, d.status) for d in results] == [(crashed.key, "delivered")]
    assert [json.loads(r["body"])["key"] for r in http.requests] == ["anomaly:a:2026-04-13", crashed.key]
    deliver([make_message("anomaly:a:2026-04-13"), crashed], hook(http), state)
    assert len(http.requests) == 2


def test_a_process_killed_during_delivery_loses_nothing_and_sends_nothing_twice(http, tmp_path):
    """A real crash: a child process delivers two messages; the second gets a 500 and the child is
    SIGKILLed while it waits to retry. The next run sends only the second one, once."""
    state = tmp_path / "s.json"
    http.script = [200, 500]
    http.default = "hang"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_alerts_channels import make_message
        from northstar.alerts.delivery import deliver
        deliver([make_message("k:one:2026-04-13"), make_message("k:two:2026-04-13")],
                {{"hook": {{"type": "webhook", "url": {http.url()!r}}}}}, {str(state)!r}, retries=3, backoff=60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            entry = load_state(state)["deliveries"].get("hook k:two:2026-04-13") if state.exists() else None
            if entry and entry["attempts"] == 1 and entry["error"]:
                break
            assert child.poll() is None, "the child ended on its own"
            time.sleep(0.05)
        else:
            pytest.fail("the child never recorded the failed attempt")
        child.kill()
    finally:
        child.wait(10)
    data = load_state(state)
    assert data["deliveries"]["hook k:one:2026-04-13"]["status"] == "delivered"
    assert data["deliveries"]["hook k:two:2026-04-13"]["status"] == "pending"
    assert len(http.requests) == 2
    http.default = (200, {}, b"ok")
    results = deliver([make_message("k:one:2026-04-13"), make_message("k:two:2026-04-13")], hook(http), state)
    assert {d.message_key: d.status for d in results} == {"k:one:2026-04-13": "delivered", "k:two:2026-04-13": "delivered"}
    keys = [json.loads(r["body"])["key"] for r in http.requests]
    assert keys == ["k:one:2026-04-13", "k:two:2026-04-13", "k:two:2026-04-13"]  # 200, 500, 200
    assert [d.attempts for d in results if d.message_key == "k:two:2026-04-13"] == [2]


def test_the_state_records_when_each_alert_fired_and_was_delivered(http, tmp_path):
    """What the monitor's cooldown and the dashboard read: per alert key (the grouped input
    alert too), when it fired and when it was delivered."""
    state_path = tmp_path / "s.json"
    now = datetime(2026, 4, 14, 9, 0, tzinfo=timezone.utc)
    deliver([make_message()], hook(http), state_path, now=now)
    alerts = load_state(state_path)["alerts"]
    assert alerts[make_message().key] == {"fired": now.isoformat(), "delivered": now.isoformat()}
    assert alerts["anomaly:minutes_per_listener:2026-04-13"]["delivered"] == now.isoformat()
    assert "anomaly:other:2026-04-13" not in alerts


def test_state_file_damaged_starts_afresh(http, tmp_path):
    state = tmp_path / "s.json"
    state.write_text("{not json")
    assert deliver([make_message()], hook(http), state)[0].status == "delivered"
    assert json.loads(state.read_text())["version"] == 1


# --- secrets -------------------------------------------------------------------------------------

def test_resolve_and_missing_variable(monkeypatch):
    monkeypatch.setenv("NS_A", "alpha")
    monkeypatch.delenv("NS_MISSING", raising=False)
    assert resolve("x-${NS_A}-y") == "x-alpha-y"
    assert resolve("no vars") == "no vars"
    with pytest.raises(ChannelError) as caught:
        resolve("${NS_MISSING}")
    assert caught.value.permanent and "NS_MISSING" in str(caught.value)


def test_secrets_never_appear_in_state_errors_or_logs(http, env, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # the server echoes the request path in its error body: that must be redacted too
    http.default = (500, {}, b"no such hook: {path}")
    state = tmp_path / "s.json"
    channels = {"s": {"type": "slack", "url": "${SLACK_WEBHOOK_URL}"},
                "t": {"type": "teams", "url": "${TEAMS_WEBHOOK_URL}"},
                "h": {"type": "webhook", "url": "${HOOK_URL}", "secret": "${HOOK_SECRET}"},
                "m": {"type": "email", "host": "127.0.0.1", "port": closed_port(), "username": "u",
                      "password": "${SMTP_PASSWORD}", "sender": "a@example.com", "to": ["b@example.com"]},
                "gone": {"type": "slack", "url": "${NS_NOT_SET_ANYWHERE}"}}
    env.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    env.delenv("NS_NOT_SET_ANYWHERE", raising=False)
    results = deliver([make_message()], channels, state, retries=1, backoff=0.01)
    by = {d.channel: d for d in results}
    assert all(d.status == "failed" for d in results)
    assert by["gone"].error == "environment variable NS_NOT_SET_ANYWHERE is not set" and by["gone"].attempts == 1
    assert "***" in by["s"].error and "HTTP 500" in by["s"].error
    written = state.read_text() + " ".join(str(d) for d in results) + caplog.text
    for secret in ("xoxbSECRETTOKEN123", "T0SECRET", "SECRETTEAMS", HOOK_SECRET, SMTP_PASSWORD):
        assert secret not in written
    assert f"127.0.0.1:{http.port}" not in written  # no webhook URL at all
    assert "failed after 2 attempt(s)" in caplog.text  # the log does say what happened


# --- e-mail over a real SMTP server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[object, bytes, bool]] = []
        self.logins: list[tuple[str, bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope, envelope.content, server._tls_protocol is not None))
        return "250 OK"


@pytest.fixture
def smtp(certificate, monkeypatch):
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    box = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        box.logins.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"northstar" and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True, auth_required=True)
    controller.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test CA (and verifies it)
    monkeypatch.setenv("SMTP_USER", "northstar")
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    box.port = port
    yield box
    controller.stop()


def mail_channel(port: int, **extra) -> dict:
    return {"type": "email", "host": "127.0.0.1", "port": port, "starttls": True, "username": "${SMTP_USER}",
            "password": "${SMTP_PASSWORD}", "sender": "northstar@example.com",
            "to": ["a@example.com", "b@example.com"], **extra}


def test_email_starttls_login_multipart(smtp, tmp_path):
    message = make_message()
    [result] = deliver([message], {"mail": mail_channel(smtp.port)}, tmp_path / "s.json", retries=0)
    assert result.status == "delivered", result.error
    [(envelope, content, over_tls)] = smtp.messages
    assert over_tls
    assert smtp.logins and smtp.logins[0][1:] == (b"northstar", SMTP_PASSWORD.encode())
    assert envelope.mail_from == "northstar@example.com"
    assert envelope.rcpt_tos == ["a@example.com", "b@example.com"]
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert mail["Subject"] == message.title
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert parts["text/plain"].replace("\r\n", "\n") == message.text
    html = parts["text/html"]
    assert "<table>" in html and "74.2k" in html and 'href="http://127.0.0.1:8000/metric/listening_minutes' in html
    assert "Sessions &lt;5 min &amp; skips up" in html


def test_email_wrong_password_is_permanent(smtp, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-pass-123")
    [result] = deliver([make_message()], {"mail": mail_channel(smtp.port)}, tmp_path / "s.json", retries=3)
    assert result.status == "failed" and result.attempts == 1
    assert result.error == f"SMTP server 127.0.0.1:{smtp.port} rejected the login (SMTP 535)"
    assert not smtp.messages
    assert "wrong-pass-123" not in caplog.text + (tmp_path / "s.json").read_text()


def test_email_without_starttls_cannot_log_in(smtp, tmp_path):
    # the server offers AUTH only after STARTTLS: a login in the clear is refused, not attempted
    with pytest.raises(ChannelError) as caught:
        send(make_message(), mail_channel(smtp.port, starttls=False), 5)
    assert caught.value.permanent and "AUTH" in caught.value.message
    assert not smtp.logins


def test_email_untrusted_certificate_is_permanent(smtp, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with pytest.raises(ChannelError) as caught:
        send(make_message(), mail_channel(smtp.port), 5)
    assert caught.value.permanent and "certificate" in caught.value.message
    assert not smtp.logins


def test_email_connection_refused_is_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_USER", "u")
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    [result] = deliver([make_message()], {"mail": mail_channel(closed_port())}, tmp_path / "s.json",
                       retries=1, backoff=0.01)
    assert result.status == "failed" and result.attempts == 2 and "connection refused" in result.error


def test_email_server_that_never_greets_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_USER", "u")
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    with socket.socket() as listener:  # the kernel accepts the connection; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        [result] = deliver([make_message()], {"mail": mail_channel(port)}, tmp_path / "s.json",
                           retries=1, backoff=0.01, timeout=0.3)
    assert result.status == "failed" and result.attempts == 2
    assert result.error == f"SMTP server 127.0.0.1:{port} timed out after 0.3s"


def test_email_with_spec_model(smtp, tmp_path):
    from northstar.spec.model import AlertChannel
    channel = AlertChannel(**mail_channel(smtp.port))
    [result] = deliver([make_message()], {"mail": channel}, tmp_path / "s.json", retries=0)
    assert result.status == "delivered", result.error
    assert len(smtp.messages) == 1
