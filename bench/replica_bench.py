"""Several gateways (issue 16): triggers/s and p50/p99 latency at 16 clients for

- SQLite, one replica (the embedded default: in-memory queues, one process),
- PostgreSQL, one replica (journal, leases and claims in the database),
- PostgreSQL, two replicas (the load spread round robin over both),

same machine, same run, same 3-node spec with ``wait=true``, every replica on the same
Redis store. All servers are real and on loopback: a private PostgreSQL cluster
(``initdb`` into a temporary directory), ``redis-server``, ``dagforge serve`` processes.
The ratio PostgreSQL-1 / SQLite-1 is the cost of leases and claim queries (the issue
asks for >= 0.7). On a 2-core machine the two-replica row is bound by the cores, not by
the database: both replicas and the load generator share them.
Run: `.venv/bin/python bench/replica_bench.py [--requests 300]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from platform_bench import ERRORS, free_port, pct, setup, wait_http

FUNCS = ROOT / "tests" / "server"
PG_BIN = Path(os.environ.get("DAGFORGE_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLIENTS = 16
PROCS: list[subprocess.Popen] = []
TEMP: list[Path] = []


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_postgres() -> str:
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="dagforge-bench-pg-"))
    TEMP.append(root)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        as_postgres([str(PG_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        as_postgres(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    PROCS.append(proc)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return url
        except psycopg.Error:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("PostgreSQL did not start") from None
            time.sleep(0.2)


def fresh_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    from dagforge.server.database import upgrade

    upgrade(url)
    return url


def start_redis() -> str:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    PROCS.append(proc)
    time.sleep(0.5)
    return f"redis://127.0.0.1:{port}"


def start_replica(database_url: str | None, store: str, workers: int) -> str:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="dagforge-bench-"))
    TEMP.append(data)
    cmd = [
        sys.executable,
        "-m",
        "dagforge.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--workers",
        str(workers),
        "--store",
        store,
        "--allow-module",
        "platform_functions",
    ]
    if database_url:
        cmd += ["--database-url", database_url]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FUNCS), str(ROOT / "src")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    PROCS.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/functions", proc)
    return url


async def load(urls: list[str], total: int, budget: float = 120.0) -> tuple[float, list[float]]:
    """``CLIENTS`` concurrent clients, request k to ``urls[k % len(urls)]``."""
    latencies: list[float] = []
    sent = 0
    deadline = time.monotonic() + budget
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal sent
            while sent < total and time.monotonic() < deadline:
                url = urls[sent % len(urls)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"{url}/run/gold", params={"wait": "true"}, json={"x": 1})
                except httpx.TransportError as exc:
                    ERRORS.append((0, f"{type(exc).__name__}: {exc}"))
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code not in (200, 202):
                    ERRORS.append((r.status_code, r.text[:200]))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - t0, latencies


def measure(label: str, urls: list[str], requests: int) -> dict:
    asyncio.run(load(urls, min(40, requests)))  # warm-up: imports, pools, first plans
    elapsed, lat = asyncio.run(load(urls, requests))
    row = {
        "config": label,
        "triggers_s": len(lat) / elapsed,
        "p50_ms": pct(lat, 0.50),
        "p99_ms": pct(lat, 0.99),
    }
    print(
        f"{label:<26} {row['triggers_s']:8.1f} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f}",
        flush=True,
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4, help="dispatcher threads per replica")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}  clients: {CLIENTS}  requests: {args.requests}")
    try:
        redis = start_redis()
        pg = start_postgres()
        print(f"{'config':<26} {'trig/s':>8} {'p50 ms':>9} {'p99 ms':>9}")
        rows = []
        url = start_replica(None, redis + "/1", args.workers)
        setup(url)
        rows.append(measure("sqlite, 1 replica", [url], args.requests))
        one = fresh_database(pg, "bench_one")
        url = start_replica(one, redis + "/2", args.workers)
        setup(url)
        rows.append(measure("postgres, 1 replica", [url], args.requests))
        two = fresh_database(pg, "bench_two")
        urls = [start_replica(two, redis + "/3", args.workers) for _ in range(2)]
        setup(urls[0])
        rows.append(measure("postgres, 2 replicas", urls, args.requests))
        base = rows[0]["triggers_s"]
        print(f"postgres-1 / sqlite-1 throughput: {rows[1]['triggers_s'] / base:.2f}x")
        print(f"postgres-2 / sqlite-1 throughput: {rows[2]['triggers_s'] / base:.2f}x")
        print(
            f"(2 replicas + PostgreSQL + Redis + the load generator share {os.cpu_count()} cores)"
        )
        if ERRORS:
            print(f"{len(ERRORS)} errors, first: {ERRORS[:3]}")
    finally:
        for proc in reversed(PROCS):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT if proc.args[0] == "runuser" else signal.SIGTERM)
        for proc in reversed(PROCS):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for path in TEMP:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
