"""Who is sending a message right now: the claim a process writes in the alerts state before it
sends, so that no other process sends the same message meanwhile (see `delivery`).

A claim names its process (pid, the time the process started, and the host: host name and pid
namespace, so two containers with one host name are told apart), a token for the `deliver`
call that made it, and `until`, when it lapses unless renewed. Whether a claim still holds:

* it has lapsed (`until` passed): no;
* its process is on this host: yes while that pid runs and is the same process (not a zombie,
  not a new process that got the pid since); a run killed mid-send frees its claims at once;
* on another host, whose processes cannot be seen from here: yes until `until`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

MARGIN = 30.0  # seconds a claim outlives the attempt (or the wait) it covers


@lru_cache(maxsize=1)
def host_id() -> str:
    """This host as claims name it: the host name and, on Linux, the pid namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()} {namespace}".strip()


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of process `pid` from /proc, or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except FileNotFoundError:
        return ("gone", "")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _running(pid: int, started: str) -> bool:
    """Whether process `pid` runs and is the one that started at `started` (when known)."""
    stat = _stat(pid)
    if stat is not None:
        state, start = stat
        return state not in ("gone", "Z", "X") and (not started or not start or start == started)
    try:  # no /proc: ask the kernel whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Claim:
    token: str                                            # one `deliver` call; what identifies a claim
    pid: int = field(compare=False)
    host: str = field(compare=False)
    started: str = field(default="", compare=False)       # the process's start time (/proc), against pid reuse
    until: float = field(default=0.0, compare=False)      # Unix time when it lapses

    @classmethod
    def mine(cls) -> Claim:
        stat = _stat(os.getpid())
        return cls(uuid.uuid4().hex, os.getpid(), host_id(), stat[1] if stat else "")

    def renewed(self, seconds: float) -> Claim:
        """This claim, good for `seconds` more (plus `MARGIN`)."""
        return replace(self, until=time.time() + seconds + MARGIN)

    def alive(self, me: Claim) -> bool:
        """Whether the claim still holds, seen from the process of claim `me`."""
        if time.time() > self.until:
            return False
        if self.host != me.host:
            return True
        if self.pid == me.pid:  # another call in this very process: it renews its claim as it goes
            return True
        return _running(self.pid, self.started)

    def describe(self) -> str:
        until = dt.datetime.fromtimestamp(self.until, dt.timezone.utc).isoformat(timespec="seconds")
        return f"process {self.pid} on {self.host.split(' ')[0]} (claimed until {until})"

    def to_dict(self) -> dict[str, Any]:
        until = dt.datetime.fromtimestamp(self.until, dt.timezone.utc).isoformat(timespec="milliseconds")
        return {"token": self.token, "pid": self.pid, "host": self.host, "started": self.started, "until": until}

    @classmethod
    def from_dict(cls, data: Any) -> Claim | None:
        """The claim stored in a state entry (None when there is none or it is damaged)."""
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            return None
        try:
            until = dt.datetime.fromisoformat(str(data.get("until"))).timestamp()
            return cls(data["token"], int(data.get("pid") or 0), str(data.get("host") or ""),
                       str(data.get("started") or ""), until)
        except (TypeError, ValueError):
            return None
