"""No resolved `${VAR}` value in any error, wherever it is logged, stored or shown (issue 13,
finding 6): a receiver that echoes the API key of its URL (as sent, URL-decoded or encoded)
puts it neither in `monitor`'s output, nor in the state file, nor in `/api/alerts`; a URL with a
control character never prints its token; one redaction function (`envvars.redact`) masks
every form a value can come back in (property test)."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_receivers import Receiver
from northstar import envvars
from northstar.alerts import schedule
from northstar.alerts.delivery import deliver, load_state
from northstar.alerts.model import Alert, AlertMessage
from northstar.demo import generate_demo
from northstar.web import create_app

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk_live_Zk9/q+Lm=7x"  # "/", "+" and "=" come back changed when a receiver decodes or encodes them
MARK = "Zk9"                  # in every form of KEY: never in any output


def echoed(form: str):  # noqa: ANN201
    """A receiver's answer: 403 naming the key of the request's URL in `form`."""
    def answer(request: dict) -> tuple[int, bytes]:
        query = urlsplit(request["path"]).query
        raw = query.partition("api_key=")[2]
        decoded = parse_qs(query)["api_key"][0]
        key = {"as sent": raw, "decoded": decoded, "encoded": quote(decoded, safe="")}[form]
        return 403, f"invalid api key: {key}".encode()
    return answer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secrets") / "demo"
    generate_demo(folder, users=800)
    (folder / "echo.yml").write_text((folder / "northstar.yml").read_text() + """
alerts:
  state: .northstar/echo.json
  channels:
    hook: {type: webhook, url: "${HOOK_URL}"}
  rules:
    - {metrics: [listening_minutes, revenue, activation_rate], checks: [anomaly, focus, target], channels: [hook],
       sensitivity: 0.5, min_history: 12}
""")
    return folder


@pytest.mark.parametrize("form", ["as sent", "decoded", "encoded"])
def test_a_receiver_echoing_the_key_leaks_it_nowhere(demo: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = Receiver(answer=echoed(form))
    state_file = demo / ".northstar" / "echo.json"
    state_file.unlink(missing_ok=True)
    try:
        url = receiver.url(f"/hook?api_key={KEY}")
        env = {**os.environ, "HOOK_URL": url, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run([sys.executable, "-m", "northstar.cli", "-f", "echo.yml", "monitor", "--no-explain"],
                              cwd=demo, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert receiver.requests and MARK in receiver.requests[0]["path"]  # the key was sent...
        assert "HTTP 403: invalid api key: ***" in done.stderr            # ...the error is shown...
        assert MARK not in done.stderr + done.stdout                         # ...without the key
        assert MARK not in state_file.read_text()
        entry = next(iter(load_state(state_file)["deliveries"].values()))
        assert entry["error"] == "webhook answered HTTP 403: invalid api key: ***"

        monkeypatch.setenv("HOOK_URL", url)
        listing = TestClient(create_app(demo / "echo.yml")).get("/api/alerts")
        assert listing.status_code == 200 and "invalid api key: ***" in listing.text
        assert MARK not in listing.text
    finally:
        receiver.close()


def test_the_dashboard_masks_a_key_an_older_run_stored(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state written before errors were redacted (or by hand): /api/alerts masks the key still,
    in the deliveries and in the scheduler's last pass, from the spec's channel variables."""
    monkeypatch.setenv("HOOK_URL", f"http://127.0.0.1:9/hook?api_key={KEY}")
    leaked = "webhook answered HTTP 403: invalid api key: sk_live_Zk9%2Fq%20Lm%3D7x"
    state_file = demo / ".northstar" / "echo.json"
    state_file.write_text(json.dumps({"version": 1, "alerts": {}, "deliveries": {
        "hook anomaly:revenue:2026-10-26": {"message_key": "anomaly:revenue:2026-10-26", "channel": "hook",
                                            "status": "failed", "attempts": 1, "error": leaked,
                                            "at": "2026-11-05T12:00:00+00:00", "retryable": False}},
        "schedule": {"monitor": {"last": "2026-11-05T12:00:00+00:00", "alerts": 1,
                                 "error": f"RuntimeError: {KEY} refused"}}}))
    listing = TestClient(create_app(demo / "echo.yml")).get("/api/alerts")
    assert listing.status_code == 200
    assert MARK not in listing.text and "invalid api key: ***" in listing.text
    assert listing.json()["schedule"]["monitor"]["error"] == "RuntimeError: *** refused"


