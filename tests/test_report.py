"""`northstar report`: the weekly review as one self-contained HTML file and as chat-sized Markdown.

On the demo (800 users, generated once for the module). The expected numbers come from the
Project's own calls; the HTML is opened in Debian's Chromium with every request that is not
the file itself aborted, and must still draw its charts.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from engines.parity import assert_same
from northstar.demo import generate_demo
from northstar.engine.time import same_period_last_year
from northstar.errors import QueryError
from northstar.i18n import catalogue, missing_keys
from northstar.project import Project
from northstar.report import build_report, default_filename, render_html, render_markdown
from northstar.report.text import percent

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "demo"
    generate_demo(folder, users=800)
    return folder


@pytest.fixture(scope="module")
def project(demo: Path) -> Project:
    return Project.load(demo / "northstar.yml")


@pytest.fixture(scope="module")
def report(project: Project):  # type: ignore[no-untyped-def]
    return build_report(project)


@pytest.fixture(scope="module")
def html_file(report, demo: Path) -> Path:  # type: ignore[no-untyped-def]
    path = demo / default_filename(report)
    path.write_text(render_html(report), encoding="utf-8")
    return path


# ---- the numbers are the Project's own ---------------------------------------------------------


def test_the_review_holds_the_projects_own_numbers(project: Project, report) -> None:  # type: ignore[no-untyped-def]
    tree = project.tree()
    ns = report.north_star
    assert report.period == tree.period == project.last_complete_period()
    assert report.complete
    assert ns.value == pytest.approx(tree.root.value)
    assert ns.previous == pytest.approx(tree.root.previous)
    assert ns.change == pytest.approx(tree.root.change)
    assert ns.change_pct == pytest.approx(tree.root.change_pct)
    frame = project.query("listening_minutes", compare=True).set_index("period")
    assert ns.last_year == pytest.approx(frame.loc[tree.period, "listening_minutes_last_year"])
    assert ns.last_year_period == same_period_last_year(tree.period, "week")
    assert ns.change_pct_year == pytest.approx(ns.value / ns.last_year - 1)
    assert (ns.target, ns.target_by.isoformat()) == (40000, "2026-12-31")
    # The series is the query's, up to the period, ending on the value shown.
    assert report.series[-1]["period"] == tree.period and report.series[-1]["value"] == pytest.approx(ns.value)
    assert all(r["value"] == pytest.approx(frame.loc[r["period"], "listening_minutes"]) for r in report.series)
    assert_same(report.tree.to_dict(), tree.to_dict())
    assert_same(report.explanation.to_dict(), project.explain(period=tree.period).to_dict())
    assert report.why == project.explain(period=tree.period).summary
    assert_same([g.to_dict() for g in report.guardrails], [g.to_dict() for g in project.guardrails()])
    assert_same([f.to_dict() for f in report.focus], [f.to_dict() for f in project.focus()])
    assert report.checks.counts == project.check().counts
    assert_same(report.funnel.to_dict(), project.funnel(tree.period).to_dict())
    assert [h["metric"] for h in report.history] == ["active_listeners"]
    assert report.to_dict()["north_star"]["value"] == pytest.approx(ns.value)


def test_an_earlier_period_is_reviewed_against_its_own_previous(project: Project) -> None:
    earlier = build_report(project, period="2026-04-22")  # a Wednesday: its week starts on the 20th
    tree = project.tree("2026-04-20")
    assert earlier.period.isoformat() == "2026-04-20"
    assert earlier.north_star.value == pytest.approx(tree.root.value)
    assert earlier.north_star.previous == pytest.approx(tree.root.previous)
    assert_same([g.to_dict() for g in earlier.guardrails], [g.to_dict() for g in project.guardrails("2026-04-20")])
    assert earlier.series[-1]["period"] == tree.period


def test_a_part_that_cannot_be_computed_is_a_note_not_a_failure(project: Project) -> None:
    first = build_report(project, period=project.query("listening_minutes")["period"].iloc[0])
    assert first.explanation is None and first.why == ""
    assert first.notes and "--vs" in first.notes[0]
    assert "<section id=\"why\"" in render_html(first)
    assert len(render_markdown(first)) < 1500


def test_bad_language_and_period_are_query_errors(project: Project) -> None:
    with pytest.raises(QueryError, match="--lang: 'de' is not one of en, nl, sv"):
        build_report(project, lang="de")
    with pytest.raises(QueryError, match="--period: 'soon' is not a date"):
        build_report(project, period="soon")
    with pytest.raises(QueryError, match="--period: the week of 2031-01-06 has no data"):
        build_report(project, period="2031-01-06")


# ---- HTML: self-contained, with its charts ------------------------------------------------------


def test_html_holds_plotly_the_chart_data_and_no_url(report, html_file: Path) -> None:  # type: ignore[no-untyped-def]
    html = html_file.read_text(encoding="utf-8")
    plotly = get_plotlyjs()
    assert plotly in html, "plotly.js is inlined verbatim from the plotly package"
    assert html.count(plotly) == 1
    # plotly.js's own code names URLs (SVG namespaces, map tiles it never loads here); nothing else may.
    ours = html.replace(plotly, "")
    assert not re.search(r"https?:", ours, re.I), re.findall(r".{40}https?:.{40}", ours, re.I)
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc\s*=|@import|url\(", ours, re.I)
    assert "cdn" not in ours.lower() and "mathjax" not in ours.lower()
    # The chart data: the North Star per period, the target and the period's value.
    trend = re.search(r'<script type="application/json" id="chart-trend-data">(.*?)</script>', html, re.S)
    assert trend is not None
    data = trend.group(1)
    assert '"listening_minutes"' not in data  # labels, not names, in the legend
    assert "Listening minutes" in data and "40000" in data and report.period.isoformat() in data
    assert repr(round(report.north_star.value, 6))[:8] in data
    assert 'id="chart-contributions-data"' in html
    assert '"topojsonURL":""' in data and '"showLink":false' in data and '"displaylogo":false' in data


def test_html_shows_the_values_changes_and_every_section(report, html_file: Path) -> None:  # type: ignore[no-untyped-def]
    html = html_file.read_text(encoding="utf-8")
    ns = report.north_star
    assert f"{ns.value:,.1f}" in html and "Listeners spend time with music they love" in html
    pct = f"{abs(ns.change_pct) * 100:.1f}%"
    arrow, word = ("▲", "up") if ns.change > 0 else ("▼", "down")
    assert f"{arrow} {word} {pct}" in html, "the change in sign, arrow and words, not colour alone"
    assert f"data-change-pct=\"{ns.change_pct}\"" in html
    assert f"{abs(ns.change_pct_year) * 100:.1f}%" in html
    for section in ("north-star", "why", "tree", "guardrails", "focus", "funnel", "checks", "history"):
        assert f'<section id="{section}"' in html
    assert report.why.replace("'", "&#39;") in html
    for metric in ("listening_minutes", "active_listeners", "minutes_per_listener", "avg_song_minutes"):
        assert f'data-metric="{metric}"' in html
    assert "Leadership" in html and "Platform" in html  # owners in the tree table
    assert html.count('data-status="ok"') + html.count('data-status="breached"') \
        + html.count('data-status="provisional"') >= len(report.guardrails)
    for g in report.guardrails:  # a provisional guardrail (its window has not passed) says until when
        if g.status == "provisional":
            assert f"provisional until the data reaches {g.provisional_until.isoformat()}" in html
    for finding in report.checks.findings:
        if finding.severity in ("error", "warning"):
            assert f'data-rule="{finding.rule}"' in html
    assert "Warnings: " + str(report.checks.counts["warning"]) in html
    assert "2025-02-28" in html and "listening minutes measure the value delivered" in html  # history


def _chromium() -> Path:
    """Debian's Chromium, which apt may still be installing: wait up to 15 minutes, never skip."""
    deadline = time.monotonic() + 15 * 60
    while not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} did not appear within 15 minutes (scripts/test.sh installs it with apt)")
        time.sleep(10)
    return CHROMIUM


