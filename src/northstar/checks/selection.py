"""What a metric's `where` selects, read from its parsed expression (sqlglot), never from its text.

A rule that asks "does this metric count sign-ups?" must not search the SQL for the word: the
text of `action <> 'signup'` contains "signup" but the metric counts everything *except* sign-ups.
`selected_values` walks the parsed tree and returns the literal values a column must equal (or
match, for LIKE) for a row to be counted, keeping track of negation: `=`, `IN`, `LIKE` select
their values, `<>`/`!=`, `NOT ...` and `NOT IN` exclude them, and a double negation selects again.
"""

from __future__ import annotations

from sqlglot import expressions as exp

from northstar.spec.expressions import ExpressionError, parse_sql


def selected_values(where: str | None) -> tuple[str, ...]:
    """The string values a row must have in some column to pass `where`, in order, once each.

    A condition under OR still selects its values (`a = 'x' OR a = 'y'` counts x and y); under
    an odd number of NOTs, `=`/`IN`/`LIKE` exclude and `<>` selects. Comparisons of columns with
    columns, ranges and functions of no literal select nothing.
    """
    if not where:
        return ()
    try:
        tree = parse_sql(where).tree
    except ExpressionError:
        return ()
    found: list[str] = []
    _visit(tree, True, found)
    return tuple(dict.fromkeys(found))


def _visit(node: exp.Expression, positive: bool, found: list[str]) -> None:
    if isinstance(node, exp.Paren):
        _visit(node.this, positive, found)
    elif isinstance(node, exp.Not):
        _visit(node.this, not positive, found)
    elif isinstance(node, exp.And | exp.Or):
        _visit(node.left, positive, found)
        _visit(node.right, positive, found)
    elif isinstance(node, exp.EQ | exp.NEQ):
        if positive == isinstance(node, exp.EQ):
            found.extend(_compared_literal(node.left, node.right))
    elif isinstance(node, exp.In) and positive and _has_column(node.this):
        found.extend(v.this for v in node.expressions if isinstance(v, exp.Literal) and v.is_string)
    elif isinstance(node, exp.Like | exp.ILike) and positive:
        found.extend(_compared_literal(node.this, node.expression, like=True))


def _compared_literal(left: exp.Expression, right: exp.Expression, like: bool = False) -> list[str]:
    """The string literal on one side when the other side reads a column."""
    for column_side, literal_side in ((left, right), (right, left)):
        if _has_column(column_side) and isinstance(literal_side, exp.Literal) and literal_side.is_string:
            value = literal_side.this
            if like:
                value = " ".join(part for part in value.replace("_", " ").split("%") if part.strip()).strip()
            return [value] if value else []
    return []


def _has_column(node: exp.Expression) -> bool:
    return node.find(exp.Column) is not None
