"""The sector templates of `northstar init --template NAME`.

For every template: the spec parses; on synthetic data with exactly the columns it names
it validates without errors, every metric computes, its tree formulas are exact and
`tree()` works; and `northstar init` writes it, refuses to overwrite without --force and
suggests a name for a misspelt template.

The data are synthesised from the spec itself: the columns each source needs and a kind for
each (timestamp, id, number, string with the literal values the conditions compare with),
so a template that names a column its comments do not promise still fails here.
"""

from __future__ import annotations

import ast
import csv
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

import duckdb
import pytest
from sqlglot import expressions as exp

from northstar.cli import main
from northstar.errors import QueryError
from northstar.project import Project
from northstar.spec import parse_spec
from northstar.spec.expressions import parse_formula, parse_sql
from northstar.spec.model import AggregateMetric, FormulaMetric, Spec
from northstar.spec.validate import metric_expressions
from northstar.templates import TEMPLATES, template_text

NAMES = sorted(TEMPLATES)
SECTORS = ("ecommerce", "b2b_saas", "marketplace", "media_streaming", "consumer_app", "fintech")

ROWS = 3000
ENTITIES = 40
DAYS = 120
START = datetime(2026, 3, 2)
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Abs, exp.Round, exp.Floor,
              exp.Ceil, exp.Greatest, exp.Least)


# ---- which columns a template needs, and of what kind ---------------------------------------

@dataclass
class ColumnPlan:
    kind: str = "string"  # string | number | timestamp | key | entity
    strings: set[str] = field(default_factory=set)
    numbers: list[float] = field(default_factory=list)
    nullable: bool = False

    def become(self, kind: str) -> None:
        rank = {"string": 0, "number": 1, "entity": 2, "key": 3, "timestamp": 4}
        if rank[kind] > rank[self.kind]:
            self.kind = kind


def _bare(node: exp.Expression | None) -> exp.Expression | None:
    """The column under parentheses and lower()/upper(), else the node itself."""
    while isinstance(node, exp.Paren | exp.Lower | exp.Upper):
        node = node.this
    return node


def _note_literal(plan: ColumnPlan, literal: exp.Expression) -> None:
    if isinstance(literal, exp.Neg) and isinstance(literal.this, exp.Literal):
        plan.become("number")
        plan.numbers.append(-float(literal.this.this))
    elif isinstance(literal, exp.Literal):
        if literal.is_string:
            plan.strings.add(literal.this)
        else:
            plan.become("number")
            plan.numbers.append(float(literal.this))


def _visit(tree: exp.Expression, cols: dict[str, ColumnPlan]) -> None:
    def plan(node: exp.Expression | None) -> ColumnPlan | None:
        node = _bare(node)
        return cols.setdefault(node.name, ColumnPlan()) if isinstance(node, exp.Column) else None

    for node in tree.walk():
        if isinstance(node, COMPARISONS):
            left, right = plan(node.this), plan(node.expression)
            if left and right:  # column against column: both timestamps or both numbers
                timed = any(p.kind == "timestamp" for p in (left, right)) or any(
                    _bare(n).name.endswith("_at") for n in (node.this, node.expression))
                for p in (left, right):
                    p.become("timestamp" if timed else "number")
            elif left:
                _note_literal(left, _bare(node.expression))
            elif right:
                _note_literal(right, _bare(node.this))
        elif isinstance(node, exp.In) and plan(node.this):
            for value in node.expressions:
                _note_literal(plan(node.this), value)
        elif isinstance(node, exp.Between) and plan(node.this):
            for bound in (node.args["low"], node.args["high"]):
                _note_literal(plan(node.this), bound)
        elif isinstance(node, exp.Like | exp.ILike) and plan(node.this):
            pattern = node.expression.this
            plan(node.this).strings.add(pattern.replace("%", "x").replace("_", "x"))
        elif isinstance(node, exp.Is) and plan(node.this):
            plan(node.this).nullable = True
        elif isinstance(node, ARITHMETIC):
            for child in node.iter_expressions():
                if (p := plan(child)) is not None:
                    p.become("number")
        elif isinstance(node, exp.Coalesce):
            args = [node.this, *node.expressions]
            numeric = any(isinstance(a, exp.Literal) and not a.is_string for a in args)
            for arg in args:
                if numeric and (p := plan(arg)) is not None:
                    p.become("number")
                    p.nullable = True
        elif isinstance(node, exp.Cast) and (p := plan(node.this)) is not None:
            target = node.to.this.name.lower()
            if target in ("date", "timestamp"):
                p.become("timestamp")
            elif target not in ("varchar", "text", "string"):
                p.become("number")


