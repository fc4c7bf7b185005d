"""Checks of a spec that Northstar's user did not write (a pull request from a fork, in CI).

A spec is code: a `sql:` source runs a SELECT on the engine, and DuckDB's SELECT can read any
file the process can (`read_csv('/etc/hostname')`), list folders (`glob`) or read the
environment (`getenv`). `validate --untrusted` and `check --untrusted` first run these checks,
then read the data through a DuckDB that may only touch the spec's folder (engine/backends/
duckdb.py `sandbox`). The checks allow-list, they do not deny-list: a `sql:` source may call
only the functions named here and read only this spec's sources, so a function added to DuckDB
tomorrow is refused until someone adds it.
"""

from __future__ import annotations

import glob
from pathlib import Path, PurePosixPath

import sqlglot
from sqlglot import expressions as exp

from northstar.errors import Problem
from northstar.spec.expressions import ExpressionError, parse_sql, short
from northstar.spec.model import FormulaMetric, Spec
from northstar.spec.validate import metric_expressions
from northstar.spec.yamlsource import LineMap

# sqlglot's classes of functions that compute on values only (no file, network, setting or
# environment access): aggregates, arithmetic, text, dates, conditionals, window functions.
# Named, not referenced, so a sqlglot without one of them still loads this module.
_SAFE_FUNCTION_CLASSES = (
    "Count CountIf Sum Avg Min Max ApproxDistinct AnyValue First Last Stddev StddevPop StddevSamp Variance "
    "VariancePop Median Quantile ArrayAgg LogicalAnd LogicalOr ArgMax ArgMin "
    "Coalesce Nullif If Case Cast TryCast Greatest Least Abs Round Floor Ceil Sqrt Ln Log Exp Pow Sign "
    "Lower Upper Length Trim Substring Concat ConcatWs Replace Left Right Split StrPosition RegexpLike "
    "RegexpExtract RegexpReplace StartsWith Lpad Rpad Reverse Initcap MD5 Md5 SHA SHA2 "
    "DateTrunc TimestampTrunc Extract DateAdd DateSub DateDiff TsOrDsAdd TimestampAdd TimestampSub TimestampDiff "
    "DayOfWeek DayOfWeekIso DayOfMonth DayOfYear WeekOfYear Year Month Day Quarter CurrentDate CurrentTimestamp "
    "StrToTime StrToDate TimeToStr TimeStrToTime UnixToTime TimeToUnix Date TsOrDsToDate AtTimeZone "
    "ConvertTimezone MakeInterval RowNumber Lag Lead FirstValue LastValue NthValue "
    "Array Struct Unnest Explode ArrayContains ArraySize JSONExtract JSONExtractScalar Hex Anonymous "
    "SplitPart TimestampFromParts DateFromParts TimeFromParts UnixToStr UnixSeconds StrToUnix DateStrToDate "
    "TsOrDsToTimestamp TimeStrToDate TimeStrToUnix LastDay Levenshtein Pad RegexpSplit Ascii Chr Repeat ToChar "
    "ToNumber NumberToStr SafeDivide ApproxQuantile Corr CovarPop CovarSamp PercentileCont PercentileDisc "
    "GroupConcat DatetimeAdd DatetimeSub DatetimeDiff DatetimeTrunc TimeAdd TimeSub TimeDiff TimeTrunc IsNan IsInf "
    "Nvl2 Bracket Boolean Div Mod Trunc Cbrt Sin Cos Tan Atan Atan2 Degrees Radians Pi Log2 Log10 BitwiseAnd "
    "BitwiseOr BitwiseXor BitCount And Or Xor Collate Exists RegexpFullMatch RegexpILike ArrayContainsAll "
    "ArrayOverlaps Contains"
).split()
SAFE_FUNCTIONS: frozenset[type[exp.Expression]] = frozenset(
    getattr(exp, name) for name in _SAFE_FUNCTION_CLASSES if isinstance(getattr(exp, name, None), type))
# Functions sqlglot does not know (parsed as `Anonymous`), allowed by name.
SAFE_FUNCTION_NAMES: frozenset[str] = frozenset({
    "epoch_ms", "epoch", "epoch_us", "epoch_ns", "make_timestamp", "make_date", "make_time", "to_timestamp",
    "date_part", "datepart", "strptime", "strftime", "try_strptime", "regexp_matches", "regexp_full_match",
    "string_split", "list_value", "row_number", "rank", "dense_rank", "ntile", "percent_rank", "cume_dist",
    "ifnull", "nvl", "iff", "concat", "lcase", "ucase", "len", "strlen", "contains", "suffix", "prefix",
    "ends_with", "starts_with", "least", "greatest", "mod", "floor", "ceil", "ceiling", "trunc", "isnan",
    "isinf", "isfinite", "to_days", "to_hours", "to_minutes", "to_seconds", "to_weeks", "to_months", "to_years",
    "last_day", "dayname", "monthname", "yearweek", "isodow", "isoyear", "week", "weekday", "hour", "minute",
    "second", "millisecond", "microsecond", "era", "decade", "century", "timezone", "age", "date_diff",
    "datediff", "date_add", "date_sub", "time_bucket", "hash", "md5", "sha256", "format", "printf", "bit_length",
    "count_star", "mode", "bool_and", "bool_or", "arbitrary", "any_value", "fsum", "sumkahan", "product",
    "approx_count_distinct", "quantile_cont", "quantile_disc", "list_aggregate", "string_agg", "group_concat",
})
# Table functions a SELECT may read from: they make rows from values, not from files.
SAFE_TABLE_FUNCTIONS: frozenset[type[exp.Expression]] = frozenset(
    getattr(exp, name) for name in ("GenerateSeries", "ExplodingGenerateSeries", "Unnest")
    if isinstance(getattr(exp, name, None), type))


