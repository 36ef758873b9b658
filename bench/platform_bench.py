"""Platform throughput and latency (issue 6), all servers real and on loopback.

For a 3-node spec triggered with ``wait=true``: triggers/s, p50 and p99 latency at 1, 16
and 64 concurrent clients, with the local-directory store and (when available) Redis and
S3 (moto); a gold-vs-bronze latency table under overload; and, as the reference, the
ceiling of a bare FastAPI endpoint served the same way (uvicorn, one process). Servers
run as separate processes; the load comes from asyncio httpx clients in this process.
Every loop is bounded in requests and time.

``--rounds N`` adds N alternating rounds of the bare endpoint and the local store at 16
clients (the issue's target, ">= 50 % of bare"), reporting each round's ratio, the median
ratio, and each server's CPU time per request (Linux ``/proc``): on a shared machine one
measurement of each is mostly noise, and CPU per request is the steadier number.
``--compare SRC`` serves another tree's ``src/`` too (say the code before a change, from
``git archive``) and measures it in the same rounds: a like-for-like A/B.
Run: `.venv/bin/python bench/platform_bench.py [--requests 300] [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FUNCS = ROOT / "tests" / "server"

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.post("/run/{name}")
def run(name: str, body: dict | None = None):
    return {"ok": name}
"""


ERRORS: list[tuple[int, str]] = []
TEMP_DIRS: list[str] = []  # removed at the end


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {limit}s")


