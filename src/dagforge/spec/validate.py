"""Load and validate workflow specifications; every error names its JSON path.

``load_spec`` accepts a dict, JSON text, a file path or a ``WorkflowSpec`` and either
returns a valid spec or raises :class:`~dagforge.errors.SpecError` whose ``.errors``
lists every ``(path, message)`` found, paths written like
``dag[2].properties.branch_1`` (``$`` is the document itself). It never raises another
exception, whatever the input: the fuzz tests hold it to that.

Validation has two stages. The pydantic models check shapes (types, required and
unknown fields, operators, primitives); pydantic's error locations are translated into
JSON paths. Then :func:`check_structure` checks the document as a graph: targets exist,
each primitive has the fields it needs and no others, ``outputs_from`` names nodes that
can have run before, and which nodes are unreachable (a :class:`SpecWarning`, also kept
on ``spec.warnings``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from dagforge.errors import SpecError
from dagforge.spec.models import (
    MAX_LISTED,
    OPERATORS,
    Condition,
    Properties,
    SpecNode,
    WorkflowSpec,
    json_type,
    resource_problems,
    spec_error,
    spec_json_schema,
)

__all__ = [
    "MAX_LISTED",
    "SpecWarning",
    "check_structure",
    "json_type",
    "load_spec",
    "reachability",
    "spec_error",
    "spec_json_schema",
]


class SpecWarning(UserWarning):
    """A spec that is valid but probably not what was meant (e.g. unreachable nodes)."""


# -- entry point ---------------------------------------------------------------------------


def load_spec(source: Any, *, warn: bool = True) -> WorkflowSpec:
    """Parse and validate a spec from a dict, JSON text, a file path or a model.

    A string that starts with ``{`` or ``[`` (after whitespace) is JSON text; any other
    string, and any ``os.PathLike``, is a file path. Warnings are emitted as
    :class:`SpecWarning` (unless ``warn=False``) and kept on ``spec.warnings``.
    """
    if isinstance(source, WorkflowSpec):
        if source._checked:
            return source
        spec = source
    else:
        data = _read(source)
        from pydantic import ValidationError

        try:
            spec = WorkflowSpec.model_validate(data)
        except ValidationError as exc:
            shape = [_translate(e) for e in exc.errors()]
            # Report every problem at once: the references the document makes are
            # checked too, although its shape is wrong somewhere.
            raise spec_error(_merge(shape, raw_references(data) + raw_resources(data))) from None
        except RecursionError:
            raise SpecError("the document is nested too deeply", path="$") from None
    errors, unreachable = check_structure(spec)
    if errors:
        raise spec_error(errors)
    spec._warnings = [
        (path, f"node {node!r} can never run: no control path leads to it from {spec.start!r}")
        for node, path in unreachable
    ]
    spec._checked = True
    if warn:
        for path, message in spec._warnings:
            warnings.warn(f"{path}: {message}", SpecWarning, stacklevel=2)
    return spec


def _read(source: Any) -> Any:
    if isinstance(source, Mapping):
        return dict(source)
    text: str | None = None
    if isinstance(source, bytes | bytearray):
        try:
            text = bytes(source).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"not UTF-8 text: {exc}", path="$") from None
    elif isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        text = source
    elif isinstance(source, str | os.PathLike):
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, ValueError) as exc:  # ValueError: NUL bytes, undecodable text
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            shown = repr(os.fspath(source))
            if len(shown) > 80:
                shown = shown[:77] + "..."
            raise SpecError(f"cannot read spec file {shown}: {reason}", path="$") from None
    else:
        raise SpecError(
            "a workflow spec is a JSON object (a dict, JSON text or a file path), "
            f"got {json_type(source)}",
            path="$",
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path="$"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"not valid JSON: {exc}", path="$") from None


# -- pydantic errors -> JSON paths ---------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNION_TAGS = {"<str>", "<list>", "<int>", "<float>", "<bool>"}


def json_path(loc: Iterable[Any]) -> str:
    """``("dag", 2, "properties", "branch_1")`` -> ``"dag[2].properties.branch_1"``."""
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, str) and part in _UNION_TAGS and previous in ("next", "target"):
            continue  # the member of a discriminated union, not part of the document
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part), ensure_ascii=False)}]"
        previous = part
    return out or "$"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    parent = [p for p in loc[:-1] if not (isinstance(p, str) and p in _UNION_TAGS)]
    if not parent:
        model: Any = WorkflowSpec
    elif isinstance(parent[-1], int):
        model = SpecNode
    else:
        model = {"properties": Properties, "condition": Condition}.get(parent[-1])
    return list(model.model_fields) if model is not None else []


def _translate(error: Mapping[str, Any]) -> tuple[str, str]:
    loc = tuple(error.get("loc", ()))
    path = json_path(loc)
    kind = error.get("type", "")
    value = error.get("input")
    got = f"got {json_type(value)}"
    last = loc[-1] if loc else None
    if kind == "missing":
        return path, "required field is missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(_fields_at(loc))
        return path, f"unknown field {last!r}; allowed fields: {allowed}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if not loc:
            return path, f'a workflow spec is a JSON object with "name" and "dag", {got}'
        return path, f"must be a JSON object, {got}"
    if kind == "literal_error":
        if last == "primitive":
            return (
                path,
                f"unknown primitive {value!r}; expected 'serial', 'parallel' or 'condition'",
            )
        if last == "operator":
            return path, f"unknown operator {value!r}; expected one of {', '.join(OPERATORS)}"
        return path, f"{error.get('msg')}, got {value!r}"
    simple = {
        "string_type": "must be a string",
        "list_type": "must be a list",
        "int_type": "must be an integer",
        "next_type": error.get("msg", ""),
        "target_type": error.get("msg", ""),
    }
    if kind in simple:
        return path, f"{simple[kind]}, {got}"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind == "greater_than_equal":
        return path, f"must be at least {error.get('ctx', {}).get('ge')}, got {value!r}"
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return path, message


# -- whole-document checks -----------------------------------------------------------------


def check_structure(spec: WorkflowSpec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Whole-document checks of a shape-valid spec.

    Returns ``(errors, unreachable)``: ``errors`` as ``(path, message)``, and the
    unreachable nodes as ``(node_id, path)``.
    """
    errors: list[tuple[str, str]] = []
    if not spec.dag:
        return [("dag", "must contain at least one node")], []
    index: dict[str, int] = {}
    for i, entry in enumerate(spec.dag):
        if entry.node_id in index:
            first = index[entry.node_id]
            errors.append(
                (
                    f"dag[{i}].node_id",
                    f"duplicate node_id {entry.node_id!r} (first at dag[{first}])",
                )
            )
        else:
            index[entry.node_id] = i

    def unknown(path: str, name: str) -> None:
        hint = difflib.get_close_matches(name, list(index), n=1)
        known = ", ".join(list(index)[:12]) + (", ..." if len(index) > 12 else "")
        maybe = f"; did you mean {hint[0]!r}?" if hint else ""
        errors.append((path, f"unknown node_id {name!r}{maybe} (known: {known})"))

    for i, entry in enumerate(spec.dag):
        p = entry.properties
        base = f"dag[{i}].properties"
        kind = p.primitive
        if kind == "parallel":
            if not isinstance(p.next, list):
                errors.append(
                    (
                        f"{base}.next",
                        f"a parallel node takes a list of node_ids, got the string {p.next!r}"
                        + (f'; write ["{p.next}"]' if p.next else ""),
                    )
                )
            elif not p.next:
                errors.append((f"{base}.next", "a parallel node needs at least one node_id"))
            else:
                seen: set[str] = set()
                for j, target in enumerate(p.next):
                    if target not in index:
                        unknown(f"{base}.next[{j}]", target)
                    elif target in seen:
                        errors.append((f"{base}.next[{j}]", f"{target!r} is listed twice"))
                    seen.add(target)
        elif isinstance(p.next, list):
            errors.append(
                (
                    f"{base}.next",
                    f'a {kind} node takes one node_id (or "" to end), not a list; '
                    "use primitive 'parallel' to start several nodes at once",
                )
            )
        elif kind == "condition" and p.next:
            errors.append(
                (
                    f"{base}.next",
                    'a condition node continues at branch_1 or branch_2; leave next ""',
                )
            )
        elif p.next and p.next not in index:
            unknown(f"{base}.next", p.next)
        if kind == "condition":
            if p.condition is None:
                errors.append(
                    (
                        f"{base}.condition",
                        "a condition node needs a condition {source, operator, target}",
                    )
                )
            for key in ("branch_1", "branch_2"):
                target = getattr(p, key)
                if not target:
                    errors.append(
                        (
                            f"{base}.{key}",
                            "a condition node needs both branches: branch_1 (taken when the "
                            "condition holds) and branch_2 (when it does not)",
                        )
                    )
                elif target not in index:
                    unknown(f"{base}.{key}", target)
        else:
            if p.condition is not None:
                errors.append(
                    (
                        f"{base}.condition",
                        f"only a condition node has a condition (this one is {kind}); "
                        'leave it {} or use primitive "condition"',
                    )
                )
            for key in ("branch_1", "branch_2"):
                if getattr(p, key):
                    errors.append(
                        (
                            f"{base}.{key}",
                            f'only condition nodes have branches (this one is {kind}); leave it ""',
                        )
                    )
        for j, source in enumerate(p.outputs_from):
            if source not in index:
                unknown(f"{base}.outputs_from[{j}]", source)
        if p.resources:
            errors.extend(resource_problems(p.resources, f"{base}.resources"))
    if errors:
        return errors, []

    reach = reachability(spec)
    start = spec.start
    runs = reach[start] | {start}
    for i, entry in enumerate(spec.dag):
        if entry.node_id not in runs:
            continue  # never runs: whom it reads from does not matter (it is a warning)
        for j, source in enumerate(entry.properties.outputs_from):
            if source not in runs or entry.node_id not in reach[source]:
                errors.append(
                    (
                        f"dag[{i}].properties.outputs_from[{j}]",
                        f"{source!r} can never run before {entry.node_id!r}: no control path "
                        f"leads from {source!r} to {entry.node_id!r}",
                    )
                )
    unreachable = [
        (e.node_id, f"dag[{i}]") for i, e in enumerate(spec.dag) if e.node_id not in runs
    ]
    return errors, unreachable


def raw_references(data: Any) -> list[tuple[str, str]]:
    """Unknown node_ids named by a document whose shape is invalid (best effort).

    Only well-formed pieces are looked at (string targets of dict entries), so this
    never raises, whatever ``data`` is.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("dag"), list):
        return []
    entries = data["dag"]
    ids = [e.get("node_id") for e in entries if isinstance(e, Mapping)]
    known = [i for i in ids if isinstance(i, str) and i]
    index = set(known)
    found: list[tuple[str, str]] = []

    def check(path: str, name: Any) -> None:
        if isinstance(name, str) and name and name not in index:
            hint = difflib.get_close_matches(name, known, n=1)
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            maybe = f"; did you mean {hint[0]!r}?" if hint else ""
            found.append((path, f"unknown node_id {name!r}{maybe} (known: {shown})"))

    for i, entry in enumerate(entries):
        props = entry.get("properties") if isinstance(entry, Mapping) else None
        if not isinstance(props, Mapping):
            continue
        base = f"dag[{i}].properties"
        nxt = props.get("next")
        if isinstance(nxt, list):
            for j, target in enumerate(nxt):
                check(f"{base}.next[{j}]", target)
        else:
            check(f"{base}.next", nxt)
        for key in ("branch_1", "branch_2"):
            check(f"{base}.{key}", props.get(key))
        sources = props.get("outputs_from")
        if isinstance(sources, list):
            for j, source in enumerate(sources):
                check(f"{base}.outputs_from[{j}]", source)
    return found


def raw_resources(data: Any) -> list[tuple[str, str]]:
    """What is wrong with the ``resources`` of a document whose shape is invalid (best
    effort, never raises): the problems :func:`check_structure` would report."""
    if not isinstance(data, Mapping) or not isinstance(data.get("dag"), list):
        return []
    found: list[tuple[str, str]] = []
    for i, entry in enumerate(data["dag"]):
        props = entry.get("properties") if isinstance(entry, Mapping) else None
        if isinstance(props, Mapping) and isinstance(props.get("resources"), Mapping):
            found.extend(resource_problems(props["resources"], f"dag[{i}].properties.resources"))
    return found


def _merge(first: list[tuple[str, str]], more: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Both lists, without a second error for a path already reported, in document order."""
    seen = {p for p, _ in first}
    merged = first + [(p, m) for p, m in more if p not in seen]
    order = {id(e): k for k, e in enumerate(merged)}
    return sorted(merged, key=lambda e: (_entry_of(e[0]), order[id(e)]))


def _entry_of(path: str) -> int:
    match = re.match(r"dag\[(\d+)\]", path)
    return int(match.group(1)) if match else -1


def reachability(spec: WorkflowSpec) -> dict[str, frozenset[str]]:
    """For each node, the nodes control can reach from it in one or more steps."""
    succ = {e.node_id: e.properties.successors for e in spec.dag}
    reach: dict[str, frozenset[str]] = {}
    for start in succ:
        seen: set[str] = set()
        stack = list(succ[start])
        while stack:
            node = stack.pop()
            if node not in seen and node in succ:
                seen.add(node)
                stack.extend(succ[node])
        reach[start] = frozenset(seen)
    return reach
