"""`DashboardService`: the Project behind the web app, and its results cached.

"Computed results are cached, keyed by the spec and the data's version, and refreshed when
either changes." The version is the spec file's size and modification time plus
`northstar.engine.cache.data_version` (size, mtime and inode of every data file the sources' globs
match now); a spec with a `table:` source has no data version Northstar can see, so its
results are kept for `UNKNOWN_VERSION_TTL` seconds. When the version changes the Project is
loaded again (a fresh engine: its cached data bounds and key checks are stale too), the memo
is emptied and every result is computed anew on its next request.

Each result is memoized by (method, arguments) with the version it was computed at, in an
LRU bounded in entries and in bytes (`memo.Memo`). A warm request is a dictionary lookup and
a few `stat` calls, without a lock (`cached()`: the API answers it on the event loop, without
a thread). Computations run on a small pool of engines (`engines.EnginePool`: one DuckDB
connection each, since one is not thread-safe), so a slow request holds one engine and the
others go on; concurrent identical requests compute once (`engines.InFlight`). Every series
and cohort table is bounded first (`northstar.limits`): clipped to the data, and at most
`MAX_ROWS` rows. Under the engine, the on-disk query cache (`.northstar/cache/`) makes a
restart warm too.

Results are JSON-ready (dates as ISO strings, no NaN); `encoded()` also keeps the JSON bytes
(a series' JSON is encoded from its frame in slices, without the whole list of records).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from northstar import limits
from northstar.engine.cache import data_version
from northstar.engine.plan import MetricQuery
from northstar.output import frame_csv, frame_records, plain
from northstar.project import Project
from northstar.web.engines import ENGINES, EnginePool, InFlight
from northstar.web.memo import MAX_BYTES, MAX_ENTRIES, MISSING, Memo

__all__ = ["DashboardService", "MAX_BYTES", "MAX_ENTRIES", "UNKNOWN_VERSION_TTL", "dumps", "jsonable"]

UNKNOWN_VERSION_TTL = 60  # seconds
# The North Star a request works on (`?north_star=`, set once per request by `api.north_star_param`);
# None: the primary. Every result is memoized under it and computed on the Project for it.
NORTH_STAR: contextvars.ContextVar[str | None] = contextvars.ContextVar("north_star", default=None)


def _scoped(project: Project) -> Project:
    """`project` for the request's North Star."""
    name = NORTH_STAR.get()
    return project.for_north_star(name) if name else project


def _keyed(key: Any) -> Any:
    """A memo key for the request's North Star (the primary's keys are those of a single North Star)."""
    name = NORTH_STAR.get()
    return ("north_star", name, key) if name else key
_SLICE = 5_000  # records encoded at a time


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: dates as ISO strings, NaN and infinities as None, numpy unwrapped."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return plain(value)  # dates as ISO strings, non-finite floats as None


