"""Alerts a team manages: a test message through one channel, and snoozing or acknowledging an
alert, kept in the alerts state beside the exactly-once delivery state.

An alert's id is its key, `kind:metric:period` (e.g. `anomaly:revenue:2025-06-09`): stable
between passes, shown by `northstar monitor` and `northstar alerts list`. A snooze or an
acknowledgement is stored on the alert's entry of the state's `"alerts"` (where delivery keeps
when it fired and was delivered) and holds the message that alert leads, and the messages of
the same deviation: the same kind on the same metric (a later period that still deviates).

* snoozed: not sent until `until`. The first pass after it, if the metric still deviates,
  sends the message again whatever the cooldown (under a new message key when the old one was
  delivered already, so exactly-once still holds), and the snooze is done.
* acknowledged: not sent again for the same deviation; the acknowledgement ends on the first
  pass in which that kind of alert on that metric no longer fires, so a new deviation alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from northstar.alerts.model import AlertMessage
from northstar.errors import NorthstarError, QueryError
from northstar.spec.model_base import parse_duration


class ChannelFailed(NorthstarError):
    """The test message did not reach its channel."""


def family(key: str) -> str:
    """`kind:metric` of an alert key `kind:metric:period` (of a reminder key too)."""
    return key.split("@", 1)[0].rsplit(":", 1)[0]


def _channel(spec: Any, name: str) -> Any:
    channels = spec.alerts.channels
    if name not in channels:
        known = ", ".join(sorted(channels)) if channels else "none"
        raise QueryError(f"CHANNEL: '{name}' is not defined under alerts.channels (defined: {known})")
    return channels[name]


def test_message(project_name: str, channel: str, now: dt.datetime) -> AlertMessage:
    title = f"Northstar test message from project {project_name}"
    text = (f"{title}\nThis is a test of the channel '{channel}' sent by `northstar alerts test` at "
            f"{now.isoformat(timespec='seconds')}; no metric deviates.\n")
    return AlertMessage(key=f"test:{channel}:{now.strftime('%Y%m%dT%H%M%S')}", title=title, alerts=(), text=text)


def send_test(project: Any, channel: str, now: dt.datetime | None = None, timeout: float = 10.0) -> AlertMessage:
    """Send a clearly marked test message through `channel` once (no retries, no state); raise
    `ChannelFailed` naming the channel when it was not accepted."""
    from northstar import envvars
    from northstar.alerts.channels import ChannelError, send

    config = _channel(project.spec, channel)
    message = test_message(project.spec.project, channel, now or dt.datetime.now(dt.timezone.utc))
    try:
        send(message, config, timeout)
    except ChannelError as error:
        raise ChannelFailed(f"channel '{channel}': {envvars.redact(error.message).splitlines()[0]}") from None
    return message


# ---- snooze and acknowledge ---------------------------------------------------------------------

def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def snooze_end(now: dt.datetime, until: str | None = None, duration: str | None = None) -> dt.datetime:
    """When a snooze given as `--until DATE` (or date and time) or `--for 3d` ends (QueryError
    naming the option otherwise)."""
    if (until is None) == (duration is None):
        raise QueryError("--until/--for: give exactly one of them (e.g. --for 3d or --until 2026-12-24)")
    now = _utc(now)
    if duration is not None:
        try:
            span = parse_duration(duration)
        except ValueError as error:
            raise QueryError(f"--for: {error}") from None
        if span <= dt.timedelta(0):
            raise QueryError(f"--for: '{duration}' is not a positive duration")
        return now + span
    try:
        end = _utc(dt.datetime.fromisoformat(str(until)))
    except ValueError:
        raise QueryError(f"--until: '{until}' is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if end <= now:
        raise QueryError(f"--until: {until} is in the past")
    return end


def _known(state: dict[str, Any], alert_id: str) -> dict[str, Any]:
    """The alert's entry in the state's `"alerts"` (made from the record when only recorded)."""
    alerts = state["alerts"]
    if alert_id in alerts and isinstance(alerts[alert_id], dict):
        return alerts[alert_id]
    recorded = state.get("recorded") if isinstance(state.get("recorded"), dict) else {}
    if alert_id in recorded:
        first = (recorded[alert_id] or {}).get("first_seen")
        return alerts.setdefault(alert_id, {"fired": first, "delivered": None})
    raise QueryError(f"ALERT_ID: no alert '{alert_id}' in the alerts state; `northstar alerts list` shows the ids")


def snooze(path: Path, alert_id: str, end: dt.datetime, note: str | None, now: dt.datetime) -> dict[str, Any]:
    """Snooze the alert until `end` (replaces an acknowledgement or an earlier snooze)."""
    from northstar.alerts.statefile import changing

    with changing(path) as state:
        entry = _known(state, alert_id)
        entry.pop("ack", None)
        entry["snooze"] = {"until": _utc(end).isoformat(), "note": note, "at": _utc(now).isoformat()}
        return dict(entry)


def ack(path: Path, alert_id: str, note: str | None, now: dt.datetime) -> dict[str, Any]:
    """Acknowledge the alert: not sent again for the same deviation."""
    from northstar.alerts.statefile import changing

    with changing(path) as state:
        entry = _known(state, alert_id)
        entry.pop("snooze", None)
        entry["ack"] = {"note": note, "at": _utc(now).isoformat()}
        return dict(entry)


def _time(value: Any) -> dt.datetime | None:
    try:
        return _utc(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def hold_of(entry: Any, now: dt.datetime) -> tuple[str, str | None, dt.datetime | None] | None:
    """(`acknowledged` | `snoozed` | `snooze ended`, note, until) of an alert's state entry."""
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("ack"), dict):
        return "acknowledged", entry["ack"].get("note"), None
    if isinstance(entry.get("snooze"), dict):
        until = _time(entry["snooze"].get("until"))
        if until is not None:
            return ("snoozed" if _utc(now) < until else "snooze ended"), entry["snooze"].get("note"), until
    return None


