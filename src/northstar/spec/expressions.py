"""Parse and check the expressions a spec contains, without running anything.

- `where`, `expr`, `from`, `to` and query filters are SQL expressions over a source's columns.
  They are parsed with sqlglot into a tree and checked against a small supported subset; the
  engine translates that tree into Ibis expressions (they are never pasted into SQL text).
- `formula` is arithmetic over metric names, parsed with Python's `ast`.
"""

from __future__ import annotations

import ast
import functools
import math
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


MAX_DEPTH = 60  # operations nested in one expression (ANDs and ORs of a chain count as a balanced tree)
MAX_LITERAL_DIGITS = 40  # a number literal with more digits is a typo or an attack, not a value
_INT64 = 2**63 - 1
_VALUE_NODES = {exp.Add: "a sum", exp.Sub: "a difference", exp.Mul: "a product", exp.Div: "a quotient",
                exp.Mod: "a remainder", exp.Neg: "a number", exp.DPipe: "text", exp.Lower: "text", exp.Upper: "text",
                exp.Length: "a number", exp.Abs: "a number", exp.Round: "a number", exp.Floor: "a number",
                exp.Ceil: "a number", exp.Tuple: "a list"}


@dataclass(frozen=True)
class SqlExpression:
    """A parsed expression; `tree` is shared between callers (parses are cached): read it, never
    change it."""

    text: str
    tree: exp.Expression
    columns: tuple[str, ...]  # plain names and property paths (`properties.plan`)


class ExpressionError(ValueError):
    """An expression that cannot be parsed or uses something unsupported."""


def short(text: str, limit: int = 80) -> str:
    """An expression as quoted in a one-line message: at most `limit` characters, and control
    characters written as escapes (a NUL byte printed raw would garble the terminal)."""
    text = " ".join(str(text).split())
    text = "".join(c if ord(c) >= 32 and c != "\x7f" else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text):,} characters)"


def parse_sql(text: str) -> SqlExpression:
    """Parse one SQL scalar expression and check it stays in the supported subset.

    Parses are cached by text: a spec's `where` is read by every query, check and page, and an
    `IN` list of 5,000 values takes 0.1 s to parse (49 parses made `check` 7 s slower).
    """
    return _parse_cached(str(text).strip())


def parse_condition(text: str) -> SqlExpression:
    """`parse_sql` for a filter (`where`, `from`, `to`): an expression that can be true or false.
    `-1`, `'a'` or `DATE '2024-01-01'` are refused here, before any data is read."""
    parsed = parse_sql(text)
    kind = _value_kind(parsed.tree)
    if kind is not None:
        raise ExpressionError(f"'{short(parsed.text)}' is {kind}, not a condition: write a comparison such as "
                              "`country = 'NL'` or `amount > 0`")
    return parsed


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> SqlExpression:
    if not text:
        raise ExpressionError("empty expression")
    control = next((c for c in text if ord(c) < 32 and c not in "\t\n\r"), None)
    if control is not None:
        raise ExpressionError(f"'{short(text)}' holds the control character U+{ord(control):04X} (a NUL byte?): "
                              "remove it")
    try:
        tree = sqlglot.parse_one(text, read=SQL_DIALECT)
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ExpressionError(f"cannot parse SQL expression '{short(text)}': {first}") from None
    except RecursionError:
        raise ExpressionError(f"'{short(text)}' nests too deep to read (more than {MAX_DEPTH} levels)") from None
    except Exception as exc:  # sqlglot raises TokenError and others on odd input
        raise ExpressionError(f"cannot parse SQL expression '{short(text)}': {exc}".splitlines()[0]) from None
    if tree is None:
        raise ExpressionError(f"'{short(text)}' must be a single expression")
    tree = _balanced(tree)
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"'{short(text)}' nests {depth} operations deep; the limit is {MAX_DEPTH}: "
                              "for a list of values write `column IN ('a', 'b', ...)`")
    columns: list[str] = []
    for node in tree.walk():
        _check_node(node, text)
        if isinstance(node, exp.Column) and column_name(node) not in columns:
            columns.append(column_name(node))
    return SqlExpression(text=text, tree=tree, columns=tuple(columns))


def column_name(node: exp.Column) -> str:
    """A column's name, or a property path's `container.key` (`properties.plan`: the key `plan`
    of the column `properties`, read by engine/properties.py)."""
    return f"{node.table}.{node.name}" if node.table else node.name


