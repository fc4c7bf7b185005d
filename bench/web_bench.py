"""Load-test the dashboard: 20 concurrent clients on the overview page and its API calls.

    .venv/bin/python bench/web_bench.py --seconds 20 --clients 20

Generates the default demo (5,000 users) into bench/out/web-demo, starts `northstar serve`
on it in a subprocess on a free port, warms the cache (one request per route, timing the
cold ones), then runs `--clients` concurrent `httpx.AsyncClient` loops for `--seconds`, each
requesting the overview page `/` (when the pages exist; skipped otherwise) and the API calls
it makes (`/api/overview`, `/api/metrics`, `/api/checks`) in turn. Prints count, p50, p95,
p99 and max latency per route and overall, and the throughput; exit status 1 when the
overall p95 is above `--target-ms` (150) or a request failed. The client runs on the same
machine as the server, so both share its cores. Not a timed test: CI does not run it; the
figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from northstar.demo import generate_demo

API_ROUTES = ["/api/overview", "/api/metrics", "/api/checks"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(spec: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "NORTHSTAR_TOKEN"}
    command = [sys.executable, "-m", "northstar.cli", "-f", str(spec), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/metrics", timeout=30).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def client_loop(base: str, routes: list[str], until: float, offset: int,
                      out: dict[str, list[float]], failures: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        index = offset
        while time.monotonic() < until:
            route = routes[index % len(routes)]
            index += 1
            start = time.perf_counter()
            response = await client.get(route)
            await response.aread()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                failures.append(f"{route}: {response.status_code}")
            out[route].append(elapsed)


def row(name: str, values: list[float]) -> str:
    return (f"| `{name}` | {len(values):,} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} | "
            f"{percentile(values, 99):.1f} | {max(values):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--target-ms", type=float, default=150)
    args = parser.parse_args()
    folder = Path(__file__).parent / "out" / "web-demo"
    summary = generate_demo(folder, users=args.users)
    print(f"demo: {summary.events:,} events, {summary.users:,} users; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(folder / "northstar.yml", port)
    try:
        routes = list(API_ROUTES)
        page = httpx.get(base + "/", timeout=120)
        if page.status_code == 200 and page.headers.get("content-type", "").startswith("text/html"):
            routes.insert(0, "/")
        else:
            print(f"GET / answered {page.status_code}: the overview page does not exist yet, skipped")
        for route in routes:  # warm: the first request of each computes (or waits for the warm-up)
            start = time.perf_counter()
            status = httpx.get(base + route, timeout=300).status_code
            print(f"warm-up {route}: {status} in {(time.perf_counter() - start) * 1000:,.0f} ms")
        out: dict[str, list[float]] = {route: [] for route in routes}
        failures: list[str] = []
        until = time.monotonic() + args.seconds

        async def run() -> None:
            await asyncio.gather(*(client_loop(base, routes, until, i, out, failures) for i in range(args.clients)))

        began = time.perf_counter()
        asyncio.run(run())
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
    everything = [v for values in out.values() for v in values]
    print(f"\n{args.clients} clients, {wall:.1f} s, {len(everything) / wall:,.0f} requests/s, "
          f"failures: {len(failures)}")
    print("\n| route | requests | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|")
    for route, values in out.items():
        print(row(route, values))
    print(row("overall", everything).replace("`overall`", "**overall**"))
    p95 = percentile(everything, 95)
    verdict = "ok" if p95 < args.target_ms else "MISSED"
    print(f"\noverall p95 {p95:.1f} ms (target < {args.target_ms:.0f} ms): {verdict}")
    if failures:
        print("failures:", ", ".join(sorted(set(failures))[:10]))
    raise SystemExit(0 if p95 < args.target_ms and not failures else 1)


if __name__ == "__main__":
    main()
