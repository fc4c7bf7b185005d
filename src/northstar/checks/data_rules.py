"""Rules judged from the team's data over time: formulas, leads, grain, drivers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from northstar.analysis.lead import MIN_POINTS, Lead, at_lag, lead
from northstar.analysis.signal import best_grain, grain_signal
from northstar.checks.context import CheckContext, NotEvaluated
from northstar.checks.findings import Finding, rule
from northstar.engine.assemble import evaluate_formula
from northstar.spec.expressions import parse_formula

TOLERANCE = 1e-6  # relative; floating-point noise of products and ratios is far below it


def _period(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@rule("formula-mismatch", "data", "A tree formula does not reproduce its node's values.")
def formula_mismatch(ctx: CheckContext) -> Iterator[Finding]:
    ctx.require_data()
    for name, node in ctx.spec.north_star.tree.items():
        if not node.formula or name not in ctx.spec.metrics:
            continue
        formula = parse_formula(node.formula)
        frame = ctx.series([name, *formula.names])
        computed = evaluate_formula(formula.tree, {n: frame[n] for n in formula.names})
        actual = frame[name].astype(float)
        both = pd.DataFrame({"actual": actual, "computed": computed}).dropna()
        if both.empty:
            continue
        scale = np.maximum(both["actual"].abs(), both["computed"].abs()).replace(0, 1.0)
        relative = (both["actual"] - both["computed"]).abs() / scale
        off = relative[relative > TOLERANCE]
        if off.empty:
            continue
        worst = relative.idxmax()
        gap = float(both.loc[worst, "actual"] - both.loc[worst, "computed"])
        yield Finding(
            "formula-mismatch", "error", name,
            f"The tree says {name} = {node.formula}, but in {len(off)} of {len(both)} periods the data disagrees; "
            f"worst in the period of {_period(worst)}: {name} is {both.loc[worst, 'actual']:,.6g} while the formula "
            f"gives {both.loc[worst, 'computed']:,.6g} (gap {gap:+,.6g}, {relative[worst]:.1%}). Attribution through "
            "this link would be wrong.",
            "Fix the formula (or the metrics' filters so they count the same events), or turn the link into a "
            "driver (a hypothesis with direction and lag) if it is not an identity.",
            {"formula": node.formula, "worst_period": _period(worst), "value": float(both.loc[worst, "actual"]),
             "formula_value": float(both.loc[worst, "computed"]), "gap": gap,
             "relative_gap": float(relative[worst]), "periods_off": len(off), "periods": len(both)})


def lead_or_skip(ctx: CheckContext, x: str, y: str, sign: int = 1, max_lag: int | None = None):  # noqa: ANN201
    frame = ctx.series([x, y])
    result = lead(frame[x], frame[y], max_lag or ctx.max_lag(), sign)
    if result is None:
        raise NotEvaluated(f"too few complete {ctx.grain}s with both '{x}' and '{y}' (need {MIN_POINTS + 1})")
    return result


@rule("not-leading", "data", "The North Star's growth does not lead revenue's growth.")
def not_leading(ctx: CheckContext) -> Iterator[Finding]:
    revenue = ctx.revenue_metric
    if revenue is None:
        raise NotEvaluated("no revenue metric to compare with: tag one `tags: [revenue]` or set `checks.revenue`")
    if revenue == ctx.nsm:
        raise NotEvaluated("the North Star is the revenue metric itself (see revenue-north-star)")
    found = lead_or_skip(ctx, ctx.nsm, revenue)
    evidence = {"revenue_metric": revenue, "revenue": found.to_dict(), "max_lag": ctx.max_lag()}
    retention_note = ""
    if ctx.retention_metric and ctx.retention_metric != ctx.nsm:
        kept = lead(*_pair(ctx, ctx.nsm, ctx.retention_metric), ctx.max_lag())
        if kept is not None:
            evidence["retention_metric"] = ctx.retention_metric
            evidence["retention"] = kept.to_dict()
            retention_note = (f" Against retention ('{ctx.retention_metric}') the best lag is {kept.lag} "
                              f"(r={kept.correlation:+.2f}" + (f", {corrected_p(kept)})."
                                                               if kept.p_value is not None else ")."))
    unit = ctx.grain
    if found.leads(ctx.spec.checks.significance):
        # say so: that the North Star leads revenue is the method's main test, passed
        yield Finding(
            "not-leading", "info", ctx.nsm,
            f"'{ctx.nsm}' leads revenue ('{revenue}'): its growth predicts revenue's {found.lag} {unit}"
            f"{'s' if found.lag != 1 else ''} later (r={found.correlation:+.2f}, Granger-type test "
            f"{corrected_p(found)}), as a North Star should." + retention_note,
            "Nothing to do: keep watching it (`northstar check` after the data changes).",
            {**evidence, "leads": True})
        return
    if found.lag == 0 and found.correlation > 0:
        why = (f"moves with revenue in the same {unit} (r={found.correlation:+.2f}) but its past growth does not "
               "predict revenue's")
    elif found.correlation <= 0:
        why = f"shows no positive link with revenue's growth at any lag up to {ctx.max_lag()} {unit}s"
    else:
        why = (f"correlates best {found.lag} {unit}(s) ahead (r={found.correlation:+.2f}), but a Granger-type test "
               f"does not confirm it ({corrected_p(found)})" if found.p_value is not None else
               f"correlates best {found.lag} {unit}(s) ahead (r={found.correlation:+.2f}) on too few periods to test")
    yield Finding(
        "not-leading", "warning", ctx.nsm,
        f"'{ctx.nsm}' {why}: a North Star should be leading, so that when it rises revenue follows."
        + retention_note,
        "Compare alternatives with `northstar candidates`; a metric of value delivered that is reached before "
        "customers pay (and renew) usually leads revenue.", evidence)


def corrected_p(found: Lead, granger: bool = True) -> str:
    """'p=0.171 Bonferroni-corrected for the 9 lags tried, 0.019 alone': the p-value of the best
    lag, corrected for having picked it among several, with the uncorrected one for reference."""
    raw = found.p_value if granger else found.correlation_p
    adjusted = found.p_value_adjusted if granger else found.correlation_p_adjusted
    if raw is None or adjusted is None:
        return "p not available"
    if found.lags_tried <= 1:
        return p_text(raw)
    return (f"{p_text(adjusted)} Bonferroni-corrected for the {found.lags_tried} lags tried, "
            f"{p_text(raw).removeprefix('p=')} alone")


def p_text(p: float) -> str:
    """'p=0.042', or 'p<0.001' rather than a p=0.000 that reads as certainty."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


