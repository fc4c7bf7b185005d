"""Data model of alerts: one event (`Alert`) and one message of grouped events (`AlertMessage`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Alert:
    key: str            # stable id of the event: f"{kind}:{metric}:{period}" (cooldown and dedup use it)
    kind: str           # "anomaly" | "guardrail" | "focus" | "target"
    metric: str
    label: str
    period: date        # the period the alert is about (a complete period)
    title: str          # one line: what moved and how much
    value: float | None
    expected: float | None     # what was expected (forecast, limit, target path)
    lower: float | None = None # interval around expected, when there is one
    upper: float | None = None
    why: tuple[str, ...] = ()  # top contributions from explain, in words
    link: str | None = None    # dashboard URL of that view, None without a base URL
    severity: str = "warning"  # "critical" | "warning" | "info"

    def to_dict(self) -> dict:
        return {
            "key": self.key, "kind": self.kind, "metric": self.metric, "label": self.label,
            "period": self.period.isoformat(), "title": self.title, "value": self.value,
            "expected": self.expected, "lower": self.lower, "upper": self.upper,
            "why": list(self.why), "link": self.link, "severity": self.severity,
        }


@dataclass(frozen=True)
class AlertMessage:
    key: str                   # key of the group (its first alert's key)
    title: str
    alerts: tuple[Alert, ...]  # related alerts of one run grouped (the NSM and the input that caused it)
    text: str                  # plain-text body (what, how much, against what, why, link)

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "text": self.text,
                "alerts": [a.to_dict() for a in self.alerts]}
