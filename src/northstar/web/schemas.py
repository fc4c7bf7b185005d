"""Response shapes of the JSON API, for the OpenAPI document only.

The routes return the Project's own `to_dict()` (already JSON-ready and cached as bytes), so
these models are never used to validate; they tell `/docs` and `/openapi.json` what comes back.
Deep, variable parts (a finding's evidence, a stage's segments) are plain objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Obj = dict[str, Any]


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="bad_parameter, unknown_metric, not_found, no_target, unauthorized, "
                                  "method_not_allowed, spec_error, data_error or internal_error.")
    parameter: str | None = Field(description="The query parameter at fault (400/404 on input), else null.")
    message: str = Field(description="One line, starting with the parameter when there is one.")


class ErrorResponse(BaseModel):
    """Every error, whatever its status."""

    error: ErrorDetail


class MetricInfo(BaseModel):
    name: str
    label: str
    description: str | None
    unit: str | None
    kind: str = Field(description="aggregate, retention, conversion or formula.")
    source: str | None = Field(description="The source it reads (null for a formula).")
    dimensions: list[str] = Field(description="Dimensions it can be broken down by.")
    tags: list[str]
    direction: str = Field(description="up or down: which way is good.")
    in_tree: bool = Field(description="Whether it is in the North Star's tree.")


class MetricsResponse(BaseModel):
    metrics: list[MetricInfo]
    north_star: str
    grain: str
    dimensions: list[str] = Field(description="Every dimension declared on a source.")
    north_stars: list[Obj] | None = Field(default=None, description="With several North Stars (`north_stars:`): "
                                          "{name, metric, grain, primary, current} of each, the primary first.")


class ReviewOut(BaseModel):
    """The period a result is for, how completely the data covers it, and why it is the one shown."""

    period: str = Field(description="ISO date of the period's first day.")
    grain: str
    start: str
    end: str = Field(description="ISO date of the period's last day.")
    complete: bool = Field(description="Whether the data covers the whole period.")
    state: str = Field(description="complete, partial (the data begins or ends inside it) or outside.")
    partial_reason: str | None
    provisional: dict[str, Obj] = Field(description="Metrics whose window has not passed in this period: "
                                                    "{metric: {final_when_data_reaches: ISO date}}.")
    why: str = Field(description="Why this period is shown: the review period's reason, or 'asked for'.")


class SeriesResponse(BaseModel):
    metrics: list[str]
    grain: str
    by: list[str]
    review: ReviewOut = Field(description="The review period (the last the North Star's data covers completely).")
    rows: list[Obj] = Field(description="One per period (and segment): `period` (ISO date of its first day), "
                                        "`period_status` (complete, partial, provisional or no data), "
                                        "the `by` dimensions, one number per metric; with `compare`, "
                                        "`<metric>_previous` and `<metric>_last_year`. Null: no value.")


class TreeNodeOut(BaseModel):
    metric: str
    label: str
    value: float | None
    previous: float | None
    change: float | None
    change_pct: float | None = Field(description="A fraction: 0.1 is +10%.")
    owner: str | None
    formula: str | None
    link: str = Field(description="root, formula or driver.")
    direction: str | None
    lag: int | None
    status: str = Field(description="final, provisional (its window has not passed), partial or outside.")
    note: str | None = Field(description="Why the value is not final, in one line.")
    previous_status: str
    target: float | None = Field(None, description="Only when the spec has metric targets (`target:` on a metric, "
                                 "or a series on the North Star): the target that applies to the period.")
    progress: float | None = Field(None, description="With metric targets: % of target as a fraction (1.0 is 100%): "
                                   "value / target, or target / value for a metric where lower is better.")
    band: str | None = Field(None, description="With metric targets: green, amber or red (`target_bands`).")
    children: list["TreeNodeOut"]


class TreeResponse(BaseModel):
    project: str
    north_star: str
    customer_value: str | None
    grain: str
    period: str
    previous_period: str
    review: ReviewOut | None
    where: str | None = Field(None, description="The segment filter it is for (country = 'DE'); null: all customers.")
    window: dict[str, Any] | None = None  # with ?window=: the windows compared and their description
    root: TreeNodeOut


class ExplainResponse(BaseModel):
    metric: str
    label: str
    grain: str
    period: str
    baseline_period: str
    value: float | None
    baseline: float | None
    change: float | None
    change_pct: float | None
    contributions: list[Obj] = Field(description="The exact split through the tree (Shapley values), nested.")
    segments: list[Obj] = Field(description="Segments that drove it: dimensions, contribution, rate/mix effects.")
    drivers: list[Obj] = Field(description="Each driver link: its change at its lag and historical correlation.")
    summary: str
    notes: list[str]
    lead_segment: Obj | None = Field(None, description="The segment named in the summary (the first of `segments`), "
                                     "or null when the change is spread across segments.")
    overlaps: list[Obj] = Field([], description="Metric and dimensions whose segments overlap (a customer in several).")
    top_entities: list[Obj] = Field([], description="Orders or customers that dominate a sum or count: kind, share, "
                                    "ids with their values before and now.")
    inactive: list[str] = Field([], description="'period' and/or 'baseline': no activity at all in that period.")
    caveats: list[str] = Field([], description="A side of the comparison that is partial or provisional.")
    review: ReviewOut | None = Field(None, description="The period explained: how complete, and why it is shown.")
    where: str | None = Field(None, description="The segment filter it is for (country = 'DE'); null: all customers.")


class ChecksResponse(BaseModel):
    project: str
    north_star: str
    counts: dict[str, int] = Field(description="Findings by severity: error, warning, info.")
    rules_run: list[str]
    history: list[Obj]
    findings: list[Obj] = Field(description="rule, severity, subject, message, evidence, fix.")


class FunnelResponse(BaseModel):
    period: str
    grain: str
    north_star: str
    review: ReviewOut | None
    where: str | None = Field(None, description="The segment filter it is for (country = 'DE'); null: all customers.")
    stages: list[Obj] = Field(description="AARRR stages: value, previous, conversion, reachable level, NSM gain; "
                                          "a provisional stage has `provisional_until` and no gain.")
    bottleneck: str | None
    proposal: Obj | None = Field(description="An OMTM for the bottleneck, to paste into `focus:`.")
    summary: str


class CohortsResponse(BaseModel):
    metric: str
    grain: str
    last_period: str | None
    data_end: str | None
    partial: bool
    rows: list[Obj] = Field(description="cohort (ISO date), offset, entities, rate.")


class FocusResponse(BaseModel):
    review: ReviewOut = Field(description="The period the values are for.")
    focus: list[Obj] = Field(description="Each OMTM: team, metric, value, baseline, target, progress, status.")


class GuardrailsResponse(BaseModel):
    review: ReviewOut = Field(description="The period the values are for.")
    guardrails: list[Obj] = Field(description="Each guardrail: metric, period, value, min, max, status.")


class TargetsResponse(BaseModel):
    project: str
    north_star: str
    grain: str
    method: str
    target: float
    by: str
    target_period: str
    last_period: str
    periods: int
    trend_periods: int
    projection: str = Field(description="How each trend was projected, in words: 'trend of the last 26 weeks' "
                                        "(a Theil–Sen line inside the metric's domain, as the alerts and the forecast).")
    summary: str
    review: ReviewOut | None = Field(None, description="The review period the targets start from.")
    where: str | None = Field(None, description="The segment filter it is for (country = 'DE'); null: all customers.")
    root: Obj = Field(description="The tree with each node's current, trend and required value; a node provisional "
                                  "in the last period has `final_period`: its current value is that period's.")
    focus: list[Obj]
    series: list[Obj] | None = Field(None, description="Only with a target series on the North Star: one per "
                                     "period ahead: period, series_grain, target, by, target_period, periods, "
                                     "summary, root (the top-level fields are the last period's).")
    target_checks: list[Obj] | None = Field(None, description="Only with metric targets: each formula input's own "
                                            "target against what the North Star's target needs: metric, label, "
                                            "period, target, required, helps, status (enough, not enough, no target "
                                            "then, no requirement), note.")


class ForecastPoint(BaseModel):
    period: str
    value: float = Field(description="The projected value: the Theil–Sen trend of the last complete periods on the "
                                     "metric's scale, inside what the metric can be (as `targets` and the alerts).")
    lower: float = Field(description="80% prediction interval, lower bound (never below the metric's domain).")
    upper: float = Field(description="80% prediction interval, upper bound (never above the metric's domain).")


class NorthStarSummary(BaseModel):
    metric: str
    label: str
    customer_value: str | None
    unit: str | None
    grain: str
    period: str = Field(description="The review period: the last the data covers completely.")
    value: float | None
    previous: float | None
    last_year: float | None
    change_pct: float | None
    change_pct_year: float | None
    target: Obj | None = Field(description="{value, by} or null; a series adds `grain` and `series` "
                                           "({period: target}), a line from a baseline `from` and `baseline`; "
                                           "both add `path`: [{period, target}] per period of the grain.")
    progress: Obj | None = Field(None, description="Only with metric targets: {target, progress, band} of the "
                                                   "review period (see the tree's nodes).")
    history: list[Obj] = Field(description="Earlier North Stars: metric, until, reason.")


class OverviewResponse(BaseModel):
    project: str
    north_star: NorthStarSummary
    review: ReviewOut | None
    series: list[Obj] = Field(description="{period, value, status} for every period the data covers completely, "
                                          "up to the review period.")
    partial: list[Obj] = Field(description="{period, value} of the periods the data covers only in part.")
    forecast: list[ForecastPoint] = Field(description="The next 8 periods; empty with fewer than 12 periods.")
    explanation: str = Field(description="Why the North Star moved against the previous period.")
    tree: TreeResponse
    guardrails: list[Obj]
    focus: list[Obj]
    checks: dict[str, int] = Field(description="Findings of `northstar check` by severity (always on all "
                                               "customers).")
    where: str | None = Field(None, description="The segment filter it is for; null: all customers.")
    window: dict[str, Any] | None = Field(None, description="With ?window=: the windows the headline, the tree "
                                                            "and the explanation compare.")
    notes: list[str] = Field(default_factory=list, description="What differs for a segment.")
    north_stars: list[Obj] | None = Field(default=None, description="With several North Stars (`north_stars:`): "
                                          "each side by side, the primary first: {name, primary, current, metric, "
                                          "label, customer_value, unit, grain, period, value, previous, change_pct, "
                                          "target}.")


class AlertDeliveryOut(BaseModel):
    channel: str | None
    status: str | None = Field(description="pending, delivered or failed.")
    attempts: int
    error: str | None = Field(description="The last error, one line (never a secret).")
    at: str | None = Field(description="When it was last tried (ISO).")


class AlertOut(BaseModel):
    id: str = Field(description="The alert's id for snoozing and acknowledging (its key).")
    key: str = Field(description="kind:metric:period.")
    kind: str | None = Field(description="anomaly, guardrail, focus, target (or digest).")
    metric: str | None
    label: str | None
    period: str | None
    severity: str | None = Field(description="critical, warning or info.")
    title: str | None
    why: list[str] = Field(description="The top contributions, in words.")
    link: str | None = Field(description="The dashboard view of that period, when alerts.dashboard_url is set.")
    value: float | None
    expected: float | None
    message_key: str | None = Field(description="The message that carried it (related alerts share one).")
    deliveries: list[AlertDeliveryOut] = Field(description="Per channel; empty when it was only recorded.")
    state: str = Field(description="open, acknowledged or snoozed (a snooze that ended is open again).")
    note: str | None = Field(None, description="The acknowledgement's or the snooze's note.")
    until: str | None = Field(None, description="When a snooze ends (ISO).")


class AnomalyPoint(BaseModel):
    period: str
    value: float
    expected: float
    lower: float = Field(description="expected - sensitivity x scale.")
    upper: float
    score: float = Field(description="(value - expected) / scale.")
    anomaly: bool


class AnomalyMarks(BaseModel):
    metric: str
    grain: str
    sensitivity: float
    min_history: int
    points: list[AnomalyPoint] = Field(description="Every scored complete period.")


class MonitorRunOut(BaseModel):
    last: str | None = Field(description="When the scheduler's last monitoring pass ran (ISO time, UTC).")
    error: str | None = Field(description="Why that pass failed, in one line; null when it ran.")
    alerts: int | None = Field(description="The alerts that pass found.")


class DigestRunOut(BaseModel):
    slot: str | None = Field(description="The scheduled time of the last digest sent (spec time zone).")
    at: str | None
    status: str | None = Field(description="delivered, failed or pending.")
    error: str | None


class DigestScheduleOut(BaseModel):
    channel: str
    weekday: str
    time: str
    last: DigestRunOut | None = Field(description="The last digest the scheduler sent; null before the first.")


class ScheduleOut(BaseModel):
    every: str = Field(description="How often `northstar serve` runs a monitoring pass (alerts.every).")
    monitor: MonitorRunOut | None = Field(description="The last pass of `serve`'s scheduler; null before the first.")
    digest: DigestScheduleOut | None = Field(description="The weekly digest's settings; null when none is set.")


class AlertsResponse(BaseModel):
    alerts: list[AlertOut] = Field(description="The alerts in the alerts state, newest period first.")
    schedule: ScheduleOut = Field(description="What `northstar serve`'s scheduler last did, and when it runs.")
    anomalies: AnomalyMarks | None = Field(description="With ?metric=: that metric's anomaly marks.")
