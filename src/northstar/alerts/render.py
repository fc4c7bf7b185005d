"""The texts of an alert message, one per channel format.

Slack gets Block Kit (https://api.slack.com/reference/block-kit/blocks) with a top-level `text`
fallback, Teams an Adaptive Card 1.4 in a message attachment
(https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference),
webhooks the message as JSON, e-mail a subject with plain-text and HTML parts.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timezone
from typing import Any

from northstar.alerts.model import Alert, AlertMessage

SEVERITY_MARK = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

# Slack limits: header text 150 characters, section text 3000, a field 2000, 10 fields, 50 blocks.
_SLACK_HEADER = 150
_SLACK_TEXT = 3000
_SLACK_BLOCKS = 50


def number(value: float | None) -> str:
    """A number for people: 16300 → "16.3k", 0.1834 → "0.183", None → "–"."""
    if value is None:
        return "–"
    v = float(value)
    if v != v:  # NaN
        return "–"
    magnitude = abs(v)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{v / limit:.3g}{suffix}".replace("e+", "e")
    if v == int(v):
        return str(int(v))
    return f"{v:.3g}"


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The numbers of one alert as (name, value) pairs, the same in every channel."""
    rows = [("Metric", alert.label or alert.metric), ("Period", _iso(alert.period)),
            ("Value", number(alert.value)), ("Expected", number(alert.expected))]
    if alert.lower is not None or alert.upper is not None:
        rows.append(("Range", f"{number(alert.lower)} – {number(alert.upper)}"))
    rows.append(("Severity", alert.severity))
    return rows


def _iso(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # Slack mrkdwn: only &, < and > are control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(message: AlertMessage) -> str:
    """The plain-text body: the message's own text, else one built from its alerts."""
    if message.text:
        return message.text
    lines = [message.title, ""]
    for alert in message.alerts:
        lines.append(f"{SEVERITY_MARK.get(alert.severity, '')} {alert.title}".strip())
        lines.extend(f"  {name}: {value}" for name, value in facts(alert))
        lines.extend(f"  Why: {why}" for why in alert.why)
        if alert.link:
            lines.append(f"  {alert.link}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def slack(message: AlertMessage) -> dict[str, Any]:
    """A Slack incoming-webhook payload: Block Kit blocks and the `text` fallback for notifications."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.title, _SLACK_HEADER), "emoji": True}},
    ]
    for i, alert in enumerate(message.alerts):
        if len(blocks) > _SLACK_BLOCKS - 5:
            break
        if i:
            blocks.append({"type": "divider"})
        mark = SEVERITY_MARK.get(alert.severity, "")
        blocks.append({
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(f"{mark} *{_slack_escape(alert.title)}*".strip(), _SLACK_TEXT)},
            "fields": [{"type": "mrkdwn", "text": _clip(f"*{name}*\n{_slack_escape(value)}", 2000)}
                       for name, value in facts(alert)][:10],
        })
        if alert.why:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": _clip("Why: " + _slack_escape(why), _SLACK_TEXT)} for why in alert.why[:10]]})
        if alert.link:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "action_id": f"open-{i}",
                "text": {"type": "plain_text", "text": "Open in dashboard", "emoji": True},
                "url": alert.link}]})
    return {"text": _clip(message.title, _SLACK_TEXT), "blocks": blocks}


def teams(message: AlertMessage) -> dict[str, Any]:
    """A Teams incoming-webhook / workflow payload: a message with one Adaptive Card (1.4) attachment."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "size": "Large", "weight": "Bolder", "wrap": True},
    ]
    actions: list[dict[str, Any]] = []
    for alert in message.alerts:
        color = {"critical": "Attention", "warning": "Warning"}.get(alert.severity, "Default")
        body.append({"type": "TextBlock", "text": alert.title, "weight": "Bolder", "color": color,
                     "wrap": True, "spacing": "Medium", "separator": len(body) > 1})
        body.append({"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(alert)]})
        for why in alert.why:
            body.append({"type": "TextBlock", "text": f"Why: {why}", "wrap": True, "isSubtle": True, "spacing": "Small"})
        if alert.link:
            title = "Open in dashboard" if len(message.alerts) == 1 else f"Open {alert.label or alert.metric}"
            actions.append({"type": "Action.OpenUrl", "title": title, "url": alert.link})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def webhook(message: AlertMessage, sent_at: datetime | None = None) -> dict[str, Any]:
    """The generic webhook JSON: the message with its alerts, an event type and when it was sent."""
    sent_at = sent_at or datetime.now(timezone.utc)
    payload: dict[str, Any] = {"event": "northstar.alert", "id": message.key,
                               "sent_at": sent_at.isoformat(timespec="seconds")}
    payload.update(message_dict(message))
    return payload


def message_dict(message: AlertMessage) -> dict[str, Any]:
    if hasattr(message, "to_dict"):
        return message.to_dict()
    return {"key": message.key, "title": message.title, "text": message.text,
            "alerts": [_alert_dict(a) for a in message.alerts]}


def _alert_dict(alert: Alert) -> dict[str, Any]:
    if hasattr(alert, "to_dict"):
        return alert.to_dict()
    return {"key": alert.key, "kind": alert.kind, "metric": alert.metric, "label": alert.label,
            "period": _iso(alert.period), "title": alert.title, "value": alert.value,
            "expected": alert.expected, "lower": alert.lower, "upper": alert.upper,
            "why": list(alert.why), "link": alert.link, "severity": alert.severity}


def message_from_dict(data: dict[str, Any]) -> AlertMessage:
    """The inverse of `message_dict` (the delivery state keeps pending messages this way)."""
    alerts = tuple(
        Alert(key=a["key"], kind=a["kind"], metric=a["metric"], label=a["label"],
              period=date.fromisoformat(a["period"]), title=a["title"], value=a.get("value"),
              expected=a.get("expected"), lower=a.get("lower"), upper=a.get("upper"),
              why=tuple(a.get("why") or ()), link=a.get("link"), severity=a.get("severity", "warning"))
        for a in data.get("alerts", ()))
    return AlertMessage(key=data["key"], title=data["title"], alerts=alerts, text=data.get("text", ""))


def email(message: AlertMessage) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the e-mail."""
    text = plain_text(message)
    esc = html.escape
    parts = [f"<h2 style=\"margin:0 0 12px\">{esc(message.title)}</h2>"]
    for alert in message.alerts:
        rows = "".join(f"<tr><th align=\"left\" style=\"padding:2px 12px 2px 0\">{esc(name)}</th>"
                       f"<td>{esc(value)}</td></tr>" for name, value in facts(alert))
        parts.append(f"<h3 style=\"margin:16px 0 4px\">{esc(SEVERITY_MARK.get(alert.severity, ''))} {esc(alert.title)}</h3>")
        parts.append(f"<table>{rows}</table>")
        if alert.why:
            parts.append("<ul>" + "".join(f"<li>{esc(why)}</li>" for why in alert.why) + "</ul>")
        if alert.link:
            parts.append(f"<p><a href=\"{esc(alert.link, quote=True)}\">Open in dashboard</a></p>")
    body = "\n".join(parts)
    doc = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(message.title) + "</title></head>"
           "<body style=\"font-family:sans-serif\">\n" + body + "\n</body></html>\n")
    return message.title, text, doc
