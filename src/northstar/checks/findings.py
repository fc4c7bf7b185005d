"""What a check says: findings, and the registry of rules that produce them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from northstar.display import Displayable

if TYPE_CHECKING:
    from northstar.checks.context import CheckContext

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: what, about which subject, why it matters, the numbers, the fix."""

    rule: str
    severity: Severity
    subject: str
    message: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "subject": self.subject, "message": self.message,
                "evidence": self.evidence, "fix": self.fix}


RuleFunction = Callable[["CheckContext"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    kind: Literal["spec", "data"]
    summary: str
    run: RuleFunction
    applies: Callable[[Any], bool] | None = None  # of the spec: whether the rule runs at all (None: always)


RULES: dict[str, Rule] = {}


def rule(rule_id: str, kind: Literal["spec", "data"], summary: str,
         applies: Callable[[Any], bool] | None = None) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule: a function of the check context that yields findings. `applies(spec)`
    False: the rule is not run, nor listed among the rules run, for that spec."""

    def register(function: RuleFunction) -> RuleFunction:
        if rule_id in RULES:
            raise ValueError(f"rule '{rule_id}' is registered twice")
        RULES[rule_id] = Rule(rule_id, kind, summary, function, applies)
        return function

    return register


@dataclass(frozen=True, repr=False)
class CheckReport(Displayable):
    """Every finding of one run, most severe first, and which rules ran."""

    project: str
    north_star: str
    findings: tuple[Finding, ...]
    rules_run: tuple[str, ...]
    history: tuple[dict[str, str], ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def by_rule(self, rule_id: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule_id]

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "north_star": self.north_star, "counts": self.counts,
                "rules_run": list(self.rules_run), "history": list(self.history),
                "findings": [f.to_dict() for f in self.findings]}
