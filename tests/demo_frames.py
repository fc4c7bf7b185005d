"""The default demo's events as pandas frames, and small helpers, shared by the demo tests
(`test_demo_generator.py`, `test_demo_realism.py`). Plain pandas: nothing here calls the
engine, so the tests compare the generator with an independent count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from northstar.demo import (
    DEMO_START,
    DEMO_WEEKS,
    INCIDENTS_BY_NAME,
    Incident,
    generate_events,
    generate_marketing_spend,
)

# The pipeline went live on Wednesday 2024-11-06 09:00 and the data was exported on Thursday
# 2026-11-05 at noon (Amsterdam): the first and the last of the 105 weeks are partial.
DEMO_FIRST, DEMO_END = date(2024, 11, 6), date(2026, 11, 5)
LAST_COMPLETE_WEEK = date(2026, 10, 26)
CLOSURE = INCIDENTS_BY_NAME["christmas_closure"]


# Fixtures registered under short names: a test module imports the `*_fixture` functions once and
# its tests take `events`, `plays`, ... as parameters without shadowing an import.
@pytest.fixture(scope="module", name="events_table")
def events_table_fixture() -> pa.Table:
    return generate_events(5000, seed=42)


@pytest.fixture(scope="module", name="events")
def events_fixture(events_table: pa.Table) -> pd.DataFrame:
    """The default demo's events with the local (Europe/Amsterdam) week index added."""
    frame = events_table.to_pandas()
    local_day = frame["ts"].dt.tz_convert("Europe/Amsterdam").dt.tz_localize(None).dt.normalize()
    frame["day"] = local_day
    frame["week"] = (local_day - pd.Timestamp(DEMO_START)).dt.days // 7
    return frame


@pytest.fixture(scope="module", name="plays")
def plays_fixture(events: pd.DataFrame) -> pd.DataFrame:
    return events[events["event"] == "song_play"]


@pytest.fixture(scope="module", name="spend")
def spend_fixture() -> pd.DataFrame:
    frame = generate_marketing_spend(5000, seed=42).to_pandas()
    frame["week"] = (pd.to_datetime(frame["date"]) - pd.Timestamp(DEMO_START)).dt.days // 7
    return frame


def incident_weeks(incident: Incident) -> list[int]:
    first = (incident.start - DEMO_START).days // 7
    return list(range(first, first + incident.weeks))


def around(series: pd.Series, weeks: list[int], k: int = 3) -> float:
    """Mean of the ``k`` weeks before and the ``k`` weeks after an incident."""
    index = [*range(weeks[0] - k, weeks[0]), *range(weeks[-1] + 1, weeks[-1] + 1 + k)]
    return float(series.reindex(index, fill_value=0).mean())


def relative_change(series: pd.Series, weeks: list[int], k: int = 3) -> float:
    """Incident weeks against the weeks around them."""
    return float(series.reindex(weeks, fill_value=0).mean()) / around(series, weeks, k) - 1


def in_segment(frame: pd.DataFrame, incident: Incident) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for dimension, value in incident.segment.items():
        mask &= frame[dimension] == value
    return mask


def weekly(frame: pd.DataFrame, how: Callable[[pd.core.groupby.DataFrameGroupBy], pd.Series]) -> pd.Series:
    return how(frame.groupby("week")).reindex(range(DEMO_WEEKS), fill_value=0)


def minutes_per_listener(frame: pd.DataFrame) -> pd.Series:
    grouped = frame.groupby("week")
    return grouped["duration_s"].sum() / 60 / grouped["user_id"].nunique()


def near_duplicate(frame: pd.DataFrame) -> pd.Series:
    """Plays that follow another play of the same user within 2 seconds."""
    ordered = frame.sort_values(["user_id", "ts"])
    gap = ordered["ts"].diff().dt.total_seconds()
    same_user = ordered["user_id"].eq(ordered["user_id"].shift())
    return (same_user & (gap <= 2.0)).reindex(frame.index)