def test_html_renders_its_charts_offline_in_chromium(html_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    url = html_file.resolve().as_uri()
    requested: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(_chromium()), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))

            def only_the_file(route) -> None:  # type: ignore[no-untyped-def]
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", only_the_file)
            page.goto(url)
            page.wait_for_selector("#chart-trend .main-svg", timeout=30_000)
            page.wait_for_selector("#chart-contributions .main-svg", timeout=30_000)
            # The trend has drawn its lines: the North Star, a year earlier, the target.
            assert page.locator("#chart-trend .scatterlayer .trace").count() >= 3
            assert page.locator("#chart-contributions .waterfalllayer .point").count() >= 3
            page.wait_for_timeout(300)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requested == [url], f"requests other than the file itself: {requested}"


# ---- Markdown: short, in three languages --------------------------------------------------------


def test_markdown_is_short_with_value_arrow_why_and_history(report) -> None:  # type: ignore[no-untyped-def]
    text = render_markdown(report)
    ns = report.north_star
    assert len(text) < 1500
    assert f"{ns.value:,.1f}" in text
    arrow, word = ("▲", "up") if ns.change > 0 else ("▼", "down")
    assert f"{arrow} {word} {abs(ns.change_pct) * 100:.1f}%" in text
    assert report.why.split(". ")[0] in text  # the explanation paragraph
    assert "Guardrails breached" in text and "OMTMs behind" in text
    assert f"Warnings: {report.checks.counts['warning']}" in text and "Errors: 0" in text
    assert "Active listeners until 2025-02-28" in text  # the North Star's history
    assert "http" not in text


