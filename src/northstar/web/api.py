"""The JSON API: GET routes under `/api` (and two writes, snoozing and acknowledging an alert), thin layers over `northstar.Project` (via the cache).

Bodies are the `to_dict()` of the Project's results (dates as ISO strings, null for no value);
errors have the one shape of `northstar.web.errors`. Every parameter is checked first
(`northstar.web.params`), so a bad one is a 400 naming it before anything is computed.

The routes are coroutines: a memoized answer is found and sent on the event loop, without a
worker thread, so warm requests never queue behind computations. Only a computation (or a
reload after the spec or data changed) goes to a thread (`compute.run`), and no more of them
at once than the service has engines: the others wait on the loop, holding no thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from northstar.analysis.targets import METHODS
from northstar.analysis.tree import tree_metrics
from northstar.web import params
from northstar.web.compute import answer, current_spec, run
from northstar.web.errors import ApiError, bad_parameter
from northstar.web.schemas import (
    AlertsResponse,
    ChecksResponse,
    CohortsResponse,
    ExplainResponse,
    FocusResponse,
    FunnelResponse,
    GuardrailsResponse,
    MetricsResponse,
    OverviewResponse,
    SeriesResponse,
    TargetsResponse,
    TreeResponse,
)
from northstar.web.service import NORTH_STAR, DashboardService, dumps


async def north_star_param(request: Request, north_star: Annotated[str | None, Query(
        description="With several North Stars (`north_stars:` in the spec): the one to work on, by its name; "
                    "default: the primary.")] = None) -> None:
    """`?north_star=NAME` on every route and page, checked once: 400 `bad_parameter` for a name the
    spec does not have; the request's results are then those of that North Star (`NORTH_STAR`)."""
    from northstar.spec.north_stars import unknown_north_star

    name = (north_star or "").strip() or None
    NORTH_STAR.set(None)
    if name is not None:
        spec = await current_spec(request)
        if name not in spec.north_star_names:
            raise bad_parameter("north_star", unknown_north_star(spec, name))
        if name == spec.north_star_names[0]:
            name = None  # the primary is the default: one cache entry for both ways of asking
    NORTH_STAR.set(name)


router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(north_star_param)])

Period = Annotated[str | None, Query(description="A date (YYYY-MM-DD) in the period to show; "
                                                 "default: the last complete period.")]
Metrics = Annotated[str, Query(description="Metric names, comma-separated (or the parameter repeated).")]
Grain = Annotated[str | None, Query(description="day, week, month, quarter or year; default: the North Star's.")]
From = Annotated[str | None, Query(alias="from", description="First period: the one containing this date "
                                                             "(YYYY-MM-DD); default: the data's first.")]
To = Annotated[str | None, Query(alias="to", description="Last period: those starting on or before this date "
                                                         "(YYYY-MM-DD); default: the data's last.")]
By = Annotated[list[str] | None, Query(description="Break down by dimensions: comma-separated or repeated.")]
Where = Annotated[str | None, Query(description="A SQL filter over dimensions, e.g. country = 'NL'.")]
Segment = Annotated[str | None, Query(description="Only the customers matching a SQL filter over dimensions, "
                                    "e.g. country = 'DE' (the same review period as the whole).")]
AlertId = Annotated[str, Path(description="The alert's id, kind:metric:period, as `northstar alerts list` "
                                           "shows it.")]
Window = Annotated[str | None, Query(description="A rolling window instead of the period: 7d, 28d, mtd or qtd, "
                                   "to the data's last complete day, against the window before (`window` in "
                                   "the answer says which days).")]
Compare = Annotated[str | None, Query(description="true adds <metric>_previous and <metric>_last_year columns.")]


def _service(request: Request) -> DashboardService:
    return request.app.state.service  # type: ignore[no-any-return]


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


async def _series_args(request: Request, metrics: list[str] | str, grain: str | None, start: str | None,
                       end: str | None, by: list[str] | None, where: str | None, compare: str | None) -> dict:
    spec = await current_spec(request)
    first, last = params.date_range(start, end)
    # `metrics=a&metrics=b` arrives as the last value only with a str parameter: read them all.
    names = params.metrics(spec, request.query_params.getlist("metrics") or metrics)
    return {"metrics": names, "grain": params.grain(grain), "start": first, "end": last,
            "by": params.dimensions(spec, by), "where": (where or "").strip() or None,
            "compare": params.boolean(compare, "compare")}


@router.get("/metrics", response_model=MetricsResponse, summary="Every metric of the spec, and the North Star")
async def metrics(request: Request) -> Response:
    """Each metric's name, label, unit, kind, source, dimensions, tags, direction and whether it is in the tree."""
    return await answer(request, "metrics")


