"""A small CSV project for the hostile-input tests, and a way to run the CLI on it in-process.

The events are random but seeded; tests compute what they expect from `EVENTS` with plain
Python, never through Northstar.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SPEC = """\
project: Hostile
timezone: UTC
sources:
  events:
    path: data/events.csv
    timestamp: ts
    entity: user
    dimensions: [event]
metrics:
  plays:
    source: events
    where: event = 'play'
    agg: count
  buyers:
    source: events
    where: event = 'buy'
    agg: count_distinct
  amount:
    source: events
    agg: sum
    expr: amount
north_star:
  metric: plays
  grain: week
"""

HEADER = ["ts", "user", "event", "amount"]


def make_events(seed: int = 7, rows: int = 2_000, blank_every: int = 40) -> list[list[str]]:
    """Rows over 16 weeks of 2024; every `blank_every`-th row has no time (0: none)."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    out = []
    for i in range(rows):
        ts = (start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 7 * 16))).isoformat(sep=" ")
        if blank_every and i % blank_every == 0:
            ts = ""
        out.append([ts, f"u{rng.randint(1, 150)}", rng.choice(["play", "buy", "visit"]), str(rng.randint(1, 20))])
    return out


EVENTS = make_events()


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def project_dir(root: Path, spec: str = SPEC, data: str | bytes | None = None) -> Path:
    """A folder with `northstar.yml` and `data/events.csv` (default: `EVENTS`)."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "northstar.yml").write_text(spec, encoding="utf-8")
    content = csv_text(EVENTS) if data is None else data
    target = root / "data" / "events.csv"
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    return root


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run_cli(cwd: Path, *args: str) -> Run:
    """`northstar ARGS` in this process (the real entry point: error lines and exit codes)."""
    from northstar.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        os.chdir(old)
    return Run(code, out.getvalue(), err.getvalue())


def run_subprocess(cwd: Path, *args: str, timeout: float = 60, memory_gb: float = 2.0) -> Run:
    """`northstar ARGS` as a user runs it, with its address space capped (an attack that
    expands memory fails there, not on the machine)."""
    def limit() -> None:
        import resource

        cap = int(memory_gb * 1024 ** 3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "TTY_COMPATIBLE")}
    done = subprocess.run([sys.executable, "-m", "northstar.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout, preexec_fn=limit)
    return Run(done.returncode, done.stdout, done.stderr)


_BAD_WORDS = re.compile(r"Traceback|unexpected|internal error|RecursionError|OverflowError|MemoryError", re.I)


def assert_clean_error(run: Run, *needles: str, code: int | None = None) -> str:
    """A failed run with one-line errors (no traceback, no 'unexpected'), holding `needles`."""
    assert run.code != 0, f"exit 0 for a bad input: {run.out[-500:]} {run.err[-500:]}"
    if code is not None:
        assert run.code == code, run.err
    errors = [line for line in run.err.splitlines() if line.strip()]
    assert errors, "no error message"
    assert not _BAD_WORDS.search(run.err), run.err
    text = "\n".join(errors)
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    return text
