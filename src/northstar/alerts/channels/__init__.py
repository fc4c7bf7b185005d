"""Channels: send one alert message to Slack, Teams, a webhook or by e-mail.

`send(message, channel, timeout)` returns when the channel accepted the message and raises
`ChannelError` otherwise: `permanent` tells the delivery loop whether retrying can help (a
time-out, a refused connection, 429 and 5xx can; another 4xx or a missing variable cannot).
Values of `${VAR}` come from the environment only when sending; error messages never contain
them (nor a webhook URL, which is a secret in itself).
"""

from __future__ import annotations

import http.client
import re
import socket
import urllib.error
import urllib.request
from typing import Any, Mapping
from urllib.parse import urlsplit

from northstar import envvars
from northstar.alerts.channels.deadline import Deadline
from northstar.alerts.model import AlertMessage

__all__ = ["ChannelError", "send", "resolve", "option"]

USER_AGENT = "northstar-alerts/1"
MAX_RETRY_AFTER = 86400.0


class ChannelError(Exception):
    """A message the channel did not accept. `permanent`: retrying will not help."""

    def __init__(self, permanent: bool, status: int | None, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


def resolve(text: str | None, secrets: list[str] | None = None) -> str | None:
    """`text` with each `${VAR}` replaced by the environment variable's value.

    A missing variable is a permanent `ChannelError` naming the variable. Resolved values are
    appended to `secrets` (when given) so that callers can keep them out of messages.
    """
    if text is None:
        return None
    text = str(text)

    return envvars.expand(text, lambda name: ChannelError(True, None, f"environment variable {name} is not set"),
                          secrets)


def option(config: Any, name: str, default: Any = None) -> Any:
    """A channel option from a pydantic model, another object or a plain dict."""
    if isinstance(config, Mapping):
        found = config.get(name, default)
    else:
        found = getattr(config, name, default)
    return default if found is None else found


def redact(text: str, secrets: list[str]) -> str:
    """`text` without `secrets` nor any value resolved from a `${VAR}` (`envvars.redact`)."""
    return envvars.redact(text, secrets)


def send(message: AlertMessage, channel: Any, timeout: float = 10.0) -> None:
    """Send `message` through `channel` (its config); raise `ChannelError` when it was not accepted."""
    kind = option(channel, "type")
    secrets: list[str] = []
    try:
        if kind == "slack":
            from northstar.alerts.channels import slack
            slack.send(message, channel, timeout, secrets)
        elif kind == "teams":
            from northstar.alerts.channels import teams
            teams.send(message, channel, timeout, secrets)
        elif kind == "webhook":
            from northstar.alerts.channels import webhook
            webhook.send(message, channel, timeout, secrets)
        elif kind == "email":
            from northstar.alerts.channels import email
            email.send(message, channel, timeout, secrets)
        else:
            raise ChannelError(True, None, f"unknown channel type {kind!r} (slack, teams, webhook or email)")
    except ChannelError as error:
        error.message = redact(error.message, secrets)
        error.args = (error.message,)
        raise
    except Exception as error:  # a bug or an unexpected library error: still never leak secrets
        raise ChannelError(False, None, redact(f"{type(error).__name__}: {error}", secrets)) from None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        from email.utils import parsedate_to_datetime
        from datetime import datetime, timezone
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, min((when - datetime.now(timezone.utc)).total_seconds(), MAX_RETRY_AFTER))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a webhook answering with a redirect is misconfigured
        return None


def _watched(base: type[http.client.HTTPConnection], deadline: Deadline) -> type[http.client.HTTPConnection]:
    """`base` whose sockets are registered with `deadline` as they are opened."""
    class Watched(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            create = self._create_connection

            def created(*a: Any, **k: Any) -> socket.socket:
                sock = create(*a, **k)
                deadline.watch(sock)
                return sock

            self._create_connection = created

    return Watched


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_watched(http.client.HTTPConnection, self.deadline), req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_watched(http.client.HTTPSConnection, self.deadline), req, context=self._context)


_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def post_json(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None,
              what: str = "webhook") -> tuple[int, bytes]:
    """POST `body` as JSON; return (status, response body) for 2xx, raise `ChannelError` otherwise.

    `timeout` caps the whole attempt (connecting, sending, and reading the answer however slowly
    it trickles in: see `deadline`), not each read. Uses urllib (which logs nothing: the URL is a
    secret). Never puts the URL in an error.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(True, None, f"{what} URL is not an http(s) URL")
    bad = _CONTROL.search(url)
    if bad:  # http.client would refuse it with the URL in its message
        raise ChannelError(True, None, f"{what} URL contains a space or control character ({bad.group()!r} at "
                                       f"character {bad.start() + 1}): check the value it is read from")
    with Deadline(timeout) as deadline:
        handlers: list[Any] = [_NoRedirect(), _HTTP(deadline), _HTTPS(deadline)]
        if parts.hostname in ("127.0.0.1", "localhost", "::1"):
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})})
        try:
            return _exchange(opener, request, deadline, what)
        except ChannelError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever the library made of the cut connection
            if deadline.expired:
                raise ChannelError(False, None, f"{what} timed out after {timeout:g}s") from None
            raise _failure(error, what, timeout) from None


def _exchange(opener: urllib.request.OpenerDirector, request: urllib.request.Request, deadline: Deadline,
              what: str) -> tuple[int, bytes]:
    try:
        with opener.open(request, timeout=deadline.remaining()) as response:
            answer = response.read(65536)
            if deadline.expired:
                raise TimeoutError
            return response.status, answer
    except urllib.error.HTTPError as error:
        status = error.code
        try:
            detail = error.read(300).decode("utf-8", "replace").strip()
        except Exception:
            detail = ""
        finally:
            error.close()
        if deadline.expired:
            raise TimeoutError from None
        detail = " ".join(detail.split())[:200]
        text = f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429:
            raise ChannelError(False, status, text, _retry_after(error.headers.get("Retry-After"))) from None
        if status >= 500 or status == 408:
            raise ChannelError(False, status, text) from None
        raise ChannelError(True, status, text) from None


def _failure(error: BaseException, what: str, timeout: float) -> ChannelError:
    """The `ChannelError` for a connection that failed before the deadline."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return ChannelError(False, None, f"{what} timed out after {timeout:g}s")
    if isinstance(reason, ConnectionRefusedError):
        return ChannelError(False, None, f"{what}: connection refused")
    if isinstance(reason, socket.gaierror):
        return ChannelError(False, None, f"{what}: host name not found")
    import ssl
    if isinstance(reason, ssl.SSLCertVerificationError):
        return ChannelError(True, None, f"{what}: TLS certificate not trusted")
    if isinstance(error, urllib.error.URLError) and isinstance(reason, str):
        return ChannelError(False, None, f"{what}: error")
    if isinstance(reason, ValueError):  # e.g. http.client.InvalidURL: retrying cannot help
        return ChannelError(True, None, f"{what}: {type(reason).__name__}")
    return ChannelError(False, None, f"{what}: {type(reason).__name__}")


def url_of(channel: Any, secrets: list[str], what: str) -> str:
    url = (resolve(option(channel, "url"), secrets) or "").strip()  # a secret file's line end is no part of it
    if not url:
        raise ChannelError(True, None, f"{what} channel has no url")
    # the whole URL is a secret (Slack/Teams webhook URLs carry their token in the path, others
    # in the query or user info), even when written literally in the spec: `envvars.forms`
    # keeps its path, query values and token-like segments out of messages, even echoed back
    secrets.append(url)
    return url
