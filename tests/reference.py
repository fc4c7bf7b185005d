"""Brute-force reference implementation of Northstar's metric semantics.

Deliberately independent of the engine: no DuckDB, no Ibis, no pandas. Plain Python loops over
rows, with ``datetime`` and ``zoneinfo``. The SQL snippets used in the test specs (``where``,
``expr``, query filters) are NOT interpreted: each supported snippet is paired with a small
hand-written Python function in the registries below (SQL three-valued logic: ``None`` is NULL).
Formulas (plain arithmetic over metric names) are evaluated with a tiny ``ast`` walker.

Entry point: :func:`query`, which mirrors ``Project.query`` and returns a :class:`Result`.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GRAINS = ("day", "week", "month", "quarter", "year")

# --------------------------------------------------------------------------------------------
# SQL three-valued logic helpers (None == NULL)
# --------------------------------------------------------------------------------------------


def eq(a, b):
    return None if a is None or b is None else a == b


def gt(a, b):
    return None if a is None or b is None else a > b


def in_(a, values):
    return None if a is None else a in values


def not_(a):
    return None if a is None else (not a)


def or_(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def and_(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def div(a, b):
    """SQL ``/`` on numbers as DuckDB does it: true (float) division, NULL on NULL operand."""
    if a is None or b is None:
        return None
    return a / b


def coalesce(*args):
    for a in args:
        if a is not None:
            return a
    return None


# Row predicates: SQL text -> function(row) -> True / False / None.
PREDICATES: dict[str, Callable[[dict], Any]] = {
    "event = 'play'": lambda r: eq(r["event"], "play"),
    "event = 'trial'": lambda r: eq(r["event"], "trial"),
    "event = 'buy'": lambda r: eq(r["event"], "buy"),
    "event in ('play', 'trial')": lambda r: in_(r["event"], ("play", "trial")),
    "value > 100": lambda r: gt(r["value"], 100),
    "country is null": lambda r: r["country"] is None,
    "not (platform = 'ios')": lambda r: not_(eq(r["platform"], "ios")),
    # query-level filters over dimension columns
    "country = 'NL'": lambda r: eq(r["country"], "NL"),
    "country = 'DE'": lambda r: eq(r["country"], "DE"),
    "country in ('NL', 'DE')": lambda r: in_(r["country"], ("NL", "DE")),
    "platform = 'android' or country = 'US'": lambda r: or_(
        eq(r["platform"], "android"), eq(r["country"], "US")
    ),
    "platform = 'ios' and country is not null": lambda r: and_(
        eq(r["platform"], "ios"), r["country"] is not None
    ),
}

# Row expressions: SQL text -> function(row) -> value or None.
EXPRESSIONS: dict[str, Callable[[dict], Any]] = {
    "value": lambda r: r["value"],
    "value / 60": lambda r: div(r["value"], 60),
    "coalesce(value, 0) * 2": lambda r: coalesce(r["value"], 0) * 2,
    "country": lambda r: r["country"],
    "platform": lambda r: r["platform"],
    "user": lambda r: r["user"],
}


def predicate(sql: str | None) -> Callable[[dict], bool]:
    """A row filter with SQL WHERE semantics (NULL counts as false)."""
    if sql is None:
        return lambda r: True
    fn = PREDICATES[sql.strip()]
    return lambda r: fn(r) is True


def expression(sql: str) -> Callable[[dict], Any]:
    return EXPRESSIONS[sql.strip()]


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def to_utc(value, time_unit: str | None = None, source_tz: str | None = None) -> datetime | None:
    """The UTC instant of a raw timestamp cell (``None`` for a null timestamp)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if time_unit is not None:
        if time_unit == "s":
            return EPOCH + timedelta(seconds=value)
        if time_unit == "ms":
            return EPOCH + timedelta(milliseconds=value)
        raise ValueError(f"unknown time_unit {time_unit!r}")
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"timestamp cell {value!r} is not a datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(source_tz) if source_tz else UTC)
    return value.astimezone(UTC)


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def trunc(d: date, grain: str) -> date:
    if grain == "day":
        return d
    if grain == "week":
        return d - timedelta(days=d.weekday())  # ISO week: Monday
    if grain == "month":
        return d.replace(day=1)
    if grain == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if grain == "year":
        return date(d.year, 1, 1)
    raise ValueError(grain)