def _check_node(node: exp.Expression, text: str) -> None:
    """One node of the tree against the supported subset (exact classes: sqlglot's TryCast is a
    Cast, and would otherwise pass here and fail in the engine)."""
    if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
        raise ExpressionError(f"'{node.sql()}': a property path has one dot, `container.key` (e.g. "
                              "`properties.plan`); quote a key holding dots: properties.\"a.b\"")
    if isinstance(node, exp.Star):
        raise ExpressionError(f"'*' is not allowed in '{short(text)}'")
    if isinstance(node, exp.AggFunc):
        raise ExpressionError(f"aggregate '{short(node.sql())}' is not allowed here: use the metric's `agg` instead")
    if isinstance(node, exp.Subquery | exp.Select):
        raise ExpressionError(f"subqueries are not allowed in '{short(text)}': use a `sql:` source")
    if type(node) not in _SUPPORTED:
        raise ExpressionError(
            f"'{short(node.sql(dialect=SQL_DIALECT), 40)}' is not supported in '{short(text)}'; supported: columns, "
            "literals, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, + - * / %, "
            f"and {', '.join(SUPPORTED_FUNCTIONS)}")
    if isinstance(node, exp.Literal) and not node.is_string:
        _check_number(node.this)
    if isinstance(node, exp.Mod) and _is_zero(node.expression):
        raise ExpressionError(f"'{short(node.sql(dialect=SQL_DIALECT), 40)}' divides by zero")
    if isinstance(node, exp.Cast):
        type_name = node.to.this.name.lower() if node.to is not None else ""
        if type_name.replace("_", "") not in {t.replace("_", "") for t in CAST_TYPES} and not any(
            type_name.startswith(t) for t in ("decimal", "varchar", "timestamp")
        ):
            raise ExpressionError(f"cast to {node.to.sql()} is not supported")


_SUPPORTED = frozenset(SUPPORTED_SQL_NODES)


def _check_number(text: str) -> None:
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_LITERAL_DIGITS:
        raise ExpressionError(f"the number {short(text, 20)} has {digits} digits; numbers may have at most "
                              f"{MAX_LITERAL_DIGITS}")
    try:
        value = float(text)
    except ValueError:
        raise ExpressionError(f"'{short(text, 40)}' is not a number") from None
    if not math.isfinite(value):
        raise ExpressionError(f"the number {short(text, 40)} is too large")


def number_value(text: str) -> int | float:
    """A numeric literal's value: an int when it is written as one and fits 64 bits, else a float."""
    if not any(c in text for c in ".eE"):
        value = int(text)
        if -_INT64 - 1 <= value <= _INT64:
            return value
    return float(text)


def _is_zero(node: exp.Expression) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string and _finite_zero(node.this)


def _finite_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def _balanced(tree: exp.Expression) -> exp.Expression:
    """The tree with each chain of ANDs (or of ORs) as a balanced tree: 5,000 ORs nest 13 deep,
    not 5,000 (the same conditions, the same SQL; recursive code downstream does not overflow)."""
    root = tree
    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) in (exp.And, exp.Or):
            operands = chain(node)
            if len(operands) > 2:
                replacement = _build(type(node), operands)
                if node is root:
                    root = replacement
                else:
                    node.replace(replacement)
            stack.extend(operands)
        else:
            stack.extend(node.iter_expressions())
    return root


def chain(node: exp.Expression) -> list[exp.Expression]:
    """The operands of a chain of the same connective, left to right."""
    kind, out, stack = type(node), [], [node]
    while stack:
        item = stack.pop()
        if type(item) is kind:
            stack += [item.expression, item.this]
        else:
            out.append(item)
    return out


def _build(kind: type[exp.Expression], operands: list[exp.Expression]) -> exp.Expression:
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    return kind(this=_build(kind, operands[:middle]), expression=_build(kind, operands[middle:]))


def _depth(tree: exp.Expression) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack += [(child, depth + 1) for child in node.iter_expressions()]
    return deepest


def _value_kind(node: exp.Expression) -> str | None:
    """What a filter's top node gives when that is plainly not true/false ("a number", "text",
    "a date"...); None when it is, or may be (a column, a CASE, ...), a condition."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return "text" if node.is_string else "a number"
    if isinstance(node, exp.Cast):
        name = node.to.this.name.lower() if node.to is not None else ""
        if name.startswith("bool"):
            return None
        return "a date" if name.startswith("date") else ("a timestamp" if name.startswith("timestamp") else
                                                         f"a value of type {name}")
    if isinstance(node, exp.Case):
        branches = [b.args.get("true") for b in node.args.get("ifs") or []] + [node.args.get("default")]
        kinds = [_value_kind(b) for b in branches if b is not None]
        return kinds[0] if kinds and all(kinds) else None
    if isinstance(node, exp.If):
        kinds = [_value_kind(b) for b in (node.args.get("true"), node.args.get("false")) if b is not None]
        return kinds[0] if kinds and all(kinds) else None
    return _VALUE_NODES.get(type(node))


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
