"""Query parameters of the API, checked before anything is computed.

Each check raises `ApiError`: 400 `bad_parameter` naming the parameter, or 404
`unknown_metric`; the message starts with the parameter (`grain: 'yearly' is not one of ...`).
Values are normalised (dates to ISO, lists split on commas) so equal requests share a cache entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from northstar.engine.cohorts import entity_metrics
from northstar.engine.plan import unknown_metric
from northstar.spec.model import GRAINS, Spec
from northstar.spec.suggest import did_you_mean
from northstar.web.errors import ApiError, bad_parameter
from northstar.web.overview import declared_dimensions

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def _iso_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        return dt.datetime.fromisoformat(text.strip()).date().isoformat()


def split(values: str | Iterable[str] | None) -> list[str]:
    """`a,b` or repeated parameters as one list, blanks dropped, each once."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return list(dict.fromkeys(p.strip() for item in items for p in item.split(",") if p.strip()))


def grain(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in GRAINS:
        raise bad_parameter("grain", f"'{value}' is not one of {', '.join(GRAINS)}.{did_you_mean(value, GRAINS)}")
    return value


def date(value: str | None, parameter: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return _iso_date(value)
    except ValueError:
        raise bad_parameter(parameter, f"'{value}' is not a date; write YYYY-MM-DD") from None


def date_range(start: str | None, end: str | None) -> tuple[str | None, str | None]:
    first, last = date(start, "from"), date(end, "to")
    if first and last and first > last:
        raise bad_parameter("from", f"{first} is after to ({last})")
    return first, last


def boolean(value: str | None, parameter: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_parameter(parameter, f"'{value}' is not true or false")


def choice(value: str | None, parameter: str, options: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in options:
        raise bad_parameter(parameter, f"'{value}' is not one of {', '.join(options)}.{did_you_mean(value, options)}")
    return value


def metric(spec: Spec, value: str | None, parameter: str = "metric") -> str | None:
    """A metric name of the spec (None when not given); unknown: 404 `unknown_metric`."""
    if value is None or value.strip() == "":
        return None
    name = value.strip()
    if name not in spec.metrics:
        raise ApiError(404, "unknown_metric", f"{parameter}: {unknown_metric(spec, name)}", parameter)
    return name


def metrics(spec: Spec, value: str | Iterable[str] | None, parameter: str = "metrics") -> tuple[str, ...]:
    names = split(value)
    if not names:
        raise bad_parameter(parameter, "name at least one metric, e.g. metrics=a,b")
    for name in names:
        metric(spec, name, parameter)
    return tuple(names)


def dimensions(spec: Spec, values: str | Iterable[str] | None, parameter: str = "by") -> tuple[str, ...]:
    """Dimensions declared on some source (whether the metric's source has it, the engine says)."""
    names = split(values)
    declared = declared_dimensions(spec)
    for name in names:
        if name not in declared:
            hint = did_you_mean(name, declared) or f" Declared: {', '.join(declared) or 'none'}."
            raise bad_parameter(parameter, f"'{name}' is not a dimension.{hint}")
    return tuple(names)


def dimension(spec: Spec, value: str | None, parameter: str = "by") -> str | None:
    names = dimensions(spec, value, parameter)
    if len(names) > 1:
        raise bad_parameter(parameter, "give one dimension")
    return names[0] if names else None


def vs(value: str | None) -> str:
    if value is None or value == "":
        return "previous"
    if value in ("previous", "year"):
        return value
    try:
        return _iso_date(value)
    except ValueError:
        raise bad_parameter("vs", f"'{value}' is not previous, year or a date (YYYY-MM-DD)") from None


def cohort_metric(spec: Spec, value: str | None, tree: list[str]) -> str:
    """The metric of `/api/cohorts`: given, else the first entity metric of the tree, else of the spec."""
    chosen = metric(spec, value)
    if chosen is not None:
        return chosen
    candidates = entity_metrics(spec)
    for name in tree:
        if name in candidates:
            return name
    if candidates:
        return candidates[0]
    raise bad_parameter("metric", "the spec has no entity metric (a count_distinct of the entity, or a retention)")


def segment(spec: Spec, value: str | None, parameter: str = "where") -> str | None:
    """A segment filter (`country = 'DE'`) checked as `--where` is: 400 with the CLI's message."""
    from northstar.engine.plan import check_segment
    from northstar.errors import QueryError

    if not value or not value.strip():
        return None
    try:
        return check_segment(spec, value)
    except QueryError as exc:
        raise ApiError(400, "bad_parameter", str(exc), parameter) from None


def window(value: str | None, parameter: str = "window") -> str | None:
    """A rolling window (7d, 28d, mtd, qtd), or None when not given."""
    from northstar.analysis.windows import WINDOWS

    if value is None or value.strip() == "":
        return None
    if value.strip() not in WINDOWS:
        raise bad_parameter(parameter, f"'{value}' is not one of {', '.join(WINDOWS)}")
    return value.strip()
