"""The spec planner: which node instances run next, as a pure state machine.

The planner knows nothing about threads or the engine. ``start()`` returns the first
step; ``complete(instance, outputs)`` returns the steps that become due after that
instance finished. Each step is a new *instance* of a spec node — the first pass of
``add_water`` is ``add_water``, later passes ``add_water#2``, ``add_water#3`` — whose
parents are instances that already exist. Edges therefore only ever point from existing
instances to new ones, which is exactly what append-only dynamic rules allow: control
flow compiles to rules, and what ran is always a DAG.

Semantics (DAGit, seed 004):
- ``serial`` continues at ``next`` (``""`` ends); ``parallel`` starts every node of its
  ``next`` list; ``condition`` compares its own output ``source`` with ``target`` and
  continues at ``branch_1`` if true, else ``branch_2``.
- A node's keyword arguments are the trigger arguments overlaid by the outputs of its
  ``outputs_from`` nodes, in list order (the latest instance of each; later wins). An
  ``outputs_from`` node with no instance yet (the first pass of a loop) contributes
  nothing.
- Joins: a node reached from several parallel branches is instantiated once; it waits
  for the latest instances of all its ``outputs_from`` nodes.
- Comparison: when both sides are numbers (or strings that parse as numbers) they
  compare as numbers; otherwise both compare as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagforge.errors import LoopLimitError, SpecError
from dagforge.spec.models import WorkflowSpec


class Step:
    """One instance to add: its name, spec node, parents and where its inputs come from."""

    __slots__ = ("instance", "node_id", "parents", "kwargs_from", "arguments")

    def __init__(
        self,
        instance: str,
        node_id: str,
        parents: list[str],
        kwargs_from: list[str],
        arguments: Mapping[str, Any],
    ):
        self.instance = instance
        self.node_id = node_id
        self.parents = parents
        self.kwargs_from = kwargs_from
        self.arguments = arguments

    def build_kwargs(self, outputs_by_instance: Mapping[str, Any]) -> dict[str, Any]:
        """Trigger arguments overlaid by the ``kwargs_from`` outputs, in order."""
        kwargs = dict(self.arguments)
        for inst in self.kwargs_from:
            out = outputs_by_instance.get(inst)
            if isinstance(out, Mapping):
                kwargs.update(out)
        return kwargs

    def __repr__(self) -> str:
        return f"<Step {self.instance} after {self.parents}>"


def compare(value: Any, operator: str, target: Any) -> bool:
    """DAGit's comparison: numbers as numbers, anything else as strings."""
    a, b = _number(value), _number(target)
    if a is None or b is None:
        a, b = str(value), str(target)
    if operator == "equals":
        return a == b
    if operator == "greater_than":
        return a > b
    if operator == "less_than":
        return a < b
    if operator == "greater_than_equals":
        return a >= b
    if operator == "less_than_equals":
        return a <= b
    raise SpecError(f"unknown operator {operator!r}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class SpecPlanner:
    """Unrolls a workflow spec into instances as they become due."""

    def __init__(
        self,
        spec: WorkflowSpec,
        arguments: Mapping[str, Any] | None = None,
        *,
        max_iterations: int | None = None,
    ):
        self.spec = spec
        self.arguments = dict(arguments or {})
        self.max_iterations = max_iterations or spec.max_iterations
        self._nodes = {e.node_id: e.properties for e in spec.dag}
        self._count: dict[str, int] = {}
        self._latest: dict[str, str] = {}  # node_id -> its latest instance
        self._steps: dict[str, Step] = {}
        self._done: dict[str, Any] = {}
        self.order: list[str] = []  # instances in creation order

    # -- public ----------------------------------------------------------------------

    def start(self) -> list[Step]:
        return [self._new(self.spec.start, trigger=None)]

    def complete(self, instance: str, outputs: Any) -> list[Step]:
        """Record an instance's outputs; return the instances that become due."""
        step = self._steps.get(instance)
        if step is None:
            raise SpecError(f"unknown instance {instance!r}")
        if instance in self._done:
            raise SpecError(f"instance {instance!r} completed twice")
        self._done[instance] = outputs
        props = self._nodes[step.node_id]
        if props.primitive == "condition":
            cond = props.condition
            assert cond is not None
            if not isinstance(outputs, Mapping) or cond.source not in outputs:
                keys = sorted(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__
                raise SpecError(
                    f"condition node {instance!r} must output {cond.source!r} to compare with "
                    f"{cond.target!r}; it returned {keys}",
                    path=f"{instance}.{cond.source}",
                )
            holds = compare(outputs[cond.source], cond.operator, cond.target)
            targets = [props.branch_1 if holds else props.branch_2]
        else:
            targets = props.successors
        due = []
        for node_id in targets:
            if self._pending_instance_after(node_id, instance):
                continue  # a join already waiting for this instance
            due.append(self._new(node_id, trigger=instance))
        return due

    def outputs(self, instance: str) -> Any:
        return self._done[instance]

    @property
    def final_outputs(self) -> dict[str, Any]:
        """Outputs of the instances that led nowhere (the workflow's ends)."""
        ends = {}
        for inst in self.order:
            if inst not in self._done:
                continue
            props = self._nodes[self._steps[inst].node_id]
            if props.primitive != "condition" and not props.successors:
                ends[inst] = self._done[inst]
        return ends

    def step(self, instance: str) -> Step:
        return self._steps[instance]

    # -- internals -------------------------------------------------------------------

    def _pending_instance_after(self, node_id: str, trigger: str) -> bool:
        latest = self._latest.get(node_id)
        if latest is None or latest in self._done:
            return False
        return trigger in self._steps[latest].parents

    def _new(self, node_id: str, trigger: str | None) -> Step:
        count = self._count.get(node_id, 0) + 1
        if count > self.max_iterations:
            raise LoopLimitError(
                f"node {node_id!r} of workflow {self.spec.name!r} would run a "
                f"{count}th time; the spec's iteration bound is {self.max_iterations} "
                f"(set max_iterations to raise it)"
            )
        self._count[node_id] = count
        instance = node_id if count == 1 else f"{node_id}#{count}"
        props = self._nodes[node_id]
        kwargs_from = [self._latest[s] for s in props.outputs_from if s in self._latest]
        parents = [] if trigger is None else [trigger]
        for inst in kwargs_from:
            if inst not in parents:
                parents.append(inst)
        arguments = {**self.arguments, **props.arguments}
        step = Step(instance, node_id, parents, kwargs_from, arguments)
        self._steps[instance] = step
        self._latest[node_id] = instance
        self.order.append(instance)
        return step