def dumps(value: Any) -> bytes:
    """Compact JSON of a JSON-ready value (NaN would be a bug: refused)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def records_json(frame: Any) -> bytes:
    """`dumps(jsonable(frame_records(frame)))`, built a slice of rows at a time: a 200,000-row
    answer never exists as 200,000 dictionaries at once."""
    parts = [dumps(jsonable(frame_records(frame.iloc[i:i + _SLICE])))[1:-1] for i in range(0, len(frame), _SLICE)]
    return b"[" + b",".join(parts) + b"]"


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


class DashboardService:
    """The Project, reloaded when its spec or data change, and its results memoized."""

    def __init__(self, source: Project | str | Path, engines: int = ENGINES, max_bytes: int = MAX_BYTES) -> None:
        if isinstance(source, Project):
            self._project = source
        else:
            self._project = Project.load(source)
        self.spec_path = Path(self._project.path)
        self._reload_lock = threading.Lock()
        self._memo = Memo(MAX_ENTRIES, max_bytes)
        self._pool = EnginePool(engines)
        self._in_flight = InFlight()
        self._count_lock = threading.Lock()
        self._version = self.version()
        self._pool.adopt(self._version, self._project)
        self.computed: Counter[str] = Counter()  # computations per method (tests, diagnostics)
        self.reloads = 0

    # ---- versions and the project ---------------------------------------------------------

    def version(self) -> str:
        """The spec file's stat and the data files' stats, as one string."""
        try:
            stat = os.stat(self.spec_path)
            spec: Any = [stat.st_size, stat.st_mtime_ns]
        except OSError:
            spec = None
        project = self._project
        data = data_version(project.spec, project.loaded.base_dir)
        if data is None:
            data = ["unknown", int(time.time() // UNKNOWN_VERSION_TTL)]
        from northstar.annotations import store_path

        try:  # the annotations beside the spec: one added by the CLI or the API shows at once
            added = os.stat(store_path(self.spec_path))
            return json.dumps([spec, data, [added.st_size, added.st_mtime_ns, added.st_ino]], default=str)
        except OSError:
            return json.dumps([spec, data], default=str)

    def project(self) -> Project:
        """The current Project (loaded again first when the spec or the data changed). Its
        spec is what requests are checked against; computations use the pool's engines. For
        the request's North Star (`NORTH_STAR`)."""
        return _scoped(self._current()[0])

    def is_fresh(self) -> bool:
        """Whether the loaded Project is the current one (no reload needed): a few `stat`s."""
        return self.version() == self._version

    def _current(self) -> tuple[Project, str]:
        """The current Project and its version, reloading first when the version moved."""
        if self.version() == self._version:
            return self._project, self._version
        with self._reload_lock:
            if self.version() != self._version:
                self._project = Project.load(self.spec_path)  # a SpecError leaves the old version in place
                self.reloads += 1
                self._version = self.version()  # the new spec may read other files
                self._memo.clear()  # every entry is stale: free them now
            return self._project, self._version

    @contextmanager
    def exclusive(self) -> Iterator[Project]:
        """The current Project, with an engine to the caller alone until the block ends (the
        monitor's passes run this way, beside requests' computations on the other engines)."""
        project, version = self._current()
        with self._pool.take(version, project) as held:
            yield held

    # ---- the cache -------------------------------------------------------------------------

    def result(self, method: str, args: tuple[Any, ...], compute: Callable[[Project], Any]) -> Any:
        """The memoized result of `compute(project)` for (method, args) at the current version."""
        return self._memoized((method, args), method, compute)

    def _memoized(self, key: Any, method: str, compute: Callable[[Project], Any]) -> Any:
        project, version = self._current()
        key = _keyed(key)
        hit = self._memo.get(key, version)
        if hit is not MISSING:
            return hit

        def run() -> Any:
            again = self._memo.get(key, version)  # another request may have finished it meanwhile
            if again is not MISSING:
                return again
            with self._pool.take(version, project) as engine:
                value = compute(_scoped(engine))
            with self._count_lock:
                self.computed[method] += 1
            self._memo.put(key, version, value)
            return value

        return self._in_flight.run((key, version), run, may_wait=self._pool.held() is None)

    def fresh_project(self) -> Project | None:
        """The loaded Project when it is current (a few `stat`s), else None (a reload is due)."""
        return _scoped(self._project) if self.is_fresh() else None

    def cached(self, method: str, /, **kwargs: Any) -> bytes | None:
        """The JSON bytes of a request when they are memoized at the current version, else None.
        Never loads, computes nor waits: safe on the server's event loop."""
        version = self.version()
        if version != self._version:
            return None
        hit = self._memo.get(_keyed((f"json:{method}", tuple(sorted(kwargs.items())))), version)
        return None if hit is MISSING else hit  # type: ignore[no-any-return]

    def page(self, key: Any, render: Callable[[], bytes | None]) -> bytes | None:
        """A rendered page's bytes, memoized by `key` at the current version (a page depends on the
        spec and the request's language and query only; its numbers come from the API). `render`
        returning None (the spec cannot be loaded now) is not kept."""
        version = self.version()
        if version == self._version:
            hit = self._memo.get(("page", key), version)
            if hit is not MISSING:
                return hit  # type: ignore[no-any-return]
        body = render()
        if body is not None and self.is_fresh():
            self._memo.put(("page", key), self._version, body)
        return body

    def encoded(self, method: str, /, **kwargs: Any) -> bytes:
        """The JSON bytes of `getattr(self, method)(**kwargs)`, memoized like the result.

        Encoding a cached result takes no engine: it never waits behind a computation. A
        series is encoded from its frame a slice at a time (its bytes are the only copy kept)."""
        key = (f"json:{method}", tuple(sorted(kwargs.items())))
        if method == "series":
            return self._memoized(key, "series_json", lambda p: self._series_json(p, **kwargs))  # type: ignore[no-any-return]
        version = self._current()[1]
        hit = self._memo.get(_keyed(key), version)
        if hit is not MISSING:
            return hit  # type: ignore[no-any-return]
        data = dumps(getattr(self, method)(**kwargs))
        self._memo.put(_keyed(key), version, data)
        return data

    def clear(self) -> None:
        """Forget every result (the next request of each computes it again)."""
        self._memo.clear()

    @property
    def engines(self) -> int:
        """How many computations can run at once (one engine each)."""
        return self._pool.size

    @property
    def memo_bytes(self) -> int:
        """What the memo holds, estimated (diagnostics, tests)."""
        return self._memo.bytes

    # ---- results ---------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        from northstar.web.overview import metrics_catalogue

        return self.result("metrics", (), lambda p: jsonable(metrics_catalogue(p.spec)))

    def _frame(self, metrics: tuple[str, ...], grain: str | None, start: str | None, end: str | None,
               by: tuple[str, ...], where: str | None, compare: bool) -> Any:
        def compute(p: Project) -> Any:
            query = MetricQuery(metrics=metrics, grain=grain or p.spec.north_star.grain, by=by, where=where or None,
                                start=_day(start), end=_day(end), compare=compare)
            bounded = limits.bounded(p.engine, query)  # clipped to the data; a 400 past MAX_ROWS
            frame = p.query(list(metrics), grain=grain, by=list(by), where=where, start=bounded.start,
                            end=bounded.end, compare=compare)
            return p.with_status(frame, metrics, grain)

        return self.result("query", (metrics, grain, start, end, by, where, compare), compute)

    def series(self, metrics: tuple[str, ...], grain: str | None = None, start: str | None = None,
               end: str | None = None, by: tuple[str, ...] = (), where: str | None = None,
               compare: bool = False) -> dict[str, Any]:
        args = (metrics, grain, start, end, by, where, compare)

        def compute(p: Project) -> dict[str, Any]:
            frame = self._frame(*args)
            return jsonable({"metrics": list(metrics), "grain": grain or p.spec.north_star.grain, "by": list(by),
                             "review": p.review_period().to_dict(), "rows": frame_records(frame)})

        return self.result("series", args, compute)

    def _series_json(self, p: Project, metrics: tuple[str, ...], grain: str | None = None, start: str | None = None,
                     end: str | None = None, by: tuple[str, ...] = (), where: str | None = None,
                     compare: bool = False) -> bytes:
        """The JSON of `series()` (the bytes `dumps` gives), encoded a slice of rows at a time."""
        frame = self._frame(metrics, grain, start, end, by, where, compare)
        head = dumps(jsonable({"metrics": list(metrics), "grain": grain or p.spec.north_star.grain,
                               "by": list(by), "review": p.review_period().to_dict()}))
        return head[:-1] + b',"rows":' + records_json(frame) + b"}"

    def series_csv(self, metrics: tuple[str, ...], grain: str | None = None, start: str | None = None,
                   end: str | None = None, by: tuple[str, ...] = (), where: str | None = None,
                   compare: bool = False) -> str:
        args = (metrics, grain, start, end, by, where, compare)
        return self.result("series_csv", args, lambda _p: frame_csv(self._frame(*args)))

    def tree(self, period: str | None = None, where: str | None = None, window: str | None = None) -> dict[str, Any]:
        return self.result("tree", (period, where, window),
                           lambda p: jsonable(p.where(where).tree(period, window=window).to_dict()))

    def explain(self, metric: str | None = None, period: str | None = None, vs: str = "previous",
                by: tuple[str, ...] = (), where: str | None = None, window: str | None = None) -> dict[str, Any]:
        return self.result("explain", (metric, period, vs, by, where, window),
                           lambda p: jsonable(p.where(where).explain(metric, period, vs, list(by),
                                                                     window=window).to_dict()))

    def checks(self) -> dict[str, Any]:
        return self.result("checks", (), lambda p: jsonable(p.check().to_dict()))

    def funnel(self, period: str | None = None, by: str | None = None, where: str | None = None) -> dict[str, Any]:
        return self.result("funnel", (period, by, where), lambda p: jsonable(p.where(where).funnel(period, by).to_dict()))

    def cohorts(self, metric: str, grain: str | None = None, start: str | None = None, end: str | None = None,
                partial: bool = False) -> dict[str, Any]:
        def compute(p: Project) -> dict[str, Any]:
            first, last = limits.bounded_cohorts(p.engine, metric, grain or p.spec.north_star.grain, _day(start),
                                                 _day(end))
            return jsonable(p.cohorts(metric, grain, first, last, partial).to_dict())

        return self.result("cohorts", (metric, grain, start, end, partial), compute)

    def focus(self, period: str | None = None) -> dict[str, Any]:
        return self.result("focus", (period,), lambda p: jsonable({"review": p.period_info(period).to_dict(),
                                                                   "focus": [f.to_dict() for f in p.focus(period)]}))

    def guardrails(self, period: str | None = None) -> dict[str, Any]:
        return self.result("guardrails", (period,),
                           lambda p: jsonable({"review": p.period_info(period).to_dict(),
                                               "guardrails": [g.to_dict() for g in p.guardrails(period)]}))

    def targets(self, method: str = "trend", where: str | None = None) -> dict[str, Any]:
        return self.result("targets", (method, where),
                           lambda p: jsonable(p.where(where).targets(method=method).to_dict()))

    def alerts(self) -> dict[str, Any]:
        """The alerts recorded in the alerts state, newest first, with their deliveries. Read anew
        each time: the state changes without the spec or the data changing."""
        from northstar.alerts import history
        from northstar.alerts.manage import states
        from northstar.alerts.monitor import state_path

        project = self.project()
        state = history.read(state_path(project))  # once: the file may change between two reads
        alerts = history.listing(project.spec, state)
        return jsonable({"alerts": states(alerts, state, dt.datetime.now(dt.timezone.utc)),
                         "schedule": history.schedule_status(project.spec, state)})

    def anomalies(self, metric: str) -> dict[str, Any]:
        return self.result("anomalies", (metric,), lambda p: jsonable(_anomalies(p, metric)))

    def overview(self, where: str | None = None, window: str | None = None) -> dict[str, Any]:
        from northstar.web.overview import build_overview

        return self.result("overview", (where, window), lambda p: jsonable(build_overview(self, p, where, window)))


def _anomalies(project: Project, metric: str) -> dict[str, Any]:
    from northstar.alerts.history import marks

    return marks(project, metric)