@router.get("/series", response_model=SeriesResponse, summary="Metric values per period")
async def series(request: Request, metrics: Metrics, grain: Grain = None, start: From = None, end: To = None,
                 by: By = None, where: Where = None, compare: Compare = None) -> Response:
    """Like `northstar query`: one row per period (and segment), one column per metric. The range is
    clipped to the data; more than 200,000 rows (periods x segments) is a 400 naming the number."""
    args = await _series_args(request, metrics, grain, start, end, by, where, compare)
    return await answer(request, "series", **args)


@router.get("/series.csv", summary="Metric values per period, as a CSV download", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "CSV: period, the by dimensions, one column per metric"}})
async def series_csv(request: Request, metrics: Metrics, grain: Grain = None, start: From = None,
                     end: To = None, by: By = None, where: Where = None, compare: Compare = None) -> Response:
    """The same rows as `/api/series`, as CSV (a file named after the metrics)."""
    args = await _series_args(request, metrics, grain, start, end, by, where, compare)
    text = await run(request, _service(request).series_csv, **args)
    name = "-".join(args["metrics"])[:80]
    return Response(content=text, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}.csv"'})


@router.get("/tree", response_model=TreeResponse, summary="The North Star and its tree for a period")
async def tree(request: Request, period: Period = None, where: Segment = None, window: Window = None) -> Response:
    """Each node's value, previous value, change and owner (like `northstar tree`)."""
    spec = await current_spec(request)
    return await answer(request, "tree", period=params.date(period, "period"), where=params.segment(spec, where),
                        window=params.window(window))


@router.get("/explain", response_model=ExplainResponse, summary="Why a metric moved")
async def explain(request: Request,
            metric: Annotated[str | None, Query(description="The metric to explain; default: the North Star.")] = None,
            period: Period = None,
            vs: Annotated[str | None, Query(description="The baseline: previous (default), year, or a date "
                                                        "(YYYY-MM-DD) in the period to compare with.")] = None,
            by: Annotated[list[str] | None, Query(description="Dimensions to search for segments; default: all "
                                                              "of the sources'.")] = None,
            where: Segment = None, window: Window = None) -> Response:
    """The exact split through the tree, the segments that drove it, the drivers, and a paragraph.
    With `window`: between the rolling window and the one before (`vs`: previous or year)."""
    spec = await current_spec(request)
    return await answer(request, "explain", metric=params.metric(spec, metric), period=params.date(period, "period"),
                        vs=params.vs(vs), by=params.dimensions(spec, by), where=params.segment(spec, where),
                        window=params.window(window))


@router.get("/checks", response_model=ChecksResponse, summary="The North Star judged against the method")
async def checks(request: Request) -> Response:
    """Every finding of `northstar check`, its counts by severity and the North Star's history."""
    return await answer(request, "checks")


@router.get("/funnel", response_model=FunnelResponse, summary="The AARRR funnel, its bottleneck and an OMTM")
async def funnel(request: Request, period: Period = None,
           by: Annotated[str | None, Query(description="One dimension to split each stage by.")] = None,
           where: Segment = None) -> Response:
    """Each stage's value, change and conversion; the bottleneck ranked by the gain in the North Star."""
    spec = await current_spec(request)
    return await answer(request, "funnel", period=params.date(period, "period"), by=params.dimension(spec, by),
                        where=params.segment(spec, where))


@router.get("/cohorts", response_model=CohortsResponse, summary="Retention by cohort")
async def cohorts(request: Request,
            metric: Annotated[str | None, Query(description="An entity metric (count_distinct of the entity, or a "
                                                            "retention); default: the tree's first.")] = None,
            grain: Grain = None, start: From = None, end: To = None,
            partial: Annotated[str | None, Query(description="true includes the data's incomplete last "
                                                             "period.")] = None) -> Response:
    """One row per cohort and offset: the cohort's entities active again and the rate. The range is
    clipped to the data; more than 200,000 rows (cohorts x later periods) is a 400."""
    spec = await current_spec(request)
    first, last = params.date_range(start, end)
    return await answer(request, "cohorts", metric=params.cohort_metric(spec, metric, tree_metrics(spec)),
                        grain=params.grain(grain), start=first, end=last, partial=params.boolean(partial, "partial"))


@router.get("/focus", response_model=FocusResponse, summary="Each team's One Metric That Matters")
async def focus(request: Request, period: Period = None) -> Response:
    """Value, progress from baseline to target, time gone, and whether it is on track."""
    return await answer(request, "focus", period=params.date(period, "period"))


@router.get("/guardrails", response_model=GuardrailsResponse, summary="Guardrails and whether they hold")
async def guardrails(request: Request, period: Period = None) -> Response:
    """Each guardrail's value (by default in its own last complete period) against its min and max."""
    return await answer(request, "guardrails", period=params.date(period, "period"))


