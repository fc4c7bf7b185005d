"""A check's verdict does not depend on what things are called: renaming every metric, source column
and dimension consistently (to opaque names) gives the same findings, modulo the names.

The renaming is done here, independently of the code under test: the spec as YAML data, SQL
expressions through sqlglot's tree, formulas by their names, the data files' columns with pandas.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from sqlglot import exp, parse_one

from conftest import SPARKIFY_EVENTS, SPARKIFY_SPEC
from northstar.checks import run_checks
from northstar.project import Project
from synthetic import write_spec, write_synthetic

SQL_FIELDS = ("where", "expr", "from", "to")


def load(text: str) -> dict[str, Any]:
    return YAML(typ="safe").load(text)


def dump(spec: dict[str, Any]) -> str:
    """JSON is YAML: dates as ISO strings, which the spec reads as dates."""
    return json.dumps(spec, indent=1, default=str)


def rename_sql(text: str, columns: dict[str, str]) -> str:
    tree = parse_one(str(text), read="duckdb")
    for column in list(tree.find_all(exp.Column)):
        column.set("this", exp.to_identifier(columns[column.name]))
    return tree.sql(dialect="duckdb")


def rename_formula(text: str, metrics: dict[str, str]) -> str:
    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: metrics.get(m.group(0), m.group(0)), text)


def rename_spec(spec: dict[str, Any], metrics: dict[str, str], columns: dict[str, str], paths: dict[str, str]
                ) -> dict[str, Any]:
    """The same spec with every metric, column and dimension renamed (values, labels and source
    names kept)."""
    out = copy.deepcopy(spec)
    for name, source in out["sources"].items():
        for key in ("timestamp", "entity", "key"):
            if source.get(key):
                source[key] = columns[source[key]]
        for key in ("dimensions", "event_dimensions"):
            if source.get(key) is not None:
                source[key] = [columns[d] for d in source[key]]
        source["path"] = paths[name]
    renamed = {}
    for name, metric in out["metrics"].items():
        for key in SQL_FIELDS:
            if key in metric:
                metric[key] = rename_sql(metric[key], columns)
        if "formula" in metric:
            metric["formula"] = rename_formula(metric["formula"], metrics)
        renamed[metrics[name]] = metric
    out["metrics"] = renamed
    north = out["north_star"]
    north["metric"] = metrics[north["metric"]]
    tree = {}
    for name, node in (north.get("tree") or {}).items():
        if node.get("formula"):
            node["formula"] = rename_formula(node["formula"], metrics)
        for driver in node.get("drivers", []):
            driver["metric"] = metrics[driver["metric"]]
        tree[metrics[name]] = node
    north["tree"] = tree
    for entry in north.get("history", []):
        entry["metric"] = metrics.get(entry["metric"], entry["metric"])
    for item in [*out.get("focus", []), *out.get("guardrails", [])]:
        item["metric"] = metrics[item["metric"]]
    if out.get("funnel"):
        out["funnel"] = {stage: None if m is None else metrics[m] for stage, m in out["funnel"].items()}
    checks = out.get("checks") or {}
    if checks.get("external_dimensions") is not None:
        checks["external_dimensions"] = [columns[d] for d in checks["external_dimensions"]]
    if checks.get("revenue"):
        checks["revenue"] = [metrics[m] for m in checks["revenue"]]
    return out


def findings_modulo_names(project: Project, back: dict[str, str]) -> list[dict[str, Any]]:
    """Every finding as a dict, opaque names replaced by the original ones."""
    pattern = re.compile("|".join(sorted(map(re.escape, back), key=len, reverse=True))) if back else None

    def restore(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: back[m.group(0)], value) if pattern else value
        if isinstance(value, dict):
            return {restore(k): restore(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [restore(v) for v in value]
        return round(value, 6) if isinstance(value, float) else value

    return [restore(f.to_dict()) for f in run_checks(project).findings]


def opaque_names(data: st.DataObject, originals: list[str], tag: str) -> dict[str, str]:
    """Distinct opaque names of one length (none is part of another), e.g. q_m_xkcdqe."""
    letters = data.draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=6),
                                 min_size=len(originals), max_size=len(originals), unique=True))
    return {name: f"q_{tag}_{suffix}" for name, suffix in zip(originals, letters)}


# ---- the demo-like synthetic data ------------------------------------------------------------

TREE = ("    listens:\n      formula: listeners * listens_per_listener\n"
        "    listeners:\n      drivers: [{metric: browses, direction: up, lag: 1}]\n"
        "    listens_per_listener:\n      drivers: [{metric: payments, direction: up, lag: 2}]\n")
CHECKS = "checks:\n  external_dimensions: [partner]\n"


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("rename")).path


@pytest.fixture(scope="module", params=["declared", "default"])
def synthetic(request: pytest.FixtureRequest, events: Path) -> tuple[dict[str, Any], pd.DataFrame, list]:
    """The spec with `checks.external_dimensions` declared, and as most specs are, without it
    (the old code then guessed `partner` from its name and judged it; renamed, it did not)."""
    spec_path = write_spec(events.parent, events, nsm="listens", tree=TREE,
                           extra=CHECKS if request.param == "declared" else "")
    original = findings_modulo_names(Project.load(spec_path), {})
    return load(spec_path.read_text()), pd.read_parquet(events), original


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_renaming_everything_changes_no_verdict(synthetic: tuple, data: st.DataObject, tmp_path: Path) -> None:
    spec, events, original = synthetic
    metrics = opaque_names(data, list(spec["metrics"]), "m")
    columns = opaque_names(data, list(events.columns), "c")
    target = Path(tempfile.mkdtemp(prefix="renamed-", dir=tmp_path))  # one per example
    events.rename(columns=columns).to_parquet(target / "events.parquet", index=False)
    renamed = rename_spec(spec, metrics, columns, {"events": "events.parquet"})
    (target / "northstar.yml").write_text(dump(renamed))
    back = {v: k for k, v in {**metrics, **columns}.items()}
    after = findings_modulo_names(Project.load(target / "northstar.yml"), back)
    assert [(f["rule"], f["severity"], f["subject"]) for f in after] == [
        (f["rule"], f["severity"], f["subject"]) for f in original]
    assert after == original
    # the run judged something: warnings from the data rules and segments, not only notes
    assert {"not-for-all-customers", "external-dependency", "duplicate-inflation", "driver-unconfirmed"} <= {
        f["rule"] for f in original if f["severity"] == "warning" or f["rule"] == "external-dependency"}


# ---- a real dataset --------------------------------------------------------------------------

def test_renaming_sparkify_changes_no_verdict(tmp_path: Path) -> None:
    spec = load(SPARKIFY_SPEC.read_text())
    spec["sources"]["events"]["dimensions"].append("page")
    spec["checks"] = {"external_dimensions": ["location"]}
    raw = pd.read_json(SPARKIFY_EVENTS, lines=True, dtype=False)
    columns = {c: f"q_col{i:02d}" for i, c in enumerate(raw.columns)}
    metrics = {m: f"q_met{i:02d}" for i, m in enumerate(spec["metrics"])}
    (tmp_path / "a" / "data").mkdir(parents=True)
    shutil.copy(SPARKIFY_EVENTS, tmp_path / "a" / "data" / "events.jsonl")
    (tmp_path / "a" / "northstar.yml").write_text(dump(spec))
    (tmp_path / "b").mkdir()
    raw.rename(columns=columns).to_json(tmp_path / "b" / "events.jsonl", orient="records", lines=True)
    renamed = rename_spec(spec, metrics, columns, {"events": "events.jsonl"})
    (tmp_path / "b" / "northstar.yml").write_text(dump(renamed))
    original = findings_modulo_names(Project.load(tmp_path / "a" / "northstar.yml"), {})
    after = findings_modulo_names(Project.load(tmp_path / "b" / "northstar.yml"),
                                  {v: k for k, v in {**metrics, **columns}.items()})
    assert after == original
    assert any(f["severity"] != "info" for f in original)
