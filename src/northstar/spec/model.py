"""The spec as immutable data: what a `northstar.yml` may say.

Only shapes and types live here (pydantic, frozen, unknown keys forbidden); the checks that
need more than one field or name (unknown metrics, cycles, columns) are in `validate.py`.
This package imports no engine, web framework or CLI library.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from northstar.spec.annotations import Annotation
from northstar.spec.model_base import Duration, Model, parse_duration  # noqa: F401  (re-exported)
from northstar.spec.presets import apply_preset
from northstar.spec.targets import AnyTarget, Target, TargetBands, TargetSeries  # noqa: F401  (re-exported)
# The settings blocks live in settings.py; they are re-exported here, where the spec's models are.
from northstar.spec.settings import (ALERT_CHECKS, WEEKDAYS, AlertChannel, AlertRule, Alerts, Checks,  # noqa: F401
                                     Digest, Web, parse_clock, parse_quiet_hours)

Grain = Literal["day", "week", "month", "quarter", "year"]
GRAINS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
Agg = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
AGGS: tuple[str, ...] = ("count", "count_distinct", "sum", "avg", "min", "max")
Direction = Literal["up", "down"]
TimeUnit = Literal["s", "ms", "us", "ns"]
FileFormat = Literal["csv", "parquet", "json"]
PresetName = Literal["segment", "rudderstack", "hightouch", "ga4", "posthog", "amplitude", "snowplow"]
FUNNEL_STAGES: tuple[str, ...] = ("acquisition", "activation", "retention", "referral", "revenue")
MEMORY_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*([kmgt]i?b?|b)\s*$", re.IGNORECASE)  # engine.memory_limit


class Source(Model):
    """Where events come from: a file (glob), a table in the engine, or a SELECT over sources."""

    path: str | None = None
    table: str | None = None
    sql: str | None = None
    # What wrote the data (spec/presets.py): fills in the timestamp, entity, event column, key
    # and late data the source does not give itself, and lets properties be read by a path.
    preset: PresetName | None = None
    format: FileFormat | None = None
    timestamp: str | None = None  # without one, a source can only be read by other sources' `sql`
    time_unit: TimeUnit | None = None
    time_format: str | None = None  # strptime pattern of a text (or yyyymmdd integer) timestamp
    timezone: str | None = None
    entity: str | None = None
    dimensions: tuple[str, ...] = ()
    # The dimensions that describe an event (type, page) rather than the customer (plan, country);
    # absent: measured from the data (checks/attributes.py).
    event_dimensions: tuple[str, ...] | None = None
    key: str | None = None
    # How far back rows may still arrive or change (`3d`): stored results of older periods are
    # kept and the last 3 days computed again at every refresh. What lets a `table:` or `sql:`
    # source be refreshed incrementally (engine/changes.py); a `path:` source's files are tracked.
    late_data: Duration | None = None
    label: str | None = None
    description: str | None = None
    north_star: str | None = None  # the North Star (of `north_stars:`) it belongs to; none: shared (spec/ownership.py)

    @model_validator(mode="before")
    @classmethod
    def _format_as_time_format(cls, data: Any) -> Any:
        """`format: '%d/%m/%Y %H:%M'` (a strptime pattern, as people write it) means `time_format`;
        `format: csv|parquet|json` keeps its meaning (the file format)."""
        if isinstance(data, dict) and isinstance(data.get("format"), str) and "%" in data["format"]:
            if data.get("time_format") is not None:
                raise ValueError("give the timestamp pattern once: `time_format` (or a pattern in `format`), "
                                 "not both")
            data = {**{k: v for k, v in data.items() if k != "format"}, "time_format": data["format"]}
        return apply_preset(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_location(self) -> "Source":
        given = [name for name in ("path", "table", "sql") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a source needs exactly one of `path`, `table` or `sql`"
                             + (f" (found {', '.join(given)})" if given else ""))
        if self.format and not self.path:
            raise ValueError("`format` applies only to a `path` source")
        if self.time_unit and self.time_format:
            raise ValueError("`time_unit` (epoch numbers) and `time_format` (a text pattern) exclude each other")
        return self


class MetricBase(Model):
    label: str | None = None
    description: str | None = None
    unit: str | None = None
    tags: tuple[str, ...] = ()
    direction: Direction = "up"
    target: AnyTarget | None = None  # a value by a date, or a series (spec/targets.py)
    north_star: str | None = None  # the North Star it belongs to; none: its source's, else shared (spec/ownership.py)


class AggregateMetric(MetricBase):
    """An aggregation of a source's rows per period: count, distinct count, sum, ..."""

    type: Literal["aggregate"] = "aggregate"
    source: str
    where: str | None = None
    agg: Agg
    expr: str | None = None
    cumulative: bool = False