def start_platform(
    store: str | None, workers: int, src: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """A ``dagforge serve`` of this tree (or of the ``src`` directory given)."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="dagforge-bench-")
    TEMP_DIRS.append(data)
    cmd = [
        sys.executable,
        "-m",
        "dagforge.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        data,
        "--workers",
        str(workers),
        "--allow-module",
        "platform_functions",
    ]
    if store:
        cmd += ["--store", store]
    code = str(src or ROOT / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FUNCS), code]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/functions", proc)
    return proc, url


def start_bare() -> tuple[subprocess.Popen, str]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="dagforge-bare-")
    TEMP_DIRS.append(folder)
    Path(folder, "bare_app.py").write_text(BARE_APP)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/docs", proc)
    return proc, url


def setup(url: str) -> None:
    sys.path[:0] = [str(FUNCS), str(FUNCS.parent)]  # helpers.py, and the loopback.py it uses
    from helpers import setup_chain

    from dagforge import Client

    with Client(url) as c:
        setup_chain(c, priority="gold", trigger="gold")
        c.register_trigger(
            {
                "trigger_name": "bronze",
                "type": "dag",
                "priority": "bronze",
                "dags": ["chain"],
                "functions": "",
            }
        )


async def load(
    url: str, trigger: str, clients: int, total: int, budget: float = 60.0
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    sent = 0
    deadline = time.monotonic() + budget
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal sent
            while sent < total and time.monotonic() < deadline:
                sent += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"/run/{trigger}", params={"wait": "true"}, json={"x": 1})
                except httpx.TransportError as exc:  # counted, not fatal: report it
                    ERRORS.append((0, f"{type(exc).__name__}: {exc}"))
                    continue
                latencies.append(time.perf_counter() - t0)
                if r.status_code not in (200, 202):
                    ERRORS.append((r.status_code, r.text[:200]))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - t0, latencies


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (None where /proc is not there)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measured(url: str, trigger: str, clients: int, total: int, pid: int) -> tuple[float, float]:
    """Requests/s and the server's CPU milliseconds per request (nan if unknown)."""
    before = cpu_seconds(pid)
    wall, lat = asyncio.run(load(url, trigger, clients, total))
    after = cpu_seconds(pid)
    per = float("nan") if before is None or after is None else 1000 * (after - before) / len(lat)
    return len(lat) / wall, per


def rounds(bare: tuple[str, int], locals_: list[tuple[str, str, int]], n: int, total: int) -> None:
    """Alternate bare and each local server (label, url, pid) at 16 clients ``n`` times;
    each round's ratios, the medians, and the servers' CPU per request."""
    ratios: dict[str, list[float]] = {label: [] for label, _, _ in locals_}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in locals_}
    cpu["bare"] = []
    names = ", then ".join(label for label, _, _ in locals_)
    print(f"{n} alternating rounds at 16 clients (bare, then {names}):")
    for k in range(n):
        b_rate, b_cpu = measured(bare[0], "x", 16, total, bare[1])
        cpu["bare"].append(b_cpu)
        line = f"  round {k + 1}: bare {b_rate:6.1f} req/s ({b_cpu:.2f} ms CPU/req)"
        for label, url, pid in locals_:
            rate, per = measured(url, "gold", 16, total, pid)
            ratios[label].append(100 * rate / b_rate)
            cpu[label].append(per)
            line += f"  {label} {rate:6.1f} req/s ({per:.2f} ms) {ratios[label][-1]:5.1f} %"
        print(line)
    for label, values in ratios.items():
        print(
            f"  {label}: median {statistics.median(values):.1f} % of bare "
            f"(min {min(values):.1f}, max {max(values):.1f}), server CPU per request "
            f"{statistics.median(cpu[label]):.2f} ms (bare {statistics.median(cpu['bare']):.2f} ms)"
        )


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--local-only", action="store_true", help="skip the Redis and S3 rows")
    ap.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="alternating bare/local rounds at 16 clients after the table (median ratio)",
    )
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="SRC",
        help="with --rounds: also serve another tree's src/ (say the code before a change) "
        "and measure it in the same rounds",
    )
    args = ap.parse_args()
    if args.compare is not None and not (args.compare / "dagforge").is_dir():
        ap.error(f"--compare {args.compare}: no dagforge package in it (give a tree's src/)")
    procs: list[subprocess.Popen] = []
    stores: list[tuple[str, str | None]] = [("local", None)]
    redis_bin = None if args.local_only else shutil.which("redis-server")
    if redis_bin:
        rport = free_port()
        procs.append(
            subprocess.Popen(
                [
                    redis_bin,
                    "--port",
                    str(rport),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        time.sleep(0.5)
        stores.append(("redis", f"redis://127.0.0.1:{rport}/0"))
    moto = None
    try:
        if args.local_only:
            raise ImportError("--local-only")
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        mport = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=mport, verbose=False)
        moto.start()
        stores.append(("s3", f"s3://bench?endpoint=http://127.0.0.1:{mport}"))
    except ImportError as exc:
        print(f"no S3 row ({exc})")
    try:
        bare, bare_url = start_bare()
        procs.append(bare)
        ceiling = {}
        for clients in (1, 16, 64):
            wall, lat = asyncio.run(load(bare_url, "x", clients, args.requests))
            ceiling[clients] = len(lat) / wall
        print(
            f"{'store':<6} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'% of bare':>9}"
        )
        for clients in (1, 16, 64):
            print(f"{'bare':<6} {clients:>7} {ceiling[clients]:8.1f} {'':>8} {'':>8} {100.0:8.1f}%")
        for label, store in stores:
            proc, url = start_platform(store, args.workers)
            procs.append(proc)
            setup(url)
            for clients in (1, 16, 64):
                wall, lat = asyncio.run(load(url, "gold", clients, args.requests))
                rate = len(lat) / wall
                print(
                    f"{label:<6} {clients:>7} {rate:8.1f} {pct(lat, 0.5):8.1f} "
                    f"{pct(lat, 0.99):8.1f} {100 * rate / ceiling[clients]:8.1f}%"
                )
            if label == "local":

                async def mixed(url: str = url) -> tuple:
                    return await asyncio.gather(
                        load(url, "gold", 32, args.requests // 2),
                        load(url, "bronze", 32, args.requests // 2),
                    )

                (_, gold), (_, bronze) = asyncio.run(mixed())
                print(f"overload, 32 gold + 32 bronze clients, {args.workers} run workers:")
                print(f"  gold   p50 {pct(gold, 0.5):8.1f} ms  p99 {pct(gold, 0.99):8.1f} ms")
                print(
                    f"  bronze p50 {pct(bronze, 0.5):8.1f} ms  p99 {pct(bronze, 0.99):8.1f} ms"
                    f"  (served: {len(bronze)})"
                )
                if args.rounds > 0:
                    servers = [("local", url, proc.pid)]
                    if args.compare is not None:
                        other, other_url = start_platform(None, args.workers, args.compare)
                        procs.append(other)
                        setup(other_url)
                        servers.append((f"local@{args.compare}", other_url, other.pid))
                    rounds((bare_url, bare.pid), servers, args.rounds, args.requests)
            proc.terminate()
            proc.wait(timeout=10)
        print(f"median bare ceiling: {statistics.median(ceiling.values()):.0f} req/s")
        print(f"non-2xx answers: {len(ERRORS)} {ERRORS[:3]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        if moto is not None:
            moto.stop()
        for folder in TEMP_DIRS:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
