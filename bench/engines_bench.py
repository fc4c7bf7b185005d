"""Benchmark: the demo tree on DuckDB, chdb (embedded ClickHouse) and Spark local, each through
Northstar (the same spec, only its `engine:` block switched, no cache) and through a
hand-written query in that engine's SQL, plus Polars (lazy) as an outside reference; then the
cost per added metric (Northstar's fused query for 1, 3, 6, 12 metrics against one query per
metric). Every run is its own child process (wall time measured inside it, engine start-up
excluded; peak RSS of its whole process tree). Every result must equal DuckDB-hand's
(max relative difference < 1e-9), else the exit status is 1.

    python bench/engines_bench.py --events 100000000 --repeat 3
    python bench/engines_bench.py --events 10000000 --engines duckdb,polars --per-metric duckdb
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines_data import OUT, prepare  # noqa: E402
from engines_run import run  # noqa: E402
from tree_bench import TREE_METRICS  # noqa: E402

SIDES = {"duckdb": ("northstar", "hand"), "chdb": ("northstar", "hand"), "spark": ("northstar", "hand"),
         "polars": ("hand",)}
STEPS = (1, 3, 6, 12)


def max_rel_diff(ours: pd.DataFrame, ref: pd.DataFrame, metrics: list[str]) -> float:
    """Largest relative difference over `metrics` and weeks; inf when weeks or nulls differ."""
    ours = ours.set_index(pd.to_datetime(ours["period"]).dt.tz_localize(None))[metrics]
    ref = ref.set_index(pd.to_datetime(ref["period"]).dt.tz_localize(None))[metrics]
    if list(ours.index) != list(ref.index):
        return float("inf")
    worst = 0.0
    for m in metrics:
        a, b = ours[m].astype(float).to_numpy(), ref[m].astype(float).to_numpy()
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return float("inf")
        ok = ~np.isnan(a)
        worst = max(worst, float((np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)).max(initial=0.0)))
    return worst


def _job(folder: Path, side: str, engine: str, metrics: list[str] = TREE_METRICS, separate: bool = False) -> dict:
    return {"side": side, "engine": engine, "folder": str(folder), "metrics": list(metrics), "separate": separate}


def _once(job: dict, ref: pd.DataFrame | None, label: str, tmp: Path) -> dict:
    out = run(job, tmp / "result.pkl")
    if "error" in out:
        print(f"  {label}: FAILED {out['error']}", flush=True)
        return out
    out["diff"] = max_rel_diff(out["frame"], ref, job["metrics"]) if ref is not None else 0.0
    print(f"  {label}: {out['seconds']:.2f} s, peak {out['peak_mb']:,.0f} MB, max rel. diff {out['diff']:.1e}",
          flush=True)
    return out


def reference(folder: Path, tmp: Path) -> dict:
    """DuckDB-hand's result, computed once per data folder (kept in bench/out/engines-tmp/)."""
    saved = tmp / f"reference-{folder.name}.pkl"
    if saved.exists():
        return pickle.loads(saved.read_bytes())
    ref = run(_job(folder, "hand", "duckdb"), tmp / "result.pkl")
    if "error" in ref:
        raise SystemExit(f"DuckDB hand-written query failed: {ref['error']}")
    saved.write_bytes(pickle.dumps(ref))
    return ref


def engines(folder: Path, names: list[str], repeat: int, tmp: Path) -> dict:
    """{(engine, side): [runs]}; the reference is DuckDB-hand's first run."""
    ref = reference(folder, tmp)
    runs: dict = {}
    for r in range(repeat):
        print(f"round {r + 1}/{repeat}", flush=True)
        for engine in names:
            for side in SIDES[engine]:
                runs.setdefault((engine, side), []).append(
                    _once(_job(folder, side, engine), ref["frame"], f"{engine:7} {side:9}", tmp))
    return runs


