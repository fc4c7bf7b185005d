"""Unit tests of the spec: loading, validation and messages. No database."""

from __future__ import annotations

from pathlib import Path

import pytest

from northstar.errors import SpecError
from northstar.spec import parse_spec
from northstar.spec.expressions import ExpressionError, parse_formula, parse_sql
from northstar.spec.model import AggregateMetric, ConversionMetric, FormulaMetric, RetentionMetric, parse_duration

EXAMPLE = Path(__file__).with_name("sparkify.yml").read_text()

MINIMAL = """\
project: T
sources:
  events: {path: e.csv, timestamp: ts, entity: user, dimensions: [country]}
metrics:
  plays: {source: events, where: "event = 'play'", agg: count}
  listeners: {source: events, where: "event = 'play'", agg: count_distinct}
  per_listener: {formula: plays / listeners}
north_star:
  metric: plays
  tree:
    plays: {formula: listeners * per_listener}
"""


def errors(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "northstar.yml")
    return [str(p) for p in info.value.problems]


def test_the_issue_example_loads_with_every_kind() -> None:
    spec = parse_spec(EXAMPLE).spec
    kinds = {name: type(m) for name, m in spec.metrics.items()}
    assert kinds["listening_minutes"] is AggregateMetric
    assert kinds["minutes_per_listener"] is FormulaMetric
    assert kinds["listener_retention"] is RetentionMetric
    assert kinds["upgrade_conversion"] is ConversionMetric
    assert spec.metrics["upgrade_conversion"].window.days == 7
    assert spec.metrics["all_time_listeners"].cumulative
    assert spec.north_star.tree["minutes_per_listener"].drivers[0].lag == 1
    assert spec.focus[0].from_.isoformat() == "2018-11-01"


def test_models_are_immutable() -> None:
    spec = parse_spec(MINIMAL).spec
    with pytest.raises(Exception):
        spec.project = "other"  # type: ignore[misc]


def test_misspelt_tree_metric_names_file_line_and_suggests() -> None:
    text = EXAMPLE.replace("    active_listeners:\n      owner: Growth", "    active_listners:\n      owner: Growth")
    line = text.splitlines().index("    active_listners:") + 1
    assert errors(text) == [f"northstar.yml:{line}: metric 'active_listners' in tree of 'listening_minutes' "
                            "is not defined. Did you mean 'active_listeners'?"]


def test_all_problems_are_reported_together() -> None:
    text = (EXAMPLE.replace("agg: count\n    tags", "agg: cnt\n    tags")
            .replace("  grain: week ", "  grian: week ")
            .replace("{metric: paid_listeners,", "{metric: paid_listner,")
            .replace("from: 2018-11-01", "from: 2018-13-01")
            .replace("from: page = 'Upgrade'", "from: page = = 'Upgrade'"))
    found = "\n".join(errors(text))
    assert "'cnt' is not allowed" in found and "Did you mean 'count'" in found
    assert "unknown key 'grian' in 'north_star'. Did you mean 'grain'?" in found
    assert "'paid_listner' (driver of 'minutes_per_listener')" in found and "Did you mean 'paid_listeners'?" in found
    assert "'focus.0.from'" in found
    assert "metric 'upgrade_conversion' field 'from': cannot parse SQL" in found
    assert all(line.startswith("northstar.yml:") for line in found.splitlines())


def test_unknown_source_and_metric_in_formula() -> None:
    text = MINIMAL.replace("source: events, where: \"event = 'play'\", agg: count}", "source: evnts, agg: count}")
    text = text.replace("formula: plays / listeners", "formula: plays / listenrs")
    found = errors(text)
    assert any("uses source 'evnts', which is not defined. Did you mean 'events'?" in e for e in found)
    assert any("formula uses metric 'listenrs' is not defined. Did you mean 'listeners'?" in e for e in found)


def test_formula_cycles_are_errors_not_recursion() -> None:
    text = MINIMAL + "  extra: {}\n"
    text = MINIMAL.replace("  per_listener: {formula: plays / listeners}",
                           "  per_listener: {formula: a / listeners}\n  a: {formula: b + 1}\n  b: {formula: per_listener * 2}")
    found = errors(text)
    assert any("cycle" in e and "per_listener" in e for e in found)


def test_unknown_keys_get_a_suggestion() -> None:
    found = errors(MINIMAL.replace("agg: count}", "agg: count, wher: x}"))
    assert any("unknown key 'wher' in metric 'plays'. Did you mean 'where'?" in e for e in found)


def test_type_errors_and_missing_fields() -> None:
    found = errors(MINIMAL.replace("agg: count}", "agg: count, cumulative: maybe}").replace(
        "  listeners: {source: events, where: \"event = 'play'\", agg: count_distinct}", "  listeners: {source: events}"))
    assert any("field 'cumulative'" in e and "boolean" in e for e in found)
    assert any("metric 'listeners' is missing required field 'agg'" in e for e in found)


def test_bad_sql_is_rejected_before_running() -> None:
    for where, words in [("event = ", "cannot parse"), ("sum(x) > 1", "aggregate"), ("random() > 1", "not supported"),
                         ("s.e.event = 'x'", "one dot"), ("x in (select 1)", "subqueries")]:
        found = errors(MINIMAL.replace("where: \"event = 'play'\", agg: count}", f"where: \"{where}\", agg: count}}"))
        assert any(words in e for e in found), (where, found)


def test_sum_needs_expr_and_cumulative_avg_is_refused() -> None:
    found = errors(MINIMAL.replace("agg: count}", "agg: sum}").replace(
        "agg: count_distinct}", "agg: avg, expr: x, cumulative: true}"))
    assert any("agg 'sum' needs an `expr`" in e for e in found)
    assert any("cumulative avg is not supported" in e for e in found)


def test_retention_needs_an_entity() -> None:
    text = MINIMAL.replace("entity: user, ", "").replace(
        "  listeners: {source: events, where: \"event = 'play'\", agg: count_distinct}",
        "  listeners: {source: events, agg: count_distinct, expr: user}\n  ret: {type: retention, source: events}")
    assert any("retention needs an `entity`" in e for e in errors(text))


def test_bad_timezone_grain_and_duration() -> None:
    found = errors("timezone: Mars/Olympus\n" + MINIMAL.replace("  metric: plays\n", "  metric: plays\n  grain: yearly\n"))
    assert any("unknown time zone 'Mars/Olympus'" in e for e in found)
    assert any("'yearly' is not allowed" in e for e in found)
    with pytest.raises(ValueError):
        parse_duration("7 days")
    assert parse_duration("12h").total_seconds() == 43200


def test_source_needs_exactly_one_location() -> None:
    found = errors(MINIMAL.replace("{path: e.csv,", "{path: e.csv, table: t,"))
    assert any("exactly one of `path`, `table` or `sql`" in e for e in found)


def test_yaml_syntax_error_has_a_line() -> None:
    found = errors("project: T\nsources: [\n")
    assert found[0].startswith("northstar.yml:") and "invalid YAML" in found[0]


def test_parse_sql_columns_and_formula_names() -> None:
    assert parse_sql("page = 'NextSong' and level in ('paid')").columns == ("page", "level")
    assert parse_formula("a * (b - 2) / c").names == ("a", "b", "c")
    for bad in ("a ** 2", "f(a)", "a.b", "'x'", "3"):
        with pytest.raises(ExpressionError):
            parse_formula(bad)
