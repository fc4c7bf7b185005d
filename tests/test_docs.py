"""The documentation site builds offline with every link and anchor checked, and documents every
CLI command and option, every spec key and every route; the README is a short landing page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from northstar.cli import cli
from northstar.spec import model
from northstar.web import api, api_annotations, docs, pages

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_PAGE = DOCS / "reference" / "cli.md"
API_PAGE = DOCS / "reference" / "api.md"
WEB_PAGE = DOCS / "guides" / "web.md"


def _all_docs() -> str:
    """Every page of the site (other engineers' pages included), as one text."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md")))


# ---- the site builds, offline, and a broken link fails it -----------------------------------

def _mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` with no network: a proxy that refuses every connection, so a
    plugin or theme that fetched anything (fonts, social cards) would fail the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def test_the_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    result = _mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    html = {p: p.read_text(encoding="utf-8") for p in (tmp_path / "site").rglob("*.html")}
    assert (tmp_path / "site" / "index.html") in html
    for path, text in html.items():  # nothing loaded from another origin: the site reads offline
        assert not re.search(r"<(script|img)\b[^>]*\bsrc=\"(https?:)?//", text), path
        assert not re.search(r"<link\b[^>]*\bhref=\"(https?:)?//", text), path


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    """The validation settings are what make links checked: prove they bite on a copy."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    index = tmp_path / "docs" / "index.md"
    for broken in ("[gone](no-such-page.md)", "[gone](reference/spec.md#no-such-anchor)"):
        index.write_text((DOCS / "index.md").read_text(encoding="utf-8") + f"\n{broken}\n", encoding="utf-8")
        result = _mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
        output = result.stdout + result.stderr
        assert result.returncode != 0, broken
        assert "Aborted with" in output and broken[broken.index("(") + 1:-1] in output, output


# ---- every command and option (the CLI reference page) --------------------------------------

def _commands(group: click.Group, prefix: str = "northstar") -> list[tuple[str, click.Command]]:
    """Every visible command, sub-commands of groups included (`northstar import dbt`)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(cli)


def _options(command: click.Command) -> list[str]:
    return [max(p.opts, key=len) for p in command.params if isinstance(p, click.Option) and not p.hidden]


def test_the_cli_reference_lists_the_global_options() -> None:
    text = CLI_PAGE.read_text(encoding="utf-8")
    for option in _options(cli):
        assert option in text, f"global option {option} is not in docs/reference/cli.md"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_command_and_its_options_are_documented(path: str, command: click.Command) -> None:
    text = CLI_PAGE.read_text(encoding="utf-8")
    assert f"`{path}" in text, f"`{path}` is not in docs/reference/cli.md"
    for option in _options(command):
        assert option in text, f"option {option} of `{path}` is not in docs/reference/cli.md"


# ---- every spec key -------------------------------------------------------------------------

MODELS = [model.Spec, model.Source, model.AggregateMetric, model.RetentionMetric, model.ConversionMetric,
          model.FormulaMetric, model.NorthStar, model.TreeNode, model.Driver, model.Target, model.HistoryEntry,
          model.Focus, model.Guardrail, model.Funnel, model.Engine, model.Checks, model.OfferingChange,
          model.Web, model.Alerts, model.AlertChannel, model.AlertRule, model.Digest]


def _models_reachable_from(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model the spec can contain, found by walking field types: a model added to the
    spec (a source preset, say) is checked without anyone adding it to MODELS."""
    seen: dict[type[BaseModel], None] = {}
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen[item] = None
            stack.extend(field.annotation for field in item.model_fields.values())
        else:  # tuple[X, ...], dict[str, X], X | None, Annotated[X, ...]: look inside
            stack.extend(typing.get_args(item))
    return list(seen)


ALL_MODELS = list(dict.fromkeys(MODELS + _models_reachable_from(model.Spec)))


def test_the_model_list_is_what_the_spec_reaches() -> None:
    missing = [m.__name__ for m in MODELS if m not in _models_reachable_from(model.Spec)]
    assert not missing, f"not reachable from Spec (renamed or dropped?): {missing}"


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
def test_spec_keys_are_documented(cls: type[BaseModel]) -> None:
    text = _all_docs()
    for name, field in cls.model_fields.items():
        key = field.alias or name
        if key == "type" and cls is not model.Engine:
            continue
        assert re.search(rf"`{re.escape(key)}[`:]", text), f"spec key `{key}` of {cls.__name__} is not in docs/"


# ---- every route ----------------------------------------------------------------------------

def _paths(router: object) -> list[str]:
    return [route.path for route in router.routes]  # type: ignore[attr-defined]


@pytest.mark.parametrize("route", _paths(api.router) + _paths(api_annotations.router) + _paths(docs.router)
                         + ["/openapi.json"])
def test_api_routes_are_documented(route: str) -> None:
    assert f"`{route}`" in API_PAGE.read_text(encoding="utf-8"), f"route {route} is not in docs/reference/api.md"


@pytest.mark.parametrize("route", [p for p in _paths(pages.router) if p != "/static/{name}"])
def test_dashboard_pages_are_documented(route: str) -> None:
    written = re.sub(r"\{(\w+)\}", r"<\1>", route)  # /metric/{name} is written /metric/<name>
    assert f"`{written}`" in WEB_PAGE.read_text(encoding="utf-8"), f"page {written} is not in docs/guides/web.md"


# ---- the README is a landing page -----------------------------------------------------------

def test_the_readme_is_short_and_leads_to_the_docs() -> None:
    assert len(README.splitlines()) < 120
    # the quick start's two commands, verbatim
    assert "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/northstar demo\n" in README
    assert "\nbash scripts/test.sh\n" in README
    assert "mkdocs serve" in README
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)|src=\"([^\"]+)\"", README)
    local = [a or b for a, b in links if not (a or b).startswith(("http://", "https://"))]
    assert "docs/index.md" in local
    for target in local:
        assert (ROOT / target).is_file(), f"the README links to {target}, which does not exist"
    pages_linked = {t for t in local if t.startswith("docs/") and t.endswith(".md")}
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for target in pages_linked:
        assert target.removeprefix("docs/") in nav, f"{target} is linked from the README but not in the site's nav"
