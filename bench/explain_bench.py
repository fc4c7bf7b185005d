"""Time `explain` (and `check`, `funnel`) on the demo at its default size.

    .venv/bin/python bench/explain_bench.py --repeat 5

Generates the default demo (5,000 users, 104 weeks) into bench/out/explain-demo, opens one
Project (as the CLI does per command, and a warm one as the dashboard will), and times
`explain` for the last complete week and for each planted incident's first week, then
`check` and `funnel`. Prints the median and the worst of `--repeat` runs per case. Not a
timed test: CI does not run it; the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
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
    rows = []
    for name, metric, period in CASES:
        cold = timed(lambda: Project.load(spec).explain(metric, period=period), args.repeat)
        project = Project.load(spec)
        project.explain(metric, period=period)
        warm = timed(lambda: project.explain(metric, period=period), args.repeat)
        rows.append((f"explain: {name}", cold, warm))
    for name, call in (("check", lambda p: p.check()), ("funnel", lambda p: p.funnel())):
        cold = timed(lambda: call(Project.load(spec)), args.repeat)
        project = Project.load(spec)
        call(project)
        warm = timed(lambda: call(project), args.repeat)
        rows.append((name, cold, warm))
    print(f"{'case':36} {'new project: median / worst':>30} {'same project: median / worst':>30}")
    for name, cold, warm in rows:
        print(f"{name:36} {statistics.median(cold):>14.2f} s / {max(cold):.2f} s {statistics.median(warm):>14.2f} s "
              f"/ {max(warm):.2f} s")


if __name__ == "__main__":
    main()
