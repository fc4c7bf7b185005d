"""Gather the review's data through the Project's own API, for one period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from northstar.analysis.progress import final_target
from northstar.analysis.tree import label_of
from northstar.analysis.periods import PeriodInfo, coverage_state
from northstar.engine.time import same_period_last_year, to_date
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


def resolve_period(project: "Project", period: object) -> tuple["PeriodInfo", list[dict[str, Any]]]:
    """The period to review (a date in it, default the review period) with how complete it is,
    and the North Star's series up to it (each row: period, value, last_year, complete)."""
    spec = project.spec
    grain, nsm = spec.north_star.grain, spec.north_star.metric
    info = project.period_info(period)
    current = info.period
    frame = project.query(nsm, grain=grain, compare=True)
    coverage = project.coverage()
    rows = []
    for _i, r in frame.iterrows():
        when = to_date(r["period"])
        state = coverage_state(when, grain, coverage)[0]
        rows.append({"period": when, "value": _number(r[nsm]), "last_year": _number(r[f"{nsm}_last_year"]),
                     "complete": state == "complete"})
    # the partial first period is left out of the chart (its low value is not a level); the
    # period under review stays in, marked when partial
    series = [r for r in rows if (r["complete"] or r["period"] == current) and r["period"] <= current]
    return info, series


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
    info, series = resolve_period(project, period)
    current, complete = info.period, info.complete
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
    # Everything in the one period under review: a value whose window has not passed there is
    # provisional (no verdict), never replaced by an older period's.
    guardrails = tuple(project.guardrails(current))
    focus = tuple(project.focus(current))
    last_year_period = same_period_last_year(current, ns.grain)
    last_year = next((r["last_year"] for r in series if r["period"] == current), None)
    final = final_target(spec)  # a series: its last period's target at the North Star's grain
    value = NorthStarValue(
        metric=ns.metric, label=label_of(spec, ns.metric), customer_value=ns.customer_value,
        unit=spec.metrics[ns.metric].unit, direction=spec.metrics[ns.metric].direction, grain=ns.grain,
        period=current, previous_period=tree.previous_period, last_year_period=last_year_period,
        value=tree.root.value, previous=tree.root.previous, last_year=last_year,
        target=final[0] if final else None, target_by=final[1] if final else None)
    history = tuple({"metric": h.metric, "label": label_of(spec, h.metric) if h.metric in spec.metrics else h.metric,
                     "until": h.until.isoformat(), "reason": h.reason} for h in ns.history)
    offering = tuple({"date": o.date.isoformat(), "change": o.change} for o in ns.offering_changes)
    from northstar.annotations import marks

    shown = (series[0]["period"], current) if series else (current, current)
    annotations = tuple({**m, "first_period": max(m["first_period"], shown[0].isoformat()),
                         "last_period": min(m["last_period"], shown[1].isoformat())}
                        for m in marks(project.annotations(ns.metric, *shown, grain=ns.grain), ns.grain))
    return Report(
        project=spec.project, lang=lang, grain=ns.grain, period=current, complete=complete, review=info,
        north_star=value,
        series=tuple(series), tree=tree, explanation=explanation, why=why, guardrails=guardrails, focus=focus,
        checks=project.whole.check(), funnel=funnel, where=project.segment, history=history, offering_changes=offering,
        labels={name: label_of(spec, name) for name in spec.metrics},
        units={name: m.unit for name, m in spec.metrics.items()},
        directions={name: m.direction for name, m in spec.metrics.items()},
        guardrail_owners=tuple(g.owner for g in spec.guardrails), annotations=annotations,
        notes=tuple(notes) + ((f"for {project.segment}; the checks judge the spec on all customers",)
                              if project.segment else ()))
