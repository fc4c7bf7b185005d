"""Settings blocks of the spec: `checks`, `web` and `alerts` (how Northstar judges, serves and
warns; the metrics themselves are in `model.py`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from northstar.spec.model_base import Duration, Model


class Checks(Model):
    """Settings of `northstar check` and `northstar candidates`; every field has a default."""

    skip: tuple[str, ...] = ()  # rule ids not to run
    revenue: tuple[str, ...] = ()  # default: the metrics tagged `revenue`
    retention: str | None = None  # default: the funnel's retention metric, else a retention metric
    max_lag: int | None = Field(default=None, ge=1, le=52)  # default: 8 weeks, 6 months, 28 days, 4 quarters, 2 years
    lookback: int | None = Field(default=None, ge=1, le=520)  # recent periods for segment rules
    significance: float = Field(default=0.05, gt=0, lt=1)
    duplicate_within: Duration = "5s"  # repeats of the same entity within this are suspect
    external_dimensions: tuple[str, ...] | None = None  # outside parties; unset: external-dependency is not evaluated



class Web(Model):
    """Settings of `northstar serve`: where it listens and the token every request must carry."""

    host: str = "127.0.0.1"  # loopback only; another address exposes the dashboard to the network
    port: int = Field(default=8000, ge=1, le=65535)
    token: str | None = None  # `${ENV_VAR}` references are read from the environment when the app starts


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ALERT_CHECKS: tuple[str, ...] = ("anomaly", "segment", "guardrail", "focus", "target")
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
    checks: tuple[Literal["anomaly", "segment", "guardrail", "focus", "target"], ...] = ALERT_CHECKS  # type: ignore[assignment]
    channels: tuple[str, ...] = ()
    sensitivity: float = Field(default=4.0, gt=0, le=20)  # robust z-score that fires an anomaly (see alerts/detect.py)
    min_history: int | None = Field(default=None, ge=4, le=520)  # periods before anomalies fire (default by grain: 26 weeks...)
    quiet_hours: str | None = None  # "22:00-07:00": held until the end of the span
    cooldown: Duration = "7d"  # the same event is not sent again within this
    north_star: str | None = None  # the North Star (of `north_stars:`) the rule is for; none: every one

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value



class Digest(Model):
    """The weekly review sent by `northstar digest`."""

    channel: str | None = None
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    time: str = "09:00"
    lang: str = "en"  # en, nl or sv: the language of the digest's words

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        from northstar.i18n import LANGUAGES

        if value not in LANGUAGES:
            raise ValueError(f"'{value}' is not a language of Northstar: use one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        parse_clock(value)
        return value


class Alerts(Model):
    """Settings of `northstar monitor` and `northstar digest`."""

    dashboard_url: str | None = None  # base URL of the dashboard, for links in messages
    state: str = ".northstar/alerts.json"  # delivery state, relative to the spec
    every: Duration = "1h"  # how often `northstar serve` runs a monitoring pass
    channels: dict[str, AlertChannel] = Field(default_factory=dict)
    rules: tuple[AlertRule, ...] = ()
    digest: Digest | None = None
