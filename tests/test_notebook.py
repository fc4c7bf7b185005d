"""Northstar in Jupyter: a notebook over the demo runs on a real ipykernel (nbclient) and its
outputs show the tree, the explanation, the checks, the funnel, cohorts and a query as HTML;
plotly.js is sent once per kernel session; every name from a spec is escaped."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from northstar import Project
from northstar.analysis.tree import TreeNodeValue, TreeReport, tree_metrics
from northstar.checks.findings import CheckReport, Finding

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = {
    "load": "import sys\nfrom northstar import Project\nproject = Project.load('northstar.yml')\nprint(sys.executable)",
    "tree": "project.tree()",
    "explain": "explanation = project.explain()\nexplanation",
    "check": "project.check()",
    "funnel": "project.funnel()",
    "cohorts": "project.cohorts('active_listeners')",
    "query": "project.query('listening_minutes', grain='week', by='platform').tail()",
    "repr": "print(repr(explanation))",
}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, "-m", "northstar.cli", "demo", "--dir", str(folder), "--users", "300"],
                   capture_output=True, text=True, check=True)
    return folder


@pytest.fixture(scope="module")
def executed(demo_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The notebook, executed in the demo's folder: {cell name: its outputs}."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(demo_dir)}})
    client.execute()
    nbformat.write(notebook, demo_dir / "executed.ipynb")
    return {name: cell.outputs for name, cell in zip(CELLS, notebook.cells)}


def _html(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


def test_the_notebook_runs_on_this_environment_without_errors(executed: dict[str, list[dict[str, Any]]]) -> None:
    assert not [o for outputs in executed.values() for o in outputs if o["output_type"] == "error"]
    assert executed["load"][0]["text"].strip() == sys.executable


def test_the_tree_shows_the_north_star_and_every_node(executed: dict[str, list[dict[str, Any]]],
                                                      demo_dir: Path) -> None:
    project = Project.load(demo_dir / "northstar.yml")
    page = _html(executed["tree"])
    assert "northstar-tree" in page
    assert project.spec.north_star.metric in page
    for name in tree_metrics(project.spec):
        assert f"<code class=\"muted\">{name}</code>" in page
        label = project.spec.metrics[name].label
        if label:
            assert html.escape(label) in page
    assert html.escape(project.spec.north_star.customer_value or "") in page
    text = executed["tree"][0]["data"]["text/plain"]
    assert text.startswith(f"{project.spec.project}: North Star {project.spec.north_star.metric}")


def test_the_explanation_shows_its_sentences_and_a_chart(executed: dict[str, list[dict[str, Any]]],
                                                        demo_dir: Path) -> None:
    explanation = Project.load(demo_dir / "northstar.yml").explain()
    page = _html(executed["explain"])
    assert explanation.summary and html.escape(explanation.summary) in page
    for contribution in explanation.root.children:
        assert html.escape(contribution.label) in page
    assert 'class="northstar-chart"' in page and "Plotly.newPlot" in page
    printed = "".join(o.get("text", "") for o in executed["repr"])
    assert explanation.summary in printed


def test_checks_funnel_cohorts_and_query_render(executed: dict[str, list[dict[str, Any]]], demo_dir: Path) -> None:
    project = Project.load(demo_dir / "northstar.yml")
    checks = _html(executed["check"])
    assert "northstar-checks" in checks and "Checks of" in checks
    for finding in project.check().findings:
        assert html.escape(finding.rule) in checks
    funnel = _html(executed["funnel"])
    assert "northstar-funnel" in funnel and "Acquisition" in funnel and 'class="northstar-chart"' in funnel
    cohorts = _html(executed["cohorts"])
    assert "northstar-cohorts" in cohorts and "heatmap" in cohorts
    query = _html(executed["query"])
    assert "<table" in query and "listening_minutes" in query and "platform" in query


def test_plotly_js_is_inlined_once_per_kernel_and_nothing_is_fetched(
        executed: dict[str, list[dict[str, Any]]]) -> None:
    plotly = get_plotlyjs()
    pages = {name: _html(outputs) for name, outputs in executed.items()}
    assert [name for name, page in pages.items() if plotly in page] == ["explain"]  # the session's first chart
    assert pages["explain"].count(plotly) == 1
    assert len(pages["funnel"]) < 50_000  # a later chart: its data, not plotly.js again
    for page in pages.values():
        # plotly.js's own code names URLs (SVG namespaces, map tiles it never loads here); nothing else may.
        ours = page.replace(plotly, "")
        assert not re.search(r"https?:", ours, re.I), re.findall(r".{40}https?:.{40}", ours, re.I)
        assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc\s*=|@import|url\(", ours, re.I)


def test_every_name_from_the_spec_is_escaped() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    node = TreeNodeValue(metric="m", label=hostile, value=1.0, previous=2.0, owner=hostile, formula=hostile)
    tree = TreeReport(project=hostile, north_star="m", customer_value=hostile, grain="week",
                      period=dt.date(2026, 1, 5), previous_period=dt.date(2025, 12, 29), root=node)
    checks = CheckReport(project=hostile, north_star=hostile, rules_run=("r",),
                         findings=(Finding("r", "warning", hostile, hostile, hostile, {"k": hostile}),))
    for result in (tree, checks):
        page = result._repr_html_()
        assert hostile not in page and html.escape(hostile, quote=False) in page
        assert hostile in repr(result)  # plain text is not HTML: nothing to escape
