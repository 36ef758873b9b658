"""The profile JSON format: its JSON Schema and a small validator with JSON paths.

The format is dagprofiler's (``seeds/000_*``): ``metadata``, ``configuration``,
``dag_structure`` {``nodes``, ``edges`` as {source, target}, ``execution_order``},
``node_weights`` (instructions), ``edge_weights`` keyed ``"src->dst"`` (bits),
``execution_metrics`` and ``total_time_ms``. :data:`PROFILE_SCHEMA` publishes it as a
JSON Schema (draft 2020-12); :func:`validate_profile` checks a parsed document against
it *and* against what a schema cannot say (edges and weights naming unknown nodes,
duplicate entries), raising a :class:`~dagforge.errors.ProfileError` whose message
starts with the JSON path at fault (``$.dag_structure.edges[2].target: ...``).

Invariants:
- The validator is self-contained (stdlib only): ``jsonschema`` is a dev dependency,
  never needed to load a profile. It implements exactly the keywords the schema uses.
- ``execution_metrics`` is accepted in both forms: dagprofiler's list of entries with a
  ``"task"`` key, and a dict keyed by node name.
- Unknown keys are allowed everywhere (forward compatibility: a newer writer may add
  fields, and dagforge itself adds some, e.g. ``status`` or ``stats``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dagforge.errors import CycleError, ProfileError
from dagforge.scheduling.order import topological_names

__all__ = ["PROFILE_SCHEMA", "json_path", "normalise_task_names", "validate_profile"]

# The zone is optional: dagprofiler 0.1.0 writes ``datetime.now().isoformat()`` (naive).
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"
_NONNEG = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
_STAT = {
    "type": "object",
    "properties": {"median": _NONNEG, "min": _NONNEG, "max": _NONNEG},
    "required": ["median", "min", "max"],
}
_METRIC_PROPS: dict[str, Any] = {
    "task": {"type": "string"},
    "compute_time_ms": _NONNEG,
    "serialize_time_ms": _NONNEG,
    "deserialize_time_ms": _NONNEG,
    "bytes_in": _NONNEG,
    "bytes_out": _NONNEG,
    "status": {"type": "string"},
    "worker": {"type": ["string", "null"]},
    "start_ms": {"type": ["number", "null"], "minimum": 0},
    "end_ms": {"type": ["number", "null"], "minimum": 0},
    "attempts": _COUNT,
    "runs": _COUNT,
    "stats": {"type": "object", "additionalProperties": _STAT},
}

#: JSON Schema (draft 2020-12) of a profile file, written by dagforge or dagprofiler 0.1.0.
PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://dagforge.dev/schemas/profile.json",
    "title": "DAG profile (dagprofiler / dagforge)",
    "type": "object",
    "required": [
        "metadata",
        "configuration",
        "dag_structure",
        "node_weights",
        "edge_weights",
        "execution_metrics",
        "total_time_ms",
    ],
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["timestamp"],
            "properties": {
                "timestamp": {"type": "string", "pattern": _TIMESTAMP},
                "dagforge_version": {"type": "string"},
                "dagprofiler_version": {"type": "string"},
                "seed": {"type": ["integer", "null"]},
                "hostname": {"type": "string"},
                "python": {"type": "string"},
                "platform": {"type": "string"},
                "runs": {"type": "integer", "minimum": 1},
            },
        },
        "configuration": {"type": "object"},
        "dag_structure": {
            "type": "object",
            "required": ["nodes", "edges", "execution_order"],
            "properties": {
                "nodes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "edges": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["source", "target"],
                        "properties": {
                            "source": {"type": "string"},
                            "target": {"type": "string"},
                        },
                    },
                },
                "execution_order": {"type": "array", "items": {"type": "string"}},
            },
        },
        "node_weights": {"type": "object", "additionalProperties": _NONNEG},
        "edge_weights": {
            "type": "object",
            "propertyNames": {"pattern": "^.+->.+$"},
            "additionalProperties": _NONNEG,
        },
        "execution_metrics": {
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["task", "compute_time_ms"],
                        "properties": _METRIC_PROPS,
                    },
                },
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["compute_time_ms"],
                        "properties": _METRIC_PROPS,
                    },
                },
            ]
        },
        "total_time_ms": _NONNEG,
        "aggregate": {
            "type": "object",
            "properties": {"runs": {"type": "integer", "minimum": 1}, "total_time_ms": _STAT},
        },
        # dagforge's extras, kept out of the entries dagprofiler's reader builds from
        "dagforge": {
            "type": "object",
            "properties": {
                "execution_metrics": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "properties": _METRIC_PROPS},
                },
                "node_weights": {"type": "object", "additionalProperties": _NONNEG},
                "edge_weights": {"type": "object", "additionalProperties": _NONNEG},
            },
        },
    },
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: tuple[Any, ...] | list[Any]) -> str:
    """``("a", 2, "x->y")`` -> ``$.a[2]["x->y"]``."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT.match(p):
            out += f".{p}"
        else:
            out += '["' + p.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def _fail(path: tuple[Any, ...], message: str, source: str | None) -> ProfileError:
    where = f"{source}: " if source else ""
    err = ProfileError(f"{where}{json_path(path)}: {message}")
    err.path = json_path(path)  # type: ignore[attr-defined]
    return err


