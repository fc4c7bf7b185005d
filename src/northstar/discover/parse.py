"""Parsers of answers: each takes what a person typed or an answers file holds, and returns
the value or raises ValueError with a message that says what is expected."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from northstar.spec.expressions import ExpressionError, parse_sql
from northstar.spec.model import GRAINS
from northstar.spec.suggest import did_you_mean, known

NONE_WORDS = ("none", "null", "-", "no", "")
YES = ("y", "yes", "true", "1", "ok")
NO = ("n", "no", "false", "0")


def is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS)


def text(value: Any) -> str:
    """A non-empty sentence."""
    if value is None or isinstance(value, bool) or not str(value).strip():
        raise ValueError("expected a sentence")
    return str(value).strip()


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise ValueError(f"expected yes or no, not '{value}'")


def choice(options: Sequence[str], what: str, allow_none: bool = False) -> Callable[[Any], str | None]:
    """One of `options` (by name, or by its number in the list shown), or none when allowed."""

    def parse(value: Any) -> str | None:
        if allow_none and is_none(value):
            return None
        word = str(value).strip()
        if word in options:
            return word
        if isinstance(value, str) and word.isdigit() and 1 <= int(word) <= len(options):
            return options[int(word) - 1]
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            return lowered[word.lower()]
        hint = did_you_mean(word, options) or f" Choose one of: {known(options)}."
        raise ValueError(f"'{word}' is not {what}.{hint}")

    return parse


def metric(known_metrics: Iterable[str], numbered: Sequence[str] = (), allow_none: bool = False,
           forbidden: dict[str, str] | None = None) -> Callable[[Any], str | None]:
    """A metric name (or its number in the list shown); `forbidden` maps names to why not."""
    pool = list(dict.fromkeys([*numbered, *known_metrics]))
    forbidden = forbidden or {}

    def parse(value: Any) -> str | None:
        if allow_none and is_none(value):
            return None
        word = str(value).strip()
        if isinstance(value, str) and word.isdigit() and 1 <= int(word) <= len(numbered):
            word = numbered[int(word) - 1]
        if word not in pool:
            hint = did_you_mean(word, pool) or f" Known metrics: {known(pool)}."
            raise ValueError(f"metric '{word}' is neither proposed nor defined (add it under `metrics:`).{hint}")
        if word in forbidden:
            raise ValueError(forbidden[word])
        return word

    return parse


def grain(value: Any) -> str:
    word = str(value).strip().lower()
    if word not in GRAINS:
        raise ValueError(f"'{value}' is not a grain; expected {', '.join(GRAINS)}.{did_you_mean(word, GRAINS)}")
    return word


def names(allowed: Sequence[str], what: str) -> Callable[[Any], list[str]]:
    """A list (YAML list, or text separated by commas) of names among `allowed`; none is empty."""

    def parse(value: Any) -> list[str]:
        if is_none(value):
            return []
        items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
        out = []
        for item in (str(i).strip() for i in items):
            if item and item not in allowed:
                hint = did_you_mean(item, allowed) or f" Choose among: {known(allowed)}."
                raise ValueError(f"'{item}' is not {what}.{hint}")
            if item and item not in out:
                out.append(item)
        return out

    return parse


def sql_filter(columns: Iterable[str]) -> Callable[[Any], str | None]:
    """A SQL boolean expression over the data's columns (or none)."""
    pool = list(columns)

    def parse(value: Any) -> str | None:
        if is_none(value):
            return None
        try:
            parsed = parse_sql(str(value))
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        for column in parsed.columns:
            if column not in pool:
                hint = did_you_mean(column, pool) or f" Columns: {known(pool)}."
                raise ValueError(f"column '{column}' does not exist.{hint}")
        return parsed.text

    return parse