def test_markdown_stays_under_the_limit_whatever_the_spec_holds(report) -> None:  # type: ignore[no-untyped-def]
    history = tuple({"metric": f"m{i}", "label": f"Metric {i}", "until": "2025-01-01", "reason": "word " * 80}
                    for i in range(6))
    offering = tuple({"date": "2025-01-01", "change": "a long change " * 30} for _ in range(5))
    breached = tuple(dataclasses.replace(g, status="breached") for g in report.guardrails) * 3
    behind = tuple(dataclasses.replace(f, status="behind") for f in report.focus) * 3
    long = dataclasses.replace(report, history=history, offering_changes=offering, guardrails=breached,
                               focus=behind, why=report.why * 4,
                               guardrail_owners=report.guardrail_owners * 3)
    text = render_markdown(long)
    assert len(text) < 1500
    assert "+6 more" in text and "+3 more" in text  # lists stop after three items
    assert "▼ Growth" in text and "✖ " in text
    assert "Metric 5 until 2025-01-01" in text and "+5 more" in text  # the latest North Star change
    assert text.count("Weekly listening minutes rose") >= 1  # the paragraph keeps its first sentences


@pytest.mark.parametrize(("lang", "headings", "change_word"), [
    ("nl", ["Waarom hij bewoog", "Overschreden vangrails", "OMTM's achter op schema", "Controles",
            "Geschiedenis van de North Star"], "gestegen"),
    ("sv", ["Varför den rörde sig", "Överskridna skyddsräcken", "OMTM:er efter plan", "Kontroller",
            "North Starens historik"], "upp"),
])
def test_dutch_and_swedish_reviews_are_translated(project: Project, report, lang: str, headings: list[str],
                                                  change_word: str) -> None:  # type: ignore[no-untyped-def]
    translated = build_report(project, lang=lang)
    assert translated.north_star == report.north_star  # the same numbers
    text = render_markdown(translated)
    assert len(text) < 1500
    for heading in headings:
        assert heading in text
    assert "Why it moved" not in text and "Guardrails breached" not in text
    assert f"▲ {change_word} {percent(report.north_star.change_pct, lang)}" in text
    assert "2025-02-28" in text  # history
    # The paragraph is built in the language from the same explanation.
    assert translated.why and translated.why != report.why
    assert percent(abs(report.north_star.change_pct), lang) in translated.why
    html = render_html(translated)
    assert f'<html lang="{lang}">' in html
    assert {"nl": "Vangrails", "sv": "Skyddsräcken"}[lang] in html
    assert {"nl": "KPI-boom", "sv": "KPI-träd"}[lang] in html