def holds(state: dict[str, Any], now: dt.datetime) -> dict[str, tuple[str, str | None, dt.datetime | None]]:
    """`kind:metric` -> the hold on that deviation (an acknowledgement or a snooze)."""
    out: dict[str, tuple[str, str | None, dt.datetime | None]] = {}
    rank = {"acknowledged": 0, "snoozed": 1, "snooze ended": 2}
    for key, entry in (state.get("alerts") or {}).items():
        hold = hold_of(entry, now)
        if hold is not None and (family(key) not in out or rank[hold[0]] < rank[out[family(key)][0]]):
            out[family(key)] = hold
    return out


def reminder(message: AlertMessage, until: dt.datetime) -> AlertMessage:
    """The message sent again when its snooze ended: a new key, so delivery sends it once more."""
    return replace(message, key=f"{message.key.split('@', 1)[0]}@snooze-{until.strftime('%Y%m%dT%H%M')}")


def settle(path: Path, fired: Iterable[str], handed: Iterable[str], now: dt.datetime) -> None:
    """After a live pass: end the acknowledgements and ended snoozes of the deviations that no
    longer fire, and the ended snoozes whose message was handed to delivery."""
    from northstar.alerts.statefile import changing

    if not Path(path).exists():  # nothing snoozed nor acknowledged yet
        return
    firing, done = {family(k) for k in fired}, {family(k) for k in handed}
    with changing(path) as state:
        for key, entry in state["alerts"].items():
            hold = hold_of(entry, now)
            if hold is None or hold[0] == "snoozed":
                continue
            if family(key) not in firing or (hold[0] == "snooze ended" and family(key) in done):
                ended = entry.pop("ack", None) or entry.pop("snooze", None)
                entry["released"] = {"at": _utc(now).isoformat(), "was": hold[0], "note": (ended or {}).get("note")}


def rows(spec: Any, state: dict[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    """Every alert of the state, newest first: id, metric, period, state, note."""
    from northstar.alerts.history import listing

    out = []
    for item in listing(spec, state):
        entry = (state.get("alerts") or {}).get(item["key"])
        hold = hold_of(entry, now)
        note = hold[1] if hold else None
        if hold is None:
            statuses = {d["status"] for d in item.get("deliveries") or []}
            status = next((s for s in ("delivered", "pending", "failed") if s in statuses), "fired")
        elif hold[0] == "acknowledged":
            status = "acknowledged"
        else:
            status = f"snoozed until {hold[2].isoformat(timespec='minutes')}" if hold[0] == "snoozed" else hold[0]
        out.append({"id": item["key"], "metric": item.get("metric"), "period": item.get("period"),
                    "state": status, "note": note})
    return out


STATES = ("open", "acknowledged", "snoozed")


def states(alerts: list[dict[str, Any]], state: dict[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    """`alerts` (as `history.listing` gives them) each with its `id` (its key), its `state`: open,
    acknowledged or snoozed (a snooze that ended is open again), and the hold's `note` and
    `until` (a snooze's end, ISO)."""
    out = []
    for item in alerts:
        hold = hold_of((state.get("alerts") or {}).get(item["key"]), now)
        status = hold[0] if hold is not None and hold[0] in STATES else "open"
        out.append({"id": item["key"], **item, "state": status,
                    "note": hold[1] if hold is not None and status != "open" else None,
                    "until": hold[2].isoformat() if hold is not None and status == "snoozed" and hold[2] else None})
    return out
