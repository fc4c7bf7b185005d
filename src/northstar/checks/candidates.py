"""Which metric should be the North Star? Rank candidates on this team's data.

Each candidate gets a score out of 100 from five parts, minus penalties:

| part | weight | how |
|---|---|---|
| lead | 35 | leads the metric ranked against (`--against`, default revenue): best lagged correlation r of growth (lags 0..k) x confidence: 1 when it leads (lag >= 1, Granger-type p < significance after the Bonferroni correction for the k+1 lags tried), 0.5 when the lead is not significant, 0.25 at lag 0 |
| lead_retention | 15 | the same against the retention metric |
| signal-to-noise | 15 | 1 / (1 + (noise / 5%)^2), noise at the North Star's grain (see analysis/signal.py) |
| coverage | 20 | mean of the share of active customers who reach it and the share of customer segments (values of the customer dimensions, see checks/attributes.py) whose reach is at least half the overall |
| funnel | 15 | share of the mapped AARRR stages linked to it, in the spec or by a positive lead in the data significant after the Bonferroni correction for the lags tried |

Penalties: 40 when it measures money (revenue-north-star), 30 when its growth moves in lockstep
with revenue's (revenue-in-disguise), 20 for a vanity metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from northstar.analysis.lead import Lead, lead
from northstar.analysis.signal import grain_signal
from northstar.checks.attributes import split_dimensions
from northstar.checks.context import CheckContext, is_money, positive_refs
from northstar.checks.data_rules import disguise_findings
from northstar.checks.reach import reach_by_segment
from northstar.checks.spec_rules import connected, is_ratio, revenue_north_star, vanity_north_star
from northstar.engine.plan import unknown_metric
from northstar.errors import QueryError
from northstar.spec.model import AggregateMetric, FormulaMetric

WEIGHTS = {"lead": 35, "lead_retention": 15, "signal_to_noise": 15, "coverage": 20, "funnel": 15}
PENALTIES = {"revenue-north-star": 40, "revenue-in-disguise": 30, "vanity-north-star": 20}
NOISE_SCALE = 0.05


@dataclass(frozen=True)
class Candidate:
    metric: str
    score: float
    lead: Lead | None
    retention_lead: Lead | None
    coverage: dict[str, float | None]
    signal_to_noise: float | None
    noise: float | None
    funnel: dict[str, bool]
    penalties: tuple[dict[str, Any], ...]
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def lead_dict(found: Lead | None) -> dict[str, Any] | None:
            return None if found is None else {k: v for k, v in found.to_dict().items()
                                               if k in ("lag", "correlation", "p_value", "p_value_adjusted",
                                                        "lags_tried", "correction", "periods")}

        return {"metric": self.metric, "score": round(self.score, 1), "lead": lead_dict(self.lead),
                "retention_lead": lead_dict(self.retention_lead), "coverage": self.coverage,
                "signal_to_noise": None if self.signal_to_noise is None else round(self.signal_to_noise, 2),
                "noise": None if self.noise is None else round(self.noise, 4),
                "funnel_coverage": self.funnel, "penalties": list(self.penalties),
                "breakdown": {k: round(v, 1) for k, v in self.parts.items()}}


@dataclass(frozen=True)
class CandidateReport:
    against: str
    retention: str | None
    grain: str
    candidates: tuple[Candidate, ...]
    summary: str

    @property
    def labels(self) -> dict[str, str]:
        """What the lead columns are against, as asked (`--against`), for every format."""
        return {"lead": f"leads {self.against}",
                "retention_lead": f"leads {self.retention}" if self.retention else "leads retention"}

    def to_dict(self) -> dict[str, Any]:
        return {"against": self.against, "retention": self.retention, "grain": self.grain,
                "labels": self.labels, "candidates": [c.to_dict() for c in self.candidates],
                "summary": self.summary}


def fit_candidates(ctx: CheckContext) -> list[str]:
    """Metrics that could be a North Star: counts and sums of value, not money, totals or ratios."""
    spec, out = ctx.spec, []
    for name, metric in spec.metrics.items():
        if (is_money(spec, name) or "cost" in metric.tags or getattr(metric, "cumulative", False)
                or metric.direction == "down"):
            continue
        if isinstance(metric, AggregateMetric) and metric.agg in ("count", "count_distinct", "sum"):
            out.append(name)
        elif isinstance(metric, FormulaMetric) and not is_ratio(ctx, name):
            out.append(name)
    if ctx.spec.north_star.metric not in out:
        out.insert(0, ctx.spec.north_star.metric)
    return out


def _confidence(found: Lead | None, alpha: float) -> float:
    if found is None or found.correlation <= 0:
        return 0.0
    weight = 1.0 if found.leads(alpha) else (0.5 if found.lag >= 1 else 0.25)
    return found.correlation * weight


def rank_candidates(project: Any, metrics: Sequence[str] = (), against: str | None = None) -> CandidateReport:
    ctx = CheckContext(project)
    spec = ctx.spec
    for name in [*metrics, *([against] if against else [])]:
        if name not in spec.metrics:
            raise unknown_metric(spec, name)
    revenue = against or ctx.revenue_metric
    if revenue is None:
        raise QueryError("no revenue metric to rank against: pass --against METRIC, tag one `revenue`, or set "
                         "`checks.revenue`")
    names = [m for m in (list(metrics) or fit_candidates(ctx)) if m != revenue]
    retention = ctx.retention_metric
    alpha = spec.checks.significance
    frame = ctx.series([*names, revenue, *([retention] if retention else [])])
    coverage = _coverage(ctx, names, frame)
    found = []
    for name in names:
        as_nsm = ctx.as_north_star(name)
        rev_lead = lead(frame[name], frame[revenue], ctx.max_lag())
        ret_lead = lead(frame[name], frame[retention], ctx.max_lag()) if retention and retention != name else None
        signal = grain_signal(frame[name], ctx.grain)
        funnel = _funnel(as_nsm, frame, alpha)
        judged = [f for rule in (revenue_north_star, vanity_north_star) for f in rule(as_nsm)]
        judged += disguise_findings(as_nsm, revenue, rev_lead)
        penalties = tuple({"rule": f.rule, "points": PENALTIES[f.rule], "message": f.message} for f in judged)
        parts = {
            "lead": WEIGHTS["lead"] * _confidence(rev_lead, alpha),
            "lead_retention": WEIGHTS["lead_retention"] * _confidence(ret_lead, alpha),
            "signal_to_noise": WEIGHTS["signal_to_noise"] * (1 / (1 + (signal.noise / NOISE_SCALE) ** 2)
                                                              if signal else 0.0),
            "coverage": WEIGHTS["coverage"] * _mean(coverage[name].values()),
            "funnel": WEIGHTS["funnel"] * (sum(funnel.values()) / len(funnel) if funnel else 0.0),
        }
        score = sum(parts.values()) - sum(p["points"] for p in penalties)
        found.append(Candidate(name, score, rev_lead, ret_lead, coverage[name],
                               (1 / signal.noise if signal and signal.noise else None),
                               signal.noise if signal else None, funnel, penalties, parts))
    found.sort(key=lambda c: -c.score)
    return CandidateReport(revenue, retention, ctx.grain, tuple(found), _why(ctx, found, revenue))


def _mean(values: Any) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 0.0


def _coverage(ctx: CheckContext, names: list[str], frame: Any) -> dict[str, dict[str, float | None]]:
    """Per candidate: share of active customers who reach it, share of segments that do."""
    out: dict[str, dict[str, float | None]] = {n: {"customers": None, "segments": None} for n in names}
    by_source: dict[str, dict[str, AggregateMetric]] = {}
    owner: dict[str, str] = {}
    for name in names:
        base = ctx.base_metric(name)
        if base is not None and ctx.spec.sources[base[1].source].entity:
            by_source.setdefault(base[1].source, {})[base[0]] = base[1]
            owner[name] = base[0]
    if frame.empty:
        return out
    first, last = min(frame.index), max(frame.index)
    for source, bases in by_source.items():
        customer, _events = split_dimensions(ctx.project, source, ctx.grain)  # segments are groups of customers
        frames = reach_by_segment(ctx, source, bases, first, last, dimensions=customer)
        overall = frames.pop("")
        for name, base_name in owner.items():
            if base_name not in bases or overall["active"] == 0:
                continue
            reach_all = overall[f"reached:{base_name}"] / overall["active"]
            segments = [(t[f"reached:{base_name}"] / t["active"] >= 0.5 * reach_all)
                        for t in (f[f["active"] > 0] for f in frames.values()) for _i, t in t.iterrows()]
            out[name] = {"customers": round(float(reach_all), 4),
                         "segments": round(sum(segments) / len(segments), 4) if segments else None}
    return out


def _funnel(ctx: CheckContext, frame: Any, alpha: float) -> dict[str, bool]:
    """Mapped AARRR stages linked to the candidate: in the spec, or by a positive lead in the data."""
    if ctx.spec.funnel is None:
        return {}
    out = {}
    for stage, metric in ctx.spec.funnel.stages().items():
        if metric is None:
            continue
        linked = (connected(ctx, metric) if ctx.nsm == ctx.spec.north_star.metric
                  else metric in positive_refs(ctx.spec, ctx.nsm) or ctx.nsm in positive_refs(ctx.spec, metric))
        if not linked and metric in ctx.spec.metrics:
            series = ctx.series([metric, ctx.nsm])
            found = lead(series[metric], series[ctx.nsm], ctx.max_lag())
            linked = found is not None and found.correlation > 0 and found.correlation_p_adjusted < alpha
        out[stage] = bool(linked)
    return out


def _why(ctx: CheckContext, found: list[Candidate], revenue: str) -> str:
    if not found:
        return "No metric is fit to be a North Star: define counts or sums of the value customers get."
    win = found[0]
    alpha = ctx.spec.checks.significance
    if win.lead is not None and win.lead.leads(alpha):
        lead_text = (f"leads '{revenue}' by {win.lead.lag} {ctx.grain}(s) (r={win.lead.correlation:+.2f}, "
                     f"p={win.lead.p_value_adjusted:.3f} after the Bonferroni correction for "
                     f"{win.lead.lags_tried} lags)")
    else:
        lead_text = f"does not clearly lead '{revenue}' (no candidate's lead would be a reason to pick it)" if not any(
            c.lead is not None and c.lead.leads(alpha) for c in found) else f"does not clearly lead '{revenue}'"
    text = f"'{win.metric}' ranks first ({win.score:.0f}/100): it {lead_text}"
    if len(found) > 1:
        runner = found[1]
        margin = {k: win.parts[k] - runner.parts.get(k, 0) for k in win.parts}
        key = max(margin, key=margin.get)  # type: ignore[arg-type]
        words = {"lead": f"leads '{revenue}' more strongly", "lead_retention": "leads retention more strongly",
                 "signal_to_noise": "is less noisy", "coverage": "reaches more customers and segments",
                 "funnel": "is fed by more of the funnel"}
        text += (f", and beats '{runner.metric}' ({runner.score:.0f}) mostly because it {words[key]}"
                 if margin[key] > 0 else f", just ahead of '{runner.metric}' ({runner.score:.0f})")
    if win.penalties:
        text += f"; mind its penalties ({', '.join(p['rule'] for p in win.penalties)})"
    return text + "."
