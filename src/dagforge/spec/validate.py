"""Load and validate workflow specifications; every error names its JSON path.

``load_spec`` accepts a dict, a JSON string, a path or a ``WorkflowSpec`` and either
returns a valid spec or raises :class:`~dagforge.errors.SpecError` whose ``.errors``
lists every ``(path, message)`` found — never another exception, whatever the input
(the fuzz tests hold it to that).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dagforge.errors import SpecError
from dagforge.spec.models import WorkflowSpec


class SpecWarning(UserWarning):
    """A spec that is valid but probably not what was meant (e.g. unreachable nodes)."""


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[str]", "int", "float", "function-after", "function-before"):
            continue  # pydantic's union-branch labels are not part of the document
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


def load_spec(source: Any) -> WorkflowSpec:
    """Parse and validate a spec from a dict, JSON text, a file path or a model."""
    if isinstance(source, WorkflowSpec):
        spec = source
    else:
        data = _read(source)
        from pydantic import ValidationError

        try:
            spec = WorkflowSpec.model_validate(data)
        except ValidationError as exc:
            errors = [(_path(e["loc"]), e["msg"]) for e in exc.errors()]
            raise SpecError(_summary(errors), errors[0][0], errors) from None
    problems, unreachable = check_structure(spec)
    if problems:
        raise SpecError(_summary(problems), problems[0][0], problems)
    for node, path in unreachable:
        warnings.warn(
            f"{path}: node {node!r} can never run (no path from {spec.start!r})",
            SpecWarning,
            stacklevel=2,
        )
    return spec


def _read(source: Any) -> Any:
    if isinstance(source, dict):
        return source
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and not source.lstrip().startswith(("{", "["))
    ):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError(f"cannot read spec file {str(path)!r}: {exc.strerror}") from exc
        source = text
    if isinstance(source, (str, bytes)):
        try:
            return json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            where = f"line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
            raise SpecError(f"not valid JSON ({where}): {exc}".replace(" ()", "")) from None
    raise SpecError(f"a spec is a JSON object, got {type(source).__name__}")


def _summary(errors: list[tuple[str, str]]) -> str:
    lines = [f"{p}: {m}" for p, m in errors[:20]]
    more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
    return "invalid workflow spec:\n  " + "\n  ".join(lines) + more


def check_structure(spec: WorkflowSpec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Whole-document checks: ``(errors, unreachable)`` as ``(path, message)`` lists."""
    errors: list[tuple[str, str]] = []
    if not spec.dag:
        return [("dag", "must contain at least one node")], []
    index: dict[str, int] = {}
    for i, entry in enumerate(spec.dag):
        if entry.node_id in index:
            errors.append(
                (
                    f"dag[{i}].node_id",
                    f"duplicate node_id {entry.node_id!r} (first at dag[{index[entry.node_id]}])",
                )
            )
        else:
            index[entry.node_id] = i
    for i, entry in enumerate(spec.dag):
        p = entry.properties
        base = f"dag[{i}].properties"
        if p.primitive == "parallel":
            if not isinstance(p.next, list):
                errors.append((f"{base}.next", "a parallel node takes a list of node_ids"))
            elif not p.next:
                errors.append((f"{base}.next", "a parallel node needs at least one node_id"))
        elif isinstance(p.next, list):
            errors.append(
                (
                    f"{base}.next",
                    f'a {p.primitive} node takes one node_id (or ""), '
                    "not a list; use primitive 'parallel'",
                )
            )
        if p.primitive == "condition":
            if p.condition is None:
                errors.append(
                    (f"{base}.condition", "a condition node needs {source, operator, target}")
                )
            for key in ("branch_1", "branch_2"):
                if not getattr(p, key):
                    errors.append((f"{base}.{key}", "a condition node needs both branches"))
        else:
            for key in ("branch_1", "branch_2"):
                if getattr(p, key):
                    errors.append(
                        (
                            f"{base}.{key}",
                            f"only condition nodes have branches (this one is {p.primitive})",
                        )
                    )
        targets: list[tuple[str, str]] = []
        if isinstance(p.next, list):
            targets += [(f"{base}.next[{j}]", t) for j, t in enumerate(p.next)]
        elif p.next:
            targets.append((f"{base}.next", p.next))
        if p.primitive == "condition":
            targets += [
                (f"{base}.{k}", getattr(p, k)) for k in ("branch_1", "branch_2") if getattr(p, k)
            ]
        for path, target in targets:
            if target not in index:
                errors.append((path, f"unknown node_id {target!r}; known: {sorted(index)}"))
    if errors:
        return errors, []
    succ = {e.node_id: e.properties.successors for e in spec.dag}
    reach = {n: _reachable(n, succ) for n in succ}
    for i, entry in enumerate(spec.dag):
        for j, source in enumerate(entry.properties.outputs_from):
            path = f"dag[{i}].properties.outputs_from[{j}]"
            if source not in index:
                errors.append((path, f"unknown node_id {source!r}; known: {sorted(index)}"))
            elif entry.node_id not in reach[source]:
                errors.append(
                    (
                        path,
                        f"{source!r} can never run before {entry.node_id!r} "
                        "(no control path from it)",
                    )
                )
    start_reach = reach[spec.start] | {spec.start}
    unreachable = [
        (e.node_id, f"dag[{i}]") for i, e in enumerate(spec.dag) if e.node_id not in start_reach
    ]
    return errors, unreachable


def _reachable(start: str, succ: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(succ[start])
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(succ.get(n, ()))
    return seen


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of a workflow spec (``dagforge spec schema``)."""
    schema = WorkflowSpec.model_json_schema()
    schema["title"] = "dagforge / DAGit workflow specification"
    return schema
