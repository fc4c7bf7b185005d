"""Engines for the dashboard's computations: a small pool, and one computation per key in flight.

One DuckDB connection is not thread-safe, so the server used to run every computation under
one lock: a 40-second request made a cheap uncached one wait 40 seconds behind it. The pool
holds `size` Projects on the same loaded spec, each with its own engine (own connection);
a computation takes one for its duration, so a slow request holds one engine and the others
go on. A computation that asks for another result on the same thread (the overview asks for
the tree) uses the engine it already holds: it never waits for a second one, so a pool of
any size cannot deadlock.

`InFlight` makes concurrent identical requests compute once: the first becomes the leader,
the others wait for its outcome (its value or its error). A thread that already holds an
engine never waits for another leader (it computes itself): a leader waiting for an engine
that such a thread holds could otherwise wait forever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from northstar.project import Project

ENGINES = 2  # the machines Northstar serves from have a few cores; DuckDB uses them all per query
WAIT_SECONDS = 600.0


class EnginesBusy(Exception):
    """Every engine stayed busy for `WAIT_SECONDS` (the web app answers 503 `busy`)."""


class EnginePool:
    """`size` Projects for the current version; `take()` lends one to this thread."""

    def __init__(self, size: int = ENGINES) -> None:
        self.size = max(1, size)
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(self.size):
            self._free.put(slot)
        self._slots: list[tuple[str, Project] | None] = [None] * self.size
        self._slots_lock = threading.Lock()  # guards replacing a slot's Project
        self._held = threading.local()

    def held(self) -> Project | None:
        """The Project this thread is computing with, if any."""
        return getattr(self._held, "project", None)

    def adopt(self, version: str, project: Project) -> None:
        """Use `project` (a Project someone built, e.g. the one given to `create_app`) as the
        first free slot's, so its engine and settings are not built twice."""
        with self._slots_lock:
            for slot, item in enumerate(self._slots):
                if item is None:
                    self._slots[slot] = (version, project)
                    return

    @contextmanager
    def take(self, version: str, current: Project, timeout: float = WAIT_SECONDS) -> Iterator[Project]:
        """A Project of `version` whose engine is this thread's alone until the block ends.

        A slot built at another version is replaced by a new Project on `current`'s loaded
        spec (its engine, bounds and caches start afresh). On the same thread, nested calls
        get the Project already held. Waiting longer than `timeout` raises EnginesBusy."""
        held = self.held()
        if held is not None:
            yield held
            return
        try:
            slot = self._free.get(timeout=timeout)
        except queue.Empty:
            raise EnginesBusy(f"every engine was busy for {timeout:.0f} s; try again later") from None
        try:
            with self._slots_lock:
                item = self._slots[slot]
                if item is None or item[0] != version:
                    item = (version, current if not self._in_use(current) else _twin(current))
                    self._slots[slot] = item
            self._held.project = item[1]
            yield item[1]
        finally:
            self._held.project = None
            self._free.put(slot)

    def _in_use(self, project: Project) -> bool:
        return any(item is not None and item[1] is project for item in self._slots)


def _twin(project: Project) -> Project:
    """Another Project on the same loaded spec (a separate engine and connection)."""
    twin = Project(project.loaded)
    twin.debug = project.debug
    return twin


class InFlight:
    """One computation per key at a time; the others wait for its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future[Any]] = {}

    def run(self, key: Hashable, compute: Callable[[], Any], may_wait: bool = True) -> Any:
        """`compute()`, or the outcome of the same key's computation already running (when
        `may_wait`; else compute alongside it)."""
        with self._lock:
            running = self._running.get(key)
            if running is None:
                mine: Future[Any] = Future()
                self._running[key] = mine
        if running is not None:
            if may_wait:
                return running.result()
            return compute()
        try:
            value = compute()
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(value)
            return value
        finally:
            with self._lock:
                self._running.pop(key, None)
