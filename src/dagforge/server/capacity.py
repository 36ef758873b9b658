"""The platform's resource capacity (``dagforge serve --resources cpu=4,memory=8192``).

A registered function (``"resources": {"cpu": 2}``) or a spec node
(``properties.resources``) may say what one of its instances holds while it runs. With
``--resources``, every run of the server executes against one shared
:class:`~dagforge.resources.ResourcePool` of those capacities: an instance starts only
once what it requires is free, whichever run holds the rest. What can never fit is
refused up front with a 422 naming resource, need and capacity: a function or DAG at
registration, a run at its trigger (its snapshot: the registries as they are then), so
no run waits forever for a resource the server does not have.

Without ``--resources`` the server has no capacity to account requirements against,
so a registration that declares any is refused (422 naming the option) instead of
being accepted and silently ignored: nothing is promised that is not enforced. A run
whose snapshot still carries requirements (registered while the server had
``--resources``) fails when it starts, naming the option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagforge.errors import RegistryError, ResourceError, ServerOptionError, SpecError
from dagforge.server.guards import BadInput
from dagforge.spec.models import MAX_AMOUNT, MAX_RESOURCES, RESOURCE_NAME, resource_problems

__all__ = ["Capacity", "parse_capacity"]

OPTION = "--resources"


def _fmt(amount: float) -> str:
    return f"{amount:g}"


def _shown(amounts: Mapping[str, float]) -> str:
    return ",".join(f"{k}={_fmt(v)}" for k, v in amounts.items()) or "none"


def parse_capacity(text: str) -> dict[str, float]:
    """``"cpu=4,gpu=1,memory=8192"`` as ``{"cpu": 4.0, "gpu": 1.0, "memory": 8192.0}``.

    Raises :class:`~dagforge.errors.ServerOptionError` (a ``ValueError``) naming the
    piece at fault: each is ``name=amount``, the name
    as in a requirement, the amount a positive finite number, every name once.
    """
    out: dict[str, float] = {}
    pieces = [p.strip() for p in str(text).split(",")]
    if not any(pieces):
        raise ServerOptionError(f"{OPTION} takes name=amount pairs such as cpu=4,memory=8192")
    for piece in pieces:
        name, eq, amount = piece.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ServerOptionError(f"{OPTION}: {piece!r} is not name=amount (e.g. cpu=4)")
        if not RESOURCE_NAME.fullmatch(name):
            raise ServerOptionError(
                f"{OPTION}: resource name {name!r} is not allowed: a letter or '_', then "
                "letters, digits, '_', '.' or '-', at most 64 characters"
            )
        if name in out:
            raise ServerOptionError(f"{OPTION}: resource {name!r} is given twice")
        try:
            value = float(amount)
        except ValueError:
            raise ServerOptionError(
                f"{OPTION}: {name}={amount.strip()!r} is not a number"
            ) from None
        if not math.isfinite(value) or value <= 0 or value > MAX_AMOUNT:
            raise ServerOptionError(
                f"{OPTION}: {name}={amount.strip()} must be a positive finite number of at "
                f"most {MAX_AMOUNT:g}"
            )
        out[name] = value
    if len(out) > MAX_RESOURCES:
        raise ServerOptionError(f"{OPTION}: {len(out)} resources; at most {MAX_RESOURCES}")
    return out


class Capacity:
    """What the server may run at once, and the checks against it."""

    def __init__(self, capacities: Mapping[str, float] | None):
        if capacities is not None and not isinstance(capacities, Mapping):
            raise RegistryError(f"{OPTION} must map resource names to amounts")
        if capacities:
            problems = resource_problems(capacities, OPTION)
            if problems:
                raise RegistryError(f"{problems[0][0]}: {problems[0][1]}")
        self.capacities: dict[str, float] | None = (
            {k: float(v) for k, v in capacities.items()} if capacities else None
        )
        self.pool: Any = None
        if self.capacities:
            from dagforge.resources import ResourcePool

            self.pool = ResourcePool(self.capacities)

    # -- checks at registration and trigger ------------------------------------------------

    def _refusal(
        self, who: str, path: str | Mapping[str, str], need: Mapping[str, float]
    ) -> BadInput | None:
        """Why ``need`` can never run here (a ``BadInput`` at the resource's path;
        ``path`` is where the requirement is, or per resource, where each was set)."""
        caps = self.capacities
        paths = path if isinstance(path, Mapping) else dict.fromkeys(need, path)
        if caps is None:
            return BadInput(
                f"{who} requires {_shown(need)}, but this server was started without "
                f"{OPTION}, so it cannot account for resources; the operator starts "
                f"`dagforge serve {OPTION} {_shown(need)}` (or drop the requirement)",
                next(iter(paths.values())),
            )
        for name, amount in need.items():
            where = _path(paths[name], name)
            if name not in caps:
                return BadInput(
                    f"{who} requires {name}={_fmt(amount)}, but this server has no resource "
                    f"{name!r} (its {OPTION}: {_shown(caps)})",
                    where,
                )
            if amount > caps[name] * (1 + 1e-9):
                return BadInput(
                    f"{who} requires {name}={_fmt(amount)}, more than this server's capacity "
                    f"{name}={_fmt(caps[name])} ({OPTION} {_shown(caps)}); it could never start",
                    where,
                )
        return None

    def check_function(self, name: str, body: Mapping[str, Any]) -> None:
        """A function registration's ``resources``: well formed and within capacity."""
        if "resources" not in body or body["resources"] is None:
            return
        raw = body["resources"]
        problems = resource_problems(raw, "resources")
        if problems:
            path, message = problems[0]
            raise BadInput(f"function {name!r}: {path}: {message}", path)
        if raw:
            refused = self._refusal(f"function {name!r}", "resources", raw)
            if refused is not None:
                raise refused

    def check_spec(self, spec: Any) -> None:
        """A DAG's node requirements (already well formed: ``load_spec`` checked them)
        within capacity; ``SpecError`` with the JSON path."""
        for i, entry in enumerate(spec.dag):
            need = entry.properties.resources
            if need:
                refused = self._refusal(
                    f"node {entry.node_id!r}", f"dag[{i}].properties.resources", need
                )
                if refused is not None:
                    raise SpecError(str(refused), path=refused.path)

    def check_run(self, trigger: str, snapshot: Mapping[str, Any]) -> None:
        """Refuse a run (``BadInput``, 422) that could never start: a node's requirement
        (its function's, overlaid by the spec node's) beyond the capacity."""
        for node, (need, path) in _needs(snapshot, strict=True).items():
            refused = self._refusal(f"trigger {trigger!r}: node {node!r}", path, need)
            if refused is not None:
                raise refused

    # -- at run time -----------------------------------------------------------------------

    def requirements(
        self, snapshot: Mapping[str, Any] | None, *, strict: bool = False
    ) -> dict[str, dict[str, float]]:
        """``{node_id: {resource: amount}}`` of an accepted run's snapshot (its functions'
        requirements overlaid by its spec nodes'). A malformed requirement raises
        ``BadInput`` naming its path when ``strict``, else it is left out (the page)."""
        return {node: need for node, (need, _) in _needs(snapshot or {}, strict).items()}

    def for_run(self, snapshot: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
        """:meth:`requirements`, or ``ResourceError`` when there are some and this server
        has no ``--resources`` (registered while it had; restarted without)."""
        needs = self.requirements(snapshot, strict=True)
        if needs and self.pool is None:
            node, need = next(iter(needs.items()))
            raise ResourceError(
                f"node {node!r} requires {_shown(need)}, but this server runs without "
                f"{OPTION}; restart it with {OPTION} to run this workflow"
            )
        return needs


def _path(base: str, name: str) -> str:
    from dagforge.spec.validate import json_path

    return f"{base}{json_path(('x', name))[1:]}"


def _needs(
    snapshot: Mapping[str, Any], strict: bool = False
) -> dict[str, tuple[dict[str, float], dict[str, str]]]:
    """Each spec node's requirement, and per resource the JSON path of the requirement
    that set it (``functions.<name>.resources`` or ``dag[i].properties.resources``).
    ``strict``: a malformed one (a record from before requirements were checked) raises
    ``BadInput`` at its path instead of being skipped."""
    from dagforge.spec.validate import json_path

    spec = snapshot.get("spec") if isinstance(snapshot, Mapping) else None
    functions = snapshot.get("functions") if isinstance(snapshot, Mapping) else None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("dag"), list):
        return {}
    functions = functions if isinstance(functions, Mapping) else {}
    out: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    for i, entry in enumerate(spec["dag"]):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("node_id"), str):
            continue
        node = entry["node_id"]
        fn = functions.get(node)
        props = entry.get("properties")
        if not (isinstance(fn, Mapping) and fn.get("resources")) and not (
            isinstance(props, Mapping) and props.get("resources")
        ):
            continue  # the common case: this node requires nothing
        need: dict[str, float] = {}
        paths: dict[str, str] = {}
        for raw, where in (
            (fn.get("resources") if isinstance(fn, Mapping) else None, ("functions", node)),
            (props.get("resources") if isinstance(props, Mapping) else None, ("dag", i)),
        ):
            if not raw:
                continue
            base = json_path((*where, "resources") if where[0] == "functions" else where) + (
                "" if where[0] == "functions" else ".properties.resources"
            )
            problems = resource_problems(raw, base)
            if problems and strict:
                path, message = problems[0]
                raise BadInput(f"node {node!r}: {path}: {message}", path)
            if not problems:
                for k, v in raw.items():
                    need[k] = float(v)
                    paths[k] = base
        if need:
            out[node] = (need, paths)
    return out
