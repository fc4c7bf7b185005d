"""A metric's series scored with what the metric can be: its domain and, per period, what
its counting noise is counted over (`northstar.domains`), by the detector (`alerts.detect`,
a pure function of a series)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from northstar.alerts.detect import DEFAULT_SENSITIVITY, Score, score_series
from northstar.domains import metric_domain, metric_sizes
from northstar.errors import NorthstarError


def score_metric(project: Any, metric: str, series: pd.Series, min_history: int | None = None,
                 start: dt.date | None = None, sensitivity: float = DEFAULT_SENSITIVITY) -> list[Score]:
    """`score_series` of a metric's series at the North Star's grain, in its domain and with its
    counting noise. When the engine cannot say (a probe fails), the series is scored with the
    domain its values show (>= 0 when none is negative) and no sizes."""
    grain = project.spec.north_star.grain
    try:
        domain = metric_domain(project, metric)
        sizes = metric_sizes(project, metric, domain, list(series.index))
    except NorthstarError:
        domain, sizes = None, None
    return score_series(series, grain, min_history, start, sensitivity, domain=domain, sizes=sizes)
