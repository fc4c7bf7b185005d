"""`GET /api/annotations` and `POST /api/annotations` (a write: needs a token, like snoozing an
alert). The annotations are the spec's and those of the file beside it (`northstar/annotations.py`);
a POST appends to that file, and the next request sees it (the file is part of the service's
version, `DashboardService.version`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from northstar.errors import QueryError
from northstar.web import params
from northstar.web.compute import current_spec, run
from northstar.web.errors import ApiError, bad_parameter
from northstar.web.service import dumps

router = APIRouter(prefix="/api", tags=["api"])

FIELDS = {"title": "title", "date": "date", "to": "to", "kind": "kind", "metrics": "metrics", "where": "where"}


class AnnotationBody(BaseModel):
    title: str = Field(description="What happened, one line (at most 200 characters).")
    date: str = Field(description="The day it happened or began, YYYY-MM-DD, local to the spec's time zone.")
    to: str | None = Field(default=None, description="The last day of a range, YYYY-MM-DD (inclusive).")
    kind: str | None = Field(default=None, description="release, campaign, outage, holiday or other (default).")
    metrics: list[str] | None = Field(default=None, description="The metrics it is about; default: all.")
    where: str | None = Field(default=None, description="The customers it is about, a filter over dimensions.")
    expected: bool = Field(default=False, description="Planned: monitor does not alert on what it covers, "
                                                      "forecasts leave it out.")


@router.get("/annotations", summary="Releases, campaigns, outages and holidays")
async def annotations(request: Request,
                      metric: Annotated[str | None, Query(description="Only those about this metric.")] = None,
                      grain: Annotated[str | None, Query(description="The grain whose periods each one marks "
                                                                     "(first_period, last_period); default: the "
                                                                     "North Star's.")] = None,
                      start: Annotated[str | None, Query(alias="from", description="Only those with a day in or "
                                                         "after the period of this date.")] = None,
                      end: Annotated[str | None, Query(alias="to", description="Only those with a day in or before "
                                                       "the period of this date.")] = None) -> Response:
    """Like `northstar annotate list`: each annotation's id, title, date, to, kind, metrics, where,
    expected, and the first and last period of `grain` it falls in (what the charts mark)."""
    spec = await current_spec(request)
    name = params.metric(spec, metric)
    chosen = params.grain(grain) or spec.north_star.grain
    first, last = params.date_range(start, end)
    service = request.app.state.service

    def listing() -> bytes:
        from northstar.annotations import marks

        found = service.project().annotations(name, first, last, grain=chosen)
        return dumps({"grain": chosen, "annotations": marks(found, chosen)})

    return Response(content=await run(request, listing), media_type="application/json")


@router.post("/annotations", status_code=201, summary="Add an annotation (needs a token)")
async def add_annotation(request: Request, body: AnnotationBody) -> Response:
    """Like `northstar annotate add`: appends to the annotations file beside the spec and answers
    the annotation with its id (201); a bad field is a 400 naming it."""
    from northstar.annotations import add, parse_new

    if not request.app.state.auth_required:
        raise ApiError(403, "token_required", "adding annotations needs a token: serve with --token or NORTHSTAR_TOKEN")
    service = request.app.state.service

    def write() -> dict[str, Any]:
        try:
            new = parse_new(body.title, body.date, body.to, body.kind, body.metrics, body.where, body.expected,
                            names=FIELDS)
            return add(service.project().loaded, new, names=FIELDS).to_dict()
        except QueryError as error:
            name, _, text = str(error).partition(":")
            raise bad_parameter(name, text.strip()) from None

    made = await asyncio.to_thread(write)
    return Response(content=dumps(made), status_code=201, media_type="application/json")
