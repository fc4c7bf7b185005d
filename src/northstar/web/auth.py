"""The dashboard's token: where it comes from, how a request proves it, and keeping it secret.

The token is, in order: the one passed to `create_app` (`northstar serve --token`), the
environment's `NORTHSTAR_TOKEN`, the spec's `web.token` (a `${VAR}` in it is read from the
environment when the app starts; a variable that is not set is a one-line SpecError naming
it). Without a token the app is open, which is why it binds to 127.0.0.1 by default.

With a token, every request (pages, API, `/docs`, `/openapi.json`, `/static`) must carry it
as `Authorization: Bearer <token>`, as `?token=<token>`, or in the `northstar_session`
cookie. A request that passes with `?token=` gets that cookie (HttpOnly, SameSite=Strict) so
the page's own requests pass too; the cookie holds an HMAC of the token, never the token.
Tokens are compared with `hmac.compare_digest`. Missing or wrong: 401 in the error shape
(an HTML page for a browser asking for a page). The token never appears in a response or a
log line (`RedactTokens`): every query parameter whose name, percent-decoded and in any case,
contains "token" has its value masked (`?%74oken=`, `?TOKEN=`, a rejected one too), and the
token itself is masked wherever else it appears, raw or percent-encoded. uvicorn logs no
header, so a bearer token or the cookie never reaches its access log.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from collections.abc import Iterable
from urllib.parse import parse_qs, quote, quote_plus, unquote_plus

from northstar import envvars
from northstar.errors import SpecError
from northstar.i18n import negotiate, t
from northstar.web.errors import error_body

ENV_TOKEN = "NORTHSTAR_TOKEN"
COOKIE = "northstar_session"
# A query string inside a log line: from `?` to the next blank or quote.
_QUERY = re.compile(r"\?([^\s\"']*)")
MASK = "***"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def resolve_token(explicit: str | None, loaded: Any) -> str | None:
    """The token in force (see the module docstring); `${VAR}` references are expanded."""
    if explicit:
        return explicit
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN]
    raw = loaded.spec.web.token
    if not raw:
        return None

    def missing(name: str) -> SpecError:
        return SpecError([loaded.lines.problem(("web", "token"), f"web.token: the environment variable {name} is not set")])

    return envvars.expand(raw, missing) or None


def session_value(token: str) -> str:
    """What the cookie holds: an HMAC of the token, so the token itself is never sent back."""
    return hmac.new(token.encode(), b"northstar-session-v1", hashlib.sha256).hexdigest()


def _presented(scope: Scope) -> tuple[str | None, str | None, bool]:
    """(bearer or query token, cookie value, whether it came in the query)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), None, False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0], None, True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is simply no cookie
        return None, None, False
    morsel = cookie.get(COOKIE)
    return None, morsel.value if morsel else None, False


def _unauthorized(scope: Scope) -> tuple[bytes, str]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    lang = negotiate((query.get("lang") or [None])[0], headers.get("accept-language"))
    path = scope.get("path", "/")
    wants_page = not path.startswith(("/api", "/openapi.json", "/static")) and "text/html" in headers.get("accept", "")
    message = t("api.unauthorized", lang)
    if not wants_page:
        body = json.dumps(error_body(401, "unauthorized", message), separators=(",", ":"))
        return body.encode(), "application/json"
    title = html.escape(t("api.unauthorized_title", lang))
    page = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
            "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;"
            "color:#222}code{background:#f2f2f2;padding:0 .2rem}</style></head><body>"
            f"<h1>401 · {title}</h1><p>{html.escape(message)}</p>"
            f"<p>{html.escape(t('api.unauthorized_hint', lang))} <code>?token=…</code></p></body></html>")
    return page.encode(), "text/html; charset=utf-8"


class TokenMiddleware:
    """ASGI middleware: every HTTP request needs the token (see the module docstring)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()
        self.session = session_value(token).encode()

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, cookie, from_query = _presented(scope)
        ok = (given is not None and hmac.compare_digest(given.encode(), self.token)) or \
             (cookie is not None and hmac.compare_digest(cookie.encode(), self.session))
        if not ok:
            body, kind = _unauthorized(scope)
            headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
                       (b"www-authenticate", b'Bearer realm="northstar"'), (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if not from_query:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie_header = f"{COOKIE}={self.session.decode()}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie_header.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _masked_query(query: str, secrets: Iterable[str]) -> str:
    """A query string with the value of every parameter named like a token masked (the name
    percent-decoded and case-folded, as a careless or hostile client may write it), and any
    value that decodes to one of `secrets` masked too."""
    pieces = []
    for piece in query.split("&"):
        name, sep, value = piece.partition("=")
        decoded = unquote_plus(value)
        if sep and ("token" in unquote_plus(name).casefold() or any(s and s in decoded for s in secrets)):
            value = MASK
        pieces.append(f"{name}{sep}{value}")
    return "&".join(pieces)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (a log line, a path with its query) with tokens masked: see the module docstring."""
    known = [s for s in secrets if s]
    text = _QUERY.sub(lambda m: "?" + _masked_query(m.group(1), known), text)
    for secret in known:
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}:
            text = text.replace(form, MASK)
    return text


class RedactTokens(logging.Filter):
    """Masks tokens in log records (uvicorn's access log prints full paths with their queries).

    `secrets`: the token in force, masked wherever it appears (also in a traceback)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a, self.secrets) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v, self.secrets) if isinstance(v, str) else v for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = redact(record.msg, self.secrets)
        if record.exc_info and self.secrets:  # format the traceback now, masked
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


def install_log_redaction(token: str | None = None) -> None:
    """Add the redacting filter to uvicorn's and Northstar's web loggers (idempotent; a token
    given is masked from then on, in every one of them)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn", "northstar.web"):
        logger = logging.getLogger(name)
        found = next((f for f in logger.filters if isinstance(f, RedactTokens)), None)
        if found is None:
            found = RedactTokens()
            logger.addFilter(found)
        if token:
            found.secrets.add(token)
