"""Parse and check the expressions a spec contains, without running anything.

- `where`, `expr`, `from`, `to` and query filters are SQL expressions over a source's columns.
  They are parsed with sqlglot into a tree and checked against a small supported subset; the
  engine translates that tree into Ibis expressions (they are never pasted into SQL text).
- `formula` is arithmetic over metric names, parsed with Python's `ast`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import sqlglot
from sqlglot import expressions as exp
from sqlglot.errors import ParseError

SQL_DIALECT = "duckdb"

# Node classes the engine knows how to translate. Keep in step with engine/sql_to_ibis.py
# (a unit test checks that every class here has a translation).
SUPPORTED_SQL_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.DPipe,
    exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Lower, exp.Upper, exp.Length,
    exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Greatest, exp.Least, exp.Cast,
    exp.DataType, exp.Tuple,
)
SUPPORTED_FUNCTIONS = ("coalesce", "nullif", "lower", "upper", "length", "abs", "round",
                       "floor", "ceil", "greatest", "least", "cast", "case when", "if")
CAST_TYPES = {"int", "integer", "bigint", "double", "float", "real", "decimal", "varchar",
              "text", "string", "boolean", "bool", "date", "timestamp"}


@dataclass(frozen=True)
class SqlExpression:
    text: str
    tree: exp.Expression
    columns: tuple[str, ...]


class ExpressionError(ValueError):
    """An expression that cannot be parsed or uses something unsupported."""


def parse_sql(text: str) -> SqlExpression:
    """Parse one SQL scalar expression and check it stays in the supported subset."""
    text = str(text).strip()
    if not text:
        raise ExpressionError("empty expression")
    try:
        trees = [sqlglot.parse_one(text, read=SQL_DIALECT)]
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ExpressionError(f"cannot parse SQL expression '{text}': {first}") from None
    except Exception as exc:  # sqlglot raises TokenError and others on odd input
        raise ExpressionError(f"cannot parse SQL expression '{text}': {exc}") from None
    if len(trees) != 1 or trees[0] is None:
        raise ExpressionError(f"'{text}' must be a single expression")
    tree = trees[0]
    columns: list[str] = []
    for node in tree.walk():
        if isinstance(node, exp.Column):
            if node.table:
                raise ExpressionError(f"'{node.sql()}' : write the bare column name, without a table")
            if node.name not in columns:
                columns.append(node.name)
        elif isinstance(node, exp.Star):
            raise ExpressionError(f"'*' is not allowed in '{text}'")
        elif isinstance(node, exp.AggFunc):
            raise ExpressionError(f"aggregate '{node.sql()}' is not allowed here: "
                                  "use the metric's `agg` instead")
        elif isinstance(node, exp.Subquery | exp.Select):
            raise ExpressionError(f"subqueries are not allowed in '{text}': use a `sql:` source")
        elif not isinstance(node, SUPPORTED_SQL_NODES):
            raise ExpressionError(
                f"'{node.sql(dialect=SQL_DIALECT)}' is not supported in '{text}'; supported: columns, "
                "literals, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, + - * / %, "
                f"and {', '.join(SUPPORTED_FUNCTIONS)}")
        elif isinstance(node, exp.Cast):
            type_name = node.to.this.name.lower() if node.to is not None else ""
            if type_name.replace("_", "") not in {t.replace("_", "") for t in CAST_TYPES} and not any(
                type_name.startswith(t) for t in ("decimal", "varchar", "timestamp")
            ):
                raise ExpressionError(f"cast to {node.to.sql()} is not supported")
    return SqlExpression(text=text, tree=tree, columns=tuple(columns))


def normal_sql(text: str | None) -> str | None:
    """One spelling of a SQL expression (sqlglot's), so two ways of writing it compare equal; text
    that does not parse is kept as written."""
    if text is None:
        return None
    try:
        return parse_sql(text).tree.sql(dialect="duckdb")
    except ExpressionError:
        return text.strip()


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr
    names: tuple[str, ...]


_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def parse_formula(text: str) -> Formula:
    """Parse arithmetic over metric names: + - * / parentheses and numbers."""
    text = str(text).strip()
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse formula '{text}': {exc.msg}") from None
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _ALLOWED_BINOPS):
                raise ExpressionError(f"formula '{text}': only + - * / are allowed")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise ExpressionError(f"formula '{text}': only + - * / are allowed")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise ExpressionError(f"formula '{text}': only numbers and metric names are allowed")
        elif not isinstance(node, ast.operator | ast.unaryop | ast.Load):
            raise ExpressionError(f"formula '{text}': only metric names, numbers and + - * / ( ) "
                                  "are allowed")
    names = list(dict.fromkeys(name for _line, _col, name in sorted(found)))
    if not names:
        raise ExpressionError(f"formula '{text}' names no metric")
    return Formula(text=text, tree=tree, names=tuple(names))
