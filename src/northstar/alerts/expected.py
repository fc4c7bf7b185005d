"""Expected annotations (a planned campaign, a known closure) and the alerts.

An annotation marked `expected` and about everyone (no `where`) covers a metric (all, or those
it lists) in each period of the North Star's grain it has a day in. `monitor` then:
- raises no anomaly (nor segment) alert for that metric in those periods: the alert is
  `silenced`, and `--dry-run`/`--format json` say by which annotation;
- leaves those periods out of the history the anomaly model learns from (`without`), so the
  weeks after a closure are not judged against a closure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from northstar.analysis.periods import last_day
from northstar.spec.annotations import Annotation

SILENCED_KINDS = ("anomaly", "segment")
log = logging.getLogger("northstar.alerts.expected")


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


def expected_annotations(project: Any) -> list[Annotation]:
    """The expected annotations about everyone (those for one segment silence nothing on the total)."""
    try:
        return [a for a in project.annotations() if a.expected and a.where is None]
    except Exception as exc:  # noqa: BLE001 - an unreadable annotations file must not stop the alerts
        log.warning("alerts: annotations not read, none silences an alert: %s", str(exc).splitlines()[0])
        return []


def covering(annotations: Sequence[Annotation], metric: str, period: dt.date, grain: str) -> Annotation | None:
    """The first expected annotation about `metric` with a day in the period starting `period`."""
    end = last_day(period, grain)
    return next((a for a in annotations if a.covers(metric) and a.overlaps(period, end)), None)


def without(series: pd.Series, annotations: Sequence[Annotation], metric: str, grain: str,
            before: dt.date) -> pd.Series:
    """`series` with the periods before `before` that an expected annotation covers as missing
    (the anomaly model skips missing periods: they are neither history nor judged)."""
    if not annotations or not len(series):
        return series
    hidden = [p < before and covering(annotations, metric, p, grain) is not None for p in series.index]
    if not any(hidden):
        return series
    out = series.copy()
    out[np.array(hidden)] = np.nan
    return out


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