def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + (d.month - 1) + n
    return date(m // 12, m % 12 + 1, 1)


def shift(period: date, grain: str, n: int) -> date:
    """The period ``n`` periods after ``period`` (negative: before)."""
    if grain == "day":
        return period + timedelta(days=n)
    if grain == "week":
        return period + timedelta(weeks=n)
    if grain == "month":
        return _add_months(period, n)
    if grain == "quarter":
        return _add_months(period, 3 * n)
    if grain == "year":
        return date(period.year + n, 1, 1)
    raise ValueError(grain)


def period_range(first: date, last: date, grain: str) -> list[date]:
    out = []
    p = trunc(first, grain)
    last = trunc(last, grain)
    while p <= last:
        out.append(p)
        p = shift(p, grain, 1)
    return out


LAST_YEAR = {"day": ("day", -364), "week": ("week", -52), "month": ("month", -12), "quarter": ("quarter", -4),
             "year": ("year", -1)}

_WITHIN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_within(text: str) -> timedelta:
    m = _WITHIN.match(str(text))
    if not m:
        raise ValueError(f"bad window {text!r}")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    utc: datetime
    local: date
    data: dict  # all columns, plus "entity" = the source's entity value


def prepare(raw_rows: Iterable[dict], source: dict, spec_tz: str) -> list[Row]:
    """Resolve timestamps; drop rows with a null timestamp."""
    out = []
    ts_col = source["timestamp"]
    for r in raw_rows:
        t = to_utc(r.get(ts_col), source.get("time_unit"), source.get("timezone"))
        if t is None:
            continue
        data = dict(r)
        data["entity"] = r.get(source["entity"])
        out.append(Row(t, local_date(t, spec_tz), data))
    return out


def _num_equal_key(v):
    """Distinctness key: SQL compares 1 and 1.0 as equal."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    return v


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _aggregate(agg: str, rows: list[Row], expr: Callable | None, default_distinct: Callable):
    if agg == "count":
        if expr is None:
            return len(rows)
        return sum(1 for r in rows if expr(r.data) is not None)
    if agg == "count_distinct":
        fn = expr or default_distinct
        return len({_num_equal_key(v) for v in (fn(r.data) for r in rows) if v is not None})
    vals = [v for v in (expr(r.data) for r in rows)] if expr else None
    if vals is None:
        raise ValueError(f"agg {agg} needs an expr")
    vals = [v for v in vals if v is not None]
    if agg == "sum":
        if not vals:
            return 0
        if all(isinstance(v, int) for v in vals):
            return sum(vals)
        return math.fsum(vals)
    if agg == "avg":
        return math.fsum(vals) / len(vals) if vals else None
    if agg == "min":
        return min(vals) if vals else None
    if agg == "max":
        return max(vals) if vals else None
    raise ValueError(agg)


EMPTY_ZERO = {"count", "count_distinct", "sum"}


def metric_kind(mdef: dict) -> str:
    if "formula" in mdef:
        return "formula"
    t = mdef.get("type", "aggregate")
    if t in ("retention", "conversion"):
        return t
    return "cumulative" if mdef.get("cumulative") else "aggregate"


def _formula_names(text: str) -> list[str]:
    return sorted({n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)})


def eval_formula(text: str, env: dict[str, Any]):
    """Arithmetic over named values; NULL operand or division by zero gives None."""

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            v = env[node.id]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return v
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return None if b == 0 else a / b
        raise ValueError(f"unsupported formula element {ast.dump(node)}")

    return ev(ast.parse(text, mode="eval"))


@dataclass
class Result:
    """Reference answer of one query."""

    periods: list[date]
    by: list[str]
    metrics: list[str]
    compare: bool
    # value(metric, period, segment) for ANY period and segment (empty cells filled)
    value: Callable[[str, date, tuple], Any]
    # segments present in the (query-filtered, timestamped) data: an engine may only show these
    candidate_segments: set[tuple]
    # segments with at least one non-empty value for a queried metric in an output period:
    # an engine must show these
    required_segments: set[tuple]
    # the columns of every output row, in order
    columns: list[str] = field(default_factory=list)

    def rows(self, segments: Sequence[tuple] | None = None) -> list[dict]:
        """The full grid (periods x segments) as dicts; segments default to required ones."""
        if segments is None:
            segments = sorted(self.required_segments, key=seg_sort_key) if self.by else [()]
        out = []
        for p in self.periods:
            for s in segments:
                row = {"period": p}
                row.update(dict(zip(self.by, s)))
                for m in self.metrics:
                    row[m] = self.value(m, p, s)
                    if self.compare:
                        row[f"{m}_previous"] = self.value(f"{m}_previous", p, s)
                        row[f"{m}_last_year"] = self.value(f"{m}_last_year", p, s)
                out.append(row)
        return out


def seg_sort_key(seg: tuple):
    return tuple((v is None, v if v is not None else "") for v in seg)


def query(
    spec: dict,
    tables: dict[str, list[dict]],
    metrics: Sequence[str],
    grain: str,
    by: Sequence[str] = (),
    where: str | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    compare: bool = False,
) -> Result:
    """Brute-force answer to ``Project.load(spec).query(metrics, grain, by, where, start, end)``.

    ``spec`` is the parsed YAML (a dict) and ``tables`` maps each source name to its raw rows
    (dicts keyed by column name, ``None`` for nulls) exactly as written to the data file.
    """
    tz = spec.get("timezone", "UTC")
    by = list(by)
    if isinstance(start, str):
        start = date.fromisoformat(start)
    if isinstance(end, str):
        end = date.fromisoformat(end)
    qfilter = predicate(where)
    mdefs = spec["metrics"]

    # rows per source: timestamped, then the query filter (applied before anything)
    all_rows: dict[str, list[Row]] = {}
    filtered: dict[str, list[Row]] = {}
    for name, src in spec["sources"].items():
        rows = prepare(tables[name], src, tz)
        all_rows[name] = rows
        filtered[name] = [r for r in rows if qfilter(r.data)]

    # metric closure: queried metrics plus everything formulas reference
    needed: list[str] = []

    def need(m):
        if m in needed:
            return
        d = mdefs[m]
        if metric_kind(d) == "formula":
            for n in _formula_names(d["formula"]):
                need(n)
        needed.append(m)

    for m in metrics:
        need(m)
    sources_used = sorted({mdefs[m]["source"] for m in needed if "source" in mdefs[m]})

    # the data's period span: every timestamped row of the (used) sources, no filter at all
    dates = [r.local for s in sources_used for r in all_rows[s]]
    data_periods = period_range(min(dates), max(dates), grain) if dates else []
    if start is None and end is None:
        periods = list(data_periods)
    else:
        lo = trunc(start, grain) if start is not None else (data_periods[0] if data_periods else None)
        hi = trunc(end, grain) if end is not None else (data_periods[-1] if data_periods else None)
        periods = period_range(lo, hi, grain) if lo is not None and hi is not None else []
    period_set = set(periods)
    data_period_set = set(data_periods)

    def seg_of(r: Row) -> tuple:
        return tuple(r.data.get(d) for d in by)

    def per(r: Row) -> date:
        return trunc(r.local, grain)

    def buckets(rows: list[Row]) -> dict[tuple, list[Row]]:
        """(period, segment) -> rows, in input order."""
        out: dict[tuple, list[Row]] = {}
        for r in rows:
            out.setdefault((per(r), seg_of(r)), []).append(r)
        return out

    # ----- per-metric value functions -----
    cache: dict[tuple, Any] = {}
    funcs: dict[str, Callable[[date, tuple], Any]] = {}
    entity_of = lambda x: x["entity"]  # noqa: E731  (default count_distinct expr)

    for m in needed:
        d = mdefs[m]
        kind = metric_kind(d)
        if kind in ("aggregate", "cumulative"):
            src = d["source"]
            w = predicate(d.get("where"))
            ex = expression(d["expr"]) if d.get("expr") is not None else None
            rows = [r for r in filtered[src] if w(r.data)]
            b = buckets(rows)
            agg = d["agg"]
            if kind == "aggregate":

                def f(p, s, b=b, agg=agg, ex=ex):
                    return _aggregate(agg, b.get((p, s), []), ex, entity_of)

            else:

                def f(p, s, b=b, agg=agg, ex=ex):
                    # every row of the segment in this period or any earlier one
                    sel = [r for (q, t), rs in b.items() if t == s and q <= p for r in rs]
                    return _aggregate(agg, sel, ex, entity_of)

        elif kind == "retention":
            w = predicate(d.get("where"))
            rows = [r for r in filtered[d["source"]] if w(r.data)]
            b = buckets(rows)
            active_in: dict[date, set] = {}
            for r in rows:
                active_in.setdefault(per(r), set()).add(r.data["entity"])

            def f(p, s, b=b, active_in=active_in):
                prev = shift(p, grain, -1)
                cohort = {r.data["entity"] for r in b.get((prev, s), [])}
                cohort.discard(None)
                if not cohort:
                    return None
                active = active_in.get(p, set())
                return len(cohort & active) / len(cohort)

        elif kind == "conversion":
            fw, tw = predicate(d["from"]), predicate(d["to"])
            window = parse_within(d["within"])
            src_rows = filtered[d["source"]]
            b = buckets([r for r in src_rows if fw(r.data) and r.data["entity"] is not None])
            to_rows = [r for r in src_rows if tw(r.data) and r.data["entity"] is not None]

            def f(p, s, b=b, to_rows=to_rows, window=window):
                starters = b.get((p, s), [])
                entities = {r.data["entity"] for r in starters}
                if not entities:
                    return None
                converted = set()
                for fr in starters:
                    for tr in to_rows:
                        if tr.data["entity"] == fr.data["entity"] and fr.utc <= tr.utc <= fr.utc + window:
                            converted.add(fr.data["entity"])
                            break
                return len(converted) / len(entities)

        else:  # formula
            text = d["formula"]
            names = _formula_names(text)

            def f(p, s, text=text, names=names):
                return eval_formula(text, {n: value(n, p, s) for n in names})

        funcs[m] = f

    def value(m: str, p: date, s: tuple):
        key = (m, p, s)
        if key in cache:
            return cache[key]
        if m.endswith("_previous") and m not in funcs:
            base = m[: -len("_previous")]
            q = shift(p, grain, -1)
            v = value(base, q, s) if q in data_period_set else None
        elif m.endswith("_last_year") and m not in funcs:
            base = m[: -len("_last_year")]
            g, n = LAST_YEAR[grain]
            q = shift(p, g, n)
            v = value(base, q, s) if q in data_period_set else None
        else:
            v = funcs[m](p, tuple(s))
        cache[key] = v
        return v

    # ----- segments -----
    if by:
        candidate = {seg_of(r) for s in sources_used for r in filtered[s]}
        required = set()
        for s in candidate:
            if any(
                not is_empty(value(m, p, s), mdefs[m])
                for m in metrics
                for p in periods
            ):
                required.add(s)
    else:
        candidate = required = {()}

    columns = ["period", *by]
    for m in metrics:
        columns.append(m)
        if compare:
            columns += [f"{m}_previous", f"{m}_last_year"]

    return Result(
        periods=periods,
        by=by,
        metrics=list(metrics),
        compare=compare,
        value=value,
        candidate_segments=candidate,
        required_segments=required,
        columns=columns,
    )


def is_empty(v, mdef: dict) -> bool:
    """Whether ``v`` is what an empty cell of this metric shows (0 or null)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return True
    kind = metric_kind(mdef)
    if kind in ("aggregate", "cumulative") and mdef.get("agg") in EMPTY_ZERO:
        return v == 0
    if kind == "formula":  # e.g. ``plays - listeners`` is 0 in an empty cell
        return v == 0
    return False