def per_metric(folder: Path, engine: str, repeat: int, tmp: Path, ref: pd.DataFrame | None) -> dict:
    """{(k, "fused"|"separate"): [runs]} for the first k TREE_METRICS."""
    runs: dict = {}
    for r in range(repeat):
        print(f"per metric on {engine}, round {r + 1}/{repeat}", flush=True)
        for k in STEPS:
            for mode in ("fused", "separate") if k > 1 else ("fused",):
                job = _job(folder, "northstar", engine, TREE_METRICS[:k], separate=mode == "separate")
                runs.setdefault((k, mode), []).append(_once(job, ref, f"{k:2} metrics {mode:8}", tmp))
    return runs


def _best(runs: list[dict]) -> dict | None:
    ok = [r for r in runs if "seconds" in r]
    return min(ok, key=lambda r: r["seconds"]) if ok else None


def summary(runs: dict, events: int) -> tuple[list[dict], bool]:
    hands = [b["seconds"] for (e, s), rs in runs.items() if s == "hand" and (b := _best(rs))]
    fastest = min(hands)
    rows, good = [], True
    for (engine, side), rs in runs.items():
        best = _best(rs)
        ok = [r for r in rs if "seconds" in r]
        diff = max((r["diff"] for r in ok), default=float("inf"))
        good &= bool(ok) and diff < 1e-9 and len(ok) == len(rs)
        rows.append({
            "engine": engine, "side": side, "events": events,
            "best_s": best["seconds"] if best else None,
            "all_s": [round(r["seconds"], 2) if "seconds" in r else None for r in rs],
            "vs_fastest_hand": best["seconds"] / fastest if best else None,
            "peak_mb": max((r["peak_mb"] for r in ok), default=None),
            "max_rel_diff": diff, "errors": sorted({r["error"] for r in rs if "error" in r}),
        })
    return rows, good


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,chdb,spark,polars")
    parser.add_argument("--per-metric", default="duckdb", help="engines for the per-metric cost ('' for none)")
    parser.add_argument("--per-metric-repeat", type=int, default=1)
    args = parser.parse_args()
    folder = prepare(args.events, args.seed)
    tmp = OUT / "engines-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    names = [e for e in args.engines.split(",") if e]
    runs = engines(folder, names, args.repeat, tmp) if names else {}
    rows, good = summary(runs, args.events) if runs else ([], True)
    ref = _best(runs.get(("duckdb", "hand"), [])) if runs else None
    costs = []
    for engine in [e for e in args.per_metric.split(",") if e]:
        if ref is None:
            ref = reference(folder, tmp)
        pm = per_metric(folder, engine, args.per_metric_repeat, tmp, ref["frame"])
        for (k, mode), rs in pm.items():
            best = _best(rs)
            diff = max((r.get("diff", float("inf")) for r in rs), default=float("inf"))
            good &= best is not None and diff < 1e-9
            costs.append({"engine": engine, "metrics": k, "mode": mode, "best_s": best and best["seconds"],
                          "all_s": [round(r["seconds"], 2) if "seconds" in r else None for r in rs],
                          "peak_mb": best and best["peak_mb"], "max_rel_diff": diff,
                          "errors": sorted({r["error"] for r in rs if "error" in r})})
    report = OUT / f"engines-{args.events}-{'-'.join(names) or 'none'}.json"
    report.write_text(json.dumps({"rows": rows, "per_metric": costs}, indent=1, default=str), encoding="utf-8")
    print(f"\n{'engine':8} {'side':10} {'best s':>8} {'vs fastest hand':>16} {'peak MB':>9} {'max diff':>9}  all runs")
    for row in rows:
        best = f"{row['best_s']:.2f}" if row["best_s"] else "failed"
        ratio = f"{row['vs_fastest_hand']:.2f}" if row["vs_fastest_hand"] else "-"
        peak = f"{row['peak_mb']:,.0f}" if row["peak_mb"] else "-"
        print(f"{row['engine']:8} {row['side']:10} {best:>8} {ratio:>16} {peak:>9} {row['max_rel_diff']:9.1e}  "
              f"{row['all_s']} {'; '.join(row['errors'])}")
    for c in costs:
        print(f"{c['engine']:8} {c['metrics']:2} metrics {c['mode']:8} {c['best_s'] or 0:8.2f} s  {c['all_s']}  "
              f"{'; '.join(c['errors'])}")
    print(f"written: {report}")
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
