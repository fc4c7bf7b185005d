"""Words and numbers of the review in its language: number formats, changes, periods, the why.

Everything a reader sees is built here from `northstar.i18n` texts (area `report`), so the HTML
and the Markdown versions say the same thing in the same words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from northstar.i18n import t
from northstar.numbers import number_or_none

# Decimal and thousands separators per language (Plotly's `separators` uses the same pair).
SEPARATORS = {"en": (".", ","), "nl": (",", "."), "sv": (",", "\u00a0")}
MINUS = "\u2212"


_num = number_or_none


def localise(text: str, lang: str) -> str:
    """A number formatted the English way (`1,234.5`) in the separators of `lang`."""
    decimal, thousands = SEPARATORS[lang]
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands).replace("-", MINUS)


def number(value: Any, lang: str = "en", digits: int = 1) -> str:
    """A value for people: whole numbers without decimals, small ones with three, else `digits`."""
    number_ = _num(value)
    if number_ is None:
        return "–"
    if number_.is_integer():
        text = f"{number_:,.0f}"
    elif abs(number_) < 1:
        text = f"{number_:.3f}"
    else:
        text = f"{number_:,.{digits}f}"
    return localise(text, lang)


def percent(share: Any, lang: str = "en", digits: int = 1, signed: bool = False) -> str:
    """A share (0.098) as a percentage (`9.8%`; Swedish puts a space before the sign)."""
    value = _num(share)
    if value is None:
        return "–"
    text = f"{value * 100:{'+' if signed else ''},.{digits}f}"
    return localise(text, lang) + ("\u00a0%" if lang == "sv" else "%")


def value_with_unit(value: Any, unit: str | None, lang: str = "en") -> str:
    """A metric's value in its unit; a `%` metric holds shares (0-1) and shows as a percentage."""
    number_ = _num(value)
    if number_ is None:
        return "–"
    if unit == "%":
        return percent(number_, lang) if abs(number_) <= 1 else localise(f"{number_:,.1f}", lang) + "%"
    text = number(number_, lang)
    return f"{text} {unit}" if unit else text


def signed(value: Any, unit: str | None, lang: str = "en") -> str:
    number_ = _num(value)
    if number_ is None:
        return "–"
    if unit == "%" and abs(number_) <= 1:
        return ("+" if number_ >= 0 else MINUS) + localise(f"{abs(number_) * 100:,.1f}", lang) + " pp"
    return ("+" if number_ >= 0 else MINUS) + number(abs(number_), lang)


def change_words(value: Any, baseline: Any, lang: str = "en", unit: str | None = None) -> str:
    """A change by sign, arrow and words, never by colour alone: `▲ up 9.8%`."""
    now, before = _num(value), _num(baseline)
    if now is None or before is None:
        return t("report.change.none", lang)
    if now == before:
        return "→ " + t("report.change.same", lang)
    arrow, word = ("▲", t("report.change.up", lang)) if now > before else ("▼", t("report.change.down", lang))
    amount = percent(abs(now - before) / abs(before), lang) if before else signed(now - before, unit, lang).lstrip("+" + MINUS)
    return f"{arrow} {word} {amount}"


def change_class(value: Any, baseline: Any, direction: str = "up") -> str:
    """`good`, `bad` or `flat`: the colour that goes with the words (down is good for a cost)."""
    now, before = _num(value), _num(baseline)
    if now is None or before is None or now == before:
        return "flat"
    return "good" if (now > before) == (direction != "down") else "bad"


def pct_change(value: Any, baseline: Any) -> float | None:
    now, before = _num(value), _num(baseline)
    if now is None or not before:
        return None
    return (now - before) / abs(before)


def period_title(start: dt.date, grain: str, lang: str) -> str:
    """`week of 2026-10-26` (for headings)."""
    return t(f"report.period.{grain}", lang, start=start.isoformat())


def the_period(start: dt.date, grain: str, lang: str) -> str:
    """`the week of 2026-10-26` (inside a sentence)."""
    return t(f"report.the_period.{grain}", lang, start=start.isoformat())


def grain_count(n: int, grain: str, lang: str) -> str:
    return f"{n} " + t(f"report.grain{'s' if n != 1 else ''}.{grain}", lang)


def status_words(status: str, lang: str) -> str:
    """A guardrail's or an OMTM's status with its symbol, e.g. `✖ breached`."""
    marks = {"ok": "✔", "breached": "✖", "no data": "?", "on track": "✔", "reached": "★", "behind": "▼",
             "not started": "…", "ended": "■", "provisional": "⧗"}
    return f"{marks.get(status, '•')} " + t(f"report.status.{status.replace(' ', '_')}", lang)


def so_far(item: Any, lang: str) -> str:
    """' so far' after a provisional value (its window has not passed: 0% of a 14-day conversion
    after 3 days is not a breach), else nothing."""
    return " " + t("report.so_far", lang) if getattr(item, "status", None) == "provisional" else ""


