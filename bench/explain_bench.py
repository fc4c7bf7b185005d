"""Time `explain` (and `check`, `funnel`) on the demo at its default size.

    .venv/bin/python bench/explain_bench.py --repeat 5

Generates the default demo (5,000 users, 104 weeks) into bench/out/explain-demo and times
`explain` for the last complete week and for each planted incident's first week, then
`check` and `funnel`, three ways: a new Project with no cache (`NORTHSTAR_CACHE=0`: the first
run after the data changed), a new Project with the disk cache filled (what a CLI command
pays on unchanged data), and the same Project again (the dashboard's case). Prints the median and the worst of `--repeat` runs per case. Not a
timed test: CI does not run it; the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from northstar.demo import generate_demo
from northstar.project import Project

CASES = [("last complete week", None, None), ("android_release_de", None, "2026-04-13"),
         ("duplicate_plays_bug", None, "2026-01-19"), ("tiktok_campaign", "activation_rate", "2025-09-15"),
         ("payment_outage", "revenue", "2025-06-09")]


def timed(function, repeat: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(__file__).parent / "out" / "explain-demo"
    summary = generate_demo(folder)
    print(f"demo: {summary.events:,} events, {summary.users:,} users")
    spec = folder / "northstar.yml"
    shutil.rmtree(folder / ".northstar", ignore_errors=True)
    calls = [(f"explain: {name}", lambda p, m=metric, d=period: p.explain(m, period=d)) for name, metric, period in CASES]
    calls += [("check", lambda p: p.check()), ("funnel", lambda p: p.funnel())]
    rows = []
    for name, call in calls:
        os.environ["NORTHSTAR_CACHE"] = "0"  # nothing cached: the first run after the data changed
        cold = timed(lambda: call(Project.load(spec)), args.repeat)
        del os.environ["NORTHSTAR_CACHE"]
        call(Project.load(spec))  # fills the disk cache
        disk = timed(lambda: call(Project.load(spec)), args.repeat)
        project = Project.load(spec)
        call(project)
        warm = timed(lambda: call(project), args.repeat)
        rows.append((name, cold, disk, warm))
    print(f"{'case':36} {'no cache':>18} {'disk cache':>18} {'same project':>18}   (median / worst)")
    for name, *runs in rows:
        print(f"{name:36} " + " ".join(f"{statistics.median(r):>8.2f} / {max(r):.2f} s" for r in runs))


if __name__ == "__main__":
    main()
