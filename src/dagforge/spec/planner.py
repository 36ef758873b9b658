"""The spec planner: which node instances run next, as a pure state machine.

The planner knows nothing about threads, backends or the engine. ``start()`` returns
the first step; ``complete(instance, outputs)`` returns the steps that become due after
that instance finished. Each step is a new *instance* of a spec node: the first pass of
``add_water`` is named ``add_water``, later passes ``add_water#2``, ``add_water#3``.

Invariants: a step's parents are instances that already exist and have completed, so
every step returned is runnable at once. Edges therefore only ever point from existing
instances to new ones, which is exactly what append-only dynamic rules allow: control
flow compiles to rules (:mod:`dagforge.spec.runner`) and what ran is a DAG.

Semantics (DAGit, seed 004; ``docs/specs.md``):

- ``serial`` continues at ``next`` (``""`` ends that path); ``parallel`` starts every
  node of its ``next`` list; ``condition`` compares its own output ``source`` with
  ``target`` (:func:`compare`) and continues at ``branch_1`` if true, else ``branch_2``.
- Joins: when control reaches a node while other running instances (or other waiting
  joins) could still reach it, the node waits; it is instantiated once, after every
  path that could still arrive has arrived or gone elsewhere, with all arrivals as
  parents. So a node reached from several parallel branches runs once, after all of
  them, however long the branches are.
- Data: a node's keyword arguments are the trigger arguments (over the node's own
  ``arguments``) overlaid by the outputs of its ``outputs_from`` nodes in list order:
  the latest instance of each at the time the instance is created, later entries
  winning. Those instances are parents too. An ``outputs_from`` node without any
  instance yet (the first pass of a loop) contributes nothing.
- Loops: each node may have at most ``max_iterations`` instances in one run; the next
  one raises ``LoopLimitError`` naming the node and the bound.

Errors raised by ``complete`` (a condition output without its ``source`` key, the loop
bound) end the run: the planner is then ``finished`` with ``error`` set, and further
calls raise ``NodeStateError``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from dagforge.errors import LoopLimitError, NodeStateError, SpecError, TaskOutputError
from dagforge.spec.models import INSTANCE_SEPARATOR, WorkflowSpec, compare

__all__ = ["SpecPlanner", "Step", "compare", "instance_name", "node_requirements"]


def instance_name(node_id: str, iteration: int) -> str:
    """``add_water`` for the first pass, ``add_water#2`` for the second, ..."""
    return node_id if iteration == 1 else f"{node_id}{INSTANCE_SEPARATOR}{iteration}"


