"""adage's JSON serialization (``adage.serialize``), plus saving a run's state to a file.

adage's functions keep their signatures: ``obj_to_json(adageobj, ruleserializer,
nodeserializer)``, ``node_to_json(nodeobj, taskserializer, proxyserializer)``,
``dag_from_json(dagdata, nodedeserializer)`` and the ``noop_*`` serializers.

dagforge adds :func:`save_state` / :func:`load_state`: the state of a dynamic run — the
graph as it grew, each node's state and timestamps, the *keys* of each node's result
(a dict result's keys; values themselves are not written: they may be large or not
JSON), open and applied rules by name — written as JSON atomically and read back as an
``adageobject`` for inspection. Loaded tasks cannot run (calling one raises) and
loaded rules never apply; the file is for looking at what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagforge.compat.adage import nodestate
from dagforge.compat.adage.adageobject import adageobject
from dagforge.compat.adage.decorators import Rule
from dagforge.compat.adage.graph import AdageDAG
from dagforge.compat.adage.node import Node
from dagforge.errors import SerializationError

__all__ = [
    "STATE_FORMAT",
    "dag_from_json",
    "load_state",
    "node_to_json",
    "noop_proxyserializer",
    "noop_ruleserializer",
    "noop_taskserializer",
    "obj_to_json",
    "save_state",
    "set_generic_data",
    "state_to_json",
]

STATE_FORMAT = "dagforge.adage-state/1"


def noop_taskserializer(task: Any) -> str:
    return "unserializable_task"


def noop_proxyserializer(proxy: Any) -> str:
    return "unserializable_proxy"


def noop_ruleserializer(rule: Any) -> str:
    return "unserializable_rule"


def obj_to_json(
    adageobj: Any, ruleserializer: Callable[[Any], Any], nodeserializer: Callable[[Any], Any]
) -> dict[str, Any]:
    dag = adageobj.dag
    return {
        "dag": {
            "nodes": [nodeserializer(dag.getNode(n)) for n in dag.nodes()],
            "edges": [list(e) for e in dag.edges()],
        },
        "rules": [ruleserializer(r) for r in adageobj.rules],
        "applied": [ruleserializer(r) for r in adageobj.applied_rules],
    }


def node_to_json(
    nodeobj: Any, taskserializer: Callable[[Any], Any], proxyserializer: Callable[[Any], Any]
) -> dict[str, Any]:
    return {
        "id": nodeobj.identifier,
        "name": nodeobj.name,
        "task": taskserializer(nodeobj.task),
        "timestamps": {
            "defined": nodeobj.define_time,
            "submit": nodeobj.submit_time,
            "ready by": nodeobj.ready_by_time,
        },
        "state": str(nodeobj.state),
        "proxy": proxyserializer(nodeobj.resultproxy),
    }


def set_generic_data(node: Any, data: dict[str, Any]) -> None:
    node.define_time = data["timestamps"]["defined"]
    node.submit_time = data["timestamps"]["submit"]
    node.ready_by_time = data["timestamps"]["ready by"]
    try:
        node._state = getattr(nodestate, data["state"])
    except AttributeError:
        raise SerializationError(
            f"node {data.get('id')!r}: unknown state {data['state']!r}; expected one of "
            f"DEFINED, RUNNING, FAILED, SUCCESS"
        ) from None


def dag_from_json(dagdata: dict[str, Any], nodedeserializer: Callable[[Any], Node]) -> AdageDAG:
    dag = AdageDAG()
    for x in dagdata["nodes"]:
        dag.addNode(nodedeserializer(x))
    for src, dst in dagdata["edges"]:
        dag.addEdge(dag.getNode(src), dag.getNode(dst))
    return dag


# --- dagforge: a run's state as a file ------------------------------------------------------


def _task_name(task: Any) -> str:
    if isinstance(task, _SavedTask):
        return task.name
    fn = getattr(task, "func", task)
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _result_keys(node: Any) -> dict[str, Any]:
    value = node.result
    if value is None and getattr(node, "result_type", None) is not None:  # a loaded node
        keys = None if node.result_keys is None else list(node.result_keys)
        return {"result_keys": keys, "result_type": node.result_type}
    if isinstance(value, dict):
        return {"result_keys": [str(k) for k in value], "result_type": "dict"}
    return {"result_keys": None, "result_type": None if value is None else type(value).__name__}


def state_to_json(adageobj: Any) -> dict[str, Any]:
    """The run's state as a JSON-able dict (see the module docstring)."""

    def node_json(n: Any) -> dict[str, Any]:
        out = node_to_json(n, _task_name, lambda _p: None)
        out.update(_result_keys(n))
        if n.error is not None:
            out["error"] = f"{type(n.error).__name__}: {n.error}"
        return out

    data = obj_to_json(adageobj, lambda r: getattr(r, "name", "rule"), node_json)
    return {"format": STATE_FORMAT, **data}


def save_state(adageobj: Any, path: str | Path) -> Path:
    """Write the state of ``adageobj`` to ``path`` as JSON (atomically); returns the path."""
    from dagforge.profiling.profile import atomic_write_text

    return atomic_write_text(path, json.dumps(state_to_json(adageobj), indent=2) + "\n")


class _SavedTask:
    """The task of a loaded node: its name only; it cannot run."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # compat: adage reports what a workflow cannot do as RuntimeError; so do we.
        raise RuntimeError(
            f"task {self.name!r} was loaded from a saved state and cannot run; rebuild the "
            f"workflow from code to run it again"
        )

    def __repr__(self) -> str:
        return f"<saved task {self.name}>"


def _saved_rule(name: str) -> Rule:
    def never(_adageobj: Any) -> bool:
        return False

    def body(adageobj: Any) -> None:  # pragma: no cover - never applicable
        # An internal assertion: ``never`` keeps this rule from being applied.
        raise RuntimeError(f"rule {name!r} was loaded from a saved state")

    body.__name__ = name
    return Rule(never, body)


def load_state(path: str | Path) -> adageobject:
    """Read a file written by :func:`save_state` into an ``adageobject`` for inspection."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SerializationError(f"{p}: no such state file") from None
    except json.JSONDecodeError as exc:
        raise SerializationError(f"{p}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise SerializationError(
            f"{p}: not an adage state file (expected format {STATE_FORMAT!r}); write one with "
            f"save_state()"
        )

    def node_from(x: dict[str, Any]) -> Node:
        node = Node(x["name"], _SavedTask(x["task"]), identifier=x["id"])
        set_generic_data(node, x)
        node.result_keys = x.get("result_keys")
        node.result_type = x.get("result_type")
        return node

    try:
        dag = dag_from_json(data["dag"], node_from)
        rules = [_saved_rule(n) for n in data["rules"]]
        applied = [_saved_rule(n) for n in data["applied"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"{p}: malformed state file: {exc}") from exc
    return adageobject(dag=dag, rules=rules, applied_rules=applied)
