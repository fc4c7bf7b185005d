"""Is this a good North Star? Rules from the method, judged from the spec and from the data.

`run_checks(project)` runs every registered rule independently: a rule that lacks data says
so (an info finding) and a rule that fails says that (a warning), and the others still run.
"""

from __future__ import annotations

from collections.abc import Iterable

# Importing the rule modules registers their rules, in this order.
from northstar.checks import spec_rules  # noqa: F401  isort: skip
from northstar.checks import data_rules  # noqa: F401  isort: skip
from northstar.checks import segment_rules  # noqa: F401  isort: skip
from northstar.checks import north_star_rules  # noqa: F401  isort: skip
from northstar.checks.context import CheckContext, NotEvaluated
from northstar.checks.findings import RULES, SEVERITIES, CheckReport, Finding, Rule
from northstar.errors import QueryError, SpecError, first_line
from northstar.spec.suggest import did_you_mean, known

__all__ = ["RULES", "CheckReport", "CheckContext", "Finding", "Rule", "run_checks"]


def selected_rules(project: object, only: Iterable[str] = ()) -> list[Rule]:
    """The rules to run: `only` (ids), else all, minus the spec's `checks.skip`."""
    spec, loaded = project.spec, project.loaded  # type: ignore[attr-defined]
    problems = [loaded.lines.problem(("checks", "skip", i), f"unknown rule '{r}' in checks.skip."
                                     + (did_you_mean(r, RULES) or f" Rules: {known(RULES)}."))
                for i, r in enumerate(spec.checks.skip) if r not in RULES]
    if problems:
        raise SpecError(problems)
    unknown = [r for r in only if r not in RULES]
    if unknown:
        raise QueryError(f"--rule: unknown rule '{unknown[0]}'." + (did_you_mean(unknown[0], RULES)
                                                                    or f" Rules: {known(RULES)}."))
    chosen = list(only) or list(RULES)
    return [RULES[r] for r in chosen if r not in spec.checks.skip and (RULES[r].applies is None
                                                                         or RULES[r].applies(spec))]


def run_checks(project: object, data: bool = True, only: Iterable[str] = ()) -> CheckReport:
    """Every finding of the selected rules; `data=False` runs the spec rules only."""
    ctx = CheckContext(project, data=data)
    findings: list[Finding] = []
    rules = selected_rules(project, only)
    if data and any(r.kind == "data" for r in rules):
        ctx.prefetch()
    for rule in rules:
        if rule.kind == "data" and not data:
            continue
        try:
            findings.extend(rule.run(ctx))
        except NotEvaluated as reason:
            findings.append(Finding(rule.id, "info", "check", f"Not evaluated: {reason}.",
                                    "Nothing to do, or give the rule what it needs (see the message).",
                                    {"evaluated": False}))
        except Exception as exc:  # one failing rule must not hide the others
            first = first_line(exc)
            findings.append(Finding(rule.id, "warning", "check", f"The rule failed: {first}.",
                                    "Run `northstar check --debug` and report the traceback if the data is fine.",
                                    {"evaluated": False, "exception": type(exc).__name__}))
            if getattr(project, "debug", False):
                raise
    order = {r.id: i for i, r in enumerate(rules)}
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), order.get(f.rule, 0)))
    history = tuple({"metric": e.metric, "until": e.until.isoformat(), "reason": e.reason}
                    for e in project.spec.north_star.history)  # type: ignore[attr-defined]
    return CheckReport(project.spec.project, project.spec.north_star.metric, tuple(findings),  # type: ignore[attr-defined]
                       tuple(r.id for r in rules if data or r.kind == "spec"), history)
