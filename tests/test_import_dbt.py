"""`northstar import dbt`, proved against MetricFlow itself.

tests/dbt_olist is a real dbt project over the Olist data (semantic models; simple, filtered,
ratio, derived, cumulative and conversion metrics, and some Northstar cannot express). It is
built once with real dbt-core and dbt-duckdb into a DuckDB file; the spec `northstar import
dbt` writes from it is queried with Northstar at day, week and month grain, with and without a
breakdown, and every value is compared with what MetricFlow's own CLI (`mf query`) returns
on the same file. dbt and mf live in .venv-dbt (scripts/dbt-venv.sh; scripts/test.sh runs it,
and so does this file when the environment is missing: these tests never skip).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from ruamel.yaml import YAML

from conftest import DATASETS, ROOT
from northstar.importers import DbtProjectError, import_dbt
from northstar.project import Project

PROJECT = ROOT / "tests" / "dbt_olist"
DBT_BIN = ROOT / ".venv-dbt" / "bin"
GRAINS = ("day", "week", "month")
# Metrics compared with MetricFlow: (metrics, MetricFlow's group-by, Northstar's breakdown column).
GROUPS = (
    (("orders", "buyers", "delivered_orders", "delivery_rate"), "order__customer_state", "customer_state"),
    (("revenue", "freight", "average_item_price", "max_item_price", "min_item_price", "sellers", "expensive_items",
      "health_beauty_revenue", "freight_share", "revenue_per_seller", "cumulative_revenue"),
     "order_item__product_category", "product_category"),
    (("payments", "credit_card_share"), "payment__payment_type", "payment_type"),
    (("delivery_conversion",), "order__customer_state", "customer_state"),  # by the purchase's state
)
CUMULATIVE = {"cumulative_revenue"}
NOT_IMPORTED = {"revenue_growth", "revenue_7d", "revenue_mtd", "delivered_in_week_count", "same_order_delivery",
                "median_item_price", "last_day_installments"}


@dataclass(frozen=True)
class Built:
    project: Path  # a copy of tests/dbt_olist, built
    database: Path
    env: dict[str, str]


def _dbt_env() -> None:
    """Install .venv-dbt when it is missing (the pinned dbt, dbt-duckdb and MetricFlow)."""
    if not (DBT_BIN / "mf").exists() or not (DBT_BIN / "dbt").exists():
        subprocess.run([str(ROOT / "scripts" / "dbt-venv.sh")], check=True, timeout=900)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    _dbt_env()
    base = tmp_path_factory.mktemp("dbt")
    project = base / "olist"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb", "dbt_packages"))
    database = base / "olist.duckdb"
    env = {**os.environ, "NORTHSTAR_OLIST_DIR": str(DATASETS / "olist"), "NORTHSTAR_DBT_DB": str(database),
           "DBT_PROFILES_DIR": str(project), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    result = subprocess.run([str(DBT_BIN / "dbt"), "build"], cwd=project, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Built(project, database, env)


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="session")
def imported(built: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("spec")
    result = _cli(folder, built.env, "import", "dbt", str(built.project))
    assert result.returncode == 0, result.stderr
    return folder / "northstar.yml", result.stdout


def _mf(built: Built, metrics: tuple[str, ...], group_by: list[str], out: Path) -> pd.DataFrame:
    result = subprocess.run([str(DBT_BIN / "mf"), "query", "--metrics", ",".join(metrics), "--group-by",
                             ",".join(group_by), "--csv", str(out)], cwd=built.project, env=built.env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and out.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return pd.read_csv(out, keep_default_na=False, na_values=[""])


def _queries() -> list[tuple[int, str, str | None, str | None]]:
    return [(group, grain, *by) for group, (_m, mf_dim, ns_dim) in enumerate(GROUPS) for grain in GRAINS
            for by in ((None, None), (mf_dim, ns_dim)) if by == (None, None) or mf_dim]


@pytest.fixture(scope="session")
def metricflow(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, str, str | None], pd.DataFrame]:
    """Every MetricFlow answer, asked before this process opens the DuckDB file (a DuckDB file
    has one writer: mf cannot open it while a Northstar connection holds it)."""
    out = tmp_path_factory.mktemp("mf")
    return {(group, grain, mf_dim): _mf(built, GROUPS[group][0], [f"metric_time__{grain}", *([mf_dim] if mf_dim else [])],
                                        out / f"{group}-{grain}-{mf_dim}.csv")
            for group, grain, mf_dim, _ns in _queries()}


def _close(ours: object, theirs: object) -> bool:
    a = None if ours is None or (isinstance(ours, float) and math.isnan(ours)) else float(ours)  # type: ignore[arg-type]
    b = None if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)) else float(theirs)  # type: ignore[arg-type]
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def test_import_writes_a_valid_spec_and_lists_what_it_left_out(built: Built, imported: tuple[Path, str],
                                                               metricflow: dict[tuple[int, str, str | None], pd.DataFrame]) -> None:
    spec, output = imported
    project = Project.load(spec)
    assert project.spec.engine.type == "duckdb"
    assert Path(spec.parent, project.spec.engine.database).resolve() == built.database.resolve()
    imported_names = {name for group in GROUPS for name in group[0]}
    assert imported_names <= set(project.spec.metrics)
    assert not NOT_IMPORTED & set(project.spec.metrics)
    for name in NOT_IMPORTED:  # each listed, with its reason, on its own line
        assert f"metric '{name}': " in output, output
    assert "dimension 'orders.is_delivered'" in output
    assert "window (7 day)" in output and "grain-to-date (month)" in output and "non-additive" in output
    assert "constant properties" in output and "offset (1 week)" in output and "median" in output
    assert project.spec.north_star.metric == "orders"  # the placeholder, marked as one in a comment
    assert "Placeholder North Star" in spec.read_text(encoding="utf-8")
    validate = _cli(spec.parent, built.env, "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr


@pytest.mark.parametrize("group", range(len(GROUPS)), ids=[g[0][0] for g in GROUPS])
def test_every_imported_metric_equals_metricflow(imported: tuple[Path, str], group: int,
                                                 metricflow: dict[tuple[int, str, str | None], pd.DataFrame]) -> None:
    metrics, mf_dim, ns_dim = GROUPS[group]
    project = Project.load(imported[0])
    compared = 0
    for grain in GRAINS:
        for by in ((None, None), (mf_dim, ns_dim)) if mf_dim else ((None, None),):
            theirs = metricflow[(group, grain, by[0])]
            ours = project.query(list(metrics), grain=grain, by=[by[1]] if by[1] else [])
            ours["period"] = pd.to_datetime(ours["period"]).dt.date
            keys = ["period", *([by[1]] if by[1] else [])]
            ours_by_key = ours.set_index(keys)
            assert len(theirs) > 0
            for row in theirs.itertuples(index=False):
                record = row._asdict()
                period = pd.Timestamp(record[f"metric_time__{grain}"]).date()
                key = (period, str(record[by[0]])) if by[0] else period
                if key not in ours_by_key.index:
                    # MetricFlow carries a running total along its time spine past the data's last
                    # event; Northstar's series ends with the data. Nothing else may be missing.
                    assert all(pd.isna(record[m]) for m in metrics if m not in CUMULATIVE), \
                        f"{grain} {by[1]}: MetricFlow has {key}, Northstar does not"
                    continue
                mine = ours_by_key.loc[key]
                for metric in metrics:
                    expected, got = record[metric], mine[metric]
                    if pd.isna(expected) and not pd.isna(got) and got == 0:
                        continue  # MetricFlow leaves a segment without rows empty; Northstar counts 0 there
                    assert _close(got, expected), (f"{metric} at {grain} by {by[1]} in {key}: Northstar {got}, "
                                                   f"MetricFlow {expected}")
                    compared += 1
            # And Northstar has nothing MetricFlow lacks, but the empty periods it fills with 0 / null
            # (and running totals, which carry on through them).
            theirs_keys = {(pd.Timestamp(r[f"metric_time__{grain}"]).date(), str(r[by[0]])) if by[0]
                           else pd.Timestamp(r[f"metric_time__{grain}"]).date() for r in theirs.to_dict("records")}
            extra = ours_by_key.loc[[k for k in ours_by_key.index if k not in theirs_keys]]
            for metric in metrics:
                if metric not in CUMULATIVE:
                    assert extra[metric].fillna(0).eq(0).all(), f"{metric} at {grain}: values where MetricFlow has none"
    print(f"{', '.join(metrics)}: {compared} values equal to MetricFlow's")
    assert compared > 0


def test_reimport_keeps_the_teams_additions(built: Built, tmp_path: Path) -> None:
    spec = tmp_path / "northstar.yml"
    import_dbt(built.project, spec)
    yaml = YAML()
    doc = yaml.load(spec.read_text(encoding="utf-8"))
    # What a team adds: a chosen North Star with its tree, focus, a guardrail, its own metric,
    # comments; and an edit to an imported metric (which the import owns and restores).
    doc["north_star"] = {"metric": "delivered_orders", "grain": "month",
                         "customer_value": "Buyers get what they ordered, quickly",
                         "tree": {"delivered_orders": {"formula": "orders * delivery_rate"}}}
    doc["focus"] = [{"team": "Logistics", "metric": "delivery_conversion", "target": 0.5}]
    doc["guardrails"] = [{"metric": "credit_card_share", "min": 0.5}]
    doc["metrics"]["big_orders"] = {"source": "payments", "where": "payment_value > 500", "agg": "count"}
    doc["metrics"]["revenue"]["label"] = "Changed by hand"
    text = spec.read_text(encoding="utf-8")
    with spec.open("w", encoding="utf-8") as handle:
        yaml.dump(doc, handle)
    text = spec.read_text(encoding="utf-8").replace("focus:", "# Logistics owns this quarter\nfocus:")
    spec.write_text(text, encoding="utf-8")

    result = import_dbt(built.project, spec)
    assert not result.created
    after = spec.read_text(encoding="utf-8")
    assert "# Logistics owns this quarter" in after
    loaded = Project.load(spec).spec
    assert loaded.north_star.metric == "delivered_orders" and loaded.north_star.grain == "month"
    assert loaded.north_star.customer_value == "Buyers get what they ordered, quickly"
    assert "delivered_orders" in loaded.north_star.tree
    assert loaded.focus[0].team == "Logistics" and loaded.guardrails[0].metric == "credit_card_share"
    assert "big_orders" in loaded.metrics
    assert loaded.metrics["revenue"].label == "Revenue"  # the imported part is dbt's again
    assert "Placeholder North Star" not in after


def test_yaml_files_without_a_manifest_give_the_same_metrics(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "olist"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    from_manifest = import_dbt(built.project, tmp_path / "a.yml", dry_run=True)
    from_yaml = import_dbt(copy, tmp_path / "b.yml", dry_run=True)
    assert from_yaml.origin.name == "dbt_project.yml"
    assert from_yaml.metrics == from_manifest.metrics
    assert {str(n) for n in from_yaml.not_imported} == {str(n) for n in from_manifest.not_imported}


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path) -> None:
    env = dict(os.environ)
    missing = _cli(tmp_path, env, "import", "dbt", str(tmp_path / "nowhere"))
    assert missing.returncode != 0
    assert missing.stderr.count("\n") == 1 and "no dbt_project.yml" in missing.stderr
    project = tmp_path / "broken"
    (project / "target").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: broken\nprofile: broken\n", encoding="utf-8")
    (project / "target" / "semantic_manifest.json").write_text('{"semantic_models": [\n  {"name": }\n]}\n',
                                                               encoding="utf-8")
    malformed = _cli(tmp_path, env, "import", "dbt", str(project))
    assert malformed.returncode != 0 and malformed.stderr.count("\n") == 1
    assert "semantic_manifest.json:2: not valid JSON" in malformed.stderr
    with pytest.raises(DbtProjectError, match="defines no semantic models"):
        (project / "target" / "semantic_manifest.json").write_text('{"semantic_models": []}', encoding="utf-8")
        import_dbt(project, tmp_path / "northstar.yml")
    assert not (tmp_path / "northstar.yml").exists()
