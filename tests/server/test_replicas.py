"""Several gateways on one PostgreSQL and one Redis: two real ``dagforge serve``
processes, 200 triggers spread over both, one replica SIGKILLed while it runs work.
Every run finishes exactly once, no journaled node runs again, the log has 200 lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import chain_spec, free_port, spawn_serve
from postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

from dagforge import Client
from dagforge.server.database import open_database, upgrade

HERE = Path(__file__).resolve().parent
RUNS = 200


def start_replica(
    port: int, data_dir: Path, database_url: str, store: str, log: Path
) -> subprocess.Popen:
    """A ``dagforge serve`` process on the shared database; its output goes to ``log``."""
    # A dead replica's runs move on in ~4 s. (With 2 s, a renewal starved under CI load
    # once let a live replica's run move to the other replica.)
    env = dict(os.environ, DAGFORGE_LEASE_SECONDS="4")
    args = ["--port", str(port), "--data-dir", str(data_dir), "--database-url", database_url]
    args += ["--store", store, "--workers", "2", "--allow-module", "replica_functions"]
    return spawn_serve(f"http://127.0.0.1:{port}", args, env=env, log=log, limit=60)


def test_unmigrated_database_is_refused_by_serve(postgres_url, tmp_path) -> None:  # noqa: F811
    port = free_port()
    env = dict(os.environ)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagforge.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
            "--database-url",
            postgres_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no dagforge schema" in proc.stderr and "dagforge db upgrade" in proc.stderr


@pytest.mark.slow
def test_two_replicas_one_killed_every_run_exactly_once(
    postgres_url,  # noqa: F811
    redis_url,
    tmp_path,
) -> None:
    upgrade(postgres_url)
    data = tmp_path / "data"  # shared: one request log for both replicas
    calls = tmp_path / "calls.log"
    store = redis_url.rsplit("/", 1)[0] + "/3"
    ports = [free_port(), free_port()]
    procs = [
        start_replica(p, data, postgres_url, store, tmp_path / f"replica{k}.log")
        for k, p in enumerate(ports)
    ]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    db = open_database(postgres_url)
    accepted: list[tuple[int, str]] = []
    lock = threading.Lock()
    try:
        with Client(urls[0]) as c:
            for fn in ("first", "second", "third"):
                c.register_function(fn, path=f"replica_functions:{fn}")
            c.register_dag(chain_spec("replicated", ("first", "second", "third")))
            c.register_trigger(
                {"trigger_name": "rt", "type": "dag", "priority": "silver", "dags": ["replicated"]}
            )

        def send(indices: list[int], url_of) -> None:
            clients: dict[str, Client] = {}
            try:
                for i in indices:
                    url = url_of(i)
                    client = clients.get(url) or clients.setdefault(url, Client(url))
                    args = {"x": i, "log": str(calls), "tag": f"r{i}", "delay": 0.05}
                    answer = client.trigger("rt", args, wait=False)
                    with lock:
                        accepted.append((i, answer["run_id"]))
            finally:
                for client in clients.values():
                    client.close()

        # phase 1: the first half spread over both replicas, from four clients
        half = list(range(RUNS // 2))
        threads = [
            threading.Thread(target=send, args=(half[k::4], lambda i: urls[i % 2]))
            for k in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(accepted) == RUNS // 2
        victim_pid = procs[0].pid

        def victim_mid_run() -> bool:
            rows = db._exec(
                "SELECT r.id FROM runs r JOIN node_results n ON n.run_id = r.id "
                "WHERE r.status = 'running' AND r.lease_owner LIKE ?",
                (f"%:{victim_pid}:%",),
            )
            return bool(rows)

        deadline = time.monotonic() + 60
        while not victim_mid_run():
            assert time.monotonic() < deadline, "replica 0 never held a half-done run"
            time.sleep(0.005)
        procs[0].send_signal(signal.SIGKILL)  # mid-run: leases held, nodes half done
        procs[0].wait(timeout=10)
        held = [
            r[0]
            for r in db._exec(
                "SELECT id FROM runs WHERE status IN ('queued', 'running') AND lease_owner LIKE ?",
                (f"%:{victim_pid}:%",),
            )
        ]
        assert held, "the killed replica held no run"
        # phase 2: the second half on the survivor
        rest = list(range(RUNS // 2, RUNS))
        threads = [
            threading.Thread(target=send, args=(rest[k::2], lambda i: urls[1])) for k in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(accepted) == RUNS
        with Client(urls[1]) as c:
            finals = {i: c.wait(run_id, timeout=120) for i, run_id in accepted}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        db.close()

    # every run finished once, with the right outputs
    assert {r["status"] for r in finals.values()} == {"succeeded"}, [
        (i, r["status"], r.get("error")) for i, r in finals.items() if r["status"] != "succeeded"
    ]
    for i, record in finals.items():
        assert record["outputs"] == {"third": {"x": (i + 1) * 10 + 3}}
    assert len({run_id for _, run_id in accepted}) == RUNS

    # no journaled node ran twice: every node ran once — except that a node the killed
    # replica was running (not journaled yet) may have made one call there before the
    # kill and then run again on the survivor
    lines = [line.split() for line in calls.read_text().splitlines()]
    by_node = Counter((tag, node) for tag, node, _ in lines)
    dead = Counter((tag, node) for tag, node, pid in lines if int(pid) == victim_pid)
    held_tags = {f"r{i}" for i, rid in accepted if rid in held}
    resumed = 0
    for i, record in finals.items():
        tag = f"r{i}"
        for node in ("first", "second", "third"):
            restored = record["nodes"][node].get("restored")
            resumed += bool(restored)
            if restored:  # completed on the dead replica, journaled, restored: once
                assert by_node[(tag, node)] == 1 and dead[(tag, node)] == 1, (tag, node)
            elif by_node[(tag, node)] != 1:
                assert tag in held_tags, (tag, node, by_node[(tag, node)])
                assert by_node[(tag, node)] == 2 and dead[(tag, node)] == 1, (tag, node)
    assert resumed >= 1  # at least one run resumed from the journal on the survivor

    # the request log: one line per run, each run once
    log = (data / "requests.log").read_text().splitlines()
    assert len(log) == RUNS
    assert sorted(line.split(", ")[-1] for line in log) == sorted(r for _, r in accepted)
