"""The alerts state file, changed by one process at a time.

Several processes share one state file: two `northstar monitor` runs from cron that overlap,
`serve`'s scheduler beside a cron `monitor`, a `northstar digest`. Each change is a
read-modify-write under an exclusive `flock` on a lock file beside the state
(`alerts.json.lock` next to `alerts.json`), so no process overwrites what another wrote in
between. The lock is held only while the state is read, changed and written (milliseconds),
never while a message is sent: `delivery` claims a message under the lock and sends it outside.
The kernel releases the lock of a process that dies, so a killed run never leaves it held. The
lock file is never removed (removing it while another process waits on it would split the lock
in two). Readers that only show the state (the dashboard) read it without the lock: every write
replaces the file atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from northstar.fileio import write_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt's byte lock below
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("northstar.alerts.statefile")

STATE_VERSION = 1
LOCK_WAIT = 60.0  # seconds a process waits for the lock before giving up with an error


class StateLocked(OSError):
    """The lock stayed held longer than `LOCK_WAIT` (a process stopped while holding it)."""


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def locked(path: Path | str, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the exclusive lock of the state at `path` for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd, path, wait)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, wait: float) -> None:
    give_up = time.monotonic() + wait
    pause = 0.002
    while True:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:  # pragma: no cover
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except (BlockingIOError, PermissionError):
            if time.monotonic() >= give_up:
                raise StateLocked(f"alerts state {path}: another process has held its lock "
                                  f"({lock_path(path).name}) for {wait:g}s; is one stopped?") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _release(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover
        import msvcrt
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def read(path: Path | str) -> dict[str, Any]:
    """The state at `path` with its three parts in place (empty when the file does not exist;
    afresh, with a warning, when it is unreadable)."""
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


def write(path: Path | str, state: dict[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def changing(path: Path | str) -> Iterator[dict[str, Any]]:
    """The state at `path`, read under its lock; written back (atomically) when the block ends
    without an error, before the lock is released."""
    with locked(path):
        state = read(path)
        before = json.dumps(state, sort_keys=True, ensure_ascii=False)
        yield state
        if json.dumps(state, sort_keys=True, ensure_ascii=False) != before:
            write(path, state)
