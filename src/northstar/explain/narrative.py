"""An explanation in plain words: what moved, by how much, what explains it, where."""

from __future__ import annotations

from northstar.explain.decompose import flatten
from northstar.explain.model import Explanation, Segment
from northstar.spec.model import Spec

ADJECTIVE = {"day": "Daily", "week": "Weekly", "month": "Monthly", "quarter": "Quarterly"}


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


def _where(segment: Segment) -> str:
    return ", ".join(f"{k} = {v}" for k, v in segment.dimensions.items())


def summarise(spec: Spec, e: Explanation) -> str:
    if e.change is None:
        return f"{e.label} has no value to compare."
    when = f"in the {e.grain} of {e.period.isoformat()} against {e.baseline_period.isoformat()}"
    if e.change == 0:
        return f"{ADJECTIVE[e.grain]} {e.label.lower()} did not change {when}."
    verb = "rose" if e.change > 0 else "fell"
    pct = f" {_pct(e.root.change_pct).lstrip('+').lstrip('−')}" if e.root.change_pct is not None else ""
    text = (f"{ADJECTIVE[e.grain]} {e.label[0].lower() + e.label[1:]} {verb}{pct} "
            f"({signed(e.change)}) {when}.")
    top = sorted(e.root.children, key=lambda c: -abs(c.contribution))
    if top and top[0].share is not None:
        text += " " + _inputs(top) + "."
    if e.segments:
        seg = e.segments[0]
        label = next((c.label for c in [e.root, *flatten(e.root)] if c.metric == seg.metric), seg.metric)
        how = f"{label.lower()} {_pct(seg.change_pct)} there" if seg.change_pct is not None else label.lower()
        text += f" Mostly {_where(seg)} ({how}"
        if seg.mix_effect is not None and seg.rate_effect is not None and abs(seg.mix_effect) > abs(seg.rate_effect):
            text += ", a shift in the mix rather than in its own rate"
        text += ")."
    elif e.root.children or e.root.contribution:
        text += " No segment stands out: the change is spread evenly."
    moved = [d for d in e.drivers if d.as_expected and d.change_pct is not None and d.p_value is not None
             and d.p_value < 0.05 and (d.correlation or 0) * (1 if d.direction == "up" else -1) > 0]
    if moved:
        d = moved[0]
        text += (f" Its driver {d.driver} moved {_pct(d.change_pct)} {d.lag} {e.grain}(s) earlier, and has led it "
                 f"before (r={d.correlation:+.2f}).")
    return text


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