def column_plans(spec: Spec) -> dict[str, dict[str, ColumnPlan]]:
    plans: dict[str, dict[str, ColumnPlan]] = {name: {} for name in spec.sources}
    for name, source in spec.sources.items():
        cols = plans[name]
        cols.setdefault(source.timestamp, ColumnPlan()).become("timestamp")
        if source.entity:
            cols.setdefault(source.entity, ColumnPlan()).become("entity")
        if source.key:
            cols.setdefault(source.key, ColumnPlan()).become("key")
        for dim in source.dimensions:
            cols.setdefault(dim, ColumnPlan())
    for metric in spec.metrics.values():
        if isinstance(metric, FormulaMetric):
            continue
        cols = plans[metric.source]
        for _field, text in metric_expressions(metric):
            parsed = parse_sql(text)
            for column in parsed.columns:
                cols.setdefault(column, ColumnPlan())
            _visit(parsed.tree, cols)
        if isinstance(metric, AggregateMetric) and metric.agg in ("sum", "avg", "min", "max"):
            bare = _bare(parse_sql(metric.expr).tree)
            if isinstance(bare, exp.Column):
                cols[bare.name].become("number")
    for cols in plans.values():  # a column named like a timestamp holds one
        for column, plan in cols.items():
            if column.endswith("_at") and plan.kind in ("string", "number") and not plan.strings:
                plan.kind = "timestamp"
    return plans


def _value(name: str, plan: ColumnPlan, row: int, rng: random.Random) -> str:
    if plan.nullable and rng.random() < 0.25:
        return ""
    if plan.kind == "timestamp":
        moment = START + timedelta(seconds=rng.randrange(DAYS * 86400))
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if plan.kind == "key":
        return f"{name}_{row:06d}"
    if plan.kind == "entity":
        return f"{name}_{rng.randrange(ENTITIES):03d}"
    if plan.kind == "number":
        top = max((abs(n) for n in plan.numbers), default=0.0)
        if top == 0:  # amounts, or amounts compared with 0: some zeros
            return "0" if plan.numbers and rng.random() < 0.2 else f"{rng.uniform(1, 500):.2f}"
        if all(float(n).is_integer() for n in plan.numbers):  # counts, scores, seconds
            return str(rng.randint(0, max(int(2 * top), 5)))
        return f"{rng.uniform(0, 2 * top):.4f}"
    if plan.strings:
        return rng.choice(sorted(plan.strings) + ["other"])
    if name.endswith("_id"):  # ids of other things than the entity (sellers, users)
        return f"{name}_{rng.randrange(3 * ENTITIES):03d}"
    return f"{name}_{rng.randrange(1, 7)}"


def write_data(spec: Spec, base: Path, seed: int = 7) -> dict[str, Path]:
    """A CSV per source with the columns the spec names; returns source -> file."""
    rng = random.Random(seed)
    files: dict[str, Path] = {}
    for name, cols in column_plans(spec).items():
        source = spec.sources[name]
        assert source.path and source.path.startswith("data/") and source.path.endswith(".csv"), source.path
        target = base / source.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(cols))
            for row in range(ROWS):
                writer.writerow([_value(c, plan, row, rng) for c, plan in cols.items()])
        files[name] = target
    return files


# ---- tests ------------------------------------------------------------------------------------

def test_the_sectors_of_the_method_have_templates() -> None:
    assert set(SECTORS) <= set(TEMPLATES)
    packaged = {p.name[:-4] for p in resources.files("northstar.templates").iterdir() if p.name.endswith(".yml")}
    assert packaged == set(TEMPLATES)
    assert all(summary and "\n" not in summary for summary in TEMPLATES.values())


def test_unknown_template_suggests_a_name() -> None:
    with pytest.raises(QueryError, match="Did you mean 'ecommerce'") as info:
        template_text("ecomerce")
    assert "b2b_saas" in str(info.value)
    with pytest.raises(QueryError, match="Templates:"):
        template_text("../project")


