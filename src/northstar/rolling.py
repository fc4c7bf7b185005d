"""The Project's rolling windows: which windows every command compares, their values (the
engine's aggregate over each whole window), and the tree over them. The date rule is in
`northstar.analysis.windows`; the engine's window query in `engine/engine.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from northstar.analysis.periods import last_complete
from northstar.analysis.tree import TreeNodeValue, TreeReport, build_tree, tree_metrics
from northstar.analysis.windows import WindowComparison, check_window, rolling_windows
from northstar.engine import MetricQuery
from northstar.errors import QueryError

if TYPE_CHECKING:
    from northstar.explain.model import Explanation
    from northstar.project import Project


def rolling(project: "Project", window: str) -> WindowComparison:
    """The windows of `window` ending on the last complete local day of the North Star's data
    (the day rule every command uses), marked unavailable where the data starts later."""
    check_window(window)
    coverage = project.coverage()
    if coverage is None:
        raise QueryError("the data holds no events, so there is no window to show")
    return rolling_windows(window, last_complete("day", coverage)[0], coverage.first_day)


def window_values(project: "Project", metrics: Sequence[str], window: str, by: Sequence[str] = (),
                  where: str | None = None) -> tuple[WindowComparison, pd.DataFrame]:
    """See `Project.window_values`: one engine query over the three windows."""
    windows = rolling(project, window)
    sides = windows.sides()
    request = MetricQuery(metrics=tuple(dict.fromkeys(metrics)), grain="day", by=tuple(by), where=where or None,
                          windows=tuple((w.first, w.end) for w in sides.values()))
    frame = project.engine.query(request)
    names = {w.first: side for side, w in sides.items()}
    frame.insert(0, "window", frame.pop("period").map(names))
    frame.insert(1, "first", frame["window"].map(lambda s: sides[s].first))
    frame.insert(2, "last", frame["window"].map(lambda s: sides[s].last))
    missing = frame["window"].isin([side for side, w in sides.items() if not w.available])
    if missing.any():  # too little data: no number rather than missing days counted as 0
        for metric in request.metrics:
            frame[metric] = frame[metric].astype(object).where(~missing, None)
    order = {side: i for i, side in enumerate(sides)}
    frame = frame.sort_values("window", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    return windows, frame


def side_values(frame: pd.DataFrame, side: str, metrics: Sequence[str]) -> dict[str, object]:
    """{metric: value} in one window of a `window_values` frame without a breakdown."""
    rows = frame[frame["window"] == side]
    return {m: (rows.iloc[0][m] if len(rows) else None) for m in metrics}


def window_tree(project: "Project", window: str, period: object = None) -> TreeReport:
    """The North Star and its tree over a rolling window against the window before."""
    if period is not None:
        raise QueryError("--window: a window ends on the data's last complete day; leave out --period")
    spec = project.spec
    every = tree_metrics(spec)
    # a retention or conversion node (or a formula over one) has no window value: shown without
    # one, with a note, while the rest of the tree is computed
    metrics = [m for m in every if windowable(spec, m)]
    windows, frame = window_values(project, metrics, window)
    now, before = side_values(frame, "current", metrics), side_values(frame, "previous", metrics)
    report = build_tree(spec, {m: (now[m], before[m]) for m in metrics}, windows.current.first,
                        windows.previous.first)
    return replace(report, window=windows, root=_note_skipped(report.root, set(every) - set(metrics)))


def windowable(spec: object, metric: str) -> bool:
    """Whether a metric has a value over a window (see `engine.plan`: no retention, conversion or
    running total behind it)."""
    from northstar.engine.plan import dependency_order
    from northstar.spec.model import AggregateMetric, ConversionMetric, RetentionMetric

    for name in dependency_order(spec, (metric,)):  # type: ignore[arg-type]
        m = spec.metrics[name]  # type: ignore[attr-defined]
        if isinstance(m, (RetentionMetric, ConversionMetric)) or (isinstance(m, AggregateMetric) and m.cumulative):
            return False
    return True


def _note_skipped(node: TreeNodeValue, skipped: set[str]) -> TreeNodeValue:
    children = tuple(_note_skipped(c, skipped) for c in node.children)
    note = ("defined on calendar periods (a retention, conversion or running total): no value over a window"
            if node.metric in skipped else node.note)
    return replace(node, children=children, note=note)


def window_explain(project: "Project", metric: str | None, window: str, vs: str = "previous",
                   period: object = None, by: Sequence[str] = ()) -> "Explanation":
    """The change of `metric` between the current window and the one before (or a year before)
    split exactly through the tree, as for periods (`explain.decompose`): the contributions add
    up to the change. Segments, top ids and drivers are searched on calendar periods only."""
    import math

    from northstar.engine.plan import dependency_order, unknown_metric
    from northstar.explain.decompose import attribute, decomposition
    from northstar.explain.model import Explanation

    if period is not None:
        raise QueryError("--window: a window ends on the data's last complete day; leave out --period")
    if vs not in ("previous", "year"):
        raise QueryError(f"--vs: with --window, '{vs}' is not previous or year")
    if by:
        raise QueryError("--by: segments are searched on calendar periods; leave out --window or --by")
    spec = project.spec
    metric = metric or spec.north_star.metric
    if metric not in spec.metrics:
        raise unknown_metric(spec, metric)
    node = decomposition(spec, metric)
    names = list(dict.fromkeys([*node.names(), *dependency_order(spec, tuple(node.names()))]))
    windows, frame = window_values(project, names, window)
    side = "previous" if vs == "previous" else "last_year"

    def floats(values: dict[str, object]) -> dict[str, float]:
        return {n: math.nan if v is None or pd.isna(v) else float(v) for n, v in values.items()}  # type: ignore[arg-type]

    now, before = floats(side_values(frame, "current", names)), floats(side_values(frame, side, names))
    description = windows.description(vs)
    if math.isnan(now[metric]) or math.isnan(before[metric]):
        raise QueryError(f"--window: {description}: '{metric}' has no value in one of the windows")
    root = attribute(spec, node, before, now)
    label = root.label
    summary = (f"{label} was {now[metric]:,.4g} over {description} ({before[metric]:,.4g}), "
               f"a change of {now[metric] - before[metric]:+,.4g}.")
    return Explanation(metric, label, spec.north_star.grain, windows.current.first, windows.sides()[side].first,
                       root.value, root.baseline, root, summary=summary,
                       notes=("segments, top ids and drivers are searched on calendar periods, not windows",),
                       window=windows)
