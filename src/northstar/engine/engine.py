"""The metric engine: plan a query, run the compiled Ibis expressions, assemble the series."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from northstar.engine import assemble as asm
from northstar.engine import changes, parts
from northstar.engine.backends import Backend, connect
from northstar.engine.cache import ResultCache
from northstar.engine.compile import INSTANT, LOCAL, PERIOD
from northstar.engine.datacheck import implausible_times
from northstar.engine.properties import with_paths
from northstar.engine.plan import MetricQuery, Plan, combine_filters, make_plan
from northstar.engine.sources import BoundSource, bind_sources
from northstar.engine.sql_to_ibis import to_ibis
from northstar.engine.statements import build_part, is_timestamp, restrict
from northstar.engine.timestamps import read_bounds
from northstar.engine.time import (event_time, period_of, period_start, same_period_last_year,
                                   shift_period, window_of)
from northstar.errors import DataError, FilterError, first_line
from northstar.spec.expressions import parse_formula, parse_sql, short
from northstar.spec.load import LoadedSpec
from northstar.spec.model import AggregateMetric, FormulaMetric

_ZERO_FILLED = {"count", "count_distinct", "sum"}
RESULT_CACHE = 64  # query results kept per engine (oldest dropped first)
RESULT_BYTES = 64 * 1024 * 1024  # and at most this much of them (a long-running server keeps its engines)


class MetricEngine:
    """Computes metric series for one loaded spec on one backend."""

    def __init__(self, loaded: LoadedSpec, backend: Backend | None = None) -> None:
        self.loaded = loaded
        self.spec = loaded.spec
        self.backend = backend or connect(self.spec.engine, loaded.base_dir)
        self._bound: dict[str, BoundSource] = {}
        self._bounds: dict[str, tuple[dt.datetime, dt.datetime] | None] = {}
        self._duplicates: dict[str, int] = {}
        self._instants: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        self._results: dict[MetricQuery, pd.DataFrame] = {}
        self._sizes: dict[MetricQuery, int] = {}  # bytes of each kept result
        self._kept_bytes = 0  # their sum
        self._rules: dict[str, str | None] = {}  # per source: how local time follows from the instant
        self._disk = _disk_cache(loaded)
        folder = _disk_cache(loaded, "parts")  # per-period base values, kept apart from whole results
        self._parts = parts.PartStore(folder) if folder is not None else None
        self._versions = (changes.Versions(loaded, self.data_bounds, changes.FileIndex(folder))
                          if folder is not None else None)
        self.scanned: list[tuple[str, dt.date, dt.date]] = []  # (source, first, last) computed, not reused
        self.recomputed: set[str] = set()  # sources computed in full every time (no version)
        self.segment: str | None = None  # a filter on every query and source read (`filtered`)
        self._whole: MetricEngine | None = None  # the unfiltered engine a filtered one asks

    @property
    def results(self) -> ResultCache | None:
        """The result folder beside the spec (None when caching is off)."""
        return self._disk

    def extended(self, metrics: dict[str, Any]) -> "MetricEngine":
        """An engine over the same backend, sources and caches whose spec has extra metrics
        (analyses define probe metrics, e.g. the entities active in a source, this way)."""
        if self._whole is not None:
            return self._whole.extended(metrics).filtered(self.segment or "")
        spec = self.spec.model_copy(update={"metrics": {**self.spec.metrics, **metrics}})
        other = MetricEngine(dataclasses.replace(self.loaded, spec=spec), self.backend)
        other._bound, other._bounds, other._duplicates, other._instants = (
            self._bound, self._bounds, self._duplicates, self._instants)
        other._versions, other.scanned, other.recomputed = self._versions, self.scanned, self.recomputed
        return other

    def filtered(self, where: str) -> "MetricEngine":
        """This engine for one segment of the customers (`country = 'DE'`): every query and every
        read of a source goes through the unfiltered engine with `where` ANDed into its filter, so
        caches and stored parts are keyed by it and a source without the dimension is refused by
        `make_plan`. Data bounds stay the whole data's: the period reviewed is the same."""
        whole = self._whole or self
        other = MetricEngine(whole.loaded, whole.backend)
        other._bound, other._bounds, other._duplicates, other._instants, other._rules = (
            whole._bound, whole._bounds, whole._duplicates, whole._instants, whole._rules)
        other._disk, other._parts = whole._disk, whole._parts
        other._versions, other.scanned, other.recomputed = whole._versions, whole.scanned, whole.recomputed
        other.segment = combine_filters(self.segment, where)
        other._whole = whole
        return other

    # ---- sources -------------------------------------------------------------------------

    def source(self, name: str) -> BoundSource:
        if name not in self._bound:
            self._bound.update(bind_sources(self.backend, self.loaded, [name]))
        return self._bound[name]

    def prepared(self, name: str, where: str | None, grain: str, columns: Sequence[str] | None = None,
                 windows: tuple[tuple[dt.date, dt.date], ...] = ()) -> ir.Table:
        """The source's rows with `__instant`, `__local` and `__period`, after the query filter.

        With `columns`, only those (and the timestamp) are carried: the engine then reads and
        keeps no more than the metrics need. With `windows`, `__period` is the window holding
        the row (its first day; null outside them) instead of the grain's period.
        """
        if self._whole is not None:
            return self._whole.prepared(name, combine_filters(self.segment, where), grain, columns)
        bound = self.source(name)
        # Property paths a query names beyond the spec's (`--by properties.plan`) as columns.
        wanted = [*(columns or ()), *(parse_sql(where).columns if where else ())]
        table = with_paths(bound.table, wanted, self.backend.json_text)
        if where:
            try:
                table = table.filter(to_ibis(where, table))
            except Exception as exc:
                raise FilterError(f"--where: '{short(where)}' does not fit the columns of source '{name}': "
                                  f"{first_line(exc)}") from None
        times = event_time(self.backend, table, bound.source, self.spec.timezone, self.instant_bounds(name))
        kept = list(table.columns) if columns is None else [c for c in table.columns if c in set(columns)]
        self._rules[name] = times.rule
        table = table.select(*kept, **{INSTANT: times.instant, LOCAL: times.local})
        # Rows without a timestamp fall in a null period, dropped when the series are assembled.
        period = window_of(table[LOCAL], windows) if windows else period_of(table[LOCAL], grain)
        return table.mutate(**{PERIOD: period})

    def time_rule(self, name: str) -> str | None:
        """How local time follows from the instant in source `name` (after `prepared`)."""
        return self._rules.get(name)

    def in_periods(self, name: str, table: ir.Table, first: dt.date, last: dt.date, grain: str) -> ir.Table:
        """`table` (from `prepared`, with the source's timestamp among its columns) restricted to
        the periods `first`..`last` as the engine's own queries are: row groups skipped by the
        raw timestamp, local bounds tested on the instant where that is exact (analyses that
        query a source directly, e.g. `explain`'s top orders, stay as fast as a metric query)."""
        source = self.spec.sources[name]
        lo = dt.datetime.combine(first, dt.time())
        hi = dt.datetime.combine(shift_period(last, grain, 1), dt.time())
        raw = source.timestamp if is_timestamp(table, source) else None
        return restrict(table, lo, hi, self.data_bounds(name), raw, self.time_rule(name))

    def duplicate_keys(self, name: str) -> int:
        """Rows beyond one per declared key value (0 when the key is unique; cached)."""
        if name not in self._duplicates:
            bound = self.source(name)
            key = bound.table[bound.source.key]
            try:
                row = self.backend.execute(bound.table.aggregate(rows=bound.table.count(), keys=key.nunique())).iloc[0]
            except Exception as exc:
                raise DataError(f"source '{name}': cannot check key '{bound.source.key}': {first_line(exc)}") from None
            self._duplicates[name] = int(row["rows"]) - int(row["keys"])
        return self._duplicates[name]

    def data_bounds(self, name: str) -> tuple[dt.datetime, dt.datetime] | None:
        """First and last event of a source, as local wall-clock times (cached)."""
        if name not in self._bounds:
            self._bounds[name] = self._read_bounds(name)
        return self._bounds[name]

    def instant_bounds(self, name: str) -> tuple[dt.datetime, dt.datetime] | None:
        """First and last event of a source as naive UTC instants, when the column allows."""
        self.data_bounds(name)
        return self._instants.get(name)

    def _read_bounds(self, name: str) -> tuple[dt.datetime, dt.datetime] | None:
        """How the time column reads, and a one-line error when it cannot be read as declared,
        are in `timestamps.read_bounds`; every query reads the bounds first."""
        try:
            found = read_bounds(self.backend, self.source(name), self.spec.timezone)
        except OverflowError:  # a time at the calendar's edge, moved into the spec's zone
            raise DataError(implausible_times(self.spec.sources[name], name, None)) from None
        if found is None:
            return None
        problem = implausible_times(self.spec.sources[name], name, found.local)
        if problem is not None:
            raise DataError(problem)
        if found.instants is not None:
            self._instants[name] = found.instants
        return found.local

    # ---- queries -------------------------------------------------------------------------

    def query(self, query: MetricQuery) -> pd.DataFrame:
        """Metric series for a query; results are kept for the engine's life (like the data
        bounds), so analyses that ask for the same series twice compute it once."""
        if self._whole is not None:
            return self._whole.query(dataclasses.replace(query, where=combine_filters(self.segment, query.where)))
        if query not in self._results:
            key = self._disk.key(query) if self._disk is not None else None
            found = self._disk.get(key) if key is not None else None  # type: ignore[union-attr]
            if found is None:
                found = self._query(query)
                if key is not None:
                    self._disk.put(key, found)  # type: ignore[union-attr]
            self._results[query] = found
            self._sizes[query] = int(found.memory_usage(index=True, deep=True).sum())
            self._kept_bytes += self._sizes[query]
            while len(self._results) > RESULT_CACHE or self._kept_bytes > RESULT_BYTES:
                oldest = next(iter(self._results))
                self._results.pop(oldest)
                self._kept_bytes -= self._sizes.pop(oldest)
            return found.copy()  # kept or (larger than RESULT_BYTES) not
        return self._results[query].copy()

    def _query(self, query: MetricQuery) -> pd.DataFrame:
        plan = make_plan(self.spec, query)
        if query.windows:
            return self._window_query(plan)
        grain, keys = query.grain, list(query.by)
        first, last, data_first, data_last = self._range(plan)
        columns = [asm.PERIOD, *keys, *self._output_metrics(query)]
        if first is None or last is None or first > last:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        needs_history = any(getattr(self.spec.metrics[m], "cumulative", False) for m in plan.order)
        calc_first = first
        if query.compare:
            calc_first = min(calc_first, same_period_last_year(first, grain), shift_period(first, grain, -1))
        if needs_history and data_first is not None:
            calc_first = min(calc_first, data_first)
        frames, kinds = self._run_parts(plan, calc_first, last)
        integral = {n for frame, names in frames for n in names if pd.api.types.is_integer_dtype(frame[n])}
        grid = asm.build_grid(asm.periods_between(calc_first, last, grain), [f for f, _ in frames], keys)
        for frame, _names in frames:
            grid = asm.attach(grid, frame, keys)
        grid = self._finish_columns(grid, plan, kinds, keys, integral)
        requested = list(query.metrics)
        if query.compare:
            grid = asm.add_comparisons(grid, requested, keys, grain, data_first, data_last)
        grid = grid[(grid[asm.PERIOD] >= first) & (grid[asm.PERIOD] <= last)]
        grid = grid.sort_values([asm.PERIOD, *keys], na_position="last", kind="stable").reset_index(drop=True)
        return grid[columns]

    def _window_query(self, plan: Plan) -> pd.DataFrame:
        """Each metric aggregated over each whole window: one statement per source (the same
        fused statement as for periods, its period column the window), then formulas of the
        window's aggregates. Results per window are not kept in the part store: a window
        moves with the data."""
        query, keys = plan.query, list(plan.query.by)
        labels = sorted(lo for lo, _hi in query.windows)
        first, last = labels[0], max(hi for _lo, hi in query.windows) - dt.timedelta(days=1)
        kinds = {name: _kind(self.spec.metrics[name]) for names in plan.by_source.values() for name in names}
        frames, integral = [], set()
        for source_name, names in plan.by_source.items():
            frame, ints = self._compute_part(plan, source_name, list(names), first, last)
            frames.append((frame, list(names)))
            integral |= ints
        grid = asm.build_grid(labels, [f for f, _ in frames], keys)
        for frame, _names in frames:
            grid = asm.attach(grid, frame, keys)
        grid = self._finish_columns(grid, plan, kinds, keys, integral)
        grid = grid.sort_values([asm.PERIOD, *keys], na_position="last", kind="stable").reset_index(drop=True)
        return grid[[asm.PERIOD, *keys, *query.metrics]]

    @staticmethod
    def _output_metrics(query: MetricQuery) -> list[str]:
        if not query.compare:
            return list(query.metrics)
        return [c for m in query.metrics for c in (m, f"{m}_previous", f"{m}_last_year")]

    def _range(self, plan: Plan) -> tuple[dt.date | None, dt.date | None, dt.date | None, dt.date | None]:
        grain, query = plan.query.grain, plan.query
        if query.windows:
            return (min(lo for lo, _hi in query.windows), max(hi for _lo, hi in query.windows) - dt.timedelta(days=1),
                    None, None)
        bounds = [b for b in (self.data_bounds(s) for s in plan.by_source) if b is not None]
        data_first = period_start(min(b[0] for b in bounds).date(), grain) if bounds else None
        data_last = period_start(max(b[1] for b in bounds).date(), grain) if bounds else None
        first = period_start(query.start, grain) if query.start else data_first
        last = period_start(query.end, grain) if query.end else data_last
        return first, last, data_first, data_last

    def statements(self, query: MetricQuery) -> list[ir.Table]:
        """The Ibis expressions a query runs, one per source (its metrics fused), not executed:
        e.g. to see their SQL in any dialect (`ibis.to_sql(expr, dialect=...)`)."""
        if self._whole is not None:
            return self._whole.statements(dataclasses.replace(query, where=combine_filters(self.segment, query.where)))
        plan = make_plan(self.spec, query)
        first, last, _data_first, _data_last = self._range(plan)
        if first is None or last is None or first > last:
            return []
        return [build_part(self, plan, source, names, first, last) for source, names in plan.by_source.items()]

    def _run_parts(self, plan: Plan, first: dt.date, last: dt.date) -> tuple[list[tuple[pd.DataFrame, list[str]]], dict[str, str]]:
        kinds = {name: _kind(self.spec.metrics[name]) for names in plan.by_source.values() for name in names}
        frames: list[tuple[pd.DataFrame, list[str]]] = []
        for source_name, names in plan.by_source.items():
            frames.append((self._run_part(plan, source_name, list(names), first, last), list(names)))
        return frames, kinds

    def _run_part(self, plan: Plan, source_name: str, names: list[str], first: dt.date, last: dt.date) -> pd.DataFrame:
        """One source's base values for the periods first..last: each metric's stored periods
        whose data did not change are reused; the others are computed, metrics missing the same
        range of periods in one statement (`parts`; without a result folder, all at once)."""
        grain, keys = plan.query.grain, list(plan.query.by)
        wanted = set(asm.periods_between(first, last, grain))
        store = self._parts
        state = self._versions.state(source_name) if store is not None and self._versions is not None else None
        if state is None:
            if self._versions is not None and self._versions.unversioned(source_name):
                self.recomputed.add(source_name)
            frame, integers = self._compute_part(plan, source_name, names, first, last)
            return parts.within(frame, wanted, integers, names)
        key = store.key(self.spec, source_name, names, grain, plan.query.by, plan.query.where)
        entry = store.load(key)
        keep: dict[str, set[dt.date]] = {name: set() for name in names}
        if entry is not None:
            changed = parts.changes_since(store, self._versions, source_name, entry, state)
            for name in names:
                stored = entry.periods.get(name, frozenset())
                keep[name] = set(stored) - parts.stale(parts.touch_of(self.spec.metrics[name]), grain, changed, stored)
        ranges: dict[tuple[dt.date, dt.date], list[str]] = {}
        for name in names:
            missing = sorted(wanted - keep[name])
            if missing:
                ranges.setdefault((missing[0], missing[-1]), []).append(name)
        if not ranges:
            return parts.within(entry.frame, wanted, entry.integers, names)  # type: ignore[union-attr]
        fresh = []
        integers = set(entry.integers) if entry is not None else set()
        for (lo, hi), group in ranges.items():
            frame, ints = self._compute_part(plan, source_name, group, lo, hi)
            integers = (integers - set(group)) | ints
            fresh.append(parts.Fresh(tuple(group), set(asm.periods_between(lo, hi, grain)), frame))
            self.scanned.append((source_name, lo, hi))
        merged, periods = parts.merge(entry, keep, fresh, keys, names)
        if self._versions.state(source_name) == state:  # the data did not change meanwhile
            store.save(key, parts.Entry(periods, state, merged, frozenset(integers)))
        return parts.within(merged, wanted, integers, names)

    def _compute_part(self, plan: Plan, source_name: str, names: list[str], first: dt.date,
                      last: dt.date) -> tuple[pd.DataFrame, set[str]]:
        """The base values of `names` for the periods first..last (rows of other periods, e.g. a
        retention's cohort of the period after `last`, left out), and which are integers."""
        expr = build_part(self, plan, source_name, names, first, last)
        try:
            frame = self._execute(expr, list(plan.query.by), names)
        except DataError:
            if plan.query.where:
                self._blame_filter(plan)
            raise
        integers = {name for name in names if expr.schema()[name].is_integer()}
        return frame[(frame[asm.PERIOD] >= first) & (frame[asm.PERIOD] <= last)], integers

    def _blame_filter(self, plan: Plan) -> None:
        """After a failed query with a caller's filter: a FilterError when the filter alone fails
        on the sources' rows (the caller's mistake), else nothing (the data's or spec's failure
        stands)."""
        where = plan.query.where or ""
        for name in plan.by_source:
            table = self.source(name).table
            try:
                self.backend.execute(table.filter(to_ibis(where, table)).count())
            except Exception as exc:
                raise FilterError(f"--where: '{short(where)}' fails on the data of source '{name}': "
                                  f"{first_line(exc)}") from None

    def _execute(self, expr: ir.Table, keys: list[str], names: list[str]) -> pd.DataFrame:
        frame = self.backend.execute(expr, what=f"computing {', '.join(names)}")
        frame = frame.rename(columns={PERIOD: asm.PERIOD})
        frame = frame[frame[asm.PERIOD].notna()]  # rows without a timestamp
        return asm.normalise(frame, keys)

    def _finish_columns(self, grid: pd.DataFrame, plan: Plan, kinds: dict[str, str], keys: list[str],
                        integral_columns: set[str]) -> pd.DataFrame:
        grid = grid.copy()
        for name in plan.order:
            metric = self.spec.metrics[name]
            if isinstance(metric, FormulaMetric):
                tree = parse_formula(metric.formula).tree
                grid[name] = asm.evaluate_formula(tree, {n: grid[n] for n in parse_formula(metric.formula).names})
                continue
            kind = kinds[name]
            column = grid[name]
            integral = name in integral_columns or kind in (
                "count", "count_distinct", "cumulative_count", "cumulative_count_distinct")
            if kind in _ZERO_FILLED:
                column = asm.fill_zero(pd.to_numeric(column, errors="coerce"))
            elif kind in ("cumulative_count", "cumulative_sum", "cumulative_count_distinct"):
                grid[name] = asm.fill_zero(pd.to_numeric(column, errors="coerce"))
                column = asm.running(grid, name, keys, "sum")
            elif kind in ("cumulative_min", "cumulative_max"):
                grid[name] = pd.to_numeric(column, errors="coerce").astype(float)
                column = asm.running(grid, name, keys, kind.split("_")[1])
                grid[name] = column
                column = asm.running_fill(grid, name, keys)
            else:
                column = column.astype(float)
            if integral and kind != "ratio" and column.notna().all() and _whole(column):
                column = column.astype("int64")
            grid[name] = column
        return grid


def _kind(metric: Any) -> str:
    if isinstance(metric, AggregateMetric):
        return ("cumulative_" if metric.cumulative else "") + metric.agg
    return "ratio"


def _disk_cache(loaded: LoadedSpec, folder: str = "cache") -> ResultCache | None:
    if not loaded.spec.engine.cache or os.environ.get("NORTHSTAR_CACHE", "1") == "0":
        return None
    return ResultCache(loaded.base_dir / ".northstar" / folder, loaded.spec, loaded.base_dir)


def _whole(column: pd.Series) -> bool:
    values = column.to_numpy(dtype=float)
    return bool(((values % 1) == 0).all())
