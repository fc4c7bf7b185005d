"""`${VAR}` references in the spec (tokens, webhook URLs, engine credentials): replaced by the
environment's values only where they are used, so that no secret is written in the spec.

Every value `expand` resolves is also remembered for the life of the process, and `redact`
takes all of them (and the forms in which a receiver or a library may echo them: URL-decoded,
URL-encoded, escaped by `repr` or JSON, a URL's query values and token-like path segments) out
of a text. It is the one function every error text goes through before it is logged, stored in
a state file or shown, so an error that echoes a key never carries it, whatever its wording.
"""

from __future__ import annotations

import json
import os
import re
import threading
from functools import lru_cache
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"
MIN_SECRET = 3  # shorter values ("1", "on") are no secrets, and masking them would garble every text
_WORDY_SEGMENT = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")  # a URL path segment such as "services", "hook"

_resolved: set[str] = set()
_resolved_lock = threading.Lock()


def expand(text: str, missing: Callable[[str], Exception], found: list[str] | None = None) -> str:
    """`text` with each `${VAR}` replaced by the variable's value. A variable that is not set
    raises `missing(name)` (the caller's own error, naming the variable, never a value); the
    values used are appended to `found` when given, and remembered for `redact` in any case."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise missing(name)
        resolved = os.environ[name]
        if resolved:
            remember(resolved)
            if found is not None:
                found.append(resolved)
        return resolved

    return REFERENCE.sub(value, text)


def remember(*secrets: str) -> None:
    """Keep `secrets` out of every text `redact` sees from now on (this process)."""
    with _resolved_lock:
        _resolved.update(s for s in secrets if s)


def values_in(text: str | None) -> list[str]:
    """The current values of the `${VAR}` references in `text` (set and non-empty ones)."""
    return [os.environ[name] for name in REFERENCE.findall(str(text or "")) if os.environ.get(name)]


@lru_cache(maxsize=256)
def forms(secret: str) -> frozenset[str]:
    """`secret` and the forms in which it may come back inside a message: URL-decoded and
    URL-encoded, escaped by `repr` or JSON (a control character in it), and, for a URL, its path,
    query, password, each query value and each token-like path segment."""
    found = {secret}
    parts = None
    if "://" in secret:
        try:
            parts = urlsplit(secret)
        except ValueError:
            parts = None
    if parts is not None:
        found.update(p for p in (parts.path, parts.query, parts.fragment, parts.password) if p)
        found.update(v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v)
        found.update(v.partition("=")[2] for v in parts.query.split("&") if "=" in v)
        found.update(s for s in parts.path.split("/") if len(s) >= 6 and not _WORDY_SEGMENT.fullmatch(s))
        if parts.username and parts.password:
            found.add(f"{parts.username}:{parts.password}")
    out: set[str] = set()
    for item in found:
        out.update((item, unquote(item), unquote_plus(item), quote(item, safe=""), quote_plus(item, safe=""),
                    repr(item)[1:-1], json.dumps(item)[1:-1], json.dumps(item, ensure_ascii=False)[1:-1]))
    return frozenset(s for s in out if len(s) >= MIN_SECRET)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without any value resolved from a `${VAR}` in this process, nor any of `secrets`,
    in any of their `forms` (each replaced by `***`, the longest first)."""
    if not text:
        return text
    with _resolved_lock:
        every = set(_resolved)
    every.update(s for s in secrets if s)
    masks: set[str] = set()
    for secret in every:
        masks.update(forms(secret))
    for secret in sorted(masks, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
