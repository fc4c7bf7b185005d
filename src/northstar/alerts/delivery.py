"""Delivery that can be trusted: retries with backoff, and state on disk.

For each (message, channel) the state file records "pending" before sending and "delivered"
(or "failed") after, written atomically. So a restart neither resends what was delivered nor
forgets what was not: pending entries of a run that died, and failures that retrying can still
help, are sent again by the next `deliver`; delivered ones never are. Errors are recorded in the
state and returned, never raised; they never contain secrets (channel configs are not stored).

State (JSON):
    {"version": 1,
     "deliveries": {"<channel> <message key>": {"message_key", "channel", "status", "attempts",
                    "error", "at", "retryable", "message": {...the AlertMessage...}}},
     "alerts": {"<alert key>": {"fired": iso, "delivered": iso | null}}}
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from northstar.alerts import render
from northstar.alerts.channels import ChannelError, send
from northstar.alerts.model import AlertMessage
from northstar.fileio import write_atomic

log = logging.getLogger("northstar.alerts.delivery")

STATE_VERSION = 1
MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class Delivery:
    message_key: str
    channel: str
    status: str              # "delivered" | "failed" | "pending"
    attempts: int
    error: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"message_key": self.message_key, "channel": self.channel, "status": self.status,
                "attempts": self.attempts, "error": self.error, "at": self.at.isoformat()}


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def load_state(path: Path | str) -> dict[str, Any]:
    """The delivery state at `path` (an empty one when the file does not exist or is unreadable)."""
    path = Path(path)
    empty: dict[str, Any] = {"version": STATE_VERSION, "deliveries": {}, "alerts": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError) as error:
        log.warning("alert state %s is unreadable (%s); starting afresh", path, type(error).__name__)
        return empty
    if not isinstance(data, dict):
        return empty
    data.setdefault("version", STATE_VERSION)
    if not isinstance(data.get("deliveries"), dict):
        data["deliveries"] = {}
    if not isinstance(data.get("alerts"), dict):
        data["alerts"] = {}
    return data


def save_state(path: Path | str, state: Mapping[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _entry_id(channel: str, message_key: str) -> str:
    return f"{channel} {message_key}"


def _delivery(entry: Mapping[str, Any]) -> Delivery:
    return Delivery(message_key=entry["message_key"], channel=entry["channel"], status=entry["status"],
                    attempts=int(entry.get("attempts", 0)), error=entry.get("error"),
                    at=_parse(entry.get("at")) or datetime.now(timezone.utc))


def deliver(messages: Iterable[AlertMessage], channels: Mapping[str, Any], state_path: Path | str,
            now: datetime | None = None, retries: int = 3, backoff: float = 0.5, timeout: float = 10.0,
            sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    """Send each message to each channel; return what happened to each (never raises for a channel).

    Pending deliveries left by an earlier run that stopped, and failures that were not permanent,
    are sent first (when their channel is among `channels`). A (message, channel) already delivered
    is not sent again. Each send is tried `1 + retries` times, waiting `backoff * 2**n` seconds in
    between (or what a 429's Retry-After asks for).
    """
    state_path = Path(state_path)
    state = load_state(state_path)
    deliveries: dict[str, Any] = state["deliveries"]
    fixed_now = _utc(now) if now is not None else None

    def clock() -> datetime:
        return fixed_now or datetime.now(timezone.utc)

    jobs: dict[str, tuple[AlertMessage, str]] = {}
    results: dict[str, Delivery] = {}
    # 1. what an earlier run did not finish
    for entry_id, entry in list(deliveries.items()):
        unfinished = entry.get("status") == "pending" or (entry.get("status") == "failed" and entry.get("retryable"))
        if unfinished and entry.get("channel") in channels and entry.get("message"):
            try:
                message = render.message_from_dict(entry["message"])
            except (KeyError, TypeError, ValueError):
                log.warning("alert state entry %s is damaged; dropped", entry_id)
                del deliveries[entry_id]
                continue
            jobs[entry_id] = (message, entry["channel"])
    # 2. this run's messages
    for message in messages:
        for name in channels:
            entry_id = _entry_id(name, message.key)
            entry = deliveries.get(entry_id)
            if entry and entry.get("status") == "delivered":
                results[entry_id] = _delivery(entry)
                continue
            jobs[entry_id] = (message, name)

    for entry_id, (message, name) in jobs.items():
        results[entry_id] = _send_one(state, state_path, entry_id, message, name, channels[name],
                                      clock, retries, backoff, timeout, sleep)
    return list(results.values())


def _send_one(state: dict[str, Any], state_path: Path, entry_id: str, message: AlertMessage, name: str,
              config: Any, clock: Callable[[], datetime], retries: int, backoff: float, timeout: float,
              sleep: Callable[[float], None]) -> Delivery:
    deliveries = state["deliveries"]
    previous = deliveries.get(entry_id) or {}
    entry: dict[str, Any] = {
        "message_key": message.key, "channel": name, "status": "pending",
        "attempts": int(previous.get("attempts", 0)), "error": previous.get("error"),
        "at": clock().isoformat(), "retryable": True, "message": render.message_dict(message),
    }
    deliveries[entry_id] = entry
    for alert in message.alerts:
        seen = state["alerts"].setdefault(alert.key, {"fired": None, "delivered": None})
        seen["fired"] = seen.get("fired") or clock().isoformat()
    save_state(state_path, state)  # "pending" is on disk before anything is sent

    attempt = 0
    while True:
        attempt += 1
        entry["attempts"] += 1
        try:
            send(message, config, timeout)
        except ChannelError as error:
            entry["error"] = error.message
            entry["at"] = clock().isoformat()
            too_long = error.retry_after is not None and error.retry_after > MAX_BACKOFF
            if too_long:  # rate limited for longer than a run should wait: the next run retries
                entry["error"] = f"{error.message} (retry after {error.retry_after:g}s)"
            if error.permanent or attempt > retries or too_long:
                entry["status"] = "failed"
                entry["retryable"] = not error.permanent
                save_state(state_path, state)
                log.warning("alert %s to %s failed after %d attempt(s): %s", message.key, name, attempt, entry["error"])
                return _delivery(entry)
            wait = backoff * (2 ** (attempt - 1))
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            wait = min(wait, MAX_BACKOFF)
            save_state(state_path, state)
            log.info("alert %s to %s: %s; retrying in %.1fs", message.key, name, error.message, wait)
            sleep(wait)
            continue
        entry.update(status="delivered", error=None, at=clock().isoformat(), retryable=False)
        entry.pop("message", None)  # never sent again: no need to keep it
        for alert in message.alerts:
            state["alerts"].setdefault(alert.key, {"fired": entry["at"], "delivered": None})["delivered"] = entry["at"]
        save_state(state_path, state)
        log.info("alert %s delivered to %s (%d attempt(s))", message.key, name, attempt)
        return _delivery(entry)
