"""Scores of series kept between monitor passes.

A monitor pass scores every segment's series (hundreds of them: each dimension's values and
pairs), each over its whole history, in Python: ~5 s a pass whatever the data's size. Scoring
reads complete periods only, so a new day of the current period changes none of those series,
and a new period changes each at its end. `score_series` is a function of its inputs alone:
this keeps its answers in the result folder under a digest of the inputs (values, periods,
sizes, domain and settings), one entry per pass, and scores only the series not seen before.
Entries are JSON (floats written exactly, NaN and infinities included), sealed like every
result; a pass keeps the answers it used, so the entry does not grow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from northstar.alerts.detect import Score, score_series


class KeptScores:
    def __init__(self, results: Any, name: str) -> None:
        self.results = results  # a ResultCache, or None (nothing kept)
        self.key = results.hashed("scores", name) if results is not None else None
        self.known: dict[str, list[dict[str, Any]]] = {}
        self.used: dict[str, list[dict[str, Any]]] = {}
        if self.key is not None:
            payload = results.get_bytes(self.key)
            try:
                self.known = json.loads(payload) if payload else {}
            except ValueError:
                self.known = {}

    def score(self, series: pd.Series, grain: str, *args: Any, **kwargs: Any) -> list[Score]:
        digest = _digest(series, grain, args, kwargs)
        found = self.known.get(digest)
        if found is None:
            found = [_plain(s) for s in score_series(series, grain, *args, **kwargs)]
        self.used[digest] = found
        return [_score(s) for s in found]

    def save(self) -> None:
        if self.key is not None and self.used != self.known:
            self.results.put_bytes(self.key, json.dumps(self.used).encode())


def _digest(series: pd.Series, grain: str, args: tuple, kwargs: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([grain, [str(p) for p in series.index]]).encode())
    h.update(series.to_numpy(dtype=float).tobytes())
    sizes = kwargs.get("sizes")
    if sizes is not None:
        h.update(json.dumps([str(p) for p in sizes.index]).encode())
        h.update(np.asarray(sizes.to_numpy(dtype=float)).tobytes())
    rest = {k: v for k, v in kwargs.items() if k != "sizes"}
    h.update(repr((args, sorted(rest.items()))).encode())
    return h.hexdigest()


def _plain(score: Score) -> dict[str, Any]:
    out = dataclasses.asdict(score)
    out["period"] = score.period.isoformat()
    return out


def _score(found: dict[str, Any]) -> Score:
    return Score(**{**found, "period": dt.date.fromisoformat(found["period"])})
