"""Expected annotations (a planned campaign, a known closure) and the numbers that learn from
the past: one rule for every trend, forecast and anomaly model.

An annotation marked `expected` and about everyone (no `where`) covers a metric (all, or those
it lists) in each period of the grain it has a day in. Those periods are no history: the
anomaly model (`alerts`), the overview's forecast band, `targets`' trends and the target and
focus projections leave them out (missing values keep their place in a series, so a trend's
time axis is unchanged). The value seen in a period is never hidden: only what is learned
from the periods before the one judged or projected from.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from northstar.analysis.periods import last_day
from northstar.spec.annotations import Annotation

log = logging.getLogger("northstar.analysis.expected")


def expected_annotations(project: Any) -> list[Annotation]:
    """The expected annotations about everyone (those for one segment silence nothing on the total)."""
    try:
        return [a for a in project.annotations() if a.expected and a.where is None]
    except Exception as exc:  # noqa: BLE001 - an unreadable annotations file must not stop the alerts
        log.warning("annotations not read: none silences an alert or is left out of a trend: %s", str(exc).splitlines()[0])
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
    hidden = left_out(annotations, metric, list(series.index), grain, before)
    if not any(hidden):
        return series
    out = series.copy()
    out[np.array(hidden)] = np.nan
    return out


def left_out(annotations: Sequence[Annotation], metric: str, periods: Sequence[dt.date], grain: str,
             before: dt.date | None = None) -> list[bool]:
    """For each period, whether a trend leaves it out: an expected annotation covers `metric`
    in it (and it is before `before`, when given)."""
    return [(before is None or p < before) and covering(annotations, metric, p, grain) is not None
            for p in periods]
