"""An explanation in plain words: what moved, by how much, what explains it, where.

The segment named ("Mostly in ...") is `Explanation.lead`, chosen by the rule stated in
`explain/segments.py`: it moved the way the change did and holds the largest part of it beyond
its weight; without one, the change is spread across segments.
"""

from __future__ import annotations

import re

from northstar.explain.decompose import flatten
from northstar.explain.model import EntityFinding, Explanation, Segment
from northstar.spec.model import Spec

ADJECTIVE = {"day": "Daily", "week": "Weekly", "month": "Monthly", "quarter": "Quarterly", "year": "Yearly"}
PERIODIC = re.compile(r"^(hourly|daily|weekly|monthly|quarterly|yearly|annual|annually|per)\b", re.IGNORECASE)
COUNT_WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five"}


def number(value: float) -> str:
    size = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if size >= limit * 10 or (suffix != "k" and size >= limit):
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.3g}" if size < 100 else f"{value:,.0f}"


def signed(value: float) -> str:
    return ("+" if value >= 0 else "−") + number(abs(value))


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%".replace("-", "−")


def lower(label: str) -> str:
    """A label inside a sentence: 'Weekly buyers' -> 'weekly buyers', but 'MRR' stays."""
    return label[0].lower() + label[1:] if len(label) > 1 and not label[1].isupper() else label


def titled(label: str, grain: str) -> str:
    """'Weekly orders' from 'Orders'; a label that already says its period ('Weekly buyers',
    'Monthly contributors') is not given the grain's adjective again."""
    if PERIODIC.match(label):
        return label[:1].upper() + label[1:]
    adjective = ADJECTIVE.get(grain)
    return f"{adjective} {lower(label)}" if adjective else label


def plural(noun: str, count: int = 2) -> str:
    """'1 user', '2 users', '2 invoices', '2 categories'."""
    if count == 1:
        return noun
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def periods(count: int, grain: str) -> str:
    return f"{count} {plural(grain, count)}"


def _where(segment: Segment) -> str:
    return ", ".join(f"{k} = {v}" for k, v in segment.dimensions.items())


def _label(e: Explanation, metric: str) -> str:
    return next((c.label for c in [e.root, *flatten(e.root)] if c.metric == metric), metric)


def summarise(spec: Spec, e: Explanation) -> str:
    title = titled(e.label, e.grain)
    when = f"in the {e.grain} of {e.period.isoformat()} against {e.baseline_period.isoformat()}"
    if e.inactive:
        return _inactive(e, title, when)
    if e.change is None:
        return f"{title} has no value to compare {when}."
    if e.change == 0:
        return f"{title} did not change {when}." + _caveats(e)
    verb = "rose" if e.change > 0 else "fell"
    pct = f" {_pct(e.root.change_pct).lstrip('+').lstrip('−')}" if e.root.change_pct is not None else ""
    text = f"{title} {verb}{pct} ({signed(e.change)}) {when}." + _caveats(e)
    top = sorted(e.root.children, key=lambda c: -abs(c.contribution))
    if top and top[0].share is not None:
        text += " " + _inputs(top) + "."
    if e.lead is not None:
        text += " " + _segment(e, e.lead)
    elif e.segments_searched:
        text += " No segment stands out: the change is spread across segments."
    if e.overlaps:
        dims = list(dict.fromkeys(d for o in e.overlaps for d in o.dimensions))
        text += (f" Segments by {', '.join(dims)} overlap: a customer can be in several; their changes do not add "
                 "up to the total.")
    if e.entities:
        text += " " + entity_words(e, e.entities[0])
    moved = [d for d in e.drivers if d.as_expected and d.change_pct is not None and d.p_value is not None
             and d.p_value < 0.05 and (d.correlation or 0) * (1 if d.direction == "up" else -1) > 0]
    if moved:
        d = moved[0]
        if d.lag == 0:
            text += (f" Its driver {d.driver} moved {_pct(d.change_pct)} in the same {e.grain}, and has moved with "
                     f"it before (r={d.correlation:+.2f}).")
        else:
            text += (f" Its driver {d.driver} moved {_pct(d.change_pct)} {periods(d.lag, e.grain)} earlier, and has "
                     f"led it before (r={d.correlation:+.2f}).")
    return text


def inactive_words(e: Explanation) -> str:
    """'no activity in the week of ...: a closure or a gap in the data' (for alerts and digests)."""
    sides = [f"the {'baseline ' if side == 'baseline' else ''}{e.grain} of "
             f"{(e.baseline_period if side == 'baseline' else e.period).isoformat()}" for side in e.inactive]
    return f"no activity in {' or '.join(sides)}: a closure or a gap in the data"


