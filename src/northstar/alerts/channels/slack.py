"""Slack incoming webhook: a Block Kit message (https://api.slack.com/messaging/webhooks)."""

from __future__ import annotations

import json
from typing import Any

from northstar.alerts import render
from northstar.alerts.channels import ChannelError, post_json, url_of
from northstar.alerts.model import AlertMessage


def payload(message: AlertMessage) -> dict[str, Any]:
    return render.slack(message)


def send(message: AlertMessage, channel: Any, timeout: float, secrets: list[str]) -> None:
    url = url_of(channel, secrets, "Slack")
    body = json.dumps(payload(message), ensure_ascii=False).encode("utf-8")
    status, answer = post_json(url, body, timeout, what="Slack")
    # Slack answers 200 "ok"; anything else in a 2xx body is an error description.
    text = answer.decode("utf-8", "replace").strip()
    if status == 200 and text and text != "ok":
        raise ChannelError(True, status, f"Slack did not accept the message: {text[:200]}")
