"""The spec as immutable data: what a `northstar.yml` may say.

Only shapes and types live here (pydantic, frozen, unknown keys forbidden); the checks that
need more than one field or name (unknown metrics, cycles, columns) are in `validate.py`.
This package imports no engine, web framework or CLI library.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

Grain = Literal["day", "week", "month", "quarter"]
GRAINS: tuple[str, ...] = ("day", "week", "month", "quarter")
Agg = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
AGGS: tuple[str, ...] = ("count", "count_distinct", "sum", "avg", "min", "max")
Direction = Literal["up", "down"]
TimeUnit = Literal["s", "ms", "us", "ns"]
FileFormat = Literal["csv", "parquet", "json"]
FUNNEL_STAGES: tuple[str, ...] = ("acquisition", "activation", "retention", "referral", "revenue")

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """`5s`, `30m`, `12h`, `7d`, `2w` as a timedelta (ValueError otherwise)."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration: write e.g. 5s, 30m, 12h, 7d or 2w")
    return dt.timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


class Model(BaseModel):
    """Frozen, strict base: unknown keys are errors, values cannot change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(Model):
    """Where events come from: a file (glob), a table in the engine, or a SELECT over sources."""

    path: str | None = None
    table: str | None = None
    sql: str | None = None
    format: FileFormat | None = None
    timestamp: str | None = None  # without one, a source can only be read by other sources' `sql`
    time_unit: TimeUnit | None = None
    timezone: str | None = None
    entity: str | None = None
    dimensions: tuple[str, ...] = ()
    key: str | None = None
    label: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> "Source":
        given = [name for name in ("path", "table", "sql") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a source needs exactly one of `path`, `table` or `sql`"
                             + (f" (found {', '.join(given)})" if given else ""))
        if self.format and not self.path:
            raise ValueError("`format` applies only to a `path` source")
        return self


class MetricBase(Model):
    label: str | None = None
    description: str | None = None
    unit: str | None = None
    tags: tuple[str, ...] = ()
    direction: Direction = "up"


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
    within: str
    where: str | None = None

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

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


class Target(Model):
    value: float
    by: dt.date


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
    target: Target | None = None
    history: tuple[HistoryEntry, ...] = ()
    offering_changes: tuple[OfferingChange, ...] = ()


class Focus(Model):
    """A team's One Metric That Matters for a time box of 2-4 months."""

    team: str
    metric: str
    baseline: float | None = None
    target: float | None = None
    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    owner: str | None = None


class Guardrail(Model):
    metric: str
    min: float | None = None
    max: float | None = None
    owner: str | None = None

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
    """Which Ibis backend runs the queries. DuckDB, embedded, is the default."""

    type: Literal["duckdb"] = "duckdb"
    database: str = ":memory:"
    threads: int | None = Field(default=None, ge=1)
    memory_limit: str | None = None
    cache: bool = True  # keep query results in .northstar/cache/ beside the spec


class Checks(Model):
    """Settings of `northstar check` and `northstar candidates`; every field has a default."""

    skip: tuple[str, ...] = ()  # rule ids not to run
    revenue: tuple[str, ...] = ()  # default: the metrics tagged `revenue`
    retention: str | None = None  # default: the funnel's retention metric, else a retention metric
    max_lag: int | None = Field(default=None, ge=1, le=52)  # default: 8 weeks, 6 months, 28 days, 4 quarters
    lookback: int | None = Field(default=None, ge=1, le=520)  # recent periods for segment rules
    significance: float = Field(default=0.05, gt=0, lt=1)
    duplicate_within: str = "5s"  # repeats of the same entity within this are suspect
    external_dimensions: tuple[str, ...] | None = None  # default: channel/partner/source-like names

    @field_validator("duplicate_within")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class Web(Model):
    """Settings of `northstar serve`: where it listens and the token every request must carry."""

    host: str = "127.0.0.1"  # loopback only; another address exposes the dashboard to the network
    port: int = Field(default=8000, ge=1, le=65535)
    token: str | None = None  # `${ENV_VAR}` references are read from the environment when the app starts


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ALERT_CHECKS: tuple[str, ...] = ("anomaly", "guardrail", "focus", "target")
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_clock(text: str) -> dt.time:
    """`HH:MM` as a time (ValueError otherwise)."""
    if not _CLOCK.match(str(text)):
        raise ValueError(f"'{text}' is not a time of day: write HH:MM, e.g. 09:00")
    hours, minutes = str(text).split(":")
    return dt.time(int(hours), int(minutes))


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """`22:00-07:00` as (start, end); the span may cross midnight."""
    parts = str(text).split("-")
    if len(parts) != 2:
        raise ValueError(f"'{text}' is not a span of hours: write e.g. 22:00-07:00")
    return parse_clock(parts[0].strip()), parse_clock(parts[1].strip())


class AlertChannel(Model):
    """Where alerts go. `${ENV_VAR}` references are read from the environment only when sending."""

    type: Literal["slack", "teams", "webhook", "email"]
    url: str | None = None  # slack, teams, webhook
    secret: str | None = None  # webhook: HMAC-SHA256 signing key
    host: str | None = None  # email: SMTP server
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _needs(self) -> "AlertChannel":
        if self.type in ("slack", "teams", "webhook") and not self.url:
            raise ValueError(f"a {self.type} channel needs a `url`")
        if self.type == "email" and not (self.host and self.sender and self.to):
            raise ValueError("an email channel needs `host`, `sender` and `to`")
        return self


class AlertRule(Model):
    """Which metrics are watched, with which checks, sent where, and how often."""

    metrics: tuple[str, ...] = ()  # default: the North Star, its tree, guardrails, OMTMs and funnel
    checks: tuple[Literal["anomaly", "guardrail", "focus", "target"], ...] = ALERT_CHECKS  # type: ignore[assignment]
    channels: tuple[str, ...] = ()
    sensitivity: float = Field(default=3.0, gt=0, le=20)  # robust z-score that fires an anomaly
    min_history: int = Field(default=12, ge=4, le=520)  # complete periods needed before anomalies fire
    quiet_hours: str | None = None  # "22:00-07:00": held until the end of the span
    cooldown: str = "7d"  # the same event is not sent again within this

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        parse_duration(value)
        return value


class Digest(Model):
    """The weekly review sent by `northstar digest`."""

    channel: str | None = None
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    time: str = "09:00"
    lang: str = "en"

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_clock(value)
        return value


class Alerts(Model):
    """Settings of `northstar monitor` and `northstar digest`."""

    dashboard_url: str | None = None  # base URL of the dashboard, for links in messages
    state: str = ".northstar/alerts.json"  # delivery state, relative to the spec
    channels: dict[str, AlertChannel] = Field(default_factory=dict)
    rules: tuple[AlertRule, ...] = ()
    digest: Digest | None = None


class Spec(Model):
    project: str
    timezone: str = "UTC"
    engine: Engine = Field(default_factory=Engine)
    sources: dict[str, Source] = Field(min_length=1)
    metrics: dict[str, Metric] = Field(min_length=1)
    north_star: NorthStar
    focus: tuple[Focus, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    funnel: Funnel | None = None
    checks: Checks = Field(default_factory=Checks)
    web: Web = Field(default_factory=Web)
    alerts: Alerts = Field(default_factory=Alerts)
