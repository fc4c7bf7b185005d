"""Assemble aggregated rows into gap-free series: the grid of periods x segments, fills,
running totals, formulas, and the previous-period / last-year comparisons.

Pure pandas over small aggregated frames: no engine here.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from northstar.engine.time import period_range, periods_per_year, shift_period, to_date

PERIOD = "period"


def normalise(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Period labels as dates, segment values as objects with None for nulls."""
    frame = frame.copy()
    frame[PERIOD] = pd.Series([to_date(v) for v in frame[PERIOD]], index=frame.index, dtype=object)
    for key in keys:
        frame[key] = frame[key].astype(object).where(frame[key].notna(), None)
    return frame


def build_grid(periods: Sequence[dt.date], frames: Sequence[pd.DataFrame], keys: Sequence[str]) -> pd.DataFrame:
    """Every period crossed with every segment found in any of the frames."""
    spine = pd.DataFrame({PERIOD: pd.Series(list(periods), dtype=object)})
    if not keys:
        return spine
    found = [f[list(keys)] for f in frames if len(f)]
    segments = pd.concat(found, ignore_index=True) if found else None
    if segments is None or segments.empty:
        return spine.iloc[0:0].assign(**{k: pd.Series(dtype=object) for k in keys})
    segments = segments.drop_duplicates().reset_index(drop=True)
    return spine.merge(segments, how="cross")


def attach(grid: pd.DataFrame, frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    on = [PERIOD, *keys]
    return grid.merge(frame, how="left", on=on)


def fill_zero(series: pd.Series) -> pd.Series:
    """Empty cells of a count or sum are 0."""
    return series.fillna(0)


def running(frame: pd.DataFrame, column: str, keys: Sequence[str], how: str) -> pd.Series:
    """Running total / min / max per segment, in period order."""
    ordered = frame.sort_values([*keys, PERIOD], kind="stable") if keys else frame.sort_values(PERIOD, kind="stable")
    grouped = ordered.groupby(list(keys), dropna=False, sort=False)[column] if keys else ordered[column]
    if how == "sum":
        result = grouped.cumsum()
    elif how == "min":
        result = grouped.cummin()
    elif how == "max":
        result = grouped.cummax()
    else:  # pragma: no cover
        raise AssertionError(how)
    return result.reindex(frame.index)


def evaluate_formula(tree: ast.expr, values: dict[str, pd.Series]) -> pd.Series:
    """Arithmetic on aligned series; division by zero and null operands give null."""
    def ev(node: ast.expr) -> pd.Series | float:
        if isinstance(node, ast.Name):
            return values[node.id].astype(float)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            inner = ev(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                with np.errstate(divide="ignore", invalid="ignore"):
                    result = left / right
                if isinstance(result, pd.Series):
                    return result.where(np.isfinite(result.astype(float)) & (right != 0), np.nan)
                return result if np.isfinite(result) else np.nan
        raise AssertionError(f"unsupported formula node {ast.dump(node)}")

    out = ev(tree)
    if not isinstance(out, pd.Series):
        index = next(iter(values.values())).index
        out = pd.Series(out, index=index)
    return out.astype(float)


def add_comparisons(frame: pd.DataFrame, metrics: Sequence[str], keys: Sequence[str], grain: str,
                    data_first: dt.date | None, data_last: dt.date | None = None) -> pd.DataFrame:
    """`m_previous` and `m_last_year` beside each metric, from the same frame.

    A compared period outside the data's range of periods has no value (null), not zero.
    """
    out = frame
    for suffix, shift in (("previous", lambda p: shift_period(p, grain, 1)),
                          ("last_year", lambda p: _year_later(p, grain))):
        moved = frame[[PERIOD, *keys, *metrics]].copy()
        if data_first is None or data_last is None:  # no data at all: nothing to compare with
            before = pd.Series(True, index=moved.index)
        else:
            before = (moved[PERIOD] < data_first) | (moved[PERIOD] > data_last)
        if before.any():
            for m in metrics:
                moved[m] = moved[m].astype(float).where(~before, np.nan)
        moved[PERIOD] = pd.Series([shift(p) for p in moved[PERIOD]], index=moved.index, dtype=object)
        moved = moved.rename(columns={m: f"{m}_{suffix}" for m in metrics})
        out = out.merge(moved, how="left", on=[PERIOD, *keys])
    ordered = [PERIOD, *keys]
    for m in metrics:
        ordered += [m, f"{m}_previous", f"{m}_last_year"]
    return out[ordered]


def _year_later(start: dt.date, grain: str) -> dt.date:
    """The period whose same-period-last-year is `start`."""
    return shift_period(start, grain, periods_per_year(grain))


def periods_between(first: dt.date, last: dt.date, grain: str) -> list[dt.date]:
    return period_range(first, last, grain) if first <= last else []


def running_fill(frame: pd.DataFrame, column: str, keys: Sequence[str]) -> pd.Series:
    """Carry the last known value forward within each segment (running min/max over gaps)."""
    ordered = frame.sort_values([*keys, PERIOD], kind="stable") if keys else frame.sort_values(PERIOD, kind="stable")
    filled = ordered.groupby(list(keys), dropna=False, sort=False)[column].ffill() if keys else ordered[column].ffill()
    return filled.reindex(frame.index)
