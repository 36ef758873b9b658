"""Durable runs: SIGKILL a real server process mid-run; after a restart the run finishes,
no completed node runs again, no accepted run is lost."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import free_port, setup_chain, spawn_serve

from dagforge import Client

HERE = Path(__file__).resolve().parent


def start_server(port: int, data_dir: Path) -> subprocess.Popen:
    args = ["--port", str(port), "--data-dir", str(data_dir), "--workers", "1"]
    return spawn_serve(f"http://127.0.0.1:{port}", [*args, "--allow-module", "platform_functions"])


def calls(markers: Path) -> dict[str, int]:
    counts = {"double": 0, "add_one": 0, "slow_count": 0}
    for f in markers.iterdir() if markers.exists() else ():
        counts[f.name.split("-")[0]] += 1
    return counts


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_resumes_without_rerunning(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    markers = tmp_path / "markers"
    gate = tmp_path / "gate"  # slow_count of the first run blocks until this exists
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, data)
    try:
        with Client(url) as c:
            setup_chain(c)
            args = {"marker_dir": str(markers), "gate": str(gate)}
            accepted = c.trigger("t", {"x": 3, **args})
            queued = c.trigger("t", {"x": 10, **args})  # waits its turn (one worker)
            deadline = time.monotonic() + 30
            while set(c.run(accepted["run_id"])["nodes"]) != {"double", "add_one"}:
                assert time.monotonic() < deadline, c.run(accepted["run_id"])
                time.sleep(0.02)  # double and add_one journaled; slow_count waits at the gate
            assert c.run(queued["run_id"])["status"] == "queued"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert calls(markers) == {"double": 1, "add_one": 1, "slow_count": 0}
        gate.touch()
        proc = start_server(port, data)
        with Client(url) as c:
            first = c.wait(accepted["run_id"], timeout=60)
            second = c.wait(queued["run_id"], timeout=60)
        assert first["status"] == second["status"] == "succeeded", (first, second)
        assert first["outputs"] == {"slow_count": {"x": 8}}
        assert second["outputs"] == {"slow_count": {"x": 22}}
        nodes = first["nodes"]
        assert nodes["double"]["restored"] and nodes["add_one"]["restored"]
        assert not nodes["slow_count"]["restored"]
        # one call per node per run: nothing completed before the kill ran again
        assert calls(markers) == {"double": 2, "add_one": 2, "slow_count": 2}
        log = (data / "requests.log").read_text().splitlines()
        assert sorted(line.split(", ")[-1] for line in log) == sorted(
            [accepted["run_id"], queued["run_id"]]
        )
    finally:
        proc.kill()
        proc.wait(timeout=10)
