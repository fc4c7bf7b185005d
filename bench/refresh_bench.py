"""The daily set after new data: cold, after appending a day, after late events (issue 14).

    .venv/bin/python bench/refresh_bench.py --events 10000000 [--before /tmp/old/src]

On the demo's shape (`engines_data.py`'s data, generated once into bench/out/demo-N-7/), in a
working copy bench/out/refresh-N/ whose events source is a folder of Parquet files
(`data/events/*.parquet`, the history as one file), each command of the set a team uses every
day (`refresh_run.py`: the tree, the dashboard's overview, `explain` of the review period, a
monitor pass that sends nothing, `check`) runs in its own process, as a user runs them, timed
from `Project.load` to the answer:

1. cold: from the raw data, nothing stored;
2. after appending one more day of events as a new file (the last day's events moved a day on);
3. after late events into the week three weeks before the end (a new file);
4. the numbers (every metric by week, whole and by each dimension of the events) of the project
   refreshed incrementally, compared with a full recompute (`NORTHSTAR_CACHE=0`).

Beside them: the demo tree's hand-written query in DuckDB and in Polars (`engines_hand.py`),
and, with `--before SRC` (the `src` of a checkout before this change), the same set on the old
code, cold and after the append (the old result cache was keyed by every file's size and
mtime, so any new file made every command cold again). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
STEPS = ("tree", "overview", "explain", "monitor", "check")


def workdir(events: int) -> Path:
    from engines_data import prepare

    source = prepare(events)
    target = HERE / "out" / f"refresh-{events}"
    if target.exists():
        shutil.rmtree(target)
    (target / "data" / "events").mkdir(parents=True)
    os.link(source / "data" / "events.parquet", target / "data" / "events" / "history.parquet")
    shutil.copy(source / "data" / "marketing_spend.parquet", target / "data" / "marketing_spend.parquet")
    text = (source / "northstar.yml").read_text().replace("path: data/events.parquet", "path: data/events/*.parquet")
    (target / "northstar.yml").write_text(text)
    return target


def run(spec: Path, step: str, src: Path | None = None, cache: bool = True, values: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src) if src else os.environ.get("PYTHONPATH", "")}
    if not cache:
        env["NORTHSTAR_CACHE"] = "0"
    if values is not None:
        env["NORTHSTAR_BENCH_VALUES"] = str(values)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "refresh_run.py"), str(spec), step], env=env,
                          capture_output=True, text=True, cwd=spec.parent)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    found["wall"] = time.perf_counter() - began
    return found


def daily_set(spec: Path, label: str, src: Path | None = None) -> dict[str, dict]:
    out = {}
    for step in STEPS:
        out[step] = run(spec, step, src)
        print(f"  {label:<22} {step:<9} {out[step]['seconds']:8.2f} s  peak {out[step]['peak_mb']:7.0f} MB", flush=True)
    return out


def append_day(folder: Path) -> int:
    path = folder / "data" / "events" / "history.parquet"
    end = _last_ts(path)
    day = pq.read_table(path, filters=[("ts", ">", end - pd.Timedelta(days=1))])
    moved = day.set_column(day.schema.get_field_index("ts"), "ts",
                           pc.add(day["ts"], pa.scalar(pd.Timedelta(days=1), pa.duration("us"))))
    moved = _new_ids(moved, 1)
    pq.write_table(moved, folder / "data" / "events" / "day-1.parquet", compression="zstd")
    return moved.num_rows


def late_events(folder: Path) -> int:
    path = folder / "data" / "events" / "history.parquet"
    end = _last_ts(path)
    lo, hi = end - pd.Timedelta(days=21), end - pd.Timedelta(days=20)
    late = pq.read_table(path, filters=[("ts", ">=", lo), ("ts", "<", hi)])
    late = _new_ids(late.slice(0, max(1, late.num_rows // 10)), 2)  # a tenth of that day again, arriving late
    pq.write_table(late, folder / "data" / "events" / "late-1.parquet", compression="zstd")
    return late.num_rows


def _last_ts(path: Path):  # noqa: ANN202
    """The history's last event time from the row groups' statistics: the driver reads only the
    rows it copies (reading the whole history took 13.6 GB at 100M events and was OOM-killed)."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("ts")
    return max(meta.row_group(i).column(column).statistics.max for i in range(meta.num_row_groups))


def _new_ids(table: pa.Table, batch: int) -> pa.Table:
    """Copied events with event ids of their own (the demo's `subscribers` joins on them)."""
    at = table.schema.get_field_index("event_id")
    return table.set_column(at, "event_id", pc.add(table["event_id"], pa.scalar(batch * 10**12, pa.int64())))


