"""Shared helpers of the platform tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dagforge import Client
from loopback import UvicornThread, free_port  # noqa: F401 - free_port: for the tests

HERE = Path(__file__).resolve().parent


class ServerThread(UvicornThread):
    """The platform app on uvicorn in a thread, its lifespan required (it starts the
    dispatchers): a failing start-up fails the test instead of serving without them."""

    def __init__(self, app):
        super().__init__(app, lifespan="on")


def chain_spec(name="chain", steps=("double", "add_one", "slow_count")):
    """A serial spec running ``steps`` in order, each fed by the one before."""

    def node(node_id, nxt="", outputs_from=()):
        return {
            "node_id": node_id,
            "properties": {
                "label": node_id,
                "primitive": "serial",
                "condition": {},
                "next": nxt,
                "branch_1": "",
                "branch_2": "",
                "arguments": {},
                "outputs_from": list(outputs_from),
            },
        }

    return {
        "name": name,
        "dag": [
            node(step, steps[k + 1] if k + 1 < len(steps) else "", steps[k - 1 : k] if k else ())
            for k, step in enumerate(steps)
        ],
    }


def serve_process(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    preexec=None,
) -> subprocess.Popen:
    """``python -m dagforge.cli serve ARGS`` with this folder importable. Its output goes
    to ``log`` when given (a pipe nobody reads would fill up with access lines and block
    the server), else stdout is dropped and stderr kept for the caller."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "dagforge.cli", "serve", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
        preexec_fn=preexec,
    )


def spawn_serve(
    url: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    preexec=None,
    limit: float = 30.0,
) -> subprocess.Popen:
    """:func:`serve_process`, returned once it answers ``url`` (its public OpenAPI
    document); raises with the output's tail if it exits or is silent for ``limit`` s."""
    proc = serve_process(args, env=env, log=log, preexec=preexec)

    def tail() -> str:
        if log is not None:
            return log.read_text()[-3000:]
        assert proc.stderr is not None
        return proc.stderr.read().decode()[-2000:]

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagforge serve exited ({proc.returncode}): {tail()}")
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"dagforge serve did not answer {url} within {limit:.0f} s")


def setup_chain(client: Client, priority="gold", trigger="t"):
    for fn in ("double", "add_one", "slow_count"):
        client.register_function(fn, path=f"platform_functions:{fn}")
    client.register_dag(chain_spec())
    client.register_trigger(
        {
            "trigger_name": trigger,
            "type": "dag",
            "priority": priority,
            "dags": ["chain"],
            "functions": "",
        }
    )