def _message() -> AlertMessage:
    alert = Alert(key="anomaly:m:2026-04-13", kind="anomaly", metric="m", label="M", period=date(2026, 4, 13),
                  title="M fell", value=1.0, expected=2.0)
    return AlertMessage(key=alert.key, title=alert.title, alerts=(alert,), text=alert.title)


@pytest.mark.parametrize("control", ["\r", "\n", "\t", "\x7f", " "])
def test_a_url_with_a_control_character_never_prints_its_token(tmp_path: Path, control: str,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """http.client's error for such a URL quotes it (escaped, so a plain replace of the token
    misses it): the URL is refused first, in words that do not repeat it."""
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:9/hook?token=TOKzk9{control}secret"
    monkeypatch.setenv("HOOK_URL", url)
    state = tmp_path / "s.json"
    [result] = deliver([_message()], {"hook": {"type": "webhook", "url": "${HOOK_URL}"}}, state, retries=2)
    assert result.status == "failed" and result.attempts == 1  # permanent: retrying cannot help
    assert result.error == (f"webhook URL contains a space or control character ({control!r} at character "
                            f"{url.index(control) + 1}): check the value it is read from")
    assert "TOKzk9" not in result.error + state.read_text() + caplog.text


def test_a_line_end_around_the_url_is_no_part_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL read from a secret file saved with a line end (a Kubernetes secret, a Windows
    editor) is sent without it."""
    receiver = Receiver()
    try:
        monkeypatch.setenv("HOOK_URL", receiver.url("/hook?token=TOKzk9secret") + "\r\n")
        [result] = deliver([_message()], {"hook": {"type": "webhook", "url": "${HOOK_URL}"}}, tmp_path / "s.json")
        assert result.status == "delivered" and receiver.requests[0]["path"] == "/hook?token=TOKzk9secret"
    finally:
        receiver.close()


def test_the_library_error_that_quotes_the_url_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NS_CTRL_URL", "http://127.0.0.1:9/hook?token=TOKzk9secret\r")
    url = envvars.expand("${NS_CTRL_URL}", KeyError)
    with pytest.raises(http.client.InvalidURL) as caught:
        http.client.HTTPConnection("127.0.0.1", 9).putrequest("POST", url.partition(":9")[2])
    assert "TOKzk9" in str(caught.value)  # what the library says...
    assert "TOKzk9" not in envvars.redact(str(caught.value))  # ...and what anyone gets to see


def test_a_pass_error_naming_a_resolved_value_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler logs and stores a failing pass's error: an engine password resolved from
    `${VAR}` (by the engine, not by a channel) is masked there too."""
    monkeypatch.setenv("NS_ENGINE_PASSWORD", "pw-7Hq2-engine")
    envvars.expand("postgresql://u:${NS_ENGINE_PASSWORD}@db/x", KeyError)
    line = schedule._one_line(RuntimeError("connection to db failed:\nauthentication with pw-7Hq2-engine refused"))
    assert line == "RuntimeError: connection to db failed: authentication with *** refused"


SECRET_CHARS = st.characters(blacklist_characters="*", blacklist_categories=("Cs",))


@settings(max_examples=300, deadline=None)
@given(secret=st.text(SECRET_CHARS, min_size=3, max_size=24), url=st.booleans(),
       before=st.text(st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), max_size=12),
       after=st.text(st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), max_size=12))
def test_redact_masks_every_form_of_a_secret(secret: str, url: bool, before: str, after: str) -> None:
    """Whatever the value (control characters, "/", "+", "%", unicode), inside whatever text,
    none of the forms it can be echoed in survives `redact`."""
    value = f"https://hooks.example.com/services/x?key={secret}" if url else secret
    for form in envvars.forms(value):
        text = before + form + after
        assert form not in envvars.redact(text, [value]), (form, text)
    if not url:
        for shown in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe="")):
            assert shown not in envvars.redact(f"error: {shown}!", [value])
