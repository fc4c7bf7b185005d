"""The tree for one segment (`--where "country = 'DE'"`) is the tree of a copy of the data holding
only that segment: every node, its value and previous value, on DuckDB and ClickHouse (chdb),
for the demo and a generated dataset. A source without the dimension is refused, never shown
whole inside a segment's tree; filtered and whole answers never share a cache entry."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from northstar import Project
from northstar.errors import QueryError

ENGINES = ["duckdb", pytest.param("clickhouse", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("chdb") is None, reason="chdb not installed"))]

GENERATED_SPEC = """\
project: Generated
timezone: UTC
engine: {{type: {engine}}}
sources:
  orders:
    path: data/orders.parquet
    timestamp: ts
    entity: user_id
    key: order_id
    dimensions: [country, platform]
  spend:
    path: data/spend.parquet
    timestamp: day
    dimensions: [country]
metrics:
  revenue: {{source: orders, agg: sum, expr: amount}}
  buyers: {{source: orders, agg: count_distinct}}
  orders: {{source: orders, agg: count}}
  revenue_per_buyer: {{formula: revenue / buyers}}
  orders_per_buyer: {{formula: orders / buyers}}
  avg_order: {{formula: revenue / orders}}
  ad_spend: {{source: spend, agg: sum, expr: cost}}
  return_on_spend: {{formula: revenue / ad_spend}}
north_star:
  metric: return_on_spend
  grain: week
  tree:
    return_on_spend: {{formula: revenue / ad_spend, owner: Growth}}
    revenue: {{formula: buyers * revenue_per_buyer}}
    revenue_per_buyer: {{formula: orders_per_buyer * avg_order}}
