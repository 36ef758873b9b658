"""adage 0.11 under its own names: ``import dagforge.compat.adage as adage``.

``adagetask`` / ``adageop`` (``.s(...)`` partials), ``Rule(predicate, body)``,
``adageobject`` (``dag``, ``rules``, ``applied_rules``), ``rundag(adageobj, backend=...)``
and the modules ``decorators``, ``adageobject``, ``graph`` (``AdageDAG``: ``addTask``,
``addNode``, ``addEdge``, ``getNode``, ``getNodeByName``), ``node``, ``nodestate``,
``dagstate``, ``backends`` and ``serialize``.

``rundag`` runs the workflow on dagforge's engine: every adage rule becomes a dagforge
:class:`~dagforge.dynamic.Rule` whose predicate is evaluated after every completion and
whose body extends the running DAG through the append-only builder (new edges only from
existing nodes to new ones). Nodes' states, results and timestamps follow the engine's
events, so predicates read them as in adage. A failed node leaves its descendants
unrun and the rest running; at the end ``rundag`` raises ``RuntimeError`` when a node
failed, as adage does. ``save_state``/``load_state`` keep a run's state as JSON.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dagforge.compat.adage import nodestate
from dagforge.compat.adage.adageobject import adageobject
from dagforge.compat.adage.backends import MultiProcBackend
from dagforge.compat.adage.decorators import Rule, adageop, adagetask, callbackrule
from dagforge.compat.adage.graph import AdageCall
from dagforge.compat.adage.serialize import load_state, save_state
from dagforge.dynamic import Rule as _Rule
from dagforge.execution.callbacks import ExecutionCallbacks
from dagforge.graph import DAG

__all__ = [
    "Rule",
    "adageobject",
    "adageop",
    "adagetask",
    "callbackrule",
    "load_state",
    "rundag",
    "save_state",
    "trackprogress",
]

log = logging.getLogger(__name__)


def trackprogress(trackerlist: Any, controller: Any, method: str = "track") -> None:
    """Call ``method`` (initialize / track / finalize) of each tracker with the workflow."""
    adageobj = getattr(controller, "adageobj", controller)
    for t in trackerlist or ():
        getattr(t, method)(adageobj)


def _sync(adageobj: adageobject, view: Any) -> None:
    """Copy the engine's node states (and values) onto adage's Node objects."""
    for ident, node in adageobj.dag._nodes.items():
        if ident not in view:
            continue
        status = view.status(ident)
        node._state = nodestate.FROM_STATUS.get(status, nodestate.DEFINED)
        if status == "succeeded" and node._result is None:
            node._result = view.value(ident)


def rundag(
    adageobj: adageobject | None = None,
    backend: Any = None,
    extend_decider: Any = None,
    submit_decider: Any = None,
    finish_decider: Any = None,
    recursive_updates: bool = True,
    update_interval: float = 0.01,
    loggername: str | None = __name__,
    trackevery: int = 1,
    workdir: str | None = None,
    default_trackers: bool = True,
    additional_trackers: Any = None,
    controller: Any = None,
    maxsteps: int | None = None,
    state_file: str | None = None,
) -> Any:
    """Run the workflow to completion on the engine; returns the ``ExecutionResult``.

    ``backend``: a :mod:`~dagforge.compat.adage.backends` object (default
    ``MultiProcBackend(2)``, as adage). Decider coroutines, ``update_interval`` and
    ``maxsteps`` belong to adage's polling loop, which the engine replaces: they are
    accepted and ignored. ``default_trackers`` (adage's GIF/text trackers) are not
    drawn; ``additional_trackers`` are called (initialize, track after each completion,
    finalize). ``state_file`` (a dagforge addition) saves the run's state as JSON at the end.
    """
    from dagforge.execution.executor import Executor

    if adageobj is None:
        if controller is None:  # compat: adage's rundag() needs it (a TypeError there)
            raise TypeError("rundag() needs an adageobj (or a controller holding one)")
        adageobj = controller.adageobj
    backend = backend if backend is not None else MultiProcBackend(2)
    options = dict(getattr(backend, "executor_options", {}) or {})
    graph = adageobj.dag
    trackers = list(additional_trackers or [])

    dag = DAG()
    for ident, node in graph._nodes.items():
        dag.add_node(ident, AdageCall(node.task))
    for src, dst in graph._edges:
        dag.add_edge(src, dst)

    registered: set[int] = set()

    def wrap(rule: Rule) -> _Rule:
        registered.add(id(rule))

        def predicate(view: Any) -> bool:
            _sync(adageobj, view)
            return any(r is rule for r in adageobj.rules) and rule.applicable(adageobj)

        def body(builder: Any) -> None:
            graph._builder = builder
            try:
                rule.apply(adageobj)
            finally:
                graph._builder = None
            for i, r in enumerate(adageobj.rules):
                if r is rule:
                    adageobj.applied_rules.append(adageobj.rules.pop(i))
                    break
            for r in adageobj.rules:  # rules a body added to adageobj.rules
                if id(r) not in registered:
                    builder.add_rule(wrap(r))

        return _Rule(predicate, body, name=rule.name)

    for r in adageobj.rules:
        dag.add_rule(wrap(r))

    def started(name: str) -> None:
        graph._nodes[name].submit_time = time.time()
        graph._nodes[name]._state = nodestate.RUNNING

    def completed(name: str, value: Any) -> None:
        node = graph._nodes[name]
        node._result = value
        node._state = nodestate.SUCCESS
        node.ready_by_time = time.time()
        trackprogress(trackers, adageobj)

    def failed(name: str, exc: BaseException) -> None:
        node = graph._nodes[name]
        node._state = nodestate.FAILED
        node.error = exc
        node.ready_by_time = time.time()
        trackprogress(trackers, adageobj)

    callbacks = ExecutionCallbacks(
        on_node_start=started, on_node_complete=completed, on_node_error=failed
    )
    trackprogress(trackers, adageobj, "initialize")
    graph._running = True
    try:
        result = Executor(dag, callbacks=callbacks, fail_fast=False, **options).execute()
    finally:
        graph._running = False
        trackprogress(trackers, adageobj, "finalize")
    for name, nr in result.results.items():
        node = graph._nodes.get(name)
        if node is not None:
            node._state = nodestate.FROM_STATUS.get(nr.status, nodestate.DEFINED)
            if nr.status == "succeeded":
                node._result = nr.value
    if state_file is not None:
        save_state(adageobj, state_file)
    failures = result.failures
    if failures:
        names = ", ".join(f"{graph._nodes[n].name} ({n})" for n in failures)
        # compat: adage's rundag() raises RuntimeError for a failed workflow
        raise RuntimeError(f"workflow finished but failed: {names}") from next(
            iter(failures.values())
        )
    log.info("workflow completed successfully.")
    return result
