"""`northstar serve` runs the monitor on a schedule, and sends the weekly digest.

`due(now, state, alerts, timezone)` is the whole policy, a pure function:

* a monitoring pass is due when none was run yet, or the last one started `alerts.every`
  (default 1h) or more ago. It runs with or without channels (without, it only records the
  alerts in the state, for the dashboard);
* the digest is due when `alerts.digest` names a channel, its weekday and time (in the spec's
  `timezone`) have been reached, the digest of that slot was not sent yet, and the slot is
  at most `DIGEST_GRACE` old (a server started on a Thursday does not send Monday's digest).

The last pass and the last digest's slot are kept in the alerts state (`"schedule"`), so a
restart neither runs a pass early nor sends a digest twice. `Scheduler` is the background
thread: it wakes every `tick` seconds, asks `due`, computes what is due under the dashboard's
compute lock (the engine is not thread-safe: `prepare`) and sends it after releasing the lock
(`finish`), so a webhook that does not answer never makes a page wait. A failing pass is logged
in one line and the thread goes on; `stop()` ends it between passes. Another process (a cron
`northstar monitor`) may run beside it: the state's lock and the delivery claims make each
message go out once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from dataclasses import dataclass
from typing import Any, Callable

from northstar.spec.model import parse_duration
from northstar.spec.settings import WEEKDAYS, parse_clock

log = logging.getLogger("northstar.alerts.schedule")

DIGEST_GRACE = dt.timedelta(days=1)
TICK = 30.0  # seconds between two looks at what is due
DELAY = 10.0  # seconds after the start before the first look (the first page views come first)


@dataclass(frozen=True)
class Due:
    monitor: bool
    digest: dt.datetime | None = None  # the slot of the digest to send now (aware), or None


def _time(value: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def digest_slot(now: dt.datetime, weekday: str, time: str, timezone: str) -> dt.datetime:
    """The latest `weekday` at `time` in `timezone` at or before `now`."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date() - dt.timedelta(days=(local.weekday() - WEEKDAYS.index(weekday)) % 7)
    slot = dt.datetime.combine(day, parse_clock(time), tzinfo=zone)
    return slot if slot <= local else slot - dt.timedelta(days=7)


def due(now: dt.datetime, state: dict[str, Any], alerts: Any, timezone: str) -> Due:
    """What is due at `now` (aware) given the alerts state and the spec's `alerts` settings."""
    schedule = state.get("schedule") if isinstance(state.get("schedule"), dict) else {}
    last = _time((schedule.get("monitor") or {}).get("last"))
    monitor = last is None or now - last >= parse_duration(alerts.every) or last > now
    digest = None
    settings = alerts.digest
    if settings is not None and settings.channel and settings.channel in alerts.channels:
        slot = digest_slot(now, settings.weekday, settings.time, timezone)
        sent = _time((schedule.get("digest") or {}).get("slot"))
        if (sent is None or slot > sent) and now - slot <= DIGEST_GRACE:
            digest = slot
    return Due(monitor, digest)


def _one_line(exc: BaseException) -> str:
    from northstar import envvars

    text = " ".join(str(exc).split())
    return envvars.redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _mark(path: Any, part: str, entry: dict[str, Any]) -> None:
    from northstar.alerts.statefile import changing

    with changing(path) as state:  # under the state's lock: a `monitor` may be delivering meanwhile
        schedule = state.get("schedule") if isinstance(state.get("schedule"), dict) else {}
        schedule[part] = entry
        state["schedule"] = schedule


@dataclass
class Prepared:
    """What is due at `now`, computed (under the engine) and ready to send (without it)."""
    project: Any
    path: Any
    now: dt.datetime
    due: Due
    result: Any = None          # the pass's MonitorResult (its messages not sent yet)
    error: str | None = None    # why the pass could not be computed
    digest: Any = None          # the digest's AlertMessage
    digest_error: str | None = None


