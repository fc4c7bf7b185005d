"""`northstar refresh`: bring the stored results up to date with the data, before anyone asks.

Every command already refreshes what is stale before it answers (the engine keeps per-period
results and recomputes only the periods new data touches: `engine/parts.py`). A refresh runs the
set a team uses every day ahead of time (the tree, the dashboard's overview, the explanation of
the review period, a monitor pass without sending anything, the checks), so that the morning's
commands and pages read small stored results. `since` counts every stored period from that
date on as changed (data corrected in place, a table source without a `late_data` rule);
`full` forgets everything stored and computes from the raw data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
from collections.abc import Callable
from typing import Any

STEPS: tuple[str, ...] = ("tree", "overview", "explain", "monitor", "check")


@dataclasses.dataclass(frozen=True)
class Scan:
    source: str
    first: dt.date
    last: dt.date


@dataclasses.dataclass(frozen=True)
class RefreshReport:
    seconds: dict[str, float]  # per step
    scans: tuple[Scan, ...]  # what was computed from raw data (the rest was reused)
    recomputed: tuple[str, ...]  # sources computed in full every time, and why
    since: dt.date | None
    full: bool
    review: str

    def to_dict(self) -> dict[str, Any]:
        return {"review": self.review, "full": self.full, "since": self.since.isoformat() if self.since else None,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "total_seconds": round(sum(self.seconds.values()), 3),
                "scanned": [{"source": s.source, "first": s.first.isoformat(), "last": s.last.isoformat()}
                            for s in self.scans],
                "recomputed_in_full": list(self.recomputed)}


def refresh(project: Any, since: dt.date | None = None, full: bool = False,
            progress: Callable[[str, int, int], None] | None = None, every: bool = False) -> RefreshReport:
    """Run the daily set on `project`, reusing what is stored; see the module's docstring.
    `every`: for each North Star of the spec (`alerts.monitor.views`), not only `project`'s."""
    from northstar.engine import parts

    folder = project.path.parent / ".northstar"
    if full:
        for name in ("parts", "cache"):
            shutil.rmtree(folder / name, ignore_errors=True)
    elif since is not None:  # whole results are made of the stored periods: they go, the periods are marked
        shutil.rmtree(folder / "cache", ignore_errors=True)
        parts.force(folder / "parts", since)
    from northstar.alerts.monitor import views
    from northstar.web.service import DashboardService

    engine = project.engine
    engine.scanned.clear()
    # the overview's checks are the check step's: one service per North Star
    services = [(view, DashboardService(view)) for view in views(project, every)]
    seconds: dict[str, float] = {}
    for at, step in enumerate(STEPS):
        if progress is not None:
            progress(step, at, len(STEPS))
        began = time.perf_counter()
        for view, service in services:
            run_step(view, service, step)
        seconds[step] = time.perf_counter() - began
    if progress is not None:
        progress("done", len(STEPS), len(STEPS))
    scans = tuple(dict.fromkeys(Scan(s, a, b) for s, a, b in engine.scanned))
    recomputed = tuple(f"{name} (a `table:` source without `late_data`: add e.g. `late_data: 3d` to keep its "
                       "older periods)" for name in sorted(engine.recomputed))
    review = project.review_period()
    return RefreshReport(seconds, scans, recomputed, since, full, f"{review.grain} of {review.period.isoformat()}")


def run_step(project: Any, service: Any, step: str) -> None:
    """One step of the daily set (`STEPS`) on `project`; `service` (a `DashboardService` of it)
    keeps the overview's check report for the check step."""
    if step == "tree":
        project.tree()
        project.guardrails()
        project.focus()
    elif step == "overview":
        from northstar.web.overview import build_overview

        build_overview(service, project)
    elif step == "explain":
        project.explain()
    elif step == "monitor":
        from northstar.alerts.monitor import plan

        plan(project, dt.datetime.now(dt.timezone.utc), dry_run=True)
    elif step == "check":
        service.checks()