"""

FILTER = "country = 'DE'"


def _generated(folder: Path, engine: str, seed: int) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 6)
    orders = [{"order_id": i, "user_id": rng.randrange(60), "ts": start + dt.timedelta(minutes=rng.randrange(70 * 1440)),
               "amount": round(rng.uniform(1, 90), 2), "country": rng.choice(["DE", "NL", "FR", None]),
               "platform": rng.choice(["ios", "android"])} for i in range(1500)]
    spend = [{"day": (start + dt.timedelta(days=d)).date(), "country": c, "cost": round(rng.uniform(5, 50), 2)}
             for d in range(70) for c in ("DE", "NL", "FR") if rng.random() < 0.8]
    (folder / "data").mkdir(parents=True)
    pd.DataFrame(orders).to_parquet(folder / "data" / "orders.parquet")
    pd.DataFrame(spend).to_parquet(folder / "data" / "spend.parquet")
    (folder / "northstar.yml").write_text(GENERATED_SPEC.format(engine=engine), encoding="utf-8")


def _demo(folder: Path, engine: str) -> None:
    from northstar.demo import generate_demo

    generate_demo(folder, users=400, seed=7)
    spec = folder / "northstar.yml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("  type: duckdb", f"  type: {engine}"), encoding="utf-8")


def _filtered_copy(folder: Path, target: Path) -> Path:
    """The project with every data file cut to the rows of DE (a `sql:` source reads the cut files)."""
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".northstar"))
    for path in (target / "data").glob("*.parquet"):
        frame = pd.read_parquet(path)
        frame[frame["country"] == "DE"].reset_index(drop=True).to_parquet(path)
    return target / "northstar.yml"


def _nodes(node: dict[str, Any], out: dict[str, tuple[Any, Any]] | None = None) -> dict[str, tuple[Any, Any]]:
    out = {} if out is None else out
    out[node["metric"]] = (node["value"], node["previous"])
    for child in node["children"]:
        _nodes(child, out)
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _assert_equal_trees(whole: Project, folder: Path, tmp_path: Path) -> None:
    segment = whole.where(FILTER)
    got = segment.tree()
    assert got.where == FILTER and got.period == whole.tree().period  # the same review period as the whole
    expected = Project.load(_filtered_copy(folder, tmp_path / "filtered")).tree(got.period)
    mine, theirs = _nodes(got.to_dict()["root"]), _nodes(expected.to_dict()["root"])
    assert mine.keys() == theirs.keys()
    for metric in mine:
        for a, b in zip(mine[metric], theirs[metric]):
            assert _same(a, b), (metric, mine[metric], theirs[metric])
    assert any(_nodes(whole.tree().to_dict()["root"])[m] != mine[m] for m in mine)  # the filter did something


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", [1, 2])
def test_generated_tree_for_a_segment_equals_the_tree_of_its_rows(tmp_path: Path, engine: str, seed: int) -> None:
    folder = tmp_path / "project"
    _generated(folder, engine, seed)
    _assert_equal_trees(Project.load(folder / "northstar.yml"), folder, tmp_path)


@pytest.mark.parametrize("engine", ENGINES)
def test_demo_tree_for_a_segment_equals_the_tree_of_its_rows(tmp_path: Path, engine: str) -> None:
    folder = tmp_path / "demo"
    _demo(folder, engine)
    _assert_equal_trees(Project.load(folder / "northstar.yml"), folder, tmp_path)


def test_a_source_without_the_dimension_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    _generated(folder, "duckdb", 3)
    project = Project.load(folder / "northstar.yml")
    with pytest.raises(QueryError) as caught:
        project.where("platform = 'ios'").tree()
    message = str(caught.value)
    assert "'platform' is not a dimension of source 'spend'" in message and "ad_spend" in message
    assert "\n" not in message
    with pytest.raises(QueryError, match="--where: 'platfrom' is not a dimension of any source. Did you mean 'platform'"):
        project.where("platfrom = 'ios'")


def test_filtered_and_whole_answers_never_share_a_stored_result(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    _generated(folder, "duckdb", 4)
    spec = folder / "northstar.yml"
    whole = Project.load(spec).tree().to_dict()["root"]
    segment = Project.load(spec).where(FILTER).tree().to_dict()["root"]
    assert _nodes(whole) != _nodes(segment)
    assert any((folder / ".northstar").rglob("*.result"))  # the results were stored
    for _ in range(2):  # read back from the stored results, in either order
        assert _nodes(Project.load(spec).where(FILTER).tree().to_dict()["root"]) == _nodes(segment)
        assert _nodes(Project.load(spec).tree().to_dict()["root"]) == _nodes(whole)


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", "-f", str(folder / "northstar.yml"), *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_where_is_named_in_every_output(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    _generated(folder, "duckdb", 5)
    text = _cli(folder, "tree", "--where", FILTER)
    assert text.returncode == 0, text.stderr
    assert f"for {FILTER}" in text.stdout.splitlines()[0]
    data = json.loads(_cli(folder, "tree", "--where", FILTER, "--format", "json").stdout)
    assert data["where"] == FILTER
    assert data["period"] == json.loads(_cli(folder, "tree", "--format", "json").stdout)["period"]
    explained = json.loads(_cli(folder, "explain", "--where", FILTER, "--format", "json").stdout)
    assert explained["where"] == FILTER and explained["summary"].startswith(f"For {FILTER}:")
    bad = _cli(folder, "tree", "--where", "platform = 'ios'")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "--where: 'platform' is not a dimension of source 'spend'" in bad.stderr


def test_api_where_on_tree_explain_funnel_targets(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from northstar.web import create_app

    folder = tmp_path / "project"
    _generated(folder, "duckdb", 6)
    client = TestClient(create_app(folder / "northstar.yml"), raise_server_exceptions=False)
    whole = client.get("/api/tree").json()
    got = client.get("/api/tree", params={"where": FILTER})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["where"] == FILTER and whole["where"] is None and body["period"] == whole["period"]
    expected = Project.load(folder / "northstar.yml").where(FILTER).tree().to_dict()
    assert _nodes(body["root"]) == _nodes(expected["root"])
    assert _nodes(client.get("/api/tree").json()["root"]) == _nodes(whole["root"])  # memo keyed by the filter
    explained = client.get("/api/explain", params={"where": FILTER})
    assert explained.status_code == 200 and explained.json()["where"] == FILTER
    unknown = client.get("/api/tree", params={"where": "contry = 'DE'"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["parameter"] == "where"
    assert "'contry' is not a dimension of any source. Did you mean 'country'" in unknown.json()["error"]["message"]
    refused = client.get("/api/tree", params={"where": "platform = 'ios'"})
    assert refused.status_code == 400, refused.text
    assert "'platform' is not a dimension of source 'spend'" in json.dumps(refused.json())
