"""An explanation with the annotations overlapping the period it explains and its baseline:
`During: Android 8.4.0 release, 13 Apr – 3 May 2026.` in its paragraph (and so in the table,
markdown, reports, the dashboard and alerts that show it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from northstar.explain.model import Explanation
from northstar.spec.annotations import during


def annotated(project: Any, e: Explanation) -> Explanation:
    found = project.annotations(e.metric)
    if not found:
        return e
    spans = e.spans()  # a rolling window: its own days, and the window it is compared with
    now, then = spans["period"], spans["baseline"]
    baseline_name = e.side_names()["baseline"] if e.window is not None else f"{e.grain} of {e.baseline_period.isoformat()}"
    marked = []
    for a in found:
        sides = [side for side, (first, last) in (("period", now), ("baseline", then)) if a.overlaps(first, last)]
        if sides:
            marked.append((a, "both" if len(sides) == 2 else sides[0]))
    if not marked:
        return e
    text = e.summary
    current = [a for a, side in marked if side != "baseline"]
    earlier = [a for a, side in marked if side == "baseline"]
    if current:
        text += " D" + during(current)[1:] + "."
    if earlier:
        text += f" The baseline ({baseline_name}) was {during(earlier)}."
    return replace(e, annotations=tuple(marked), summary=text)
