"""The weekly digest: the review (North Star, its change and why, the OMTMs, the guardrails,
the top findings of `northstar check`) as one message, in the spec's `alerts.digest.lang`.

Every fixed word comes from the `alerts` area of `northstar.i18n` (en, nl, sv); numbers,
periods, statuses and the why paragraph are the weekly report's own (`northstar.report.text`),
so the digest and `northstar report --lang` say the same thing in the same words.
"""

from __future__ import annotations

from typing import Any

from northstar.alerts.model import AlertMessage
from northstar.i18n import LANGUAGES, t


def digest_lang(spec: Any, lang: str | None = None) -> str:
    """The digest's language: `lang`, else `alerts.digest.lang`, else English."""
    chosen = lang or (spec.alerts.digest.lang if spec.alerts.digest is not None else "en")
    return chosen if chosen in LANGUAGES else "en"


def digest(project: Any, findings: bool = True, lang: str | None = None, every: bool = False) -> AlertMessage:
    """The weekly review as one message (see the module docstring). `every`: with several North
    Stars, the review of each, the primary first, in one message (titled by the primary's)."""
    parts = [_digest(view, findings, lang) for view in (project.north_stars() if every else [project])]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    text = "\n\n".join([first.text, *(f"{p.title}\n{p.text}" for p in parts[1:])])
    key = "digest:" + "+".join(p.key.split(":")[1] for p in parts) + ":" + first.key.rsplit(":", 1)[1]
    return AlertMessage(key=key, title=first.title, alerts=(), text=text)


def _digest(project: Any, findings: bool, lang: str | None) -> AlertMessage:
    """The weekly review of the North Star `project` is for."""
    from northstar.alerts.rules import link_for, why_of
    from northstar.analysis.tree import label_of
    from northstar.report import text

    spec = project.spec
    lang = digest_lang(spec, lang)
    ns = spec.north_star
    unit = spec.metrics[ns.metric].unit if ns.metric in spec.metrics else None

    def tr(key: str, **fields: Any) -> str:
        return t(f"alerts.digest.{key}", lang, **fields)

    def value(number: Any, metric: str | None = None) -> str:
        own = spec.metrics[metric].unit if metric in spec.metrics else None
        return text.value_with_unit(number, own if metric else unit, lang)

    review = project.review_period()  # the one period every command and page reviews
    exp = project.explain(ns.metric, review.period)
    period = exp.period
    fields = {"project": spec.project, "label": exp.label, "value": value(exp.value),
              "period": text.the_period(period, exp.grain, lang), "review": tr(f"review.{exp.grain}")}
    change = exp.root.change_pct
    title = (tr("title_change", change=text.percent(change, lang, signed=True), **fields) if change is not None
             else tr("title", **fields))
    lines = [tr("north_star", label=exp.label, value=value(exp.value), baseline=value(exp.baseline))]
    if review.partial_reason:
        lines.append(tr("partial", reason=review.partial_reason))
    if review.provisional:
        lines.append(tr("provisional", items=", ".join(
            f"{label_of(spec, m)} ({t('report.provisional_until', lang, date=d.isoformat())})"
            for m, d in review.provisional.items())))
    why = text.why_paragraph(exp, lang)
    if why:
        lines.append(tr("why", text=why))
    if lang == "en":  # the inputs and segment in words (English only; the paragraph above names them too)
        lines.extend(f"  - {reason}" for reason in why_of(project, ns.metric, period))
    focus = project.focus(review.period)
    if focus:
        lines.append(tr("focus"))
        lines.extend("  - " + tr("focus_item", team=f.team, label=label_of(spec, f.metric), value=value(f.value, f.metric) + text.so_far(f, lang),
                                 target=value(f.target, f.metric), status=text.item_status(f, lang))
                     for f in focus)
    guards = project.guardrails(review.period)
    if guards:
        lines.append(tr("guardrails"))
        for g in guards:
            bounds = " ".join(b for b in (tr("min", value=value(g.min, g.metric)) if g.min is not None else "",
                                          tr("max", value=value(g.max, g.metric)) if g.max is not None else "") if b)
            lines.append("  - " + tr("guardrail_item", label=label_of(spec, g.metric), value=value(g.value, g.metric) + text.so_far(g, lang),
                                     bounds=bounds, status=text.item_status(g, lang)))
    if findings:
        lines.extend(_findings(project, lang))
    link = link_for(spec, ns.metric, period)
    if link:
        lines.append(link)
    return AlertMessage(key=f"digest:{ns.metric}:{period.isoformat()}", title=title, alerts=(), text="\n".join(lines))


def _findings(project: Any, lang: str) -> list[str]:
    try:
        report = project.check()
    except Exception as exc:  # noqa: BLE001 - the digest still goes out without the findings
        return [t("alerts.digest.findings_unavailable", lang, error=type(exc).__name__)]
    counts = ", ".join(t(f"alerts.count.{s}.{'one' if n == 1 else 'other'}", lang, n=n)
                       for s, n in report.counts.items() if n)
    lines = [t("alerts.digest.findings", lang, counts=counts or t("alerts.digest.none", lang))]
    lines.extend(f"  - [{t(f'alerts.severity.{f.severity}', lang)}] {f.subject}: {f.message}"
                 for f in report.findings[:3])
    return lines
