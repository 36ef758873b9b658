"""Shared helpers of the platform tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import socket

from dagforge import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