@router.get("/targets", response_model=TargetsResponse, summary="What the tree must reach for the target")
async def targets(request: Request,
            method: Annotated[str | None, Query(description="trend (default) or proportional.")] = None,
            where: Segment = None) -> Response:
    """From `north_star.target`: each formula input's required value; 404 `no_target` without a target."""
    chosen = params.choice(method, "method", tuple(METHODS), "trend")
    spec = await current_spec(request)
    segment = params.segment(spec, where)
    if spec.north_star.target is None:
        raise ApiError(404, "no_target", "the spec sets no north_star.target {value, by}")
    return await answer(request, "targets", method=chosen, where=segment)


@router.get("/overview", response_model=OverviewResponse, summary="Everything the overview page shows")
async def overview(request: Request, where: Segment = None, window: Window = None) -> Response:
    """The North Star (value, changes, target), its series and forecast, why it moved, the tree,
    guardrails, focus metrics and the checks' counts, in one response. With `where`: all of it for
    that segment, except the checks (the spec judged on all customers). With `window`: the
    headline, the tree and why it moved over the rolling window; the trend stays per period."""
    spec = await current_spec(request)
    return await answer(request, "overview", where=params.segment(spec, where), window=params.window(window))


@router.get("/alerts", response_model=AlertsResponse, summary="Alerts and their delivery state")
async def alerts(request: Request,
           metric: Annotated[str | None, Query(description="Also the anomaly marks of this metric: each scored "
                                                           "period's value, expected value, interval and "
                                                           "whether it is an anomaly.")] = None,
           state: Annotated[str | None, Query(description="Only the alerts in this state: open, acknowledged "
                                                          "or snoozed.")] = None) -> Response:
    """The alerts recorded by `northstar monitor` (and `serve`'s monitor), newest first, each with its
    id, its state (open, acknowledged, snoozed; with the note and a snooze's end) and its delivery
    per channel (pending, delivered, failed; attempts; last error). Never a channel's secret."""
    from northstar.alerts.manage import STATES

    service = _service(request)
    name = params.metric(await current_spec(request), metric)
    chosen = params.choice(state, "state", STATES, "") if state else None

    def listing() -> bytes:
        body = dict(service.alerts())
        if chosen:
            body["alerts"] = [a for a in body["alerts"] if a["state"] == chosen]
        body["anomalies"] = service.anomalies(name) if name else None
        return dumps(body)

    return _json(await run(request, listing))


class SnoozeBody(BaseModel):
    until: str | None = Field(default=None, description="Snooze until this date (YYYY-MM-DD, UTC) or time.")
    for_: str | None = Field(default=None, alias="for", description="Snooze for this long: 30m, 12h, 3d, 2w.")
    note: str | None = Field(default=None, max_length=1000, description="Why (shown by `alerts list`).")


class AckBody(BaseModel):
    note: str | None = Field(default=None, max_length=1000, description="Why (shown by `alerts list`).")


def _hold(request: Request, alert_id: str, change: Callable[..., Any]) -> Any:
    """Run a snooze or an acknowledgement: a write, so only on an app with a token; the CLI's
    one-line errors as 404 (unknown id) or 400 naming the parameter."""
    from northstar.alerts.monitor import state_path
    from northstar.errors import QueryError

    if not request.app.state.auth_required:
        raise ApiError(403, "token_required", "changing alerts needs a token: serve with --token or NORTHSTAR_TOKEN")
    try:
        return change(state_path(_service(request).project()))
    except QueryError as error:
        text = str(error)
        if text.startswith("ALERT_ID:"):
            raise ApiError(404, "unknown_alert", text, "alert_id") from None
        name = text.split(":", 1)[0].lstrip("-").split("/")[0]
        raise bad_parameter(name, text.split(":", 1)[1].strip()) from None


@router.post("/alerts/{alert_id}/snooze", summary="Snooze an alert (needs a token)")
async def snooze_alert(request: Request, alert_id: AlertId, body: SnoozeBody) -> Response:
    """Like `northstar alerts snooze`: body `{"until": DATE}` or `{"for": "3d"}`, and `note`. The
    alert and later periods of the same deviation are not sent until then; 404 for an unknown id."""
    from northstar.alerts import manage

    now = dt.datetime.now(dt.timezone.utc)

    def change(path: Any) -> Any:
        end = manage.snooze_end(now, body.until, body.for_)
        return manage.snooze(path, alert_id, end, body.note, now)

    entry = await asyncio.to_thread(_hold, request, alert_id, change)
    return _json(dumps({"id": alert_id, "state": "snoozed", **entry["snooze"]}))


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert (needs a token)")
async def ack_alert(request: Request, alert_id: AlertId, body: AckBody | None = None) -> Response:
    """Like `northstar alerts ack`: not sent again while the same deviation lasts; 404 for an unknown id."""
    from northstar.alerts import manage

    now = dt.datetime.now(dt.timezone.utc)
    note = body.note if body else None
    entry = await asyncio.to_thread(_hold, request, alert_id, lambda path: manage.ack(path, alert_id, note, now))
    return _json(dumps({"id": alert_id, "state": "acknowledged", **entry["ack"]}))
