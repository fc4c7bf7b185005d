"""Benchmark: how long the `northstar` command takes to start (issue 14, "a fast start").

Times, in fresh processes, `northstar --help`, `northstar validate --no-data` on the example
spec (tests/sparkify.yml; no data is read) and a bare `import northstar`: the median of
`--repeat` runs (wall clock, `time.perf_counter` around `subprocess.run`). Give one or more
source trees to compare, e.g. the code before and after a change:

    python bench/startup_bench.py                                  # this tree's src/
    python bench/startup_bench.py --src before=/tmp/old/src --src after=src

The trees' runs alternate, so a busy machine slows them alike. Not a timed test: CI does not
run it (tests/test_fast_start.py checks the property behind the figures: no heavy import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "sparkify.yml"

COMMANDS = {
    "northstar --help": ["-m", "northstar.cli", "--help"],
    "northstar validate --no-data": ["-m", "northstar.cli", "-f", str(SPEC), "validate", "--no-data"],
    "import northstar": ["-c", "import northstar"],
}


def run_once(src: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with {src}:\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", default=[], metavar="NAME=PATH",
                        help="a source tree to time (repeatable; default: this tree's src/)")
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    trees = dict(s.split("=", 1) if "=" in s else (s, s) for s in options.src) or {"src": str(ROOT / "src")}
    print(f"python {sys.version.split()[0]}, {options.repeat} runs each, median (min-max)")
    for label, args in COMMANDS.items():
        times: dict[str, list[float]] = {name: [] for name in trees}
        for name, src in trees.items():
            run_once(Path(src), args)  # warm the file cache and the bytecode
        for _ in range(options.repeat):
            for name, src in trees.items():
                times[name].append(run_once(Path(src), args))
        for name, values in times.items():
            print(f"{label:32} {name:10} {statistics.median(values):6.3f} s  "
                  f"({min(values):.3f}-{max(values):.3f})")


if __name__ == "__main__":
    main()