DISGUISE = 0.9


def disguise_findings(ctx: CheckContext, revenue: str, found: object) -> list[Finding]:
    """Revenue in disguise: the NSM's growth moves in lockstep with revenue's, in the same period."""
    same = getattr(found, "by_lag", {}).get(0)
    if same is None or same < DISGUISE:
        return []
    return [Finding(
        "revenue-in-disguise", "warning", ctx.nsm,
        f"'{ctx.nsm}' moves in lockstep with '{revenue}' (growth correlation {same:+.2f} in the same {ctx.grain}): "
        "it is revenue in disguise, reporting what customers paid rather than the value that makes them pay.",
        "Choose a metric of value delivered that rises before customers pay (usage, completed jobs), and keep "
        f"'{ctx.nsm}' as a revenue-side metric.", {"revenue_metric": revenue, "correlation_lag0": round(same, 4)})]


@rule("revenue-in-disguise", "data", "The North Star's growth moves in lockstep with revenue's.")
def revenue_in_disguise(ctx: CheckContext) -> Iterator[Finding]:
    revenue = ctx.revenue_metric
    if revenue is None or revenue == ctx.nsm:
        raise NotEvaluated("no revenue metric other than the North Star: tag one `revenue` or set `checks.revenue`")
    yield from disguise_findings(ctx, revenue, lead_or_skip(ctx, ctx.nsm, revenue))


def _pair(ctx: CheckContext, x: str, y: str) -> tuple[pd.Series, pd.Series]:
    frame = ctx.series([x, y])
    return frame[x], frame[y]