_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "null": "null",
    "boolean": "a boolean",
}


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, int | float) and value == value  # NaN is not JSON
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    # An internal assertion: PROFILE_SCHEMA uses only the types above.
    raise ValueError(f"unsupported schema type {kind!r}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check(value: Any, schema: Mapping[str, Any], path: tuple[Any, ...], src: str | None) -> None:
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _check(value, option, path, src)
                break
            except ProfileError as exc:
                errors.append(exc)
        else:
            # Report the error of the option whose type matched, when one did.
            for option, err in zip(schema["anyOf"], errors, strict=True):
                if _is(value, option.get("type", "object")):
                    raise err
            raise errors[0]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            want = " or ".join(_TYPES[k] for k in kinds)
            raise _fail(path, f"expected {want}, got {_describe(value)}", src)
    if isinstance(value, bool):
        return
    if isinstance(value, int | float) and "minimum" in schema and value < schema["minimum"]:
        raise _fail(path, f"must be >= {schema['minimum']}, got {value!r}", src)
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        raise _fail(path, f"{value!r} does not match the pattern {schema['pattern']}", src)
    if isinstance(value, list):
        items = schema.get("items")
        if items is not None:
            for i, item in enumerate(value):
                _check(item, items, (*path, i), src)
        if schema.get("uniqueItems"):
            seen: set[Any] = set()
            for i, item in enumerate(value):
                key = repr(item)
                if key in seen:
                    raise _fail((*path, i), f"duplicate item {_describe(item)}", src)
                seen.add(key)
    if isinstance(value, Mapping):
        for key in schema.get("required", ()):
            if key not in value:
                raise _fail(path, f"missing required key {key!r}", src)
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for key, item in value.items():
            if names is not None:
                _check(key, names, (*path, key), src)
            if key in props:
                _check(item, props[key], (*path, key), src)
            elif extra is False:
                raise _fail((*path, key), "unknown key", src)
            elif isinstance(extra, Mapping):
                _check(item, extra, (*path, key), src)


def normalise_task_names(data: Any) -> Any:
    """Map dagprofiler's per-entry task names onto node names where they differ.

    dagprofiler 0.1.0 writes each entry's ``task`` as the Task's own name, which is its
    *class* name when the task was built as ``CollectData()`` (the seed's quickstart),
    not the node name ``"collect"``. It appends entries in ``execution_order``, so when
    some entry names no node and there is one entry per executed node, entries are
    renamed by position. Anything else is left for :func:`validate_profile` to report.
    """
    try:
        metrics = data["execution_metrics"]
        structure = data["dag_structure"]
        known = set(structure["nodes"])
        order = list(structure["execution_order"])
    except (KeyError, TypeError):
        return data
    if not isinstance(metrics, list) or not all(isinstance(e, Mapping) for e in metrics):
        return data
    if all(e.get("task") in known for e in metrics) or len(metrics) != len(order):
        return data
    if set(order) - known or len(set(order)) != len(order):
        return data
    out = dict(data)
    out["execution_metrics"] = [{**e, "task": name} for e, name in zip(metrics, order, strict=True)]
    return out


def validate_profile(data: Any, *, source: str | None = None) -> None:
    """Raise :class:`ProfileError` (message starts with the JSON path) unless ``data`` is a
    valid profile; ``source`` (a file name) is prefixed to the message."""
    _check(data, PROFILE_SCHEMA, (), source)
    structure = data["dag_structure"]
    nodes = structure["nodes"]
    known = set(nodes)

    def unknown(path: tuple[Any, ...], name: str, what: str) -> ProfileError:
        shown = sorted(known)[:10]
        more = ", ..." if len(known) > 10 else ""
        return _fail(
            path,
            f"{what} {name!r} is not in dag_structure.nodes ({', '.join(map(repr, shown))}{more});"
            f" add the node or fix the name",
            source,
        )

    edges: set[str] = set()
    for i, edge in enumerate(structure["edges"]):
        for end in ("source", "target"):
            if edge[end] not in known:
                raise unknown(("dag_structure", "edges", i, end), edge[end], f"edge {end}")
        if edge["source"] == edge["target"]:
            raise _fail(
                ("dag_structure", "edges", i), "an edge cannot join a node to itself", source
            )
        key = f"{edge['source']}->{edge['target']}"
        if key in edges:
            raise _fail(("dag_structure", "edges", i), f"duplicate edge {key!r}", source)
        edges.add(key)
    for i, name in enumerate(structure["execution_order"]):
        if name not in known:
            raise unknown(("dag_structure", "execution_order", i), name, "node")
    for name in data["node_weights"]:
        if name not in known:
            raise unknown(("node_weights", name), name, "node")
    for key in data["edge_weights"]:
        if key not in edges:
            raise _fail(
                ("edge_weights", key),
                f"edge {key!r} is not in dag_structure.edges; edge weights are keyed "
                f"'source->target' by the edges listed there",
                source,
            )
    metrics = data["execution_metrics"]
    if isinstance(metrics, list):
        seen: set[str] = set()
        for i, entry in enumerate(metrics):
            name = entry["task"]
            if name not in known:
                raise unknown(("execution_metrics", i, "task"), name, "task")
            if name in seen:
                raise _fail(
                    ("execution_metrics", i, "task"),
                    f"a second entry for task {name!r}; keep one entry per node",
                    source,
                )
            seen.add(name)
    else:
        for name, entry in metrics.items():
            if name not in known:
                raise unknown(("execution_metrics", name), name, "node")
            if "task" in entry and entry["task"] != name:
                raise _fail(
                    ("execution_metrics", name, "task"),
                    f"entry keyed {name!r} says task {entry['task']!r}",
                    source,
                )
    _check_acyclic(nodes, structure["edges"], source)


def _check_acyclic(nodes: list[str], edges: list[Mapping[str, str]], source: str | None) -> None:
    """Names and edges were checked above; the one topological sort finds the cycles."""
    try:
        topological_names(nodes, [(e["source"], e["target"]) for e in edges])
    except CycleError as exc:
        cycle = " -> ".join(exc.cycle)
        raise _fail(
            ("dag_structure", "edges"),
            f"the edges form a cycle {cycle}; a profile describes a DAG",
            source,
        ) from None
