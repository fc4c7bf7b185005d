"""The benchmark's data at any size, written in slices so that 100 million events fit in memory.

Same simulation, seed and columns as `northstar.demo.generate_demo` (and so as
`tree_bench.prepare`, which reuses the folder), but the Arrow table is built and written
`SLICE` rows at a time, with row groups of `ROW_GROUP` rows, instead of all at once.

    python bench/engines_data.py --events 100000000
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out"
ROW_GROUP = 1_048_576
SLICE = 8 * ROW_GROUP


def _write_events(sim, path: Path) -> int:  # type: ignore[no-untyped-def]
    from northstar.demo.generate import CHANNELS, COUNTRIES, EVENTS, EVENTS_SCHEMA, PLANS, PLATFORMS, _labels, _user_ids

    pop = sim.population
    ids = _user_ids(sim)
    rows = sim.user.shape[0]
    with pq.ParquetWriter(path, EVENTS_SCHEMA, compression="zstd") as writer:
        for lo in range(0, rows, SLICE):
            hi = min(rows, lo + SLICE)
            user = sim.user[lo:hi].astype(np.int32)
            columns = [
                pa.array(np.arange(lo + 1, hi + 1, dtype=np.int64)),
                pa.array(sim.ts_utc[lo:hi].astype(np.int64), type=pa.timestamp("us", tz="UTC")),
                ids.take(pa.array(user)),
                _labels(EVENTS, sim.event[lo:hi]),
                pa.array(sim.duration_s[lo:hi], type=pa.float64(), from_pandas=True),
                pa.array(sim.amount[lo:hi], type=pa.float64(), from_pandas=True),
                _labels(COUNTRIES, pop.country[user]),
                _labels(PLATFORMS, pop.platform[user]),
                _labels(PLANS, sim.plan[lo:hi]),
                _labels(CHANNELS, pop.channel[user]),
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=EVENTS_SCHEMA), row_group_size=ROW_GROUP)
    return rows


def prepare(events: int, seed: int = 7) -> Path:
    """bench/out/demo-<events>-<seed>/ with data/events.parquet, marketing_spend.parquet and
    the demo's northstar.yml; generated once, reused afterwards."""
    from northstar.demo.generate import demo_spec_text, generate_marketing_spend, simulate, users_for_events

    target = OUT / f"demo-{events}-{seed}"
    if (target / "northstar.yml").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    (target / "data").mkdir(parents=True)
    started = time.perf_counter()
    users = users_for_events(events)
    sim = simulate(users, seed)
    print(f"simulated {sim.user.shape[0]:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    rows = _write_events(sim, target / "data" / "events.parquet")
    del sim
    pq.write_table(generate_marketing_spend(users, seed), target / "data" / "marketing_spend.parquet",
                   compression="zstd")
    (target / "northstar.yml").write_text(demo_spec_text(), encoding="utf-8")  # last: marks it complete
    print(f"generated {rows:,} events in {time.perf_counter() - started:.0f} s into {target}", flush=True)
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    prepare(args.events, args.seed)