@rule("grain-noisy", "data", "At the chosen grain the North Star is dominated by noise or calendar patterns.")
def grain_noisy(ctx: CheckContext) -> Iterator[Finding]:
    signals = {}
    for grain in dict.fromkeys(("day", "week", "month", ctx.grain)):
        found = grain_signal(ctx.series([ctx.nsm], grain)[ctx.nsm], grain)
        if found is not None:
            signals[grain] = found
    chosen = signals.get(ctx.grain)
    if chosen is None:
        raise NotEvaluated(f"too few complete {ctx.grain}s of '{ctx.nsm}' to measure noise")
    best = best_grain(list(signals.values()))
    evidence = {"grains": [s.to_dict() for s in signals.values()], "best_grain": best.grain if best else None}
    seasonal = chosen.seasonal_share is not None and chosen.seasonal_share > 0.5
    slower = best is not None and best.grain != ctx.grain and chosen.days_to_see > 1.5 * best.days_to_see
    if not (seasonal or slower):
        return
    parts = [f"at the {ctx.grain} grain '{ctx.nsm}' swings {chosen.noise:.1%} around its trend"]
    if seasonal:
        parts.append(f"{chosen.seasonal_share:.0%} of that is the day of the week (weekends differ from weekdays)")
    message = "; ".join(parts) + (f", so a real 5% change takes about {chosen.days_to_see:.0f} days to stand out"
                                  if best is None or best.grain == ctx.grain else
                                  f", so a real 5% change takes about {chosen.days_to_see:.0f} days to stand out "
                                  f"against {best.days_to_see:.0f} at the {best.grain} grain")
    fix = (f"Set `north_star.grain: {best.grain}` (its noise is {best.noise:.1%})." if best and best.grain != ctx.grain
           else "Look at a rolling 7-day value, or a weekly grain, so weekdays do not pass for change.")
    yield Finding("grain-noisy", "warning", ctx.nsm, message[0].upper() + message[1:] + ".", fix, evidence)


@rule("driver-unconfirmed", "data", "A driver in the tree does not move its node as declared.")
def driver_unconfirmed(ctx: CheckContext) -> Iterator[Finding]:
    """The declared lag is a hypothesis fixed in advance: it is tested alone, at `significance`.
    Another lag is only advised when it is the best of all the lags searched *after* the
    Bonferroni correction for that search: uncorrected, the best of 9 lags of unrelated series
    passes at 5% about one time in five (see analysis/lead.py)."""
    alpha = ctx.spec.checks.significance
    for node_name, node in ctx.spec.north_star.tree.items():
        for driver in node.drivers:
            sign = 1 if driver.direction == "up" else -1
            x, y = _pair(ctx, driver.metric, node_name)
            declared = at_lag(x, y, driver.lag)
            search = max(ctx.max_lag(), driver.lag)
            best = lead(x, y, search, sign)
            subject = f"{driver.metric} -> {node_name}"
            if declared is None or best is None:
                yield Finding("driver-unconfirmed", "info", subject,
                              f"Not evaluated: too few complete {ctx.grain}s with both '{driver.metric}' and "
                              f"'{node_name}' (need {MIN_POINTS + 1 + driver.lag}).",
                              "Check again when more data has arrived.", {"evaluated": False})
                continue
            r, p, n = declared
            ok = sign * r > 0 and p < alpha
            best_ok = sign * best.correlation > 0 and best.correlation_p_adjusted < alpha
            evidence = {"driver": driver.metric, "node": node_name, "direction": driver.direction,
                        "declared_lag": driver.lag, "correlation": round(r, 4), "p_value": round(p, 4),
                        "periods": n, "best": best.to_dict(), "lags_searched": best.lags_tried,
                        "correction": "bonferroni (other lags only)"}
            word = "rises" if sign > 0 else "falls"
            claim = (f"The tree says '{node_name}' {word} {driver.lag} {ctx.grain}(s) after '{driver.metric}' "
                     "rises")
            elsewhere = (f"lag {best.lag} (r={best.correlation:+.2f}, {corrected_p(best, granger=False)})")
            if ok and (not best_ok or best.lag == driver.lag or abs(best.correlation) <= abs(r) + 0.1):
                continue
            if ok:
                yield Finding("driver-unconfirmed", "info", subject,
                              f"{claim}; the data agrees (r={r:+.2f}, {p_text(p)}) but the link is clearly stronger "
                              f"at {elsewhere}.",
                              f"Consider `lag: {best.lag}` for this driver.", evidence)
            elif best_ok and best.lag != driver.lag:
                yield Finding("driver-unconfirmed", "warning", subject,
                              f"{claim}, but the data shows it at {elsewhere} instead; at lag {driver.lag}: "
                              f"r={r:+.2f}, {p_text(p)}.",
                              f"Set `lag: {best.lag}` for driver '{driver.metric}' of '{node_name}'.", evidence)
            else:
                strongest = ("" if sign * best.correlation <= 0 or best.lag == driver.lag else
                             f"; the strongest, at {elsewhere}, is what the best of {best.lags_tried} lags of "
                             "unrelated series often looks like")
                yield Finding("driver-unconfirmed", "warning", subject,
                              f"{claim}, but {n} {ctx.grain}s of data do not show it (r={r:+.2f}, {p_text(p)}) at "
                              f"that lag or any other up to {search}{strongest}.",
                              "Treat the link as an unproven hypothesis: test it with an experiment, or drop it "
                              "from the tree so teams do not steer by it.", evidence)