class RetentionMetric(MetricBase):
    """Share of entities active in the previous period that are active again."""

    type: Literal["retention"]
    source: str
    where: str | None = None


class ConversionMetric(MetricBase):
    """Share of entities doing `from` in the period that do `to` within the window."""

    type: Literal["conversion"]
    source: str
    from_: str = Field(alias="from")
    to: str
    within: Duration
    where: str | None = None

    @property
    def window(self) -> dt.timedelta:
        return parse_duration(self.within)


class FormulaMetric(MetricBase):
    """Arithmetic over other metrics, evaluated on their aggregated values."""

    type: Literal["formula"] = "formula"
    formula: str


def _metric_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "type" in value:
            return str(value["type"])
        return "formula" if "formula" in value else "aggregate"
    return getattr(value, "type", "aggregate")


METRIC_KINDS: tuple[str, ...] = ("aggregate", "retention", "conversion", "formula")

Metric = Annotated[
    Union[
        Annotated[AggregateMetric, Tag("aggregate")],
        Annotated[RetentionMetric, Tag("retention")],
        Annotated[ConversionMetric, Tag("conversion")],
        Annotated[FormulaMetric, Tag("formula")],
    ],
    Discriminator(_metric_kind, custom_error_type="metric_type",
                  custom_error_message="`type` must be one of aggregate, retention, conversion, formula"),
]


class Driver(Model):
    """A hypothesis: `metric` moves the node in `direction`, `lag` periods later."""

    metric: str
    direction: Direction = "up"
    lag: int = Field(default=0, ge=0, le=104)


class TreeNode(Model):
    formula: str | None = None
    owner: str | None = None
    drivers: tuple[Driver, ...] = ()
    description: str | None = None


class HistoryEntry(Model):
    metric: str
    until: dt.date
    reason: str


class OfferingChange(Model):
    """A change in what the product offers customers: the only good reason to change the NSM."""

    date: dt.date
    change: str


class NorthStar(Model):
    metric: str
    grain: Grain = "week"
    customer_value: str | None = None
    tree: dict[str, TreeNode] = Field(default_factory=dict)
    target: AnyTarget | None = None
    history: tuple[HistoryEntry, ...] = ()
    offering_changes: tuple[OfferingChange, ...] = ()


class NamedNorthStar(NorthStar):
    """One of several North Stars (`north_stars:`): a North Star with its name, one of them primary."""

    name: str = Field(min_length=1, max_length=100)
    primary: bool = False


class Focus(Model):
    """A team's One Metric That Matters for a time box of 2-4 months."""

    team: str
    metric: str
    baseline: float | None = None
    target: float | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    owner: str | None = None
    north_star: str | None = None  # the North Star (of `north_stars:`) it serves; none: every one


