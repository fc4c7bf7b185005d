"""The review short enough to paste into a chat: the North Star, its change, why, what needs a look.

Under `LIMIT` characters whatever the spec holds: lists stop after a few items with "+N more",
the history shows its latest entry, and when space is short the history is cut at a word and
the paragraph at a sentence.
"""

from __future__ import annotations

from northstar.i18n import t
from northstar.report import text
from northstar.report.model import Report

LIMIT = 1500
MAX_ITEMS = 3  # breached guardrails and OMTMs behind shown before "+N more"
WHY_MIN = 320  # the paragraph keeps at least this much before the history is dropped
OPTIONAL_MAX = 200  # a history or offering line longer than this is cut when space is short


def _more(n: int, lang: str) -> str:
    return " " + t("report.more", lang, n=n) if n > 0 else ""


def _items(lines: list[str], lang: str) -> str:
    return "; ".join(lines[:MAX_ITEMS]) + _more(len(lines) - MAX_ITEMS, lang)


def _guardrails(report: Report) -> str:
    lang = report.lang
    lines = [f"✖ {report.labels.get(g.metric, g.metric)} {text.value_with_unit(g.value, report.units.get(g.metric), lang)} "
             f"({text.bound_words(g.min, g.max, report.units.get(g.metric), lang)})" for g in report.breached]
    if not report.guardrails:
        return t("report.none_declared", lang)
    return _items(lines, lang) if lines else "✔ " + t("report.md.none", lang)


def _focus(report: Report) -> str:
    lang = report.lang
    lines = []
    for f in report.behind:
        unit = report.units.get(f.metric)
        lines.append(f"▼ {f.team}: {report.labels.get(f.metric, f.metric)} {text.value_with_unit(f.value, unit, lang)} → "
                     f"{text.value_with_unit(f.target, unit, lang)} "
                     f"({t('report.progress', lang, progress=text.percent(f.progress, lang, 0), elapsed=text.percent(f.elapsed, lang, 0))})")
    if not report.focus:
        return t("report.none_declared", lang)
    return _items(lines, lang) if lines else "✔ " + t("report.md.none", lang)


def render_markdown(report: Report, limit: int = LIMIT) -> str:
    """The chat version of the review (Markdown, under `limit` characters)."""
    lang, ns = report.lang, report.north_star

    def tr(key: str, **fields: object) -> str:
        return t(f"report.{key}", lang, **fields)

    title = f"**{tr('title', project=report.project)} · {text.period_title(report.period, report.grain, lang)}**"
    if report.where:
        title += f" · for {report.where}"
    if not report.complete:
        title += f" ({tr('incomplete')})"
    vs_previous = (f"{text.change_words(ns.value, ns.previous, lang, ns.unit)} {tr('vs_previous')} "
                   f"({text.value_with_unit(ns.previous, ns.unit, lang)})"
                   if ns.change is not None else tr("no_previous"))
    vs_year = (f"{text.change_words(ns.value, ns.last_year, lang, ns.unit)} {tr('vs_last_year')}"
               if ns.change_year is not None else tr("no_last_year"))
    head = [title, f"★ **{ns.label}: {text.value_with_unit(ns.value, ns.unit, lang)}** · {vs_previous} · {vs_year}"]
    if ns.customer_value:
        head.append(f"_{ns.customer_value}_")
    counts = report.checks.counts
    essential = [f"**{tr('md.guardrails_breached')}:** {_guardrails(report)}",
                 f"**{tr('md.omtms_behind')}:** {_focus(report)}",
                 f"**{tr('heading.checks')}:** ✖ {tr('count.error', n=counts['error'])} · "
                 f"▲ {tr('count.warning', n=counts['warning'])}"]
    # The history and offering changes: the latest entry (the one that matters in a weekly chat),
    # as (heading and date, text, "+N more"): only the text is cut when space is short.
    optional: list[tuple[str, str, str]] = []
    if report.history:
        h = report.history[-1]
        optional.append((f"**{tr('heading.history')}:** {h['label']} {tr('md.until', date=h['until'])}: ",
                         h["reason"], _more(len(report.history) - 1, lang)))
    if report.offering_changes:
        o = report.offering_changes[-1]
        optional.append((f"**{tr('heading.offering_changes')}:** {o['date']}: ", o["change"],
                         _more(len(report.offering_changes) - 1, lang)))
    why = report.why or (report.notes[0] if report.notes else "")
    why_label = f"**{tr('heading.why')}:** "

    def assemble(why_text: str, extra: list[tuple[str, str, str]]) -> str:
        lines = head + ([why_label + why_text] if why_text else []) + essential + ["".join(e) for e in extra]
        return "\n".join(lines) + "\n"

    # Cut, in this order, until it fits: long optional lines, the paragraph down to WHY_MIN,
    # the optional lines themselves, the paragraph further.
    if len(assemble(why, optional)) > limit:
        optional = [(lead, text.shorten(body, OPTIONAL_MAX), more) for lead, body, more in optional]
    while len(out := assemble(why, optional)) > limit:
        room = len(why) - (len(out) - limit)
        if len(why) > WHY_MIN and room >= WHY_MIN or not optional:
            why = text.shorten(why, max(room, 40))
            if len(why) <= 40:
                why = ""
                break
        else:
            optional.pop()
    out = assemble(why, optional)
    return out if len(out) <= limit else text.shorten(out, limit - 2) + "\n"
