"""`dagforge serve` prints one startup line and an access log (here: --log-format json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
from ui_helpers import free_port


def _line(proc, needle, bound=200):
    lines = []
    for _ in range(bound):
        line = proc.stderr.readline()
        if not line:
            time.sleep(0.05)
            continue
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not in the server's output: {lines}")


def test_serve_startup_line_and_json_access_log(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DAGFORGE_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagforge",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--log-format",
            "json",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        start = json.loads(_line(proc, "dagforge serving on"))
        assert start["logger"] == "dagforge.server" and start["level"] == "INFO"
        for part in (f"http://127.0.0.1:{port}", "data_dir=", "store=", "backend=threads"):
            assert part in start["message"]
        assert "auth=none (open)" in start["message"]
        for _ in range(200):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        access = json.loads(_line(proc, '"GET /health'))
        assert access["logger"] == "dagforge.server.access"
        assert (access["method"], access["path"], access["status"]) == ("GET", "/health", 200)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_serve_refuses_an_unknown_log_format(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagforge",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
            "--log-format",
            "xml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--log-format must be 'text' or 'json'" in done.stderr
