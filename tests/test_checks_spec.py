"""Spec rules of `northstar check`: each fires on a spec that breaks the method and not on one that follows it."""

from __future__ import annotations

import pytest

from northstar.checks import run_checks
from northstar.errors import QueryError, SpecError
from northstar.project import Project
from northstar.spec.load import parse_spec

GOOD = """\
project: Good
sources:
  events: {path: events.parquet, timestamp: ts, entity: user_id, dimensions: [country]}
  spend: {path: spend.parquet, timestamp: day}
metrics:
  minutes: {source: events, where: "event = 'play'", agg: sum, expr: seconds / 60, label: Listening minutes}
  listeners: {source: events, where: "event = 'play'", agg: count_distinct}
  minutes_per_listener: {formula: minutes / listeners}
  sign_ups: {source: events, where: "event = 'sign_up'", agg: count}
  onboarded: {source: events, where: "event = 'onboarded'", agg: count}
  activation_rate: {formula: onboarded / sign_ups}
  retention: {type: retention, source: events, where: "event = 'play'"}
  invites: {source: events, where: "event = 'invite'", agg: count}
  paid_listeners: {source: events, where: "event = 'play' AND plan = 'premium'", agg: count_distinct}
  revenue: {source: events, where: "event = 'payment'", agg: sum, expr: amount, tags: [revenue]}
  marketing: {source: spend, agg: sum, expr: eur, tags: [cost], direction: down}
  cost_per_sign_up: {formula: marketing / sign_ups, direction: down}
north_star:
  metric: minutes
  grain: week
  customer_value: Listeners spend time with music they love
  tree:
    minutes: {formula: listeners * minutes_per_listener}
    listeners:
      drivers:
        - {metric: sign_ups, lag: 1}
        - {metric: activation_rate, lag: 1}
        - {metric: retention, lag: 1}
        - {metric: invites, lag: 2}
    minutes_per_listener:
      drivers: [{metric: paid_listeners, lag: 1}]
  history:
    - {metric: listeners, until: 2025-02-28, reason: Minutes measure the value better}
  offering_changes:
    - {date: 2025-02-01, change: Launched podcasts}
focus:
  - {team: Growth, metric: activation_rate, baseline: 0.7, target: 0.78, from: 2026-09-07, to: 2026-11-29, owner: Sam}
guardrails:
  - {metric: cost_per_sign_up, max: 7.5}
funnel: {acquisition: sign_ups, activation: activation_rate, retention: retention, referral: invites, revenue: paid_listeners}
"""


def findings(text: str, rule: str) -> list:
    report = run_checks(Project(parse_spec(text)), data=False)
    return report.by_rule(rule)


def test_the_good_spec_passes_every_spec_rule() -> None:
    report = run_checks(Project(parse_spec(GOOD)), data=False)
    assert report.findings == ()
    assert "not-leading" not in report.rules_run and "revenue-north-star" in report.rules_run


@pytest.mark.parametrize("edit, rule, severity, subject", [
    (("metric: minutes\n  grain", "metric: revenue\n  grain"), "revenue-north-star", "error", "revenue"),
    (("minutes: {source: events, where: \"event = 'play'\", agg: sum, expr: seconds / 60",
      "minutes: {source: events, where: \"event = 'play'\", agg: sum, expr: price_paid, unit: EUR"),
     "revenue-north-star", "error", "minutes"),
    (("metric: minutes\n  grain", "metric: sign_ups\n  grain"), "vanity-north-star", "warning", "sign_ups"),
    (("agg: sum, expr: seconds / 60,", "agg: sum, expr: seconds / 60, cumulative: true,"), "vanity-north-star",
     "warning", "minutes"),
    (("  customer_value: Listeners spend time with music they love\n", ""), "no-customer-value", "warning",
     "minutes"),
    (("grain: week", "grain: quarter"), "grain", "warning", "minutes"),
    ((", from: 2026-09-07, to: 2026-11-29", ""), "omtm-window", "warning", "team Growth"),
    (("to: 2026-11-29", "to: 2026-09-30"), "omtm-window", "warning", "team Growth"),
    (("to: 2026-11-29", "to: 2027-03-01"), "omtm-window", "warning", "team Growth"),
    ((", owner: Sam", ""), "omtm-smart", "warning", "team Growth"),
    (("target: 0.78", "target: 0.65"), "omtm-smart", "warning", "team Growth"),
    (("metric: activation_rate, baseline: 0.7, target: 0.78", "metric: onboarded, baseline: 70, target: 78"),
     "omtm-ratio", "warning", "team Growth"),
    (("metric: activation_rate, baseline: 0.7, target: 0.78", "metric: cost_per_sign_up, baseline: 8, target: 7"),
     "omtm-off-tree", "warning", "team Growth"),
    (("referral: invites, ", ""), "funnel-coverage", "warning", "stage referral"),
    (("funnel: {acquisition", "#funnel: {acquisition"), "funnel-coverage", "warning", "funnel"),
    (("guardrails:\n  - {metric: cost_per_sign_up, max: 7.5}\n", ""), "no-guardrails", "warning", "guardrails"),
    (("    minutes_per_listener:\n      drivers", "    invites: {owner: Growth}\n    minutes_per_listener:\n      drivers"),
     "tree-orphan", "info", None),
    (("  offering_changes:\n    - {date: 2025-02-01, change: Launched podcasts}\n", ""), "unstable-north-star",
     "warning", "minutes"),
])
def test_each_spec_rule_fires(edit: tuple[str, str], rule: str, severity: str, subject: str | None) -> None:
    assert edit[0] in GOOD
    found = findings(GOOD.replace(edit[0], edit[1], 1), rule)
    if rule == "tree-orphan":  # invites is linked as a driver: a node for it is not an orphan
        assert found == []
        orphan = GOOD.replace("    minutes_per_listener:\n      drivers",
                              "    spare: {owner: Nobody}\n    minutes_per_listener:\n      drivers")
        orphan = orphan.replace("  cost_per_sign_up:", "  spare: {source: events, agg: count}\n  cost_per_sign_up:")
        found = findings(orphan, rule)
        severity, subject = "warning", "spare"
    assert [(f.rule, f.severity, f.subject) for f in found][:1] == [(rule, severity, subject)]
    assert all(f.message and f.fix for f in found)


