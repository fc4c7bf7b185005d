"""The dashboard's JSON API on every engine: the same spec, switched only in its `engine:`
block, answers the same JSON as on DuckDB (floats to a relative 1e-9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engines.parity import assert_same, build, unordered

from northstar.web import create_app

pytestmark = pytest.mark.engines

ROUTES = [
    "/api/metrics",
    "/api/series?metrics=listening_minutes,active_listeners,listener_retention&grain=week&by=level",
    "/api/tree",
    "/api/explain",
    "/api/checks",
    "/api/funnel",
    "/api/cohorts?metric=active_listeners&grain=week",
    "/api/guardrails",
    "/api/overview",
]


@pytest.fixture(scope="module", params=["clickhouse", "postgres", "pyspark"])
def clients(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    kind = request.param
    engine: dict[str, Any] = {"type": kind}
    if kind == "postgres":
        engine["url"] = request.getfixturevalue("postgres_server").url
    if kind == "pyspark":
        engine["master"] = "local[2]"
    root = tmp_path_factory.mktemp(f"web-{kind}")
    spec_duck = build("sparkify", root / "duckdb", {"type": "duckdb"})
    spec_other = build("sparkify", root / kind, engine)
    with TestClient(create_app(spec_duck)) as duck, TestClient(create_app(spec_other)) as other:
        yield kind, duck, other, (root / "duckdb", root / kind)


def _portable(body: str, folders: tuple[Path, Path]) -> Any:
    for folder in folders:
        body = body.replace(str(folder), "<spec>")
    return unordered(json.loads(body))


@pytest.mark.parametrize("route", ROUTES)
def test_the_api_answers_as_on_duckdb(clients, route: str) -> None:  # noqa: ANN001
    kind, duck, other, folders = clients
    want, got = duck.get(route), other.get(route)
    assert want.status_code == 200, want.text
    assert got.status_code == 200, f"{kind}: {got.text}"
    assert_same(_portable(got.text, folders), _portable(want.text, folders), f"{kind} {route}")
