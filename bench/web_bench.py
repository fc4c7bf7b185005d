"""Load-test the dashboard with a compiled load generator (`wrk`), so the client does not eat the
cores the server needs.

    .venv/bin/python bench/web_bench.py                      # 10, 50, 200 clients + the mix, ~3 min
    .venv/bin/python bench/web_bench.py --soak 300           # and a 5-minute soak, memory sampled
    .venv/bin/python bench/web_bench.py --clients 50 --seconds 30 --no-mix

Generates the default demo (5,000 users) into bench/out/web-demo, starts `northstar serve` on it
in a subprocess on a free port, warms the memo (one request per route), then runs, with `wrk -t2`:

- **cached**: each of `--clients` connections cycles through `/`, `/api/overview`, `/api/tree`
  and `/api/series?metrics=listening_minutes,active_listeners&grain=month` (memoized answers);
- **mix**: the cached routes on 90% of the connections and, at the same time, the other 10% (at
  least 2) asking series that were never asked before (a random metric, grain and range per
  request: each one is computed), reported apart;
- **soak** (`--soak SECONDS`): 50 connections on the cached routes and 5 on changing series for
  that long, the server's RSS sampled every 5 s: memory must stay flat (the memo is bounded).

Prints p50/p95/p99/max latency (wrk's histogram), requests/s, errors (non-2xx, timeouts, socket
errors) and the server's RSS; exit status 1 when the cached p95 at 50 clients is not under
`--target-ms` (100) or a request failed. wrk must be installed (`apt-get install -y wrk`). Not a
timed test: CI does not run it; the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from northstar.demo import generate_demo

CACHED = ["/", "/api/overview", "/api/tree", "/api/series?metrics=listening_minutes,active_listeners&grain=month"]

# wrk's Lua: cycle through fixed paths, or build a never-seen series request each time; `done`
# prints one JSON line with the latency percentiles (microseconds) and the error counts.
LUA = r"""
local paths = {PATHS}
local changing = {CHANGING}
local metrics = {"listening_minutes", "active_listeners", "song_plays", "sign_ups", "revenue", "paid_conversion"}
local grains = {"day", "week", "month"}
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("thread_id", thread_id); thread_id = thread_id + 1 end
init = function(args) math.randomseed(os.time() * 1000 + thread_id); counter = thread_id * 7 end
request = function()
  counter = counter + 1
  if changing then
    local day = math.random(0, 600)
    local span = math.random(20, 120)
    local y1, d1 = 2024 + math.floor((309 + day) / 365), (309 + day) % 365 + 1
    local y2, d2 = 2024 + math.floor((309 + day + span) / 365), (309 + day + span) % 365 + 1
    local from = os.date("!%Y-%m-%d", os.time({year = y1, month = 1, day = d1, hour = 12}))
    local to = os.date("!%Y-%m-%d", os.time({year = y2, month = 1, day = d2, hour = 12}))
    local path = "/api/series?metrics=" .. metrics[math.random(#metrics)] .. "&grain=" ..
      grains[math.random(#grains)] .. "&from=" .. from .. "&to=" .. to
    return wrk.format("GET", path)
  end
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('NSJSON {"requests": %d, "seconds": %.3f, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"status": %d, "timeout": %d, "connect": %d, "read": %d, "write": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.timeout, e.connect, e.read, e.write))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss(pid: int) -> int:
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found.group(1)) * 1024 if found else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc: independent of other load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(spec: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "NORTHSTAR_TOKEN"}
    command = [sys.executable, "-m", "northstar.cli", "-f", str(spec), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/metrics", timeout=30).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def script(folder: Path, name: str, paths: list[str], changing: bool) -> Path:
    text = LUA.replace("{PATHS}", "{" + ", ".join(json.dumps(p) for p in paths) + "}")
    path = folder / f"{name}.lua"
    path.write_text(text.replace("{CHANGING}", "true" if changing else "false"))
    return path


def wrk(base: str, lua: Path, connections: int, seconds: float) -> subprocess.Popen[str]:
    threads = max(1, min(2, connections))
    return subprocess.Popen(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "30s",
                             "-s", str(lua), base], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result(process: subprocess.Popen[str]) -> dict:
    out, _ = process.communicate()
    found = re.search(r"^NSJSON (.*)$", out, re.M)
    if not found:
        raise SystemExit(f"wrk gave no summary:\n{out}")
    figures = json.loads(found.group(1))
    figures["errors"] = sum(figures[k] for k in ("status", "timeout", "connect", "read", "write"))
    return figures


def line(name: str, clients: int, r: dict, cpu: float | None = None) -> str:
    """A table row; `cpu`: the server's CPU seconds over the scenario, shown per request."""
    per = f"{cpu * 1000 / max(r['requests'], 1):.2f}" if cpu is not None else "-"
    return (f"| {name} | {clients} | {r['requests']:,} | {r['requests'] / r['seconds']:,.0f} | {r['p50'] / 1000:.1f} | "
            f"{r['p95'] / 1000:.1f} | {r['p99'] / 1000:.1f} | {r['max'] / 1000:.1f} | {r['errors']} | {per} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20, help="per scenario")
    parser.add_argument("--clients", default="10,50,200", help="connection counts for the cached scenario")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--no-mix", action="store_true")
    parser.add_argument("--soak", type=float, default=0, help="seconds of soak (0: none)")
    parser.add_argument("--target-ms", type=float, default=100)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    folder = Path(__file__).parent / "out" / "web-demo"
    summary = generate_demo(folder, users=args.users)
    print(f"demo: {summary.events:,} events, {summary.users:,} users; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(folder / "northstar.yml", port)
    failed = False
    rows: list[str] = []
    try:
        for route in CACHED:  # warm: the first request of each computes
            start = time.perf_counter()
            status = httpx.get(base + route, timeout=300).status_code
            print(f"warm-up {route}: {status} in {(time.perf_counter() - start) * 1000:,.0f} ms")
        print(f"server RSS after warm-up: {rss(server.pid) / 2**20:,.0f} MB")
        with tempfile.TemporaryDirectory() as tmp:
            cached = script(Path(tmp), "cached", CACHED, changing=False)
            changing = script(Path(tmp), "changing", CACHED, changing=True)
            for clients in [int(c) for c in args.clients.split(",") if c]:
                cpu = cpu_seconds(server.pid)
                r = result(wrk(base, cached, clients, args.seconds))
                rows.append(line("cached", clients, r, cpu_seconds(server.pid) - cpu))
                failed |= r["errors"] > 0 or (clients == 50 and r["p95"] / 1000 >= args.target_ms)
                print(rows[-1], flush=True)
            if not args.no_mix:
                for clients in (10, 50, 200):
                    slow = max(2, clients // 10)
                    a, b = wrk(base, cached, clients - slow, args.seconds), wrk(base, changing, slow, args.seconds)
                    ra, rb = result(a), result(b)
                    rows += [line("mix: cached routes", clients - slow, ra), line("mix: uncached series", slow, rb)]
                    failed |= ra["errors"] > 0 or rb["errors"] > 0
                    print("\n".join(rows[-2:]), flush=True)
            print(f"server RSS after the scenarios: {rss(server.pid) / 2**20:,.0f} MB")
            if args.soak:
                samples: list[tuple[float, int]] = []
                stop = threading.Event()

                def sample() -> None:
                    began = time.monotonic()
                    while not stop.is_set():
                        samples.append((time.monotonic() - began, rss(server.pid)))
                        stop.wait(5)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                a, b = wrk(base, cached, 50, args.soak), wrk(base, changing, 5, args.soak)
                ra, rb = result(a), result(b)
                stop.set()
                sampler.join()
                rows += [line(f"soak {args.soak:.0f} s: cached routes", 50, ra),
                         line(f"soak {args.soak:.0f} s: changing series", 5, rb)]
                failed |= ra["errors"] > 0 or rb["errors"] > 0
                print("\n".join(rows[-2:]))
                at = [min(samples, key=lambda s: abs(s[0] - args.soak * q)) for q in (0, 0.25, 0.5, 0.75, 1.0)]
                print("soak RSS (MB): " + ", ".join(f"{t:.0f} s: {m / 2**20:,.0f}" for t, m in at))
                print(f"soak RSS min/max: {min(m for _, m in samples) / 2**20:,.0f} / "
                      f"{max(m for _, m in samples) / 2**20:,.0f} MB over {len(samples)} samples")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print("\n| scenario | connections | requests | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
          "server CPU ms/request |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
