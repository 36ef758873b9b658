"""Run a workflow spec on the one engine: control flow compiles to dynamic rules.

Each planner step becomes a node of the run's DAG (its parents are existing instances)
plus one rule "when this instance succeeded, ask the planner what is due next". So a
loop of 10 passes is 10 node instances the engine schedules, profiles and traces like
any other; nothing here is a second scheduler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from dagforge.errors import StoreError, TaskOutputError
from dagforge.spec.planner import SpecPlanner, Step
from dagforge.spec.registry import FunctionRegistry
from dagforge.spec.validate import load_spec


class SpecCall:
    """The callable of one instance: builds its kwargs from its parents, stores outputs."""

    __slots__ = ("fn", "step", "restored", "store", "run_id", "serializer", "shape")

    #: what ``inspect.signature`` answers for every instance without deriving it from
    #: ``__call__`` each time: the DAG's signature check and the engine's plan ask once
    #: per run (≈ 0.1 ms a 3-node run spent there)
    __signature__ = inspect.Signature(
        [inspect.Parameter("parent_values", inspect.Parameter.VAR_POSITIONAL)]
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        step: Step,
        restored: Any = None,
        store: Any = None,
        run_id: str | None = None,
        serializer: str = "json",
        shape: str = "dagforge",
    ):
        self.shape = shape
        self.fn = fn
        self.step = step
        self.restored = restored
        self.store = store
        self.run_id = run_id
        self.serializer = serializer

    def __call__(self, *parent_values: Any) -> Any:
        step = self.step
        if self.restored is not None:
            return self.restored  # journaled by an earlier attempt of this run
        by_instance = dict(zip(step.parents, parent_values, strict=True))
        if self.shape == "dagit" and len(step.kwargs_from) > 1:
            # DAGit: several outputs_from nodes reach a function as the list of outputs
            outputs = self.fn([by_instance[inst] for inst in step.kwargs_from])
        else:
            outputs = self.fn(**step.build_kwargs(by_instance))
        if not isinstance(outputs, Mapping):
            raise TaskOutputError(
                f"node {step.instance!r}: a workflow function returns a dict of outputs, "
                f"got {type(outputs).__name__}"
            )
        if self.store is not None:
            from dagforge.store import put_value, run_key

            if self.run_id is None:
                raise StoreError(
                    f"node {step.instance!r}: a store was given without a run id, so its "
                    "outputs have no key (pass run_id=)"
                )
            for key, value in outputs.items():
                put_value(
                    self.store,
                    run_key(self.run_id, _key_part(step.instance), key),
                    value,
                    serializer=self.serializer,
                )
        return dict(outputs)


def _key_part(instance: str) -> str:
    return instance.replace("#", "-")


def compile_spec(
    spec: Any,
    registry: FunctionRegistry,
    arguments: Mapping[str, Any] | None = None,
    *,
    store: Any = None,
    run_id: str | None = None,
    completed: Mapping[str, Any] | None = None,
    serializer: str = "json",
    max_iterations: int | None = None,
    resources: Mapping[str, Any] | None = None,
) -> tuple[Any, SpecPlanner]:
    """A DAG holding the first instance and the rule that unrolls the rest.

    Each instance gets the ``resources=`` option of its step (its function's
    requirement from ``resources[node_id]``, overlaid by the spec node's own)."""
    from dagforge.dynamic import Rule
    from dagforge.graph import DAG

    spec = load_spec(spec)
    registry.check(spec)  # unknown functions are reported before anything runs
    planner = SpecPlanner(spec, arguments, max_iterations=max_iterations, resources=resources)
    done = dict(completed or {})
    dag = DAG(name=spec.name)

    def call_for(step: Step) -> SpecCall:
        return SpecCall(
            registry.resolve(step.node_id),
            step,
            done.get(step.instance),
            store,
            run_id,
            serializer,
            spec.input_shape,
        )

    def continuation(step: Step) -> Rule:
        def when_done(view: Any) -> bool:
            return view.succeeded(step.instance)

        def unroll(builder: Any) -> None:
            for nxt in planner.complete(step.instance, builder.view.value(step.instance)):
                builder.add_node(
                    nxt.instance, call_for(nxt), after=nxt.parents, options=_node_options(nxt)
                )
                builder.add_rule(continuation(nxt))

        return Rule(when_done, unroll, name=f"after {step.instance}")

    for first in planner.start():
        dag.add_node(first.instance, call_for(first), **_options(first))
        dag.add_rule(continuation(first))
    return dag, planner


def _options(step: Step) -> dict[str, Any]:
    if step.resources:
        return {"tags": [step.node_id], "resources": step.resources}
    return {"tags": [step.node_id]}


MAX_OPTIONS = 1024  # node_ids whose option records are kept (_node_options)
_options_cache: dict[str, Any] = {}


def _node_options(step: Step) -> Any:
    """The option record of an unrolled instance: one shared ``NodeOptions`` per
    node_id without resources (records are read-only and shared by design), built
    afresh when the step requires resources."""
    from dagforge.options import NodeOptions

    if step.resources:
        return NodeOptions.from_mapping(_options(step), node=step.instance)
    opts = _options_cache.get(step.node_id)
    if opts is None:
        opts = NodeOptions.from_mapping(_options(step), node=step.instance)
        if len(_options_cache) >= MAX_OPTIONS:
            _options_cache.pop(next(iter(_options_cache)), None)
        _options_cache[step.node_id] = opts
    return opts


def run_workflow(
    spec: Any,
    registry: FunctionRegistry,
    arguments: Mapping[str, Any] | None = None,
    *,
    backend: Any = "threads",
    max_workers: int | None = None,
    store: Any = None,
    run_id: str | None = None,
    completed: Mapping[str, Any] | None = None,
    callbacks: Any = None,
    enable_tracing: bool = False,
    profile: bool = False,
    serializer: str = "json",
    max_iterations: int | None = None,
    capture_logs: Any = False,
    resources: Mapping[str, Any] | None = None,
    resource_pool: Any = None,
) -> Any:
    """Run a spec and return the ``ExecutionResult`` (``.workflow_outputs`` = the ends).

    ``completed`` (instance -> outputs) resumes a journaled run without calling those
    functions again; ``store`` receives every output under ``run_id/instance/output``.
    ``resources`` maps node_ids to their functions' requirements (a spec node's
    ``properties.resources`` overlays them); with ``resource_pool`` (a
    :class:`~dagforge.resources.ResourcePool`) an instance starts only once what it
    requires is free, and a requirement the pool can never satisfy raises
    ``ResourceError`` before anything runs (naming node, resource, need and capacity).
    """
    import uuid

    from dagforge.execution.executor import Executor

    run_id = run_id or uuid.uuid4().hex
    dag, planner = compile_spec(
        spec,
        registry,
        arguments,
        store=store,
        run_id=run_id,
        completed=completed,
        serializer=serializer,
        max_iterations=max_iterations,
        resources=resources,
    )
    if resource_pool is not None:
        for node_id, need in planner.resources.items():
            resource_pool.check(need, node=node_id)  # every pass of it needs as much
    # Any: the three workflow attributes below are added to the ExecutionResult here
    # (execution/result.py does not declare them).
    result: Any = Executor(
        dag,
        backend=backend,
        max_workers=max_workers,
        callbacks=callbacks,
        enable_tracing=enable_tracing,
        profile=profile,
        fail_fast=True,
        capture_logs=capture_logs,
        resource_pool=resource_pool,
    ).execute()
    result.run_id = run_id
    result.workflow_outputs = planner.final_outputs
    result.planner = planner
    return result
