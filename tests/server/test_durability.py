"""Durable runs: SIGKILL a real server process mid-run; after a restart the run finishes,
no completed node runs again, no accepted run is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers import free_port, setup_chain

from dagforge import Client

HERE = Path(__file__).resolve().parent


def start_server(port: int, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagforge.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--workers",
            "1",
            "--allow-module",
            "platform_functions",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/functions", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 30 s")


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_resumes_without_rerunning(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    markers = tmp_path / "markers"
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, data)
    try:
        with Client(url) as c:
            setup_chain(c)
            accepted = c.trigger("t", {"x": 3, "delay": 3.0, "marker_dir": str(markers)})
            queued = c.trigger("t", {"x": 10, "marker_dir": str(markers)})  # waits its turn
            deadline = time.monotonic() + 20
            while c.run(accepted["run_id"])["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.8)  # double and add_one are done; slow_count is sleeping
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert not markers.exists() or not list(markers.iterdir())
        proc = start_server(port, data)
        with Client(url) as c:
            deadline = time.monotonic() + 60
            while True:
                first, second = c.run(accepted["run_id"]), c.run(queued["run_id"])
                if first["status"] == second["status"] == "succeeded":
                    break
                assert time.monotonic() < deadline, (first, second)
                time.sleep(0.1)
        assert first["outputs"] == {"slow_count": {"x": 8}}
        assert second["outputs"] == {"slow_count": {"x": 22}}
        nodes = first["nodes"]
        assert nodes["double"]["restored"] and nodes["add_one"]["restored"]
        assert not nodes["slow_count"]["restored"]
        assert len(list(markers.iterdir())) == 2  # one slow_count call per run, no repeats
    finally:
        proc.kill()
        proc.wait(timeout=10)