def item_status(item: Any, lang: str) -> str:
    """A guardrail's or OMTM's status in words; a provisional one (its window has not passed) says
    until when, and its last final verdict with that period."""
    if item.status != "provisional" or item.provisional_until is None:
        return status_words(item.status, lang)
    out = "⧗ " + t("report.provisional_until", lang, date=item.provisional_until.isoformat())
    earlier = item.last_final
    if earlier is not None and earlier.period is not None:
        out += " (" + t("report.last_final", lang, status=status_words(earlier.status, lang),
                        period=earlier.period.isoformat()) + ")"
    return out


def bound_words(minimum: float | None, maximum: float | None, unit: str | None, lang: str) -> str:
    parts = []
    if minimum is not None:
        parts.append("≥ " + value_with_unit(minimum, unit, lang))
    if maximum is not None:
        parts.append("≤ " + value_with_unit(maximum, unit, lang))
    return ", ".join(parts)


def why_paragraph(explanation: Any, lang: str) -> str:
    """The one paragraph on why the North Star moved.

    English is `explain`'s own summary (the same words as `northstar explain`); Dutch and
    Swedish are built from the same explanation: the change, each input's share of it, the
    segment that drove it most and a driver that moved as the tree predicts.
    """
    if lang == "en":
        return str(explanation.summary)
    e = explanation
    fields = {"label": e.label, "period": the_period(e.period, e.grain, lang),
              "baseline": the_period(e.baseline_period, e.grain, lang)}
    if e.inactive:
        when = " / ".join(the_period(e.baseline_period if side == "baseline" else e.period, e.grain, lang)
                          for side in e.inactive)
        return t("report.why.inactive", lang, label=e.label, when=when)
    if e.change is None:
        return t("report.why.no_value", lang, label=e.label)
    if e.change == 0:
        return t("report.why.unchanged", lang, **fields)
    pct = pct_change(e.value, e.baseline)
    text = t("report.why.rose" if e.change > 0 else "report.why.fell", lang,
             pct=percent(abs(pct), lang) if pct is not None else "", change=signed(e.change, None, lang), **fields)
    inputs = sorted((c for c in e.root.children if c.share is not None), key=lambda c: -abs(c.contribution))[:3]
    if inputs:
        items = ", ".join(f"{c.label} {percent(c.share, lang, 0)} ({percent(c.change_pct, lang, signed=True)})"
                          for c in inputs)
        text += " " + t("report.why.inputs", lang, items=items)
    if e.segments:
        seg = e.segments[0]
        where = ", ".join(f"{k} = {v}" for k, v in seg.dimensions.items())
        label = next((c.label for c in _walk(e.root) if c.metric == seg.metric), seg.metric)
        text += " " + t("report.why.segment", lang, where=where, metric=label,
                        pct=percent(seg.change_pct, lang, signed=True))
    elif e.segments_searched:
        text += " " + t("report.why.spread", lang)
    if e.overlaps:
        dims = ", ".join(dict.fromkeys(d for o in e.overlaps for d in o.dimensions))
        text += " " + t("report.why.overlap", lang, dims=dims)
    for f in e.entities[:1]:
        if f.kind in ("period", "baseline"):
            when = the_period(e.period if f.kind == "period" else e.baseline_period, e.grain, lang)
            metric = next((c.label for c in _walk(e.root) if c.metric == f.metric), f.metric)
            text += " " + t("report.why.entity", lang, noun=f.noun, id=f.entities[0].id,
                            share=percent(f.share, lang, 0), metric=metric, when=when)
    moved = [d for d in e.drivers if d.as_expected and d.change_pct is not None and d.p_value is not None
             and d.p_value < 0.05 and (d.correlation or 0) * (1 if d.direction == "up" else -1) > 0]
    if moved:
        d = moved[0]
        text += " " + t("report.why.driver" if d.lag else "report.why.driver_same", lang, driver=d.driver,
                        pct=percent(d.change_pct, lang, signed=True), lag=grain_count(d.lag, e.grain, lang),
                        r=localise(f"{d.correlation:+.2f}", lang))
    during = [a for a, side in e.annotations if side != "baseline"]  # dates as ISO: no month names to translate
    if during:
        text += " " + t("report.why.during", lang, items="; ".join(
            f"{a.title}, {a.start.isoformat()}" + (f" – {a.end.isoformat()}" if a.end != a.start else "") for a in during))
    return text


def _walk(node: Any) -> list[Any]:
    out = [node]
    for child in node.children:
        out += _walk(child)
    return out


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut after a whole sentence when one fits, else at a word, with `…`."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    if end >= limit // 3:
        return cut[:end + 1]
    return cut[:max(cut.rfind(" "), 1)].rstrip(",;:") + "…"
