"""The property tests of `test_properties.py` on every other engine: the same random event
tables, the same specs with only an `engine:` block added, the same brute-force reference.

Each property runs with fewer examples than on DuckDB (a Spark query costs about a second,
and every example runs each grain); NORTHSTAR_PROPERTY_SCALE scales them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import test_properties as props

pytestmark = pytest.mark.engines

# examples per property on each engine (DuckDB runs 25-50 in test_properties.py)
EXAMPLES = {"clickhouse": 15, "postgres": 15, "pyspark": 10}
PROPERTIES = [
    props.test_aggregate_metrics, props.test_cumulative_metrics, props.test_retention, props.test_conversion,
    props.test_formulas_and_mixed_kinds, props.test_same_answer_whatever_the_timestamp_encoding,
    props.test_compare_columns,
]


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def engine(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    kind = request.param
    if kind == "postgres":
        block = {"type": "postgres", "url": request.getfixturevalue("postgres_server").url}
    elif kind == "pyspark":
        block = {"type": "pyspark", "master": "local[2]"}
    else:
        block = {"type": kind}
    yield block


@pytest.mark.parametrize("prop", PROPERTIES, ids=[p.__name__.removeprefix("test_") for p in PROPERTIES])
def test_property_on_engine(engine: dict[str, Any], prop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(props, "ENGINE", {**engine, "cache": False})
    inner = prop.hypothesis.inner_test
    runs = props.examples(EXAMPLES[engine["type"]])
    phases = [p for p in Phase if p is not Phase.shrink] if os.environ.get("NORTHSTAR_NO_SHRINK") else list(Phase)
    settings(max_examples=runs, database=None, phases=phases, **props.SETTINGS)(given(st.data())(inner))()


def test_output_shape_on_engine(engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(props, "ENGINE", {**engine, "cache": False})
    props.test_output_shape()
