"""Gather the review's data through the Project's own API, for one period."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from northstar.analysis.tree import label_of, tree_metrics
from northstar.engine.plan import dependency_order
from northstar.engine.time import period_start, same_period_last_year, shift_period, to_date
from northstar.errors import NorthstarError, QueryError
from northstar.i18n import LANGUAGES
from northstar.report.model import NorthStarValue, Report
from northstar.report.text import why_paragraph
from northstar.numbers import number_or_none

if TYPE_CHECKING:
    from northstar.project import Project


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise QueryError(f"--lang: '{lang}' is not one of {', '.join(LANGUAGES)}")
    return lang


_number = number_or_none


def _first_whole_period(project: "Project", grain: str) -> dt.date | None:
    """The first period the North Star's data covers from its first day (the one before is partial)."""
    spec = project.spec
    names = dependency_order(spec, (spec.north_star.metric,))
    sources = {getattr(spec.metrics[n], "source", None) for n in names} - {None}
    bounds = [b for s in sources if (b := project.engine.data_bounds(s)) is not None]  # type: ignore[arg-type]
    if not bounds:
        return None
    first_day = min(b[0] for b in bounds).date()
    start = period_start(first_day, grain)
    return start if start == first_day else shift_period(start, grain, 1)


def resolve_period(project: "Project", period: object) -> tuple[dt.date, bool, list[dict[str, Any]]]:
    """The period to review (a date in it, default the last complete one), whether it is complete,
    and the North Star's series up to it (each row: period, value, last_year)."""
    spec = project.spec
    grain, nsm = spec.north_star.grain, spec.north_star.metric
    chosen: dt.date | None = None
    if period is not None and period != "":
        try:
            chosen = period_start(to_date(period), grain)
        except ValueError:
            raise QueryError(f"--period: '{period}' is not a date; write YYYY-MM-DD") from None
    last_complete = project.last_complete_period(grain, tree_metrics(spec))
    current = chosen or last_complete
    frame = project.query(nsm, grain=grain, compare=True)
    rows = [{"period": to_date(r["period"]), "value": _number(r[nsm]), "last_year": _number(r[f"{nsm}_last_year"])}
            for _i, r in frame.iterrows()]
    periods = [r["period"] for r in rows]
    if current not in periods:
        covered = f"{periods[0]} to {periods[-1]}" if periods else "nothing"
        raise QueryError(f"--period: the {grain} of {current} has no data: the data covers {covered} "
                         f"(`northstar query {nsm}` lists the periods)")
    first = _first_whole_period(project, grain)
    series = [r for r in rows if (first is None or r["period"] >= first or r["period"] == current)
              and r["period"] <= current]
    return current, current <= last_complete, series


def build_report(project: "Project", period: object = None, lang: str = "en") -> Report:
    """The weekly North Star review of a period (default: the last complete one) in `lang`.

    Every number comes from the Project: `tree` (the North Star, its tree), `query` (the
    series and last year's value), `explain` (why it moved), `guardrails`, `focus`, `check`
    and `funnel`. A part that cannot be computed for the period (e.g. no previous period to
    explain against) becomes a one-line note instead of failing the whole review.
    """
    check_lang(lang)
    spec = project.spec
    ns = spec.north_star
    current, complete, series = resolve_period(project, period)
    tree = project.tree(current)
    notes: list[str] = []
    try:
        explanation = project.explain(period=current)
        why = why_paragraph(explanation, lang)
    except NorthstarError as exc:
        explanation, why = None, ""
        notes.append(str(exc).splitlines()[0])
    funnel = None
    if spec.funnel is not None and any(spec.funnel.stages().values()):
        try:
            funnel = project.funnel(current)
        except NorthstarError as exc:
            notes.append(str(exc).splitlines()[0])
    # Without --period, guardrails and OMTMs stand where the Project puts them (each guardrail
    # at its own last complete period: a conversion matures after its window).
    as_of = current if period not in (None, "") else None
    guardrails = tuple(project.guardrails(as_of))
    focus = tuple(project.focus(as_of))
    last_year_period = same_period_last_year(current, ns.grain)
    last_year = next((r["last_year"] for r in series if r["period"] == current), None)
    value = NorthStarValue(
        metric=ns.metric, label=label_of(spec, ns.metric), customer_value=ns.customer_value,
        unit=spec.metrics[ns.metric].unit, direction=spec.metrics[ns.metric].direction, grain=ns.grain,
        period=current, previous_period=tree.previous_period, last_year_period=last_year_period,
        value=tree.root.value, previous=tree.root.previous, last_year=last_year,
        target=ns.target.value if ns.target else None, target_by=ns.target.by if ns.target else None)
    history = tuple({"metric": h.metric, "label": label_of(spec, h.metric) if h.metric in spec.metrics else h.metric,
                     "until": h.until.isoformat(), "reason": h.reason} for h in ns.history)
    offering = tuple({"date": o.date.isoformat(), "change": o.change} for o in ns.offering_changes)
    return Report(
        project=spec.project, lang=lang, grain=ns.grain, period=current, complete=complete, north_star=value,
        series=tuple(series), tree=tree, explanation=explanation, why=why, guardrails=guardrails, focus=focus,
        checks=project.check(), funnel=funnel, history=history, offering_changes=offering,
        labels={name: label_of(spec, name) for name in spec.metrics},
        units={name: m.unit for name, m in spec.metrics.items()},
        directions={name: m.direction for name, m in spec.metrics.items()},
        guardrail_owners=tuple(g.owner for g in spec.guardrails), notes=tuple(notes))