@pytest.mark.parametrize("name", NAMES)
def test_template_parses_without_warnings(name: str) -> None:
    loaded = parse_spec(template_text(name), f"{name}.yml")
    spec = loaded.spec
    assert not loaded.warnings, [str(w) for w in loaded.warnings]
    assert spec.north_star.customer_value
    assert spec.north_star.metric in spec.north_star.tree
    assert "revenue" not in spec.metrics[spec.north_star.metric].tags
    assert any(node.drivers for node in spec.north_star.tree.values())
    assert all(node.owner for node in spec.north_star.tree.values())
    assert 1 <= len(spec.focus) <= 2
    for focus in spec.focus:
        assert None not in (focus.baseline, focus.target, focus.from_, focus.to, focus.owner)
        assert 55 <= (focus.to - focus.from_).days <= 125, "a focus lasts 2 to 4 months"
    assert spec.guardrails
    assert spec.funnel is not None
    assert sum(v is not None for v in spec.funnel.stages().values()) >= 4
    for source in spec.sources.values():
        assert source.path and source.path.startswith("data/")


def _exactness_errors(spec: Spec, frame) -> list[str]:  # type: ignore[no-untyped-def]
    """Tree nodes whose formula does not equal the node's own value in some period."""
    errors = []
    for node_name, node in spec.north_star.tree.items():
        if node.formula is None:
            continue
        formula = parse_formula(node.formula)
        code = compile(ast.Expression(formula.tree), node.formula, "eval")
        for _, row in frame.iterrows():
            values = {n: float(row[n]) for n in formula.names}
            if any(math.isnan(v) for v in values.values()) or math.isnan(float(row[node_name])):
                continue
            try:
                expected = eval(code, {"__builtins__": {}}, values)  # noqa: S307 - parsed formula
            except ZeroDivisionError:
                continue
            if not math.isclose(expected, float(row[node_name]), rel_tol=1e-9, abs_tol=1e-9):
                errors.append(f"{node_name} = {node.formula}: {row[node_name]} != {expected} in {row['period']}")
    return errors


@pytest.mark.parametrize("name", NAMES)
def test_template_validates_and_computes_on_data(name: str, tmp_path: Path) -> None:
    spec_path = tmp_path / "northstar.yml"
    spec_path.write_text(template_text(name), encoding="utf-8")
    spec = parse_spec(template_text(name)).spec
    files = write_data(spec, tmp_path)

    # every condition of the template matches some of the synthetic rows
    con = duckdb.connect()
    for metric_name, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric):
            continue
        for field_name, text in metric_expressions(metric):
            if field_name == "expr":
                continue
            path = files[metric.source].as_posix()
            matched = con.execute(f"select count(*) from read_csv('{path}') where {text}").fetchone()[0]
            assert matched > 0, f"{metric_name}.{field_name}: no row matches {text}"

    project = Project.load(spec_path)
    problems = project.validate()
    assert not [p for p in problems if p.severity == "error"], [str(p) for p in problems]
    metrics = list(spec.metrics)
    frame = project.query(metrics, grain="week")
    assert len(frame) >= DAYS // 7
    assert list(frame.columns) == ["period", *metrics]
    assert frame[spec.north_star.metric].fillna(0).sum() > 0
    assert not _exactness_errors(spec, frame)
    report = project.tree()
    assert report.north_star == spec.north_star.metric
    assert report.root.value is not None and report.root.children
    project.guardrails()
    project.focus()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", NAMES)
def test_init_writes_the_template_and_keeps_an_existing_spec(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "northstar.yml"
    code, out, _err = _run(capsys, "-f", str(target), "init", "--template", name)
    assert code == 0 and "wrote" in out
    assert target.read_text(encoding="utf-8") == template_text(name)

    target.write_text("project: mine\n", encoding="utf-8")
    code, _out, err = _run(capsys, "-f", str(target), "init", "--template", name)
    assert code != 0 and "--force" in err
    assert target.read_text(encoding="utf-8") == "project: mine\n"

    code, _out, _err = _run(capsys, "-f", str(target), "init", "--template", name, "--force")
    assert code == 0 and target.read_text(encoding="utf-8") == template_text(name)


def test_init_unknown_template_exits_with_a_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "northstar.yml"
    code, _out, err = _run(capsys, "-f", str(target), "init", "--template", "marketplac")
    assert code != 0
    assert "Did you mean 'marketplace'" in err
    assert not target.exists()


def test_init_lists_the_templates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _run(capsys, "init", "--list")
    assert code == 0
    for name in TEMPLATES:
        assert name in out