def test_revenue_ratio_as_north_star_is_revenue_in_disguise() -> None:
    text = GOOD.replace("  cost_per_sign_up:", "  revenue_per_listener: {formula: revenue / listeners}\n  cost_per_sign_up:")
    found = findings(text.replace("metric: minutes\n  grain", "metric: revenue_per_listener\n  grain"),
                     "revenue-north-star")
    assert found and found[0].evidence["money_metrics"] == ["revenue"]


def test_omtm_ratio_suggests_the_rates_defined() -> None:
    found = findings(GOOD.replace("metric: activation_rate, baseline: 0.7, target: 0.78",
                                  "metric: sign_ups, baseline: 70, target: 78"), "omtm-ratio")
    assert found[0].evidence["rates_defined"] == ["activation_rate", "cost_per_sign_up"]


def test_unknown_rule_in_spec_skip_is_an_error_with_its_line() -> None:
    text = GOOD + "checks:\n  skip: [grian]\n"
    with pytest.raises(SpecError) as info:
        run_checks(Project(parse_spec(text)), data=False)
    assert "northstar.yml:" in str(info.value) and "grian" in str(info.value) and "grain" in str(info.value)
    with pytest.raises(QueryError, match="Did you mean .no-guardrails."):
        run_checks(Project(parse_spec(GOOD)), data=False, only=["no-guardrail"])


def test_skip_silences_a_rule() -> None:
    text = GOOD.replace("guardrails:\n  - {metric: cost_per_sign_up, max: 7.5}\n", "") + "checks:\n  skip: [no-guardrails]\n"
    report = run_checks(Project(parse_spec(text)), data=False)
    assert "no-guardrails" not in report.rules_run and report.findings == ()


# ---- decisions come from the parsed spec and what it declares, never from words in names or SQL text ----

@pytest.mark.parametrize("where, vanity", [
    ("event = 'sign_up'", True),
    ("event IN ('sign_up', 'play')", True),
    ("event = 'play' OR event = 'Submit Registration'", True),
    ("event LIKE '%download%'", True),
    ("NOT (event <> 'install')", True),
    ("event <> 'sign_up'", False),  # regression: every event but sign-ups was called a sign-up count
    ("event != 'sign_up'", False),
    ("NOT event = 'sign_up'", False),
    ("event NOT IN ('sign_up', 'page_view')", False),
    ("NOT (event = 'sign_up' OR event = 'visit')", False),
    ("event = 'play' AND referrer <> 'signup_page'", False),
])
def test_vanity_reads_what_the_where_selects(where: str, vanity: bool) -> None:
    text = GOOD.replace("metric: minutes\n  grain", "metric: things\n  grain").replace(
        "  cost_per_sign_up:", f"  things: {{source: events, where: \"{where}\", agg: count}}\n  cost_per_sign_up:")
    found = findings(text, "vanity-north-star")
    assert bool(found) == vanity, found
    if vanity:
        assert "`where` selects" in found[0].message


def test_names_do_not_make_a_metric_vanity_or_money() -> None:
    """A metric named like a vanity count or summing a column named like money is judged by what it
    selects and what the spec declares: renaming must not change the verdict."""
    text = GOOD.replace("metric: minutes\n  grain", "metric: total_signups_paid\n  grain").replace(
        "  cost_per_sign_up:", "  total_signups_paid: {source: events, where: \"event = 'play'\", agg: sum, "
        "expr: payment_amount, label: Total sign-ups}\n  cost_per_sign_up:")
    assert findings(text, "vanity-north-star") == [] and findings(text, "revenue-north-star") == []
    declared = text.replace("expr: payment_amount,", "expr: payment_amount, unit: BRL,")
    assert [f.evidence["money_metrics"] for f in findings(declared, "revenue-north-star")] == [["total_signups_paid"]]


def test_an_unjudged_revenue_stage_is_tagged_revenue_not_made_a_driver() -> None:
    """Regression: funnel-coverage advised adding revenue as a driver of the tree. Revenue is what the
    North Star should lead; the fix is to let `not-leading` judge it."""
    assert findings(GOOD.replace("revenue: paid_listeners}", "revenue: revenue}"), "funnel-coverage") == []
    text = GOOD.replace("revenue: paid_listeners}", "revenue: payments}").replace(
        "  cost_per_sign_up:", "  payments: {source: events, where: \"event = 'payment'\", agg: count}\n"
        "  cost_per_sign_up:")
    [found] = findings(text, "funnel-coverage")
    assert (found.severity, found.subject) == ("warning", "stage revenue")
    assert "tag it `revenue`" in found.fix and "not-leading" in found.fix and "driver of the tree node" not in found.fix
    assert "do not make revenue a driver" in found.fix
    tagged = text.replace("agg: count}\n  cost_per_sign_up:", "agg: count, tags: [revenue]}\n  cost_per_sign_up:")
    [found] = findings(tagged, "funnel-coverage")
    assert "list it first in `checks.revenue`" in found.fix and found.evidence["revenue_judged"] == "revenue"
    assert findings(tagged + "checks:\n  revenue: [payments]\n", "funnel-coverage") == []
