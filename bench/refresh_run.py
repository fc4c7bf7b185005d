"""One command of the daily set, timed inside its own process (refresh_bench.py runs it).

    python bench/refresh_run.py SPEC STEP        # STEP: tree | overview | explain | monitor | check | values

Prints one JSON line: {"step", "seconds" (from Project.load to the answer, imports excluded),
"peak_mb"}; `values` also writes the numbers compared with a full recompute (every metric of
the spec by week, whole and by each dimension) to the path in $NORTHSTAR_BENCH_VALUES.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main() -> None:
    spec, step = sys.argv[1], sys.argv[2]
    import pandas as pd  # noqa: F401  (imports outside the timing, as in the other benchmarks)

    from northstar import Project

    try:
        from northstar.refresh import STEPS, run_step
    except ImportError:  # a checkout before `northstar refresh` (--before): the same steps through its API
        STEPS, run_step = ("overview", "explain", "monitor", "check"), _old_step

    started = time.perf_counter()
    project = Project.load(spec)
    if step == "tree":  # the tree alone, as `northstar tree` (refresh's step adds guardrails and focus)
        project.tree()
    elif step == "values":
        values(project)
    elif step in STEPS:
        from northstar.web.service import DashboardService

        run_step(project, DashboardService(project), step)
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - started
    peak = peak_mb()
    print(json.dumps({"step": step, "seconds": seconds, "peak_mb": peak}))


def _old_step(project, service, step: str) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    if step == "overview":
        from northstar.web.overview import build_overview

        build_overview(service, project)
    elif step == "explain":
        project.explain()
    elif step == "monitor":
        from northstar.alerts.monitor import plan

        plan(project, dt.datetime.now(dt.timezone.utc), dry_run=True)
    elif step == "check":
        project.check()


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss, which keeps
    the forking parent's size)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def values(project) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    names = [n for n in project.spec.metrics]
    frames = {"all": project.query(names, grain="week")}
    events = project.spec.sources["events"]
    for dimension in events.dimensions:
        by_source = [n for n in names if getattr(project.spec.metrics[n], "source", None) == "events"]
        frames[dimension] = project.query(by_source, grain="week", by=[dimension])
    out = os.environ["NORTHSTAR_BENCH_VALUES"]
    pd.to_pickle(frames, out)


if __name__ == "__main__":
    main()
