"""Expected annotations (a planned campaign, a known closure) and the alerts.

An annotation marked `expected` and about everyone (no `where`) covers a metric (all, or those
it lists) in each period of the North Star's grain it has a day in. `monitor` then:
- raises no anomaly (nor segment) alert for that metric in those periods: the alert is
  `silenced`, and `--dry-run`/`--format json` say by which annotation;
- leaves those periods out of the history the anomaly model learns from (`without`), so the
  weeks after a closure are not judged against a closure.
Which periods an expected annotation covers is `analysis.expected`'s, shared with every
forecast (the overview's band, `targets`' trends, the target and focus projections here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from northstar.analysis.expected import covering, expected_annotations, without
from northstar.analysis.periods import last_day
from northstar.spec.annotations import Annotation

SILENCED_KINDS = ("anomaly", "segment")
__all__ = ["SILENCED_KINDS", "Silenced", "covering", "expected_annotations", "silence", "with_during", "without"]


@dataclass(frozen=True)
class Silenced:
    """An alert an expected annotation kept from being raised."""

    alert: Any  # `Alert`
    annotation: Annotation

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.alert.key, "kind": self.alert.kind, "metric": self.alert.metric,
                "period": self.alert.period.isoformat(), "title": self.alert.title,
                "annotation": self.annotation.id, "annotation_title": self.annotation.title,
                "during": self.annotation.words()}


def silence(project: Any, alerts: list[Any], annotations: Sequence[Annotation]) -> tuple[list[Any], list[Silenced]]:
    """(the alerts kept, those an expected annotation silences)."""
    grain = project.spec.north_star.grain
    kept: list[Any] = []
    silenced: list[Silenced] = []
    for alert in alerts:
        found = covering(annotations, alert.metric, alert.period, grain) if alert.kind in SILENCED_KINDS else None
        if found is None:
            kept.append(alert)
        else:
            silenced.append(Silenced(alert, found))
    return kept, silenced


def with_during(project: Any, alerts: list[Any]) -> list[Any]:
    """Each alert with `during: <title>, <date>` among its reasons when annotations about its
    metric overlap its period (a release, an outage): the message then names them."""
    from dataclasses import replace

    from northstar.spec.annotations import during

    try:
        found = project.annotations()
    except Exception:  # noqa: BLE001 - an unreadable annotations file must not stop the alerts
        return alerts
    if not found:
        return alerts
    grain = project.spec.north_star.grain
    out = []
    for alert in alerts:
        end = last_day(alert.period, grain)
        near = [a for a in found if a.covers(alert.metric) and a.overlaps(alert.period, end)]
        out.append(replace(alert, why=(*alert.why, during(near))) if near else alert)
    return out
