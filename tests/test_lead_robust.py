"""`lead` on real-world series: a closed week (a zero) and a payment outage (zero, then a catch-up
week at double) must not hide a lead the rest of the data shows (the demo's listening leads its
revenue by two weeks; the old growth turned the whole series into plain differences at the
first zero and let one catch-up week decide the correlation)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from northstar.analysis.lead import growth, lead


def _pair(seed: int, closure: bool, outage: bool) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    n = 100
    shocks = rng.normal(0, 0.05, n + 2)
    x = 10_000 * np.exp(np.cumsum(shocks))[2:]
    y = 800 * np.exp(np.cumsum(shocks)[:-2] + rng.normal(0, 0.02, n))  # follows x two periods later
    if closure:
        x[60] = 0.0
    if outage:
        y[40], y[41] = 0.0, 2 * y[41]
    return pd.Series(x), pd.Series(y)


def test_a_closed_week_and_an_outage_do_not_hide_the_lead() -> None:
    found = [lead(*_pair(seed, True, True), 8) for seed in range(20)]
    assert sum(f is not None and f.leads() and f.lag == 2 for f in found) >= 19


def test_clean_series_keep_their_log_growth() -> None:
    x, _y = _pair(3, False, False)
    assert np.allclose(growth(x).dropna(), np.log(x).diff().dropna())


def test_a_zero_has_no_growth_into_or_out_of_it() -> None:
    x, _y = _pair(4, True, False)
    g = growth(x)
    assert np.isnan(g[60]) and np.isnan(g[61])
    assert np.isfinite(g.drop([0, 60, 61])).all()