def _inactive(e: Explanation, title: str, when: str) -> str:
    if e.change is None:
        moved = "has no value to compare"
    elif e.change == 0:
        moved = "did not change"
    else:
        pct = f" {_pct(e.root.change_pct).lstrip('+').lstrip('−')}" if e.root.change_pct is not None else ""
        moved = f"{'rose' if e.change > 0 else 'fell'}{pct} ({signed(e.change)})"
    if len(e.inactive) == 2:
        why = "no activity in either period: a closure or a gap in the data."
    elif e.inactive == ("period",):
        why = "no activity in this period: a closure or a gap in the data."
    else:
        why = (f"no activity in the baseline period (the {e.grain} of {e.baseline_period.isoformat()}): a closure "
               "or a gap in the data, so this is activity coming back; compare with another period (--vs a date).")
    return f"{title} {moved} {when}: {why}" + _caveats(e)


def _caveats(e: Explanation) -> str:
    return "".join(f" Careful: {c}." for c in e.caveats)


def _segment(e: Explanation, seg: Segment) -> str:
    """'Led by country = B (weekly buyers −95.0% there against −80.8% overall, 35% of the fall)':
    the segment moved more than the whole, which is why it is named; 'Mostly in' when it holds
    at least half of the change."""
    label = lower(_label(e, seg.metric))
    node = next((c for c in [e.root, *flatten(e.root)] if c.metric == seg.metric), None)
    if seg.change_pct is not None:
        how = f"{label} {_pct(seg.change_pct)} there"
        if node is not None and node.change_pct is not None:
            how += f" against {_pct(node.change_pct)} overall"
    elif seg.value is not None and seg.baseline is not None:
        how = f"{label} {signed(seg.value - seg.baseline)} there"
    else:
        how = label
    mostly = not seg.overlap and seg.share is not None and 0.5 <= seg.share <= 1
    if not seg.overlap and seg.share is not None:
        noun = ("rise" if seg.contribution > 0 else "fall") + ("" if seg.metric == e.metric else f" in {label}")
        how += (f", {seg.share:.0%} of the {noun}" if seg.share <= 1 else
                f", more than the whole {noun}: other segments moved the other way")
    if seg.mix_effect is not None and seg.rate_effect is not None and abs(seg.mix_effect) > abs(seg.rate_effect):
        how += ", a shift in the mix rather than in its own rate"
    return f"{'Mostly in' if mostly else 'Led by'} {_where(seg)} ({how})."


def entity_words(e: Explanation, f: EntityFinding) -> str:
    """One sentence on the orders or customers that dominate a sum or count."""
    label = lower(_label(e, f.metric))
    if f.kind in ("period", "baseline"):
        one = f.entities[0]
        side = "" if f.kind == "period" else "baseline "
        when = e.period if f.kind == "period" else e.baseline_period
        value = one.value if f.kind == "period" else one.baseline
        return (f"One {f.noun}, {one.id}, made {f.share:.0%} of {label} in the {side}{e.grain} of "
                f"{when.isoformat()} ({number(value)} of {number(f.total)}).")
    count = len(f.entities)
    noun = ("rise" if f.total > 0 else "fall") + ("" if f.metric == e.metric else f" in {label}")
    items = ", ".join(f"{x.id} ({signed(x.change)})" for x in f.entities)
    share = f"{f.share:.0%} of the {noun}" if f.share <= 1 else f"more than the whole {noun} (the rest moved the other way)"
    return (f"{COUNT_WORDS.get(count, str(count))} {plural(f.noun, count)} explain{'s' if count == 1 else ''} "
            f"{share}: {items}.")


def _moved(c: object) -> str:
    pct = getattr(c, "change_pct")
    verb = "rose" if (getattr(c, "value") or 0) >= (getattr(c, "baseline") or 0) else "fell"
    return f"{getattr(c, 'label')} {verb}" + (f" {_pct(pct).lstrip('+').lstrip('−')}" if pct is not None else "")


def _inputs(top: list) -> str:
    """The inputs in order of weight: shares when they all push the same way, else who offsets whom."""
    lead = top[0]
    others = [c for c in top[1:] if c.share is not None and abs(c.share) >= 0.05]
    if all(0 <= (c.share or 0) <= 1 for c in [lead, *others]):
        text = f"{lead.label} explain{'' if lead.label.endswith('s') else 's'} {lead.share:.0%} of it"
        text += f" ({_pct(lead.change_pct)}" if lead.change_pct is not None else " ("
        deeper = sorted(lead.children, key=lambda c: -abs(c.contribution))
        if deeper and deeper[0].share is not None and abs(deeper[0].share / (lead.share or 1)) >= 0.3:
            text += f", through {deeper[0].label[0].lower() + deeper[0].label[1:]} {_pct(deeper[0].change_pct)}"
        text = text.rstrip(" (") + (")" if "(" in text else "")
        if others:
            text += "; " + ", ".join(f"{c.label[0].lower() + c.label[1:]} {c.share:.0%} ({_pct(c.change_pct)})"
                                     for c in others)
        return text
    pushing = [c for c in [lead, *others] if (c.share or 0) > 0]
    against = [c for c in [lead, *others] if (c.share or 0) < 0]
    text = " and ".join(f"{_moved(c)} ({signed(c.contribution)})" for c in pushing) or _moved(lead)
    if against:
        text += ", partly offset as " + " and ".join(f"{_moved(c)[0].lower() + _moved(c)[1:]} "
                                                      f"({signed(c.contribution)})" for c in against)
    return text
