"""Rules judged from the spec alone: is this a North Star, a tree, an OMTM as the method means?"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator

from northstar.checks.context import CheckContext, is_money, positive_refs
from northstar.checks.findings import Finding, rule
from northstar.checks.selection import selected_values
from northstar.spec.expressions import parse_formula
from northstar.spec.model import FUNNEL_STAGES, AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric

# Event values that mark a vanity count: matched against the values a metric's `where` selects
# (see checks/selection.py), never against SQL text or metric, column or label names, which a
# rename must not change the verdict of.
VANITY_EVENTS = re.compile(r"(sign[_ -]?ups?|registrations?|registered|register|downloads?|installs?|"
                           r"page[_ -]?views?|pageviews?|visits?|visitors?|impressions?|followers?|follows?)", re.I)


@rule("revenue-north-star", "spec", "The North Star measures money rather than the value customers get.")
def revenue_north_star(ctx: CheckContext) -> Iterator[Finding]:
    money = [n for n in positive_refs(ctx.spec, ctx.nsm) if is_money(ctx.spec, n)]
    if not money:
        return
    how = "is" if money[0] == ctx.nsm else f"is driven by {', '.join(repr(m) for m in money)}, which"
    yield Finding(
        "revenue-north-star", "error", ctx.nsm,
        f"The North Star '{ctx.nsm}' {how} measures money: revenue is the price customers pay, the North Star "
        "must be the value they get for it, which revenue then follows.",
        "Pick the moment customers get value (listening minutes, nights booked, orders delivered) as the North "
        f"Star, keep '{money[0]}' as the business result it should lead (tag it `revenue`), and run "
        "`northstar candidates` to rank alternatives.",
        {"money_metrics": money})


@rule("vanity-north-star", "spec", "The North Star is a vanity total: cumulative, sign-ups, downloads, views.")
def vanity_north_star(ctx: CheckContext) -> Iterator[Finding]:
    for name in positive_refs(ctx.spec, ctx.nsm):
        metric = ctx.spec.metrics[name]
        reasons = []
        if getattr(metric, "cumulative", False):
            reasons.append("it is a running (all-time) total, which can only go up")
        if isinstance(metric, AggregateMetric):
            vanity = [v for v in selected_values(metric.where) if VANITY_EVENTS.search(v)]
            if vanity:
                reasons.append(f"its `where` selects {', '.join(repr(v) for v in vanity)} events, which say nothing "
                               "about value delivered")
        if reasons:
            yield Finding(
                "vanity-north-star", "warning", ctx.nsm,
                f"The North Star '{ctx.nsm}' looks like a vanity metric: '{name}' — " + "; ".join(reasons)
                + ". Totals, sign-ups, downloads and visits look good but ignore retention and delivered value.",
                "Count per period the customers who reached the value (e.g. weekly active listeners, "
                "orders delivered) or how much value they got (minutes listened), not a total or a first step.",
                {"metric": name, "reasons": reasons})
            return


@rule("no-customer-value", "spec", "The spec does not say what value customers get.")
def no_customer_value(ctx: CheckContext) -> Iterator[Finding]:
    text = (ctx.spec.north_star.customer_value or "").strip()
    if not text:
        yield Finding("no-customer-value", "warning", ctx.nsm,
                      "There is no statement of the value customers get: a North Star must be explainable in one "
                      "sentence of customer value, or nobody can tell whether it still measures it.",
                      "Add `north_star.customer_value:` — one sentence on the job customers hire the product for "
                      "and when it is done (e.g. 'Listeners spend time with music they love').", {})
    elif len(text.split()) < 3:
        yield Finding("no-customer-value", "info", ctx.nsm,
                      f"The customer-value statement '{text}' is too short to say what job customers get done.",
                      "Write a full sentence: who gets which result, e.g. 'Hosts earn from nights booked'.",
                      {"customer_value": text})


@rule("placeholder-customer-value", "spec", "The customer value is still the placeholder `discover` wrote.")
def placeholder_customer_value(ctx: CheckContext) -> Iterator[Finding]:
    from northstar.discover.placeholder import is_placeholder

    text = ctx.spec.north_star.customer_value
    if is_placeholder(text):
        yield Finding("placeholder-customer-value", "error", ctx.nsm,
                      f"The customer value '{text}' is the sentence `northstar discover` proposed, not a statement "
                      "of the value customers get: nobody has said what job they hire the product for, so nobody "
                      "can tell whether the North Star measures it.",
                      "Replace `north_star.customer_value:` with one sentence in your customers' words: who gets "
                      "which result (e.g. 'Members get their history questions answered by experts').",
                      {"customer_value": text})


@rule("grain", "spec", "The North Star's grain is too slow to steer by.")
def grain_rule(ctx: CheckContext) -> Iterator[Finding]:
    if ctx.grain in ("quarter", "year"):
        how_often = "four times a year" if ctx.grain == "quarter" else "once a year"
        yield Finding("grain", "warning", ctx.nsm,
                      f"A {'quarterly' if ctx.grain == 'quarter' else 'yearly'} North Star changes {how_often}: far "
                      "too slow for teams to see the effect of their work and correct course.",
                      "Set `north_star.grain: week` (or month for slow businesses); `northstar check` reports "
                      "under grain-noisy which grain has the best signal-to-noise in your data.",
                      {"grain": ctx.grain})


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30,
            31, 30, 31][month - 1]
    return dt.date(year, month, min(day.day, days))


@rule("omtm-window", "spec", "A focus metric is not time-boxed to 2-4 months.")
def omtm_window(ctx: CheckContext) -> Iterator[Finding]:
    for focus in ctx.spec.focus:
        subject = f"team {focus.team}"
        if focus.from_ is None or focus.to is None:
            missing = " and ".join(k for k, v in (("from", focus.from_), ("to", focus.to)) if v is None)
            yield Finding("omtm-window", "warning", subject,
                          f"Team {focus.team}'s OMTM '{focus.metric}' has no `{missing}`: a One Metric That Matters "
                          "is a time box of 2 to 4 months, after which the team picks its next one.",
                          "Add `from:` and `to:` dates 2-4 months apart.", {"from": _iso(focus.from_),
                                                                             "to": _iso(focus.to)})
            continue
        end = focus.to + dt.timedelta(days=1)  # `to` is the last day
        days = (focus.to - focus.from_).days + 1
        if end < _add_months(focus.from_, 2) or end > _add_months(focus.from_, 4):
            short = end < _add_months(focus.from_, 2)
            yield Finding("omtm-window", "warning", subject,
                          f"Team {focus.team}'s OMTM '{focus.metric}' runs {days} days ({days / 30.44:.1f} months): "
                          + ("too short to move a metric and see it hold" if short else
                             "so long that focus fades and the metric stops being the one that matters now")
                          + "; the method time-boxes an OMTM to 2-4 months.",
                          f"Set `to:` between {_add_months(focus.from_, 2) - dt.timedelta(days=1)} and "
                          f"{_add_months(focus.from_, 4) - dt.timedelta(days=1)}.",
                          {"from": _iso(focus.from_), "to": _iso(focus.to), "days": days})


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@rule("omtm-smart", "spec", "A focus metric is not SMART: baseline, target, owner, direction.")
def omtm_smart(ctx: CheckContext) -> Iterator[Finding]:
    for focus in ctx.spec.focus:
        subject = f"team {focus.team}"
        missing = [k for k, v in (("baseline", focus.baseline), ("target", focus.target), ("owner", focus.owner))
                   if v is None]
        if missing:
            yield Finding("omtm-smart", "warning", subject,
                          f"Team {focus.team}'s OMTM '{focus.metric}' has no {', '.join(missing)}: a SMART focus "
                          "metric needs a measured starting point, a target and one person who owns it.",
                          f"Add {', '.join(f'`{k}:`' for k in missing)} (`northstar query {focus.metric}` shows the "
                          "current level to use as baseline).", {"missing": missing})
        metric = ctx.spec.metrics.get(focus.metric)
        if focus.baseline is not None and focus.target is not None and metric is not None:
            wanted_up = metric.direction == "up"
            if (focus.target <= focus.baseline) if wanted_up else (focus.target >= focus.baseline):
                yield Finding("omtm-smart", "warning", subject,
                              f"Team {focus.team}'s target for '{focus.metric}' ({focus.target:g}) is not "
                              f"{'above' if wanted_up else 'below'} its baseline ({focus.baseline:g}), though the "
                              f"metric should go {metric.direction}: the goal asks for no improvement.",
                              f"Set a target {'above' if wanted_up else 'below'} {focus.baseline:g}, or set the "
                              f"metric's `direction:` if lower is better.",
                              {"baseline": focus.baseline, "target": focus.target, "direction": metric.direction})


def is_ratio(ctx: CheckContext, name: str) -> bool:
    metric = ctx.spec.metrics.get(name)
    if isinstance(metric, RetentionMetric | ConversionMetric):
        return True
    if isinstance(metric, AggregateMetric):
        return metric.agg in ("avg",)
    if isinstance(metric, FormulaMetric):
        return any(isinstance(n, ast.Div) for n in ast.walk(parse_formula(metric.formula).tree))
    return False


@rule("omtm-ratio", "spec", "A focus metric is an absolute count where a rate would compare better.")
def omtm_ratio(ctx: CheckContext) -> Iterator[Finding]:
    for focus in ctx.spec.focus:
        if focus.metric not in ctx.spec.metrics or is_ratio(ctx, focus.metric):
            continue
        rates = [n for n, m in ctx.spec.metrics.items() if isinstance(m, FormulaMetric) and n != focus.metric
                 and focus.metric in parse_formula(m.formula).names and is_ratio(ctx, n)]
        fix = (f"Focus on a rate such as {', '.join(repr(r) for r in rates)}" if rates else
               f"Define a rate, e.g. `{focus.metric}_rate: {{formula: {focus.metric} / <the population it comes "
               "from>}`, and focus on that")
        yield Finding("omtm-ratio", "warning", f"team {focus.team}",
                      f"Team {focus.team}'s OMTM '{focus.metric}' is an absolute number: it grows with traffic and "
                      "season, so it cannot be compared across periods or segments; a rate or ratio can.",
                      fix + ".", {"metric": focus.metric, "rates_defined": rates})


@rule("omtm-off-tree", "spec", "A focus metric is not in the North Star's tree.")
def omtm_off_tree(ctx: CheckContext) -> Iterator[Finding]:
    for focus in ctx.spec.focus:
        if focus.metric in ctx.spec.metrics and focus.metric not in ctx.tree:
            yield Finding("omtm-off-tree", "warning", f"team {focus.team}",
                          f"Team {focus.team}'s OMTM '{focus.metric}' is not in the North Star's tree, so nothing "
                          f"says how moving it moves '{ctx.nsm}'; an OMTM must contribute directly to the NSM.",
                          "Link it in `north_star.tree` (a formula input or a driver with direction and lag of "
                          "the node it moves), or pick a focus metric that is in the tree.",
                          {"metric": focus.metric, "tree": ctx.tree})


def connected(ctx: CheckContext, name: str) -> bool:
    """Is a metric on a path to the NSM: in the tree, or growing with a metric that is?"""
    return any(ref in ctx.tree for ref in positive_refs(ctx.spec, name))


@rule("funnel-coverage", "spec", "A pirate-funnel (AARRR) stage is not mapped or does not feed the North Star.")
def funnel_coverage(ctx: CheckContext) -> Iterator[Finding]:
    funnel = ctx.spec.funnel
    if funnel is None:
        yield Finding("funnel-coverage", "warning", "funnel",
                      "No pirate funnel is mapped: the method asks that growth in every stage (acquisition, "
                      "activation, retention, referral, revenue) raises the North Star, and nothing checks that.",
                      "Add `funnel:` with the metric of each AARRR stage.", {"unmapped": list(FUNNEL_STAGES)})
        return
    for stage, metric in funnel.stages().items():
        if metric is None:
            yield Finding("funnel-coverage", "warning", f"stage {stage}",
                          f"The {stage} stage of the pirate funnel is not mapped: growth there is invisible, and "
                          "the North Star may ignore a part of the business.",
                          f"Set `funnel.{stage}:` to the metric that measures it.", {"stage": stage})
        elif stage == "revenue" and metric != ctx.revenue_metric and not connected(ctx, metric):
            yield _revenue_stage(ctx, metric)
        elif stage != "revenue" and not connected(ctx, metric):
            yield Finding("funnel-coverage", "warning", f"stage {stage}",
                          f"The {stage} stage's metric '{metric}' has no path to the North Star '{ctx.nsm}' in the "
                          f"tree: growth in {stage} would not show in the NSM (tunnel vision on one part of the "
                          "funnel).",
                          f"Add '{metric}' (or a rate built on it) as a driver of the tree node it should move, "
                          f"with a direction and lag, or map {stage} to a metric that is in the tree.",
                          {"stage": stage, "metric": metric})


def _revenue_stage(ctx: CheckContext, metric: str) -> Finding:
    """Revenue is the result the North Star should lead, not an input of it: an unconnected revenue
    stage is fixed by declaring it the revenue `not-leading` judges, never by making it a driver."""
    declared = metric in ctx.spec.checks.revenue or "revenue" in getattr(ctx.spec.metrics.get(metric), "tags", ())
    how = (f"list it first in `checks.revenue` (now '{ctx.revenue_metric}' is the one judged)" if declared
           else "tag it `revenue` (`tags: [revenue]`) or list it in `checks.revenue`")
    return Finding("funnel-coverage", "warning", "stage revenue",
                   f"The revenue stage's metric '{metric}' is not the revenue `not-leading` judges: revenue is the "
                   f"result '{ctx.nsm}' should lead, and nothing checks that it does.",
                   f"So that `not-leading` tests whether '{ctx.nsm}' leads '{metric}', {how}; do not make revenue "
                   "a driver of the tree: it is what the North Star predicts, not what moves it.",
                   {"stage": "revenue", "metric": metric, "revenue_judged": ctx.revenue_metric})


@rule("no-guardrails", "spec", "No guardrails keep growth efficient.")
def no_guardrails(ctx: CheckContext) -> Iterator[Finding]:
    if not ctx.spec.guardrails:
        yield Finding("no-guardrails", "warning", "guardrails",
                      "No guardrails are set: growth costs money, and without limits on e.g. cost per acquisition "
                      "or margin the North Star can be bought at a loss.",
                      "Add `guardrails:` with the efficiency metrics to hold (cost per sign-up, margin, average "
                      "order value) and their `min`/`max`.", {})


@rule("tree-orphan", "spec", "A tree node is not linked to the North Star.")
def tree_orphan(ctx: CheckContext) -> Iterator[Finding]:
    tree = ctx.spec.north_star.tree
    if not tree:
        yield Finding("tree-orphan", "warning", ctx.nsm,
                      "The North Star has no tree: no team can see how its work moves the NSM.",
                      f"Add `north_star.tree:` starting at '{ctx.nsm}' with the formula that decomposes it, and "
                      "drivers with a direction and lag.", {})
        return
    for name in tree:
        if name not in ctx.tree:
            yield Finding("tree-orphan", "warning", name,
                          f"Tree node '{name}' is not linked to the North Star by any formula or driver, so it "
                          "contributes nothing to it.",
                          f"Use '{name}' in a node's formula or as a driver (`drivers: [{{metric: {name}, "
                          "direction: up, lag: 1}]`), or remove the node.", {"node": name})


@rule("unstable-north-star", "spec", "The North Star changed more often than the offering.")
def unstable_north_star(ctx: CheckContext) -> Iterator[Finding]:
    ns = ctx.spec.north_star
    changes, offering = len(ns.history), len(ns.offering_changes)
    if changes > offering:
        unexplained = [e for e in ns.history
                       if not any(e.until - dt.timedelta(days=366) <= o.date <= e.until + dt.timedelta(days=31)
                                  for o in ns.offering_changes)]
        yield Finding("unstable-north-star", "warning", ctx.nsm,
                      f"The North Star changed {changes} time(s) but the offering only {offering} time(s): an NSM "
                      "should change only when what customers get changes, or teams chase a moving target.",
                      "Record what changed in the offering under `north_star.offering_changes` (date, change) for "
                      "each NSM change, or keep the current North Star.",
                      {"changes": changes, "offering_changes": offering,
                       "without_offering_change": [f"{e.metric} until {e.until}" for e in unexplained]})