def hand(folder: Path) -> dict[str, float]:
    code = ("import sys, time, json; sys.path.insert(0, %r); import engines_hand as h; t = time.perf_counter(); "
            "getattr(h, sys.argv[1])(%r, %r); print(json.dumps(time.perf_counter() - t))")
    out = {}
    for name in ("duckdb_hand", "polars_hand"):
        snippet = code % (str(HERE), str(folder / "data" / "events" / "*.parquet"),
                          str(folder / "data" / "marketing_spend.parquet"))
        best = min(float(subprocess.run([sys.executable, "-c", snippet, name], capture_output=True, text=True,
                                        check=True).stdout.strip().splitlines()[-1]) for _ in range(2))
        out[name] = best
        print(f"  hand-written tree query {name}: {best:.2f} s", flush=True)
    return out


def same_numbers(folder: Path) -> float:
    """The largest relative difference between the incremental project's numbers and a full
    recompute's (every metric by week, whole and by each dimension)."""
    ours, full = folder / "values-ours.pkl", folder / "values-full.pkl"
    run(folder / "northstar.yml", "values", values=ours)
    run(folder / "northstar.yml", "values", cache=False, values=full)
    a, b = pd.read_pickle(ours), pd.read_pickle(full)
    worst = 0.0
    for key in b:
        x, y = a[key], b[key]
        assert list(x.columns) == list(y.columns) and len(x) == len(y), key
        for column in y.columns:
            if pd.api.types.is_numeric_dtype(y[column]):
                u, v = x[column].astype(float), y[column].astype(float)
                assert (u.isna() == v.isna()).all(), (key, column)
                diff = ((u - v).abs() / v.abs().clip(lower=1e-300)).fillna(0)
                worst = max(worst, float(diff.max()) if len(diff) else 0.0)
            else:
                assert x[column].tolist() == y[column].tolist(), (key, column)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--before", type=Path, help="the src folder of a checkout before this change")
    parser.add_argument("--before-append", action="store_true",
                        help="with --before: run the old code after the append too (it is cold again by design)")
    args = parser.parse_args()
    folder = workdir(args.events)
    spec = folder / "northstar.yml"
    rows = pq.ParquetFile(folder / "data" / "events" / "history.parquet").metadata.num_rows
    print(f"{rows:,} events in {folder}", flush=True)
    results: dict[str, dict] = {"hand": hand(folder)}
    if args.before:
        results["before cold"] = daily_set(spec, "before: cold", args.before)
        shutil.rmtree(folder / ".northstar", ignore_errors=True)
    results["cold"] = daily_set(spec, "cold")
    results["day rows"] = {"rows": append_day(folder)}
    results["after a day"] = daily_set(spec, "after a day")
    if args.before and args.before_append:
        results["before after a day"] = daily_set(spec, "before: after a day", args.before)
    results["late rows"] = {"rows": late_events(folder)}
    results["after late events"] = daily_set(spec, "after late events")
    results["max relative difference"] = same_numbers(folder)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str))
    table(results, rows)


def table(results: dict, rows: int) -> None:
    hand_s = results["hand"]["duckdb_hand"]
    runs = [k for k in ("before cold", "before after a day", "cold", "after a day", "after late events") if k in results]
    print(f"\n{rows:,} events; hand-written tree query: DuckDB {hand_s:.2f} s, Polars {results['hand']['polars_hand']:.2f} s\n")
    print("| command | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for step in STEPS:
        print(f"| {step} | " + " | ".join(f"{results[r][step]['seconds']:.2f} s" for r in runs) + " |")
    totals = {r: sum(results[r][s]["seconds"] for s in STEPS) for r in runs}
    print("| **whole set** | " + " | ".join(f"**{totals[r]:.2f} s**" for r in runs) + " |")
    print("| × hand-written DuckDB | " + " | ".join(f"{totals[r] / hand_s:.1f}" for r in runs) + " |")
    if "cold" in totals:
        print("| share of cold | " + " | ".join(f"{100 * totals[r] / totals['cold']:.0f} %" for r in runs) + " |")
    print("| peak memory | " + " | ".join(f"{max(results[r][s]['peak_mb'] for s in STEPS):.0f} MB" for r in runs) + " |")
    print(f"\nnumbers after the append and the late events vs a full recompute: max relative difference "
          f"{results['max relative difference']:.1e}")


if __name__ == "__main__":
    main()