def prepare(project: Any, now: dt.datetime) -> Prepared:
    """The computing half of `step`: what is due, the pass's alerts and the digest. It needs the
    engine (`serve` runs it under the dashboard's computation lock); it sends nothing."""
    from northstar.alerts import history, monitor
    from northstar.alerts.digest import digest

    path = monitor.state_path(project)
    what = due(now, history.read(path), project.spec.alerts, project.spec.timezone)
    work = Prepared(project, path, now, what)
    if what.monitor:
        try:
            work.result = monitor.plan(project, now, every=True)  # the server serves every North Star
        except Exception as exc:  # noqa: BLE001 - a failing pass never stops the server
            work.error = _one_line(exc)
    if what.digest is not None:
        try:
            work.digest = digest(project, every=True)  # every North Star the server serves
        except Exception as exc:  # noqa: BLE001 - the next slot tries again; the server goes on
            work.digest_error = _one_line(exc)
    return work


def finish(work: Prepared) -> Due:
    """The sending half of `step`: deliver the pass's messages and the digest, record both in the
    state. Uses no engine (`serve` runs it outside the computation lock). Never raises for a pass."""
    from northstar.alerts import monitor

    if work.due.monitor:
        entry: dict[str, Any] = {"last": work.now.isoformat(), "error": work.error}
        if work.result is not None:
            try:
                result = monitor.dispatch(work.project, work.result, work.now)
                entry["alerts"] = len(result.alerts)
                entry["messages"] = {o.message.key: o.status for o in result.outgoing}
            except Exception as exc:  # noqa: BLE001 - a failing pass never stops the server
                entry["error"] = _one_line(exc)
        if entry["error"]:
            log.warning("alerts: the monitoring pass failed: %s", entry["error"])
        _mark(work.path, "monitor", entry)
    if work.due.digest is not None:
        _send_digest(work)
    return work.due


def step(project: Any, now: dt.datetime) -> Due:
    """Run what is due at `now` on `project`; record it in the state. Never raises for a pass."""
    return finish(prepare(project, now))


def _send_digest(work: Prepared) -> None:
    from northstar.alerts.delivery import deliver

    project, slot = work.project, work.due.digest
    assert slot is not None
    name = project.spec.alerts.digest.channel
    entry: dict[str, Any] = {"slot": slot.isoformat(), "at": work.now.isoformat(), "channel": name,
                             "error": work.digest_error}
    if work.digest is None:
        entry["status"] = "failed"
    else:
        try:
            entry["key"] = work.digest.key
            results = deliver([work.digest], {name: project.spec.alerts.channels[name]}, work.path, work.now)
            entry["status"] = results[0].status if results else "delivered"
            entry["error"] = results[0].error if results else None
        except Exception as exc:  # noqa: BLE001 - the next slot tries again; the server goes on
            entry["status"], entry["error"] = "failed", _one_line(exc)
    if entry["status"] == "failed":
        log.warning("alerts: the digest to %s failed: %s", name, entry["error"])
    _mark(work.path, "digest", entry)


class Scheduler:
    """The background thread of `northstar serve`: `step` every `tick` seconds."""

    def __init__(self, service: Any, tick: float = TICK, delay: float = DELAY,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.service, self.tick, self.delay, self.clock = service, tick, delay, clock
        self.passes = 0  # steps that ran a monitoring pass (tests, diagnostics)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="northstar-monitor", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        self._stop.wait(self.delay)
        while not self._stop.is_set():
            try:
                with self.service.exclusive() as project:  # compute under the engine's lock...
                    if self._stop.is_set():
                        break
                    work = prepare(project, self.clock())
                if finish(work).monitor:  # ...and send outside it: a hanging webhook holds no page
                    self.passes += 1
            except Exception as exc:  # noqa: BLE001 - e.g. the spec, edited while serving, is invalid
                log.warning("alerts: the monitor could not run: %s", _one_line(exc))
            self._stop.wait(self.tick)
