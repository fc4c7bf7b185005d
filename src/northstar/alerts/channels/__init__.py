"""Channels: send one alert message to Slack, Teams, a webhook or by e-mail.

`send(message, channel, timeout)` returns when the channel accepted the message and raises
`ChannelError` otherwise: `permanent` tells the delivery loop whether retrying can help (a
time-out, a refused connection, 429 and 5xx can; another 4xx or a missing variable cannot).
Values of `${VAR}` come from the environment only when sending; error messages never contain
them (nor a webhook URL, which is a secret in itself).
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from typing import Any, Mapping
from urllib.parse import urlsplit

from northstar import envvars
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
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


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


def post_json(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None,
              what: str = "webhook") -> tuple[int, bytes]:
    """POST `body` as JSON; return (status, response body) for 2xx, raise `ChannelError` otherwise.

    Uses urllib (which logs nothing: the URL is a secret). Never puts the URL in an error.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(True, None, f"{what} URL is not an http(s) URL")
    handlers: list[Any] = [_NoRedirect()]
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(65536)
    except urllib.error.HTTPError as error:
        status = error.code
        try:
            detail = error.read(300).decode("utf-8", "replace").strip()
        except Exception:
            detail = ""
        finally:
            error.close()
        detail = " ".join(detail.split())[:200]
        text = f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429:
            raise ChannelError(False, status, text, _retry_after(error.headers.get("Retry-After"))) from None
        if status >= 500 or status == 408:
            raise ChannelError(False, status, text) from None
        raise ChannelError(True, status, text) from None
    except (TimeoutError, socket.timeout):
        raise ChannelError(False, None, f"{what} timed out after {timeout:g}s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise ChannelError(False, None, f"{what} timed out after {timeout:g}s") from None
        if isinstance(reason, ConnectionRefusedError):
            raise ChannelError(False, None, f"{what}: connection refused") from None
        if isinstance(reason, socket.gaierror):
            raise ChannelError(False, None, f"{what}: host name not found") from None
        import ssl
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise ChannelError(True, None, f"{what}: TLS certificate not trusted") from None
        raise ChannelError(False, None, f"{what}: {type(reason).__name__ if not isinstance(reason, str) else 'error'}") from None
    except (ConnectionError, OSError) as error:
        raise ChannelError(False, None, f"{what}: {type(error).__name__}") from None


def url_of(channel: Any, secrets: list[str], what: str) -> str:
    url = resolve(option(channel, "url"), secrets)
    if not url:
        raise ChannelError(True, None, f"{what} channel has no url")
    # the whole URL is a secret (Slack/Teams webhook URLs carry their token in the path, others
    # in the query or user info): keep every part of it out of messages, even when echoed back
    parts = urlsplit(url)
    secrets.append(url)
    secrets.extend(p for p in (parts.path, parts.query, parts.password) if p and len(p) > 1)
    secrets.extend(segment for segment in parts.path.split("/") if len(segment) >= 6)
    return url