def untrusted_problems(spec: Spec, lines: LineMap, base_dir: Path) -> list[Problem]:
    """Every reason the spec could reach beyond its own folder and data, each `file:line`."""
    problems: list[Problem] = []
    engine = spec.engine
    if engine.type != "duckdb":
        problems.append(lines.problem(("engine", "type"), f"engine type '{engine.type}' connects to a server the "
                                      "spec names: an untrusted spec runs on DuckDB only"))
    if engine.database != ":memory:" and (problem := _path_problem(engine.database, base_dir)):
        problems.append(lines.problem(("engine", "database"), f"engine.database: {problem}"))
    for name, source in spec.sources.items():
        if source.path is not None and (problem := _path_problem(source.path, base_dir)):
            problems.append(lines.problem(("sources", name, "path"), f"source '{name}' field 'path': {problem}"))
        if source.sql is not None:
            problems += [lines.problem(("sources", name, "sql"), f"source '{name}' field 'sql': {reason}")
                         for reason in sql_problems(source.sql, set(spec.sources) - {name})]
    for name, metric in spec.metrics.items():
        if isinstance(metric, FormulaMetric):
            continue
        for field_name, text in metric_expressions(metric):
            try:  # the expression subset is an allow-list already: no function reads a file
                parse_sql(text)
            except ExpressionError as exc:
                problems.append(lines.problem(("metrics", name, field_name), f"metric '{name}' field "
                                              f"'{field_name}': {exc}"))
    return problems


def sql_problems(sql: str, sources: set[str]) -> list[str]:
    """Why a `sql:` source may not run when the spec is untrusted (empty: it may)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except Exception as exc:
        return [f"cannot read the SQL: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        return ["must be one SELECT statement"]
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    problems: list[str] = []
    for node in tree.walk():
        if isinstance(node, exp.Table):
            problems += _table_problems(node, sources | ctes)
        elif isinstance(node, exp.Func) and not _table_function(node):
            reason = _function_problem(node)
            if reason:
                problems.append(reason)
        elif type(node).__name__ in ("Command", "Pragma", "Set", "Copy", "Attach", "Detach", "Install", "Use"):
            problems.append(f"'{short(node.sql(dialect='duckdb'), 40)}' is not a SELECT")
    return list(dict.fromkeys(problems))


def _table_function(node: exp.Func) -> bool:
    """Is this function the `FROM` of a table (judged there, by `_table_problems`)?"""
    return isinstance(node.parent, exp.Table) and node.parent.this is node


def _table_problems(table: exp.Table, allowed: set[str]) -> list[str]:
    call = table.this
    if isinstance(call, exp.Func):
        if type(call) in SAFE_TABLE_FUNCTIONS or _anonymous_name(call) in ("range", "generate_series", "unnest"):
            return []
        return [f"'{short(call.sql(dialect='duckdb'), 50)}' reads from outside the spec's sources (a file, a "
                "folder or a server): an untrusted spec may read only its own sources"]
    if not isinstance(call, exp.Identifier):
        return [f"'{short(table.sql(dialect='duckdb'), 50)}' is not a table name"]
    if table.args.get("db") is not None or table.args.get("catalog") is not None:
        return [f"'{short(table.sql(dialect='duckdb'), 50)}' names another database or schema: an untrusted spec "
                "may read only its own sources"]
    if call.name not in allowed:
        kind = "a file or a URL" if any(c in call.name for c in "/.:\\") else "not a source of this spec"
        return [f"'{short(call.name, 50)}' is {kind}: an untrusted spec may read only its own sources"]
    return []


def _anonymous_name(node: exp.Expression) -> str:
    return node.name.lower() if isinstance(node, exp.Anonymous) else ""


def _function_problem(node: exp.Func) -> str | None:
    if type(node) not in SAFE_FUNCTIONS:
        return (f"function '{type(node).__name__.lower()}' ({short(node.sql(dialect='duckdb'), 40)}) is not "
                "allowed in an untrusted spec")
    name = _anonymous_name(node)
    if isinstance(node, exp.Anonymous) and name not in SAFE_FUNCTION_NAMES:
        return (f"function '{name}' is not allowed in an untrusted spec (functions that read files, folders, "
                "settings or the environment are refused; this one is not on the allowed list)")
    return None


def _path_problem(path: str, base_dir: Path) -> str | None:
    """Why `path` may reach outside the spec's folder: absolute, `~`, `..`, a URL, or a file
    that is a link leading out."""
    text = str(path)
    if "://" in text or text.startswith(("s3:", "gs:", "http:", "https:", "az:", "hf:")):
        return f"'{short(text, 60)}' is a URL: an untrusted spec reads files in its own folder only"
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or text.startswith("~") or (len(text) > 1 and text[1] == ":"):
        return f"'{short(text, 60)}' is an absolute path: write it relative to the spec's folder"
    if ".." in pure.parts:
        return f"'{short(text, 60)}' climbs out of the spec's folder ('..'): write a path inside it"
    root = base_dir.resolve()
    for found in glob.glob(str(base_dir / text)) or [str(base_dir / text)]:
        real = Path(found).resolve()
        if real != root and root not in real.parents:
            return f"'{short(text, 60)}' leads outside the spec's folder (a link to {short(str(real), 60)})"
    return None
