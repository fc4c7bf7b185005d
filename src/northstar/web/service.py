"""`DashboardService`: the Project behind the web app, and its results cached.

"Computed results are cached, keyed by the spec and the data's version, and refreshed when
either changes." The version is the spec file's size and modification time plus
`northstar.engine.cache.data_version` (size and mtime of every data file the sources' globs
match now); a spec with a `table:` source has no data version Northstar can see, so its
results are kept for `UNKNOWN_VERSION_TTL` seconds. When the version changes the Project is
loaded again (a fresh engine: its cached data bounds and key checks are stale too) and every
result is computed anew on its next request.

Each result is memoized by (method, arguments) with the version it was computed at, in an
LRU of `MAX_ENTRIES`. A warm request is a dictionary lookup and a few `stat` calls, without a
lock. The engine (one DuckDB connection) is not thread-safe, so computations run one at a
time under one re-entrant lock; a request re-checks the cache once it holds the lock, so 20
concurrent identical requests compute once and the other 19 read that result. (One lock
rather than one per key: results are built from other results, e.g. the overview from the
tree, and per-key locks taken in different orders could deadlock.) Under the engine, the
on-disk query cache (`.northstar/cache/`) makes a restart warm too.

Results are JSON-ready (dates as ISO strings, no NaN); `encoded()` also keeps the JSON bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from northstar.engine.cache import data_version
from northstar.output import frame_csv, frame_records, plain
from northstar.project import Project

MAX_ENTRIES = 512
UNKNOWN_VERSION_TTL = 60  # seconds


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: dates as ISO strings, NaN and infinities as None, numpy unwrapped."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    value = plain(value)
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, dt.date):  # plain() handles these; datetime subclasses too
        return value.isoformat()
    return value


def dumps(value: Any) -> bytes:
    """Compact JSON of a JSON-ready value (NaN would be a bug: refused)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class DashboardService:
    """The Project, reloaded when its spec or data change, and its results memoized."""

    def __init__(self, source: Project | str | Path) -> None:
        if isinstance(source, Project):
            self._project = source
        else:
            self._project = Project.load(source)
        self.spec_path = Path(self._project.path)
        self._lock = threading.RLock()  # one computation at a time (the engine is not thread-safe)
        self._store_lock = threading.Lock()  # guards the LRU's order; never held while computing
        self._results: OrderedDict[Hashable, tuple[str, Any]] = OrderedDict()
        self._version = self.version()
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
        return json.dumps([spec, data], default=str)

    def project(self) -> Project:
        """The current Project (loaded again first when the spec or the data changed)."""
        if self.version() == self._version:
            return self._project
        with self._lock:
            return self._refresh()[0]

    def _refresh(self) -> tuple[Project, str]:
        """Under the lock: reload when the version moved; the project and its version."""
        version = self.version()
        if version != self._version:
            self._project = Project.load(self.spec_path)  # a SpecError leaves the old version in place
            self.reloads += 1
            self._version = version = self.version()  # the new spec may read other files
        return self._project, version

    @contextmanager
    def exclusive(self) -> Iterator[Project]:
        """The current Project, with the engine to the caller alone until the block ends (the
        monitor's passes run this way, between requests' computations)."""
        with self._lock:
            yield self._refresh()[0]

    # ---- the cache -------------------------------------------------------------------------

    def result(self, method: str, args: tuple[Any, ...], compute: Callable[[Project], Any]) -> Any:
        """The memoized result of `compute(project)` for (method, args) at the current version."""
        key = (method, args)
        hit = self._results.get(key)
        if hit is not None and hit[0] == self._version and self.version() == self._version:
            return hit[1]
        with self._lock:
            project, version = self._refresh()
            hit = self._results.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
            value = compute(project)
            self.computed[method] += 1
            self._store(key, version, value)
            return value

    def _store(self, key: Hashable, version: str, value: Any) -> None:
        with self._store_lock:
            self._results[key] = (version, value)
            self._results.move_to_end(key)
            while len(self._results) > MAX_ENTRIES:
                self._results.popitem(last=False)

    def encoded(self, method: str, /, **kwargs: Any) -> bytes:
        """The JSON bytes of `getattr(self, method)(**kwargs)`, memoized like the result.

        Encoding a cached result takes no compute lock: it never waits behind a computation."""
        key = (f"json:{method}", tuple(sorted(kwargs.items())))
        version = self.version()
        hit = self._results.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]  # type: ignore[no-any-return]
        data = dumps(getattr(self, method)(**kwargs))
        self._store(key, version, data)
        return data

    def clear(self) -> None:
        """Forget every result (the next request of each computes it again)."""
        with self._store_lock:
            self._results.clear()

    # ---- results ---------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        from northstar.web.overview import metrics_catalogue

        return self.result("metrics", (), lambda p: jsonable(metrics_catalogue(p.spec)))

    def _frame(self, metrics: tuple[str, ...], grain: str | None, start: str | None, end: str | None,
               by: tuple[str, ...], where: str | None, compare: bool) -> Any:
        return self.result("query", (metrics, grain, start, end, by, where, compare),
                           lambda p: p.with_status(p.query(list(metrics), grain=grain, by=list(by), where=where,
                                                           start=start, end=end, compare=compare), metrics, grain))

    def series(self, metrics: tuple[str, ...], grain: str | None = None, start: str | None = None,
               end: str | None = None, by: tuple[str, ...] = (), where: str | None = None,
               compare: bool = False) -> dict[str, Any]:
        args = (metrics, grain, start, end, by, where, compare)

        def compute(p: Project) -> dict[str, Any]:
            frame = self._frame(*args)
            return jsonable({"metrics": list(metrics), "grain": grain or p.spec.north_star.grain, "by": list(by),
                             "review": p.review_period().to_dict(), "rows": frame_records(frame)})

        return self.result("series", args, compute)

    def series_csv(self, metrics: tuple[str, ...], grain: str | None = None, start: str | None = None,
                   end: str | None = None, by: tuple[str, ...] = (), where: str | None = None,
                   compare: bool = False) -> str:
        args = (metrics, grain, start, end, by, where, compare)
        return self.result("series_csv", args, lambda _p: frame_csv(self._frame(*args)))

    def tree(self, period: str | None = None) -> dict[str, Any]:
        return self.result("tree", (period,), lambda p: jsonable(p.tree(period).to_dict()))

    def explain(self, metric: str | None = None, period: str | None = None, vs: str = "previous",
                by: tuple[str, ...] = ()) -> dict[str, Any]:
        return self.result("explain", (metric, period, vs, by),
                           lambda p: jsonable(p.explain(metric, period, vs, list(by)).to_dict()))

    def checks(self) -> dict[str, Any]:
        return self.result("checks", (), lambda p: jsonable(p.check().to_dict()))

    def funnel(self, period: str | None = None, by: str | None = None) -> dict[str, Any]:
        return self.result("funnel", (period, by), lambda p: jsonable(p.funnel(period, by).to_dict()))

    def cohorts(self, metric: str, grain: str | None = None, start: str | None = None, end: str | None = None,
                partial: bool = False) -> dict[str, Any]:
        return self.result("cohorts", (metric, grain, start, end, partial),
                           lambda p: jsonable(p.cohorts(metric, grain, start, end, partial).to_dict()))

    def focus(self, period: str | None = None) -> dict[str, Any]:
        return self.result("focus", (period,), lambda p: jsonable({"review": p.period_info(period).to_dict(),
                                                                   "focus": [f.to_dict() for f in p.focus(period)]}))

    def guardrails(self, period: str | None = None) -> dict[str, Any]:
        return self.result("guardrails", (period,),
                           lambda p: jsonable({"review": p.period_info(period).to_dict(),
                                               "guardrails": [g.to_dict() for g in p.guardrails(period)]}))

    def targets(self, method: str = "trend") -> dict[str, Any]:
        return self.result("targets", (method,), lambda p: jsonable(p.targets(method=method).to_dict()))

    def alerts(self) -> dict[str, Any]:
        """The alerts recorded in the alerts state, newest first, with their deliveries. Read anew
        each time: the state changes without the spec or the data changing."""
        from northstar.alerts import history
        from northstar.alerts.monitor import state_path

        project = self.project()
        state = history.read(state_path(project))  # once: the file may change between two reads
        return jsonable({"alerts": history.listing(project.spec, state),
                         "schedule": history.schedule_status(project.spec, state)})

    def anomalies(self, metric: str) -> dict[str, Any]:
        return self.result("anomalies", (metric,), lambda p: jsonable(_anomalies(p, metric)))

    def overview(self) -> dict[str, Any]:
        from northstar.web.overview import build_overview

        return self.result("overview", (), lambda p: jsonable(build_overview(self, p)))


def _anomalies(project: Project, metric: str) -> dict[str, Any]:
    from northstar.alerts.history import marks

    return marks(project, metric)