class Guardrail(Model):
    metric: str
    min: float | None = None
    max: float | None = None
    owner: str | None = None
    north_star: str | None = None  # the North Star (of `north_stars:`) it guards; none: every one

    @model_validator(mode="after")
    def _bounds(self) -> "Guardrail":
        if self.min is None and self.max is None:
            raise ValueError("a guardrail needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"`min` ({self.min}) is above `max` ({self.max})")
        return self


class Funnel(Model):
    """The pirate funnel (AARRR): the metric that measures each stage, or null."""

    acquisition: str | None = None
    activation: str | None = None
    retention: str | None = None
    referral: str | None = None
    revenue: str | None = None

    def stages(self) -> dict[str, str | None]:
        return {stage: getattr(self, stage) for stage in FUNNEL_STAGES}


class Engine(Model):
    """Which Ibis backend runs the queries. DuckDB, embedded, is the default; the same spec runs
    on Spark, ClickHouse (a server, or the embedded chdb) and PostgreSQL by changing this block.

    `url` and `master` may hold `${ENV_VAR}` references (credentials): they are read from the
    environment when the engine connects and never appear in errors or logs.
    """

    type: Literal["duckdb", "pyspark", "clickhouse", "postgres"] = "duckdb"
    database: str = ":memory:"  # duckdb: a file or :memory:; clickhouse/postgres: the database name
    url: str | None = None  # postgres: postgresql://user:pass@host/db; clickhouse: http(s)://host:8123 (none: chdb)
    master: str | None = None  # pyspark: local[*] (default), spark://host:7077, or sc://host:15002 (Spark Connect)
    config: dict[str, str] = Field(default_factory=dict)  # pyspark: extra Spark settings (spark.executor.memory...)
    threads: int | None = Field(default=None, ge=1, le=1024)  # DuckDB crashed (exit 139) at 100,000
    memory_limit: str | None = None  # a size: 4GB, 512MB, 2g
    cache: bool = True  # keep query results in .northstar/cache/ beside the spec
    cache_max_mb: int = Field(default=500, ge=1, le=1_000_000, strict=True)  # the cache folder's bound; least recently used go first

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not MEMORY_SIZE.match(value):
            raise ValueError(f"'{value}' is not a size: write e.g. 4GB, 512MB or 2g")
        return value

    @model_validator(mode="after")
    def _fits_type(self) -> "Engine":
        if self.type == "postgres" and not self.url:
            raise ValueError("engine type postgres needs `url` (e.g. postgresql://${PGUSER}:${PGPASSWORD}@host/db)")
        if self.master is not None and self.type != "pyspark":
            raise ValueError("`master` applies to engine type pyspark only")
        if self.config and self.type != "pyspark":
            raise ValueError("`config` applies to engine type pyspark only")
        return self


class Spec(Model):
    project: str
    timezone: str = "UTC"
    engine: Engine = Field(default_factory=Engine)
    sources: dict[str, Source] = Field(min_length=1)
    metrics: dict[str, Metric] = Field(min_length=1)
    north_star: NorthStar  # with `north_stars:`, the one worked on (by default the primary)
    north_stars: tuple[NamedNorthStar, ...] = ()  # several North Stars (see `north_stars.py`)
    focus: tuple[Focus, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    funnel: Funnel | None = None
    checks: Checks = Field(default_factory=Checks)
    web: Web = Field(default_factory=Web)
    alerts: Alerts = Field(default_factory=Alerts)
    annotations: tuple[Annotation, ...] = ()  # releases, campaigns, outages, holidays (spec/annotations.py)

    # A view for one of several North Stars (`for_north_star`): its name and the spec as loaded.
    _north_star_name: str | None = PrivateAttr(default=None)
    _every_north_star: "Spec | None" = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _primary_north_star(cls, data: Any) -> Any:
        """With `north_stars:`, `north_star` is the primary (the one with `primary: true`, else the
        first); the loader refuses a spec giving both (`load.py`)."""
        if isinstance(data, dict) and "north_stars" in data and "north_star" not in data:
            from northstar.spec.north_stars import primary_entry

            chosen = primary_entry(data["north_stars"])
            if chosen is not None:
                data = {**data, "north_star": {k: v for k, v in chosen.items() if k not in ("name", "primary")}}
        return data

    @property
    def north_star_names(self) -> tuple[str, ...]:
        """The names of `north_stars:`, the primary first; () for a spec with one `north_star:`."""
        from northstar.spec.north_stars import ordered

        return tuple(ns.name for ns in ordered(self.north_stars))

    @property
    def north_star_name(self) -> str | None:
        """The name of the North Star this spec is for (None: a spec with one `north_star:`)."""
        if not self.north_stars:
            return None
        return self._north_star_name or self.north_star_names[0]

    def for_north_star(self, name: str | None) -> "Spec":
        """This spec for the North Star `name` (None: the one it is for, by default the primary): see
        `north_stars.for_north_star`. QueryError for a name the spec does not have."""
        from northstar.spec.north_stars import for_north_star

        return for_north_star(self, name)
    target_bands: TargetBands = Field(default_factory=TargetBands)