def node_requirements(
    spec: WorkflowSpec, functions: Mapping[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """``{node_id: {resource: amount}}`` of every spec node that requires anything: the
    function's requirement (``functions[node_id]``) overlaid per resource by the node's
    ``properties.resources``. Raises ``SpecError`` naming the path of a bad amount
    (``resources.<node_id>.<resource>`` for a function's)."""
    from dagforge.spec.models import check_resources
    from dagforge.spec.validate import json_path

    if functions is not None and not isinstance(functions, Mapping):
        raise SpecError(
            f"resources must map node_ids to requirements, got {type(functions).__name__}",
            path="resources",
        )
    out: dict[str, dict[str, float]] = {}
    for i, entry in enumerate(spec.dag):
        own = functions.get(entry.node_id) if functions else None
        if not own and not entry.properties.resources:
            continue  # the common case: nothing to check
        merged = {
            **check_resources(own, json_path(("resources", entry.node_id))),
            **check_resources(entry.properties.resources, f"dag[{i}].properties.resources"),
        }
        if merged:
            out[entry.node_id] = merged
    return out


class Step:
    """One instance to add: its name, spec node, parents and where its inputs come from.

    ``parents`` are the instances it must wait for (the control predecessors that led
    to it, then its ``kwargs_from`` instances); ``kwargs_from`` are the instances whose
    outputs overlay ``arguments``, in order. ``kwargs_from`` is a subset of ``parents``.
    ``resources`` is what the instance holds while it runs (``{}``: nothing): its
    function's requirement overlaid by the spec node's ``properties.resources``.
    """

    __slots__ = (
        "arguments",
        "instance",
        "iteration",
        "kwargs_from",
        "node_id",
        "parents",
        "resources",
    )

    def __init__(
        self,
        instance: str,
        node_id: str,
        parents: list[str],
        kwargs_from: list[str],
        arguments: Mapping[str, Any],
        iteration: int = 1,
        resources: Mapping[str, float] | None = None,
    ):
        self.resources: dict[str, float] = dict(resources or {})
        self.instance = instance
        self.node_id = node_id
        self.parents = parents
        self.kwargs_from = kwargs_from
        self.arguments = arguments
        self.iteration = iteration

    def build_kwargs(self, outputs_by_instance: Mapping[str, Any]) -> dict[str, Any]:
        """``arguments`` overlaid by each ``kwargs_from`` instance's outputs, in order."""
        kwargs = dict(self.arguments)
        for inst in self.kwargs_from:
            try:
                outputs = outputs_by_instance[inst]
            except KeyError:
                raise NodeStateError(
                    f"instance {self.instance!r} needs the outputs of {inst!r}, which were not "
                    "given; run a step only after all its parents completed"
                ) from None
            if not isinstance(outputs, Mapping):
                raise TaskOutputError(
                    f"instance {inst!r} returned {type(outputs).__name__}, not a dict of outputs"
                )
            kwargs.update(outputs)
        return kwargs

    def __repr__(self) -> str:
        return f"<Step {self.instance} after {self.parents} kwargs from {self.kwargs_from}>"


class SpecPlanner:
    """Unrolls a workflow spec into node instances as they become due."""

    def __init__(
        self,
        spec: Any,
        arguments: Mapping[str, Any] | None = None,
        *,
        max_iterations: int | None = None,
        resources: Mapping[str, Any] | None = None,
    ):
        """``resources`` maps node_ids to their functions' requirements (``{"cpu": 2}``);
        a spec node's own ``properties.resources`` overlays its function's, per resource."""
        from dagforge.spec.validate import load_spec, reachability

        self.spec: WorkflowSpec = load_spec(spec)  # a no-op for a spec load_spec returned
        if arguments is not None and not isinstance(arguments, Mapping):
            raise SpecError(
                f"trigger arguments must be a JSON object, got {type(arguments).__name__}",
                path="arguments",
            )
        if max_iterations is not None and (
            isinstance(max_iterations, bool)
            or not isinstance(max_iterations, int)
            or max_iterations < 1
        ):
            raise SpecError(
                f"max_iterations must be a positive integer, got {max_iterations!r}",
                path="max_iterations",
            )
        self.arguments: dict[str, Any] = dict(arguments or {})
        self.max_iterations: int = max_iterations or self.spec.max_iterations
        self._props = {e.node_id: e.properties for e in self.spec.dag}
        self._paths = {e.node_id: f"dag[{i}].properties" for i, e in enumerate(self.spec.dag)}
        self._reach = reachability(self.spec)
        self.resources: dict[str, dict[str, float]] = node_requirements(self.spec, resources)
        self._node_arguments = {
            n: ({**p.arguments, **self.arguments} if p.arguments else self.arguments)
            for n, p in self._props.items()
        }
        self._count: dict[str, int] = {}  # node_id -> instances created
        self._latest: dict[str, str] = {}  # node_id -> its latest instance
        self._steps: dict[str, Step] = {}  # every instance created
        self._live: dict[str, Step] = {}  # created, not completed
        self._live_nodes: Counter[str] = Counter()  # node_id -> live instances
        self._waiting: dict[str, list[str]] = {}  # node_id -> arrivals, joins not yet due
        self._done: dict[str, Any] = {}  # instance -> outputs
        self._ends: dict[str, Any] = {}  # instances that led nowhere -> outputs
        self._started = False
        self.error: Exception | None = None
        self.order: list[str] = []  # instances in creation order

    # -- public ----------------------------------------------------------------------------

    def start(self) -> list[Step]:
        """The first step: an instance of the first ``dag`` entry."""
        if self._started:
            raise NodeStateError(f"the planner of {self.spec.name!r} was already started")
        self._started = True
        return [self._new(self.spec.start, [])]

    def complete(self, instance: str, outputs: Any) -> list[Step]:
        """Record an instance's outputs; return the instances that become due (maybe none)."""
        if self.error is not None:
            raise NodeStateError(
                f"the run of {self.spec.name!r} already ended with "
                f"{type(self.error).__name__}: {self.error}"
            )
        step = self._live.get(instance)
        if step is None:
            if instance in self._done:
                raise NodeStateError(f"instance {instance!r} was already completed")
            raise NodeStateError(
                f"unknown instance {instance!r}; running: {', '.join(self._live) or 'none'}"
            )
        if not isinstance(outputs, Mapping):
            raise TaskOutputError(
                f"instance {instance!r}: a workflow function returns a dict of outputs, "
                f"got {type(outputs).__name__}"
            )
        try:
            targets = self._targets(step, outputs)
            del self._live[instance]
            self._live_nodes[step.node_id] -= 1
            self._done[instance] = outputs
            if not targets:
                self._ends[instance] = outputs
            for target in targets:
                self._waiting.setdefault(target, []).append(instance)
            return self._release()
        except (SpecError, LoopLimitError) as exc:
            self.error = exc
            raise

    @property
    def finished(self) -> bool:
        """True once nothing runs and nothing waits (or the run ended with ``error``)."""
        if self.error is not None:
            return True
        return self._started and not self._live and not self._waiting

    @property
    def final_outputs(self) -> dict[str, Any]:
        """Outputs of the instances that led nowhere (the workflow's ends), in order."""
        return dict(self._ends)

    @property
    def running(self) -> list[str]:
        """Instances created and not completed yet, in creation order."""
        return list(self._live)

    def outputs(self, instance: str) -> Any:
        """The outputs a completed instance reported."""
        return self._done[instance]

    def step(self, instance: str) -> Step:
        """The step that created ``instance``."""
        return self._steps[instance]

    # -- internals -------------------------------------------------------------------------

    def _targets(self, step: Step, outputs: Mapping[str, Any]) -> list[str]:
        props = self._props[step.node_id]
        if props.primitive != "condition":
            return props.successors
        cond = props.condition
        assert cond is not None  # load_spec guarantees it
        if cond.source not in outputs:
            keys = ", ".join(repr(k) for k in list(outputs)[:10]) or "none"
            raise SpecError(
                f"condition node instance {step.instance!r} returned no key {cond.source!r} "
                f"to compare with {cond.target!r} (its keys: {keys})",
                path=f"{self._paths[step.node_id]}.condition.source",
            )
        holds = compare(outputs[cond.source], cond.operator, cond.target)
        return [props.branch_1 if holds else props.branch_2]

    def _blocked(self, node_id: str) -> bool:
        """Whether something running or waiting elsewhere could still reach ``node_id``."""
        for other, live in self._live_nodes.items():
            if live and node_id in self._reach[other]:
                return True
        return any(node_id in self._reach[w] for w in self._waiting if w != node_id)

    def _release(self) -> list[Step]:
        due: list[Step] = []
        while self._waiting:
            released = False
            for node_id in list(self._waiting):
                if not self._blocked(node_id):
                    due.append(self._new(node_id, self._waiting.pop(node_id)))
                    released = True
            if not released:
                if self._live:
                    break  # running instances will arrive or go elsewhere
                # Joins waiting on each other with nothing running (they reach one
                # another through a loop): release the oldest, the others follow.
                node_id = next(iter(self._waiting))
                due.append(self._new(node_id, self._waiting.pop(node_id)))
        return due

    def _new(self, node_id: str, arrivals: list[str]) -> Step:
        count = self._count.get(node_id, 0) + 1
        if count > self.max_iterations:
            error = LoopLimitError(
                f"node {node_id!r} of workflow {self.spec.name!r} would start pass {count}, "
                f"past the loop bound of {self.max_iterations} (max_iterations); raise "
                "max_iterations in the spec or the run if the loop is meant to go on"
            )
            error.node = node_id  # type: ignore[attr-defined]
            error.bound = self.max_iterations  # type: ignore[attr-defined]
            raise error
        instance = instance_name(node_id, count)
        props = self._props[node_id]
        kwargs_from: list[str] = []
        for source in reversed(props.outputs_from):  # a repeated name counts where it is last
            latest = self._latest.get(source)
            if latest is not None and latest not in kwargs_from:
                kwargs_from.insert(0, latest)
        parents = list(dict.fromkeys(arrivals))
        previous = self._latest.get(node_id)
        if previous is not None and previous in self._live and previous not in parents:
            parents.append(previous)  # passes of one node never overlap
        parents += [inst for inst in kwargs_from if inst not in parents]
        step = Step(
            instance,
            node_id,
            parents,
            kwargs_from,
            self._node_arguments[node_id],
            count,
            self.resources.get(node_id),
        )
        self._count[node_id] = count
        self._latest[node_id] = instance
        self._steps[instance] = step
        self._live[instance] = step
        self._live_nodes[node_id] += 1
        self.order.append(instance)
        return step
