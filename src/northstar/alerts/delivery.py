"""Delivery that can be trusted: each message sent once however many processes run, retries
with backoff, and state on disk.

Every (message, channel) is an entry of the state file. Before sending, a process *claims* the
entry: under the state's lock (`statefile`) it checks that nobody delivered it and that no live
process is sending it, then writes it as `pending` with a claim (its pid, host, a token, and
`until`, when the claim lapses); it sends outside the lock, and writes `delivered` (or `failed`)
after. So two `monitor` runs, or `serve`'s scheduler and a cron `monitor`, never send one
message twice: the second finds it claimed or delivered and skips it.

A claim stays good while its process is alive: the process renews `until` before each attempt
and before each backoff, and each attempt is capped by the time-out (`channels.deadline`). A
claim of a process that died (on this host: its pid is gone; elsewhere: `until` has passed) is
taken over by the next run, which sends the message again: after a kill in the middle of a send
the receiver may get the message twice, with the same `X-Northstar-Delivery` key (at-least-once:
never lost; the receiver drops the duplicate by that key). A delivered entry is never sent again.

Errors are recorded in the state and returned, never raised; they go through
`envvars.redact` first (channel configs are not stored).

State (JSON):
    {"version": 1,
     "deliveries": {"<channel> <message key>": {"message_key", "channel", "status", "attempts",
                    "error", "at", "retryable", "claim": {...} (while being sent),
                    "message": {...the AlertMessage, until delivered...}}},
     "alerts": {"<alert key>": {"fired": iso, "delivered": iso | null}}}
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from northstar import envvars
from northstar.alerts import render
from northstar.alerts.channels import ChannelError, send
from northstar.alerts.claims import Claim
from northstar.alerts.model import AlertMessage
from northstar.alerts.statefile import STATE_VERSION, changing
from northstar.alerts.statefile import read as load_state
from northstar.alerts.statefile import write as save_state

__all__ = ["Delivery", "deliver", "load_state", "save_state", "STATE_VERSION", "MAX_BACKOFF"]

log = logging.getLogger("northstar.alerts.delivery")

MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class Delivery:
    message_key: str
    channel: str
    status: str              # "delivered" | "failed" | "pending" (not sent yet, or being sent by another run)
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


def _entry_id(channel: str, message_key: str) -> str:
    return f"{channel} {message_key}"


def _delivery(entry: Mapping[str, Any]) -> Delivery:
    return Delivery(message_key=entry["message_key"], channel=entry["channel"], status=entry["status"],
                    attempts=int(entry.get("attempts", 0)), error=entry.get("error"),
                    at=_parse(entry.get("at")) or datetime.now(timezone.utc))


@dataclass(frozen=True)
class _Run:
    """What every send of one `deliver` call shares."""
    state_path: Path
    claim: Claim
    clock: Callable[[], datetime]
    retries: int
    backoff: float
    timeout: float
    sleep: Callable[[float], None]


def deliver(messages: Iterable[AlertMessage], channels: Mapping[str, Any], state_path: Path | str,
            now: datetime | None = None, retries: int = 3, backoff: float = 0.5, timeout: float = 10.0,
            sleep: Callable[[float], None] = time.sleep) -> list[Delivery]:
    """Send each message to each channel; return what happened to each (never raises for a channel).

    Pending deliveries left by an earlier run that stopped, and failures that were not permanent,
    are sent first (when their channel is among `channels`). A (message, channel) already delivered,
    or being sent by another live process, is not sent again. Each send is tried `1 + retries`
    times, each attempt capped at `timeout` seconds, waiting `backoff * 2**n` seconds in between
    (or what a 429's Retry-After asks for).
    """
    fixed_now = _utc(now) if now is not None else None
    run = _Run(Path(state_path), Claim.mine(), lambda: fixed_now or datetime.now(timezone.utc),
               retries, backoff, timeout, sleep)
    jobs: dict[str, tuple[AlertMessage, str]] = {}
    seen: dict[str, int] = {}  # attempts of each entry when this run looked: another run's try shows
    results: dict[str, Delivery] = {}
    with changing(run.state_path) as state:  # damaged entries are dropped
        deliveries: dict[str, Any] = state["deliveries"]
        # 1. what an earlier run did not finish
        for entry_id, entry in list(deliveries.items()):
            if not isinstance(entry, dict):
                del deliveries[entry_id]
                continue
            unfinished = entry.get("status") == "pending" or (entry.get("status") == "failed" and entry.get("retryable"))
            if unfinished and entry.get("channel") in channels and entry.get("message"):
                try:
                    message = render.message_from_dict(entry["message"])
                except (KeyError, TypeError, ValueError):
                    log.warning("alert state entry %s is damaged; dropped", entry_id)
                    del deliveries[entry_id]
                    continue
                jobs[entry_id] = (message, entry["channel"])
                seen[entry_id] = int(entry.get("attempts") or 0)
        # 2. this run's messages
        for message in messages:
            for name in channels:
                entry_id = _entry_id(name, message.key)
                entry = deliveries.get(entry_id)
                if entry and entry.get("status") == "delivered":
                    results[entry_id] = _delivery(entry)
                    continue
                jobs[entry_id] = (message, name)
                seen[entry_id] = int((entry or {}).get("attempts") or 0)

    for entry_id, (message, name) in jobs.items():
        results[entry_id] = _send_one(run, entry_id, message, name, channels[name], seen[entry_id])
    return list(results.values())


def _claim(run: _Run, entry_id: str, message: AlertMessage, name: str, seen: int) -> Delivery | None:
    """Claim the entry for this run (None), or what another run did or is doing with it."""
    with changing(run.state_path) as state:
        deliveries = state["deliveries"]
        previous = deliveries.get(entry_id) or {}
        if previous:
            status = previous.get("status")
            other = Claim.from_dict(previous.get("claim"))
            dead = other is None or not other.alive(run.claim)
            if status == "delivered":
                return _delivery(previous)
            if status == "pending" and not dead and other != run.claim:
                log.info("alert %s to %s is being sent by %s; skipped", message.key, name, other.describe())
                return _delivery(previous)
            if int(previous.get("attempts") or 0) != seen and not (status == "pending" and dead):
                return _delivery(previous)  # another run tried it since this one looked: its result stands
        entry: dict[str, Any] = {
            "message_key": message.key, "channel": name, "status": "pending",
            "attempts": int(previous.get("attempts", 0)), "error": previous.get("error"),
            "at": run.clock().isoformat(), "retryable": True, "message": render.message_dict(message),
            "claim": run.claim.renewed(run.timeout).to_dict(),
        }
        deliveries[entry_id] = entry
        for alert in message.alerts:
            seen_alert = state["alerts"].setdefault(alert.key, {"fired": None, "delivered": None})
            seen_alert["fired"] = seen_alert.get("fired") or run.clock().isoformat()
    return None


def _ours(run: _Run, entry: Mapping[str, Any] | None) -> bool:
    return entry is not None and Claim.from_dict(entry.get("claim")) == run.claim


def _send_one(run: _Run, entry_id: str, message: AlertMessage, name: str, config: Any, seen: int) -> Delivery:
    other = _claim(run, entry_id, message, name, seen)
    if other is not None:
        return other
    attempt = 0
    while True:
        attempt += 1
        with changing(run.state_path) as state:  # still ours? then count the attempt, renew the claim
            entry = state["deliveries"].get(entry_id)
            if not _ours(run, entry):  # this run was taken for dead (stopped for longer than its claim)
                return _delivery(entry) if entry else _delivery({"message_key": message.key, "channel": name,
                                                                "status": "pending"})
            entry["attempts"] = int(entry.get("attempts") or 0) + 1
            entry["claim"] = run.claim.renewed(run.timeout).to_dict()
        try:
            send(message, config, run.timeout)
        except ChannelError as error:
            text = envvars.redact(error.message)
            too_long = error.retry_after is not None and error.retry_after > MAX_BACKOFF
            if too_long:  # rate limited for longer than a run should wait: the next run retries
                text = f"{text} (retry after {error.retry_after:g}s)"
            final = error.permanent or attempt > run.retries or too_long
            wait = min(max(run.backoff * (2 ** (attempt - 1)), error.retry_after or 0.0), MAX_BACKOFF)
            with changing(run.state_path) as state:
                entry = state["deliveries"].get(entry_id)
                if not _ours(run, entry):
                    return _delivery(entry) if entry else _delivery({"message_key": message.key, "channel": name,
                                                                    "status": "failed", "error": text})
                entry.update(error=text, at=run.clock().isoformat())
                if final:
                    entry.update(status="failed", retryable=not error.permanent)
                    entry.pop("claim", None)
                else:
                    entry["claim"] = run.claim.renewed(run.timeout + wait).to_dict()
                result = _delivery(entry)
            if final:
                log.warning("alert %s to %s failed after %d attempt(s): %s", message.key, name, attempt, text)
                return result
            log.info("alert %s to %s: %s; retrying in %.1fs", message.key, name, text, wait)
            run.sleep(wait)
            continue
        with changing(run.state_path) as state:  # delivered is a fact, whoever holds the claim now
            entry = state["deliveries"].setdefault(entry_id, {"message_key": message.key, "channel": name})
            entry.update(status="delivered", error=None, at=run.clock().isoformat(), retryable=False)
            entry["attempts"] = max(int(entry.get("attempts") or 0), attempt)
            entry.pop("message", None)  # never sent again: no need to keep it
            entry.pop("claim", None)
            for alert in message.alerts:
                state["alerts"].setdefault(alert.key, {"fired": entry["at"], "delivered": None})["delivered"] = entry["at"]
            result = _delivery(entry)
        log.info("alert %s delivered to %s (%d attempt(s))", message.key, name, attempt)
        return result
