"""Shared helpers of the platform tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import socket
import threading
import time

from dagforge import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn in a background thread, stopped with should_exit."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=20)


def chain_spec(name="chain"):
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
            node("double", "add_one"),
            node("add_one", "slow_count", ["double"]),
            node("slow_count", "", ["add_one"]),
        ],
    }


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