def test_every_report_text_exists_and_is_translated() -> None:
    assert not any(k.startswith("report.") for keys in missing_keys().values() for k in keys)
    english = {k: v for k, v in catalogue("en").items() if k.startswith("report.")}
    assert len(english) > 80
    for lang in ("nl", "sv"):
        same = [k for k, v in english.items() if catalogue(lang)[k] == v]
        # Only names shared by the three languages (North Star, Team, Status, dates) may stay as in English.
        assert len(same) < len(english) * 0.15, same


# ---- the command ---------------------------------------------------------------------------------


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=180)


def test_cli_markdown_to_stdout_and_files(demo: Path, report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shown = run(demo, "report", "--format", "markdown")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == render_markdown(report)
    assert not list(demo.glob("northstar-report-*.md"))
    work = tmp_path / "work"
    shutil.copytree(demo, work)
    made = run(work, "report")
    assert made.returncode == 0, made.stderr
    written = work / f"northstar-report-{report.period.isoformat()}.html"
    assert written.exists() and get_plotlyjs() in written.read_text(encoding="utf-8")
    assert str(written.name) in made.stdout
    out = tmp_path / "out" / "review.md"
    done = run(work, "report", "--format", "markdown", "--lang", "sv", "--period", report.period.isoformat(),
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Varför den rörde sig" in out.read_text(encoding="utf-8") and "Varför" not in done.stdout
    # `--out -` is stdout, as for every Unix tool (it wrote a file named "-"), in either format
    before = sorted(p.name for p in work.iterdir())
    piped = run(work, "report", "--format", "markdown", "--out", "-")
    assert piped.returncode == 0 and piped.stdout == shown.stdout, piped.stderr
    page = run(work, "report", "--out", "-")
    assert page.returncode == 0 and page.stdout.startswith("<!DOCTYPE html>") and "wrote" not in page.stdout
    assert sorted(p.name for p in work.iterdir()) == before


@pytest.mark.parametrize(("args", "message"), [
    (("--lang", "fr"), "error: --lang: 'fr' is not one of en, nl, sv"),
    (("--period", "last-week"), "error: --period: 'last-week' is not a date; write YYYY-MM-DD"),
    (("--period", "2001-01-01"), "error: --period: the week of 2001-01-01 has no data"),
])
def test_cli_bad_language_or_period_is_one_line_and_exit_2(demo: Path, args: tuple[str, ...], message: str) -> None:
    result = run(demo, "report", "--format", "markdown", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_values_are_never_nan_in_the_json(report) -> None:  # type: ignore[no-untyped-def]
    def walk(value: object) -> None:
        if isinstance(value, float):
            assert not math.isnan(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(report.to_dict())


def test_another_spec_falling_and_monthly_without_a_previous_period(sparkify_dir: Path) -> None:
    """The Sparkify example on the docs' home page (docs/index.md): the North Star fell; by month there is nothing to compare with."""
    weekly = Project.load(sparkify_dir / "northstar.yml")
    report = build_report(weekly)
    tree = weekly.tree()
    assert report.north_star.value == pytest.approx(tree.root.value) and tree.root.change < 0
    text = render_markdown(report)
    assert f"▼ down {abs(tree.root.change_pct) * 100:.1f}%" in text and len(text) < 1500
    spec = (sparkify_dir / "northstar.yml").read_text(encoding="utf-8").replace("grain: week", "grain: month")
    (sparkify_dir / "monthly.yml").write_text(spec, encoding="utf-8")
    monthly = build_report(Project.load(sparkify_dir / "monthly.yml"), lang="sv")
    assert monthly.grain == "month" and monthly.north_star.change is None and monthly.explanation is None
    text = render_markdown(monthly)
    assert "ingen föregående period att jämföra med" in text and "månaden som börjar" in text
    html = render_html(monthly)
    assert not re.search(r"https?:", html.replace(get_plotlyjs(), ""))
    assert "inget värde ett år tidigare" in html
