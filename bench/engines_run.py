"""One timed run of the benchmark in a child process, and the measurement of that process tree.

The parent starts `python engines_run.py <job.json> <result.pkl>`, samples the resident memory
of the child and all its descendants (Spark's JVM is a child of the Python process) from /proc
every 50 ms, and reads the child's result: {"seconds", "frame"} or {"error"}.
A job: {"side": "northstar" | "hand", "engine": "duckdb" | "chdb" | "spark" | "polars",
"folder": ..., "metrics": [...], "separate": bool}.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")
SPARK_DRIVER_MEMORY = "10g"
SPARK_SETTINGS = {
    "spark.driver.memory": SPARK_DRIVER_MEMORY,
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
ENGINE_BLOCKS = {
    "duckdb": "engine:\n  type: duckdb\n  cache: false\n",
    "chdb": "engine:\n  type: clickhouse\n  cache: false\n",
    "spark": ('engine:\n  type: pyspark\n  master: "local[2]"\n  cache: false\n  config:\n'
              + "".join(f'    {k}: "{v}"\n' for k, v in SPARK_SETTINGS.items())),
}


def spec_for(folder: Path, engine: str) -> Path:
    """The demo spec with only its `engine:` block switched."""
    text = (folder / "northstar.yml").read_text(encoding="utf-8")
    old = "engine:\n  type: duckdb\n"
    if old not in text:
        raise SystemExit("the demo spec's engine block is not `engine: {type: duckdb}`")
    path = folder / f"northstar-{engine}.yml"
    path.write_text(text.replace(old, ENGINE_BLOCKS[engine], 1), encoding="utf-8")
    return path


# ---- the parent side ---------------------------------------------------------------------

def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def _rss(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def run(job: dict, result: Path, timeout: float = 3600) -> dict:
    """Run one job in a child process: its result plus the tree's peak RSS in MB."""
    result.unlink(missing_ok=True)
    env = {**os.environ, "NORTHSTAR_CACHE": "0", "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, str(Path(__file__)), json.dumps(job), str(result)], env=env)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _rss(_tree(proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    out = pickle.loads(result.read_bytes()) if result.exists() else {"error": f"exit status {proc.returncode}"}
    out["peak_mb"] = max(peak[0] / 2**20, usage.ru_maxrss / 1024)
    return out


# ---- the child side ----------------------------------------------------------------------

def _spark_session():  # type: ignore[no-untyped-def]
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").appName("northstar")
    for key, value in SPARK_SETTINGS.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _northstar(job: dict, folder: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    from northstar import Project

    spec = spec_for(folder, job["engine"])
    if job["engine"] == "spark":
        _spark_session()  # the JVM starts outside the timed part (Northstar reuses the session)
    started = time.perf_counter()
    if not job.get("separate"):
        frame = Project.load(spec).query(job["metrics"], grain="week")
        return time.perf_counter() - started, frame
    frames = [Project.load(spec).query([m], grain="week").set_index("period")[[m]] for m in job["metrics"]]
    return time.perf_counter() - started, pd.concat(frames, axis=1).reset_index()


def _hand(job: dict, folder: Path):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(HERE))
    import engines_hand as hand

    events, spend = str(folder / "data" / "events.parquet"), str(folder / "data" / "marketing_spend.parquet")
    engine = job["engine"]
    if engine == "spark":
        session = _spark_session()  # the JVM starts outside the timed part
        return _timed(lambda: hand.spark_hand(events, spend, session))
    if engine == "chdb":
        import chdb

        chdb.query("SELECT 1")  # start the embedded server outside the timed part
    if engine == "polars":
        import polars  # noqa: F401
    fn = {"duckdb": hand.duckdb_hand, "chdb": hand.chdb_hand, "polars": hand.polars_hand}[engine]
    return _timed(lambda: fn(events, spend))


def _timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    frame = fn()
    return time.perf_counter() - started, frame


def child(job: dict, result: Path) -> int:
    folder = Path(job["folder"])
    try:
        seconds, frame = (_northstar if job["side"] == "northstar" else _hand)(job, folder)
        out = {"seconds": seconds, "frame": frame}
    except BaseException as exc:  # noqa: BLE001 - recorded, reported by the parent
        out = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
               "traceback": traceback.format_exc()}
    result.write_bytes(pickle.dumps(out))
    return 0 if "seconds" in out else 1


if __name__ == "__main__":
    sys.exit(child(json.loads(sys.argv[1]), Path(sys.argv[2])))
