"""Scores kept between monitor passes (alerts/kept_scores.py) are exactly `score_series`'s: the
same list of scores when computed and when read back by another pass, for messy series (zeros,
gaps, closures, spikes, NaN) with and without sizes and domains."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from northstar.alerts.detect import score_series
from northstar.alerts.kept_scores import KeptScores
from northstar.analysis.domain import Domain
from northstar.engine.cache import ResultCache
from northstar.spec.load import parse_spec

SPEC = """\
project: Kept
sources: {events: {path: e.parquet, timestamp: ts}}
metrics: {n: {source: events, agg: count}}
north_star: {metric: n, grain: week}
"""


def same(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for field in x.__dataclass_fields__:
            u, v = getattr(x, field), getattr(y, field)
            if isinstance(u, float) and math.isnan(u):
                if not (isinstance(v, float) and math.isnan(v)):
                    return False
            elif u != v or type(u) is not type(v) and not isinstance(u, float):
                return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.integers(0, 50).map(float), st.just(float("nan")),
                                  st.floats(0, 1e6, allow_nan=False)), min_size=4, max_size=60),
       sized=st.booleans(), count=st.booleans(), grain=st.sampled_from(["week", "month"]))
def test_kept_scores_equal_score_series(tmp_path: Path, values: list[float], sized: bool, count: bool,
                                        grain: str) -> None:
    spec = parse_spec(SPEC).spec
    index = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(len(values))]
    series = pd.Series(values, index=index)
    sizes = pd.Series([abs(v) * 3 + 1 for v in range(len(values))], index=index) if sized else None
    domain = Domain("count", 0.0) if count else None
    args = (grain, None, index[len(index) // 2], 4.0)
    want = score_series(series, *args, zeros=False, domain=domain, sizes=sizes)
    folder = tmp_path / f"kept{abs(hash((tuple(map(str, values)), sized, count, grain)))}"
    first = KeptScores(ResultCache(folder, spec, tmp_path), "segments")
    assert same(first.score(series, *args, zeros=False, domain=domain, sizes=sizes), want)
    first.save()
    again = KeptScores(ResultCache(folder, spec, tmp_path), "segments")
    assert again.known  # read back from the folder
    assert same(again.score(series, *args, zeros=False, domain=domain, sizes=sizes), want)
    changed = series.copy()
    changed.iloc[-1] = (0.0 if changed.iloc[-1] != 0 else 1.0)
    assert same(again.score(changed, *args, zeros=False, domain=domain, sizes=sizes),
                score_series(changed, *args, zeros=False, domain=domain, sizes=sizes))
