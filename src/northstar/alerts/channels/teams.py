"""Microsoft Teams incoming webhook or Workflows (Power Automate) URL: an Adaptive Card message."""

from __future__ import annotations

import json
from typing import Any

from northstar.alerts import render
from northstar.alerts.channels import post_json, url_of
from northstar.alerts.model import AlertMessage


def payload(message: AlertMessage) -> dict[str, Any]:
    return render.teams(message)


def send(message: AlertMessage, channel: Any, timeout: float, secrets: list[str]) -> None:
    url = url_of(channel, secrets, "Teams")
    body = json.dumps(payload(message), ensure_ascii=False).encode("utf-8")
    post_json(url, body, timeout, what="Teams")  # 200 (incoming webhook) or 202 (workflow)
