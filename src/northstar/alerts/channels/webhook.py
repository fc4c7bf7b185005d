"""Generic webhook: the alert message as JSON, signed with HMAC-SHA256 when a secret is set.

Headers: `X-Northstar-Event: alert`, `X-Northstar-Delivery: <message key>` (the same on every
retry, for the receiver to drop duplicates), `X-Northstar-Timestamp: <unix seconds>` (also in
the body as `sent_at`) and, with a secret, `X-Northstar-Signature: sha256=<hex>` — the
HMAC-SHA256 of the exact body bytes under the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from northstar.alerts import render
from northstar.alerts.channels import option, post_json, resolve, url_of
from northstar.alerts.model import AlertMessage

SIGNATURE_HEADER = "X-Northstar-Signature"
TIMESTAMP_HEADER = "X-Northstar-Timestamp"


def sign(secret: str | bytes, body: bytes) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature or "")


def send(message: AlertMessage, channel: Any, timeout: float, secrets: list[str]) -> None:
    url = url_of(channel, secrets, "webhook")
    secret = resolve(option(channel, "secret"), secrets)
    if secret:
        secrets.append(secret)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    body = json.dumps(render.webhook(message, now), ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"X-Northstar-Event": "alert", "X-Northstar-Delivery": message.key,
               TIMESTAMP_HEADER: str(int(now.timestamp()))}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    post_json(url, body, timeout, headers, what="webhook")
