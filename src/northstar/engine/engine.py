"""The metric engine: plan a query, run the compiled Ibis expressions, assemble the series."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from northstar.engine import assemble as asm
from northstar.engine import changes, parts
from northstar.engine.backends import Backend, connect
from northstar.engine.cache import ResultCache
from northstar.engine.compile import (INSTANT, LOCAL, PERIOD, aggregate_value, combine_parts, conversion, first_seen,
                                      fuse_metric_queries, retention)
from northstar.engine.datacheck import implausible_times
from northstar.engine.plan import MetricQuery, Plan, make_plan
from northstar.engine.sources import BoundSource, bind_sources
from northstar.engine.sql_to_ibis import to_ibis
from northstar.engine.timestamps import read_bounds
from northstar.engine.time import (event_time, instant_bound, period_of, period_start, same_period_last_year,
                                   shift_period)
from northstar.errors import DataError, FilterError, QueryError, first_line
from northstar.spec.expressions import parse_formula, parse_sql, short
from northstar.spec.validate import metric_expressions
from northstar.spec.load import LoadedSpec
from northstar.spec.model import AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric

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

    def extended(self, metrics: dict[str, Any]) -> "MetricEngine":
        """An engine over the same backend, sources and caches whose spec has extra metrics
        (analyses define probe metrics, e.g. the entities active in a source, this way)."""
        spec = self.spec.model_copy(update={"metrics": {**self.spec.metrics, **metrics}})
        other = MetricEngine(dataclasses.replace(self.loaded, spec=spec), self.backend)
        other._bound, other._bounds, other._duplicates, other._instants = (
            self._bound, self._bounds, self._duplicates, self._instants)
        other._versions, other.scanned, other.recomputed = self._versions, self.scanned, self.recomputed
        return other

    # ---- sources -------------------------------------------------------------------------

    def source(self, name: str) -> BoundSource:
        if name not in self._bound:
            self._bound.update(bind_sources(self.backend, self.loaded, [name]))
        return self._bound[name]

    def prepared(self, name: str, where: str | None, grain: str, columns: Sequence[str] | None = None) -> ir.Table:
        """The source's rows with `__instant`, `__local` and `__period`, after the query filter.

        With `columns`, only those (and the timestamp) are carried: the engine then reads and
        keeps no more than the metrics need.
        """
        bound = self.source(name)
        table = bound.table
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
        return table.mutate(**{PERIOD: period_of(table[LOCAL], grain)})

    def in_periods(self, name: str, table: ir.Table, first: dt.date, last: dt.date, grain: str) -> ir.Table:
        """`table` (from `prepared`, with the source's timestamp among its columns) restricted to
        the periods `first`..`last` as the engine's own queries are: row groups skipped by the
        raw timestamp, local bounds tested on the instant where that is exact (analyses that
        query a source directly, e.g. `explain`'s top orders, stay as fast as a metric query)."""
        source = self.spec.sources[name]
        lo = dt.datetime.combine(first, dt.time())
        hi = dt.datetime.combine(shift_period(last, grain, 1), dt.time())
        raw = source.timestamp if _is_timestamp(table, source) else None
        return _restrict(table, lo, hi, self.data_bounds(name), raw, self._rules.get(name))

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

    @staticmethod
    def _output_metrics(query: MetricQuery) -> list[str]:
        if not query.compare:
            return list(query.metrics)
        return [c for m in query.metrics for c in (m, f"{m}_previous", f"{m}_last_year")]

    def _range(self, plan: Plan) -> tuple[dt.date | None, dt.date | None, dt.date | None, dt.date | None]:
        grain, query = plan.query.grain, plan.query
        bounds = [b for b in (self.data_bounds(s) for s in plan.by_source) if b is not None]
        data_first = period_start(min(b[0] for b in bounds).date(), grain) if bounds else None
        data_last = period_start(max(b[1] for b in bounds).date(), grain) if bounds else None
        first = period_start(query.start, grain) if query.start else data_first
        last = period_start(query.end, grain) if query.end else data_last
        return first, last, data_first, data_last

    def statements(self, query: MetricQuery) -> list[ir.Table]:
        """The Ibis expressions a query runs, one per source (its metrics fused), not executed:
        e.g. to see their SQL in any dialect (`ibis.to_sql(expr, dialect=...)`)."""
        plan = make_plan(self.spec, query)
        first, last, _data_first, _data_last = self._range(plan)
        if first is None or last is None or first > last:
            return []
        return [self._build_part(plan, source, names, first, last) for source, names in plan.by_source.items()]

    def _run_parts(self, plan: Plan, first: dt.date, last: dt.date) -> tuple[list[tuple[pd.DataFrame, list[str]]], dict[str, str]]:
        kinds = {name: _kind(self.spec.metrics[name]) for names in plan.by_source.values() for name in names}
        frames: list[tuple[pd.DataFrame, list[str]]] = []
        for source_name, names in plan.by_source.items():
            frames.append((self._run_part(plan, source_name, list(names), first, last), list(names)))
        return frames, kinds

    def _run_part(self, plan: Plan, source_name: str, names: list[str], first: dt.date, last: dt.date) -> pd.DataFrame:
        """One source's base values for the periods first..last: the stored periods whose data
        did not change are reused, the others computed in one statement over their range
        (`parts`; without a result folder, everything is computed)."""
        grain = plan.query.grain
        wanted = set(asm.periods_between(first, last, grain))
        store = self._parts
        state = self._versions.state(source_name) if store is not None and self._versions is not None else None
        if state is None:
            if self._versions is not None and self._versions.unversioned(source_name):
                self.recomputed.add(source_name)
            return self._compute_part(plan, source_name, names, first, last)
        key = store.key(self.spec, source_name, names, grain, plan.query.by, plan.query.where)
        entry = store.load(key)
        keep: set[dt.date] = set()
        if entry is not None:
            changed = self._versions.changed(source_name, entry.state, state)
            forced = parts.forced(store.cache.folder)
            if forced is not None and entry.made < forced[1] and changed != changes.ALL:
                changed = [*changed, (forced[0], None)]  # type: ignore[list-item]
            keep = set(entry.periods) - parts.stale(self.spec, names, grain, changed, entry.periods)
        missing = sorted(wanted - keep)
        if not missing:
            return parts.within(entry.frame, wanted)  # type: ignore[union-attr]
        lo, hi = missing[0], missing[-1]
        fresh = self._compute_part(plan, source_name, names, lo, hi)
        fresh = fresh[(fresh[asm.PERIOD] >= lo) & (fresh[asm.PERIOD] <= hi)]
        done = set(asm.periods_between(lo, hi, grain))
        frame = parts.merge(entry, keep - done, fresh)
        if self._versions.state(source_name) == state:  # the data did not change meanwhile
            store.save(key, parts.Entry(frozenset((keep - done) | done), state, frame))
        self.scanned.append((source_name, lo, hi))
        return parts.within(frame, wanted)

    def _compute_part(self, plan: Plan, source_name: str, names: list[str], first: dt.date, last: dt.date) -> pd.DataFrame:
        expr = self._build_part(plan, source_name, names, first, last)
        try:
            return self._execute(expr, list(plan.query.by), names)
        except DataError:
            if plan.query.where:
                self._blame_filter(plan)
            raise

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

    def _build_part(self, plan: Plan, source_name: str, names: Sequence[str], first: dt.date, last: dt.date) -> ir.Table:
        """One statement computing the metrics `names` of one source for the periods first..last."""
        query, grain, keys = plan.query, plan.query.grain, list(plan.query.by)
        lo = dt.datetime.combine(first, dt.time())
        hi = dt.datetime.combine(shift_period(last, grain, 1), dt.time())
        source = self.spec.sources[source_name]
        # A join can fan out on every query: `sql:` sources' keys are checked before use
        # (file and table sources' keys are checked by `validate`).
        if source.sql and source.key and self.duplicate_keys(source_name):
            from northstar.engine.datacheck import _fan_out_message
            raise DataError(_fan_out_message(source_name, source.key, self.duplicate_keys(source_name)))
        table = self.prepared(source_name, query.where, grain, self._columns_used(names, source, keys))
        bounds = self.data_bounds(source_name)
        raw = source.timestamp if _is_timestamp(table, source) else None
        rule = self._rules.get(source_name)
        in_range = _restrict(table, lo, hi, bounds, raw, rule)
        upto = _restrict(table, None, hi, bounds, raw, rule)
        fused: dict[str, AggregateMetric] = {}
        source_parts: list[tuple[ir.Table, list[str]]] = []
        for name in names:
            metric = self.spec.metrics[name]
            try:
                if isinstance(metric, AggregateMetric):
                    aggregate_value(table, metric, source.entity)  # type-check before fusing
                    if metric.cumulative and metric.agg == "count_distinct":
                        source_parts.append((first_seen(upto, metric, keys, source.entity, name), [name]))
                    else:
                        fused[name] = metric
                elif isinstance(metric, RetentionMetric):
                    lo_prev = dt.datetime.combine(shift_period(first, grain, -1), dt.time())
                    rows = _restrict(table, lo_prev, hi, bounds, raw, rule)
                    source_parts.append((retention(rows, metric, keys, source.entity, grain, name), [name]))
                elif isinstance(metric, ConversionMetric):
                    rows = _restrict(table, lo, hi + metric.window + dt.timedelta(days=1), bounds, raw, rule)
                    expr = conversion(rows, metric, keys, source.entity, name)
                    source_parts.append((expr.filter(expr[PERIOD] <= last), [name]))
                else:  # pragma: no cover - formulas are not base metrics
                    raise AssertionError(name)
            except (DataError, QueryError, AssertionError):
                raise
            except Exception as exc:
                raise DataError(str(self.loaded.lines.problem(
                    ("metrics", name), f"metric '{name}' does not fit the columns of source "
                    f"'{source_name}': {first_line(exc)}"))) from None
        if fused:  # running totals are summed from these per-period values afterwards
            source_parts.append((fuse_metric_queries(in_range, fused, keys, source.entity), list(fused)))
        # One statement per source: the engine can share the scan between the parts.
        return combine_parts(source_parts, keys, self.backend.null_safe_full_join)

    def _columns_used(self, names: Sequence[str], source: Any, keys: Sequence[str]) -> list[str]:
        """The source columns that the metrics `names` and the breakdown read."""
        used = {c for c in (source.entity, source.timestamp) if c} | set(keys)
        for name in names:
            for _field, text in metric_expressions(self.spec.metrics[name]):
                used |= set(parse_sql(text).columns)
        return sorted(used)

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


def _restrict(table: ir.Table, lo: dt.datetime | None, hi: dt.datetime | None,
              bounds: tuple[dt.datetime, dt.datetime] | None, raw: str | None = None,
              rule: str | None = None) -> ir.Table:
    """Rows with local time in [lo, hi); a bound the data lies inside anyway is left out,
    so a query over all the data scans without a filter.

    With `raw`, the source's own timestamp column (a timestamp type), that column is bounded
    too, with a day's margin for the zone offset: the engine can then skip the row groups of
    a file sorted by time by their statistics, which it cannot do through the local-time
    expression. With `rule` (how local time follows from the instant), a local bound away from
    any change of UTC offset is tested on the instant instead: the same rows, without
    computing the local-time expression for every row (4x faster on the demo).
    """
    conditions = []
    margin = dt.timedelta(days=1)
    column = table[raw] if raw is not None else None
    zone = column.type().timezone if column is not None else None  # type: ignore[union-attr]

    def literal(moment: dt.datetime) -> Any:
        return ibis.literal(pd.Timestamp(moment, tz=zone) if zone else pd.Timestamp(moment))

    def local_at_least(moment: dt.datetime) -> Any:
        instant = instant_bound(moment, rule)
        return table[LOCAL] >= moment if instant is None else table[INSTANT] >= instant

    def local_before(moment: dt.datetime) -> Any:
        instant = instant_bound(moment, rule)
        return table[LOCAL] < moment if instant is None else table[INSTANT] < instant

    if lo is not None and (bounds is None or bounds[0] < lo):
        conditions += ([column >= literal(lo - margin)] if column is not None else []) + [local_at_least(lo)]
    if hi is not None and (bounds is None or bounds[1] >= hi):
        conditions += ([column < literal(hi + margin)] if column is not None else []) + [local_before(hi)]
    return table.filter(*conditions) if conditions else table


def _kind(metric: Any) -> str:
    if isinstance(metric, AggregateMetric):
        return ("cumulative_" if metric.cumulative else "") + metric.agg
    return "ratio"


def _disk_cache(loaded: LoadedSpec, folder: str = "cache") -> ResultCache | None:
    if not loaded.spec.engine.cache or os.environ.get("NORTHSTAR_CACHE", "1") == "0":
        return None
    return ResultCache(loaded.base_dir / ".northstar" / folder, loaded.spec, loaded.base_dir)


def _is_timestamp(table: ir.Table, source: Any) -> bool:
    """Is the source's time column kept in the table and a timestamp (not text, epoch or date)?"""
    return (source.timestamp in table.columns and not source.time_unit
            and table[source.timestamp].type().is_timestamp())


def _whole(column: pd.Series) -> bool:
    values = column.to_numpy(dtype=float)
    return bool(((values % 1) == 0).all())
