"""tawazi under its own names, on dagforge's engine: ``from dagforge.compat.tawazi import ...``.

Two generations of tawazi's API are covered:

- **0.1.2** (the seed article): ``ExecNode(id_, exec_function, depends_on, argument_name,
  priority, is_sequential)`` and ``DAG(exec_nodes, max_concurrency, behaviour)``;
  ``DAG.execute()`` returns ``{id: ExecNode}`` with each node's ``.result``. A node's
  function receives its dependencies' results as keywords named by their
  ``argument_name`` (the function's name or ``str(id)``).
- **0.6** (today's): ``@xn`` marks node functions, ``@dag`` traces a pipeline function
  into a DAG; calling the DAG runs it and returns what the function returns. This is
  :mod:`dagforge.functional` under tawazi's names (``is_sequential`` is dagforge's
  ``exclusive``, ids are tawazi's: ``f``, ``f<<1>>``, ``pipeline>!>arg``).

Both run on the ``threads`` backend with ``max_workers = max_concurrency``. Error
strategies (``behaviour=``/``behavior=``): ``strict`` re-raises the failing node's own
exception (what tawazi does), ``all_children`` skips its descendants and finishes the
rest, ``permissive`` treats the failure's result as ``None`` and runs everything.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Hashable, Sequence
from types import FunctionType
from typing import Any

from dagforge.compat.tawazi.consts import (
    ARG_NAME_SEP,
    USE_SEP_END,
    USE_SEP_START,
    Resource,
    XNOutsideDAGCall,
)
from dagforge.compat.tawazi.errors import (
    ErrorStrategy,
    TawaziTypeError,
    TawaziUsageError,
)
from dagforge.errors import GraphError
from dagforge.functional import FunctionalNode, Pipeline, _tracer
from dagforge.graph import DAG as _DAG

__version__ = "0.6.2"

__all__ = [
    "DAG",
    "AsyncDAG",
    "AsyncDAGExecution",
    "DAGExecution",
    "ErrorStrategy",
    "ExecNode",
    "Resource",
    "and_",
    "cfg",
    "dag",
    "not_",
    "or_",
    "xn",
]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class _Config:
    """tawazi's ``cfg``, read from the same environment variables: ``TAWAZI_IS_SEQUENTIAL``
    (default of ``@xn``), ``RUN_DEBUG_NODES`` (debug nodes run only when true),
    ``TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR`` (calling an ``@xn`` outside a ``@dag``:
    ``error``, tawazi's default, ``warning`` or ``ignore``; the last two call the function)."""

    def __init__(self) -> None:
        self.TAWAZI_IS_SEQUENTIAL = _env_flag("TAWAZI_IS_SEQUENTIAL")
        self.RUN_DEBUG_NODES = _env_flag("RUN_DEBUG_NODES")
        self.TAWAZI_PROFILE_ALL_NODES = _env_flag("TAWAZI_PROFILE_ALL_NODES")
        self.TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR = XNOutsideDAGCall(
            os.environ.get("TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR", "error").lower()
        )
        self.TAWAZI_DEFAULT_RESOURCE = Resource(
            os.environ.get("TAWAZI_DEFAULT_RESOURCE", Resource.thread.value)
        )


cfg = _Config()


def _strategy(behaviour: Any, behavior: Any) -> ErrorStrategy:
    value = behavior if behavior is not None else behaviour
    if value is None:
        return ErrorStrategy.strict
    if isinstance(value, ErrorStrategy):
        return value
    for s in ErrorStrategy:
        if value in (s.value, s.name):
            return s
    raise TawaziUsageError(
        f"unknown error strategy {value!r}; use one of {[s.name for s in ErrorStrategy]}"
    )


class _Permissive:
    """A node callable that turns its exception into a ``None`` result (permissive mode)."""

    __slots__ = ("errors", "fn", "name")

    def __init__(self, name: str, fn: Any, errors: dict[str, BaseException]):
        self.name = name
        self.fn = fn
        self.errors = errors

    def __call__(self, *parents: Any) -> Any:
        try:
            return self.fn(*parents)
        except Exception as exc:
            self.errors[self.name] = exc
            return None


def _first_failure(result: Any) -> BaseException | None:
    failures = result.failures
    if not failures:
        return None
    order = {n: i for i, n in enumerate(result.execution_order)}
    name = min(failures, key=lambda n: order.get(n, len(order)))
    return failures[name]


def _executor_options(max_concurrency: Any, strategy: ErrorStrategy) -> dict[str, Any]:
    if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool):
        raise TawaziUsageError(f"max_concurrency must be an int, got {max_concurrency!r}")
    if max_concurrency < 1:
        raise TawaziUsageError(
            f"Invalid maximum number of threads! Must be a positive integer, got {max_concurrency}"
        )
    return {
        "backend": "threads",
        "max_workers": max_concurrency,
        "fail_fast": strategy is ErrorStrategy.strict,
    }


# --- tawazi 0.1.2: ExecNode / DAG(exec_nodes, max_concurrency) ------------------------------


class ExecNode:
    """A node: an id, a function, the ids it depends on, priority and is_sequential."""

    # Set only on the nodes a traced (0.6) DAG describes, by DAG._build_description.
    is_input: bool
    setup: bool
    debug: bool

    def __init__(
        self,
        id_: Hashable,
        exec_function: Callable[..., Any] = lambda **kwargs: None,
        depends_on: Sequence[Hashable] | None = None,
        argument_name: str | None = None,
        priority: float = 0,
        is_sequential: bool = True,
        tag: Any = None,
        resource: Resource = Resource.thread,
        **_ignored: Any,
    ):
        self.id = id_
        self.exec_function = exec_function
        self.depends_on = list(depends_on or [])
        self.priority = priority
        self.is_sequential = bool(is_sequential)
        self.tag = tag
        self.resource = resource
        if isinstance(argument_name, str) and argument_name:
            self.argument_name = argument_name
        else:
            self.argument_name = _id_name(id_)
        self.result: Any = None

    @property
    def name(self) -> str:
        return _id_name(self.id)

    def execute(self, node_dict: dict[Hashable, ExecNode]) -> Any:
        """Run the function on the dependencies' results (tawazi 0.1.2's ``execute``)."""
        kwargs = {node_dict[d].argument_name: node_dict[d].result for d in self.depends_on}
        self.result = self.exec_function(**kwargs)
        return self.result

    def __repr__(self) -> str:
        return (
            f"ExecNode({self.name!r}, priority={self.priority}, is_sequential={self.is_sequential})"
        )


def _id_name(id_: Hashable) -> str:
    return id_.__name__ if isinstance(id_, FunctionType) else str(id_)


class _KeywordCall:
    """Calls a 0.1.2 node's function with its parents' results as keywords."""

    __slots__ = ("fn", "names")

    def __init__(self, fn: Callable[..., Any], names: Sequence[str]):
        self.fn = fn
        self.names = tuple(names)

    def __call__(self, *parents: Any) -> Any:
        return self.fn(**dict(zip(self.names, parents, strict=True)))


class DAG:
    """tawazi's DAG. Built by ``DAG(exec_nodes, max_concurrency=...)`` (0.1.2) or by
    ``@dag`` (0.6); see the module docstring."""

    def __init__(
        self,
        exec_nodes: Sequence[ExecNode] = (),
        max_concurrency: int = 1,
        behaviour: ErrorStrategy | str | None = None,
        *,
        behavior: ErrorStrategy | str | None = None,
        logger: Any = None,
    ):
        self.max_concurrency = max_concurrency
        self.behaviour = _strategy(behaviour, behavior)
        self._options = _executor_options(max_concurrency, self.behaviour)
        self._pipeline: Pipeline | None = None
        self._setup_values: dict[str, Any] = {}
        nodes = list(exec_nodes)
        self.exec_nodes_list = nodes
        self.node_dict: dict[Hashable, ExecNode] = {}
        self._names: dict[Hashable, str] = {}
        graph = _DAG()
        for xn_ in nodes:
            if not isinstance(xn_, ExecNode):
                raise TawaziTypeError(f"DAG() takes ExecNodes, got {xn_!r}")
            name = xn_.name
            if name in graph:
                raise GraphError(f"two ExecNodes have the id {name!r}")
            self.node_dict[xn_.id] = xn_
            self._names[xn_.id] = name
            graph.add_node(name, priority=xn_.priority, exclusive=xn_.is_sequential)
        for xn_ in nodes:
            argnames = []
            for dep in xn_.depends_on:
                if dep not in self.node_dict:
                    raise GraphError(
                        f"ExecNode {xn_.name!r} depends on {_id_name(dep)!r}, which is not an "
                        f"ExecNode of this DAG"
                    )
                graph.add_edge(self._names[dep], xn_.name)
                argnames.append(self.node_dict[dep].argument_name)
            graph.set_task(xn_.name, _KeywordCall(xn_.exec_function, argnames))
        self._graph = graph.validate()

    # -- tawazi 0.1.2 -------------------------------------------------------------------

    def execute(self) -> dict[Hashable, ExecNode]:
        """Run every node; ``{id: ExecNode}`` copies with ``.result`` set (0.1.2)."""
        if self._pipeline is not None:
            raise TawaziUsageError("a DAG made with @dag is run by calling it: dag(*args)")
        from dagforge.execution.executor import Executor

        tasks = None
        errors: dict[str, BaseException] = {}
        if self.behaviour is ErrorStrategy.permissive:
            tasks = {n: _Permissive(n, self._graph.task(n), errors) for n in self._graph.nodes}
        result = Executor(self._graph, **self._options).execute(tasks)
        if self.behaviour is ErrorStrategy.strict:
            exc = _first_failure(result)
            if exc is not None:
                raise exc
        values = result.values
        out: dict[Hashable, ExecNode] = {}
        for id_, xn_ in self.node_dict.items():
            node_copy = copy.copy(xn_)
            node_copy.result = values.get(self._names[id_])
            out[id_] = node_copy
        self.last_result = result
        return out

    @property
    def graph_ids(self) -> _DAG:
        """The dagforge DAG this tawazi DAG runs."""
        return self._pipeline.dag if self._pipeline is not None else self._graph

    # -- tawazi 0.6 ----------------------------------------------------------------------

    @classmethod
    def _from_function(
        cls, fn: Callable[..., Any], max_concurrency: int, strategy: ErrorStrategy
    ) -> DAG:
        self = cls.__new__(cls)
        self.max_concurrency = max_concurrency
        self.behaviour = strategy
        self._options = _executor_options(max_concurrency, strategy)
        self._setup_values = {}
        self._pipeline = Pipeline(
            fn,
            self._options,
            name_of_call=lambda base, n: (
                base if n == 0 else f"{base}{USE_SEP_START}{n}{USE_SEP_END}"
            ),
            name_of_input=lambda qualname, param: f"{qualname}{ARG_NAME_SEP}{param}",
        )
        return self

    def _need_pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise TawaziUsageError("this DAG was built from ExecNodes; run it with .execute()")
        return self._pipeline

    @property
    def exec_nodes(self) -> dict[str, ExecNode]:
        """``{id: ExecNode}`` of the traced DAG (0.6), or of the given nodes (0.1.2)."""
        if self._pipeline is None:
            return {self._names[i]: x for i, x in self.node_dict.items()}
        return self._describe()

    def _describe(self) -> dict[str, ExecNode]:
        cached = getattr(self, "_described", None)
        if cached is None:
            cached = self._described = self._build_description()
        return cached

    def _build_description(self) -> dict[str, ExecNode]:
        p = self._need_pipeline()
        graph = p.dag
        inputs = set(p.inputs.values())
        out = {}
        for name in graph.nodes:
            opts = graph.options(name)
            task = graph.task(name)
            fn_node = getattr(task, "node", None)
            xn_ = ExecNode(
                name,
                fn_node.fn if fn_node is not None else task,
                graph.predecessors(name),
                priority=opts.priority,
                is_sequential=opts.exclusive,
                tag=getattr(fn_node, "tag", None),
                resource=getattr(fn_node, "resource", Resource.main_thread),
            )
            xn_.is_input = name in inputs
            xn_.setup = bool(getattr(fn_node, "setup", False))
            xn_.debug = bool(getattr(fn_node, "debug", False))
            out[name] = xn_
        return out

    def get_node_by_id(self, node_id: str) -> ExecNode:
        nodes = self.exec_nodes
        if node_id not in nodes:  # compat: tawazi's lookup by id raises KeyError
            raise KeyError(f"no ExecNode with id {node_id!r}; known: {sorted(nodes)}")
        return nodes[node_id]

    def get_nodes_by_tag(self, tag: Any) -> list[ExecNode]:
        def tags(x: ExecNode) -> tuple[Any, ...]:
            if x.tag is None:
                return ()
            return tuple(x.tag) if isinstance(x.tag, (tuple, list)) else (x.tag,)

        return [x for x in self.exec_nodes.values() if tag in tags(x)]

    def _selection(self, target_nodes: Any, exclude_nodes: Any) -> tuple[Any, list[str]]:
        nodes = self._describe()

        def ids(aliases: Any) -> list[str]:
            out: list[str] = []
            for alias in aliases or ():
                if alias in nodes:
                    out.append(alias)
                    continue
                tagged = self.get_nodes_by_tag(alias)
                if not tagged:  # compat: tawazi raises KeyError for an unknown id/tag
                    raise KeyError(f"{alias!r} is neither an ExecNode id nor a tag of this DAG")
                out.extend(x.name for x in tagged)  # described nodes' ids are names
            return out

        exclude = ids(exclude_nodes)
        if not cfg.RUN_DEBUG_NODES:
            exclude += [n for n, x in nodes.items() if x.debug]
        targets = ids(target_nodes) if target_nodes else None
        return targets, exclude

    def _run(self, args: tuple[Any, ...], target_nodes: Any = None, exclude_nodes: Any = None):
        p = self._need_pipeline()
        try:
            values = p._bind(args, {})
        except TypeError as exc:
            raise TawaziUsageError(str(exc)) from None
        targets, exclude = self._selection(target_nodes, exclude_nodes)
        tasks: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        graph = p.dag
        from dagforge.functional import _Input

        if self.behaviour is ErrorStrategy.permissive:
            inputs = set(p.inputs.values())
            for name in graph.nodes:
                if name not in inputs:
                    tasks[name] = _Permissive(name, graph.task(name), errors)
        for name, value in self._setup_values.items():
            tasks[name] = _Input(name, value)
        run = p.run_bound(values, tasks=tasks, targets=targets, exclude=exclude)
        result = run.result
        done = result.values
        for name, x in self._describe().items():
            if x.setup and name in done and name not in self._setup_values:
                self._setup_values[name] = done[name]
        if self.behaviour is ErrorStrategy.strict:
            failure = _first_failure(result)
            if failure is not None:
                raise failure
        return run

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the DAG with these inputs and return what the pipeline function returns."""
        if self._pipeline is None:
            raise TawaziUsageError("a DAG built from ExecNodes is run with .execute()")
        if _tracer() is not None:  # a DAG used inside another @dag: inline its nodes
            return self._pipeline.fn(*args, **kwargs)
        if kwargs:
            raise TawaziUsageError(f"currently DAG does not support keyword arguments: {kwargs}")
        return _values(self._run(args))

    def executor(
        self, target_nodes: Any = None, exclude_nodes: Any = None, **_ignored: Any
    ) -> DAGExecution:
        """A one-shot execution of this DAG restricted to ``target_nodes``/``exclude_nodes``."""
        self._need_pipeline()
        return DAGExecution(self, target_nodes, exclude_nodes)

    def setup(self, target_nodes: Any = None, exclude_nodes: Any = None) -> None:
        """Run the ``setup=True`` nodes (once for the life of this DAG)."""
        setup = [n for n, x in self._describe().items() if x.setup]
        if target_nodes:
            setup = [n for n in setup if n in set(target_nodes)]
        if setup:
            self._run_setup(setup)

    def _run_setup(self, names: list[str]) -> None:
        p = self._need_pipeline()
        run = p.run_bound({}, targets=names)
        exc = _first_failure(run.result)
        if exc is not None:
            raise exc
        self._setup_values.update({n: run.result.values[n] for n in names})

    @property
    def dag(self) -> _DAG:
        return self.graph_ids

    def __repr__(self) -> str:
        return f"<tawazi DAG nodes={len(self.graph_ids)} max_concurrency={self.max_concurrency}>"


def _values(run: Any) -> Any:
    from dagforge.functional import _substitute

    values = dict(run.result.values)
    for name in run.result.results:
        values.setdefault(name, None)  # permissive / skipped: None, as tawazi gives
    return _substitute(run.returned, values)


class DAGExecution:
    """One run of a DAG, restricted to some nodes; ``.results`` holds every node's value."""

    def __init__(self, dag_: DAG, target_nodes: Any = None, exclude_nodes: Any = None):
        self.dag = dag_
        self.target_nodes = target_nodes
        self.exclude_nodes = exclude_nodes
        self.results: dict[str, Any] = {}
        self.executed = False

    def __call__(self, *args: Any) -> Any:
        if self.executed:
            raise TawaziUsageError("a DAGExecution runs once; make another with dag.executor()")
        run = self.dag._run(args, self.target_nodes, self.exclude_nodes)
        self.executed = True
        self.results = dict(run.result.values)
        return _values(run)


class AsyncDAG(DAG):
    """``@dag(is_async=True)``: calling it returns a coroutine."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        import asyncio

        return await asyncio.to_thread(DAG.__call__, self, *args, **kwargs)


class AsyncDAGExecution(DAGExecution):
    async def __call__(self, *args: Any) -> Any:  # type: ignore[override]
        import asyncio

        return await asyncio.to_thread(DAGExecution.__call__, self, *args)


# --- tawazi 0.6: @xn / @dag ----------------------------------------------------------------


class LazyExecNode(FunctionalNode):
    """An ``@xn`` function: a dagforge functional node carrying tawazi's attributes."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        priority: int = 0,
        is_sequential: bool | None = None,
        debug: bool = False,
        tag: Any = None,
        setup: bool = False,
        unpack_to: int | None = None,
        resource: Resource = Resource.thread,
    ):
        seq = cfg.TAWAZI_IS_SEQUENTIAL if is_sequential is None else is_sequential
        tags = () if tag is None else (tuple(tag) if isinstance(tag, (tuple, list)) else (tag,))
        super().__init__(
            fn,
            name=getattr(fn, "__qualname__", None),  # tawazi's ids are qualified names
            unpack_to=unpack_to,
            priority=priority,
            exclusive=seq,
            tags=tags,
        )
        self.priority = priority
        self.is_sequential = bool(seq)
        self.debug = debug
        self.tag = tag
        self.setup = setup
        self.resource = resource

    def with_options(self, **options: Any) -> FunctionalNode:
        tag = options.pop("tag", self.tag)
        unpack_to = options.pop("unpack_to", self.unpack_to)
        fn = _Activated(self.fn) if options.pop("_activated", False) else self.fn
        return LazyExecNode(
            fn,
            priority=options.pop("priority", self.priority),
            is_sequential=options.pop("is_sequential", self.is_sequential),
            debug=self.debug,
            tag=tag,
            setup=self.setup,
            unpack_to=unpack_to,
            resource=self.resource,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _tracer() is None:
            behaviour = XNOutsideDAGCall(cfg.TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR)
            msg = (
                f"Invoking {self.name} outside of a `DAG`. Executing wrapped function instead "
                f"of describing dependency."
            )
            if behaviour is XNOutsideDAGCall.error:
                raise TawaziUsageError(msg)
            if behaviour is XNOutsideDAGCall.warning:
                warnings.warn(RuntimeWarning(msg), stacklevel=2)
            return self.fn(*args, **kwargs)
        changes = {}
        if "twz_tag" in kwargs:
            changes["tag"] = kwargs.pop("twz_tag")
        if "twz_unpack_to" in kwargs:
            changes["unpack_to"] = kwargs.pop("twz_unpack_to")
        target = self.with_options(**changes) if changes else self
        if "twz_active" in kwargs:  # run only when the value is truthy; else None
            active = kwargs.pop("twz_active")
            target = target.with_options(_activated=True)
            kwargs["_twz_active"] = active
        return FunctionalNode.__call__(target, *args, **kwargs)

    def __reduce__(self) -> Any:
        return (
            _rebuild_lazy,
            (
                self.fn,
                self.priority,
                self.is_sequential,
                self.debug,
                self.tag,
                self.setup,
                self.unpack_to,
                self.resource,
            ),
        )


class _Activated:
    """tawazi's ``twz_active``: run the function when the extra ``_twz_active`` value is
    truthy, else give ``None`` (its dependents still run, with ``None``, as in tawazi)."""

    def __init__(self, fn: Callable[..., Any]):
        self._inner = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__module__ = getattr(fn, "__module__", __name__)
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args: Any, _twz_active: Any = True, **kwargs: Any) -> Any:
        return self._inner(*args, **kwargs) if _twz_active else None


def _rebuild_lazy(fn, priority, is_sequential, debug, tag, setup, unpack_to, resource):  # type: ignore[no-untyped-def]
    return LazyExecNode(
        fn,
        priority=priority,
        is_sequential=is_sequential,
        debug=debug,
        tag=tag,
        setup=setup,
        unpack_to=unpack_to,
        resource=resource,
    )


def xn(
    func: Callable[..., Any] | None = None,
    *,
    priority: int = 0,
    is_sequential: bool | None = None,
    debug: bool = False,
    tag: Any = None,
    setup: bool = False,
    unpack_to: int | None = None,
    resource: Resource = Resource.thread,
) -> Any:
    """tawazi's ``@xn``: a node function (``priority``, ``is_sequential``, ``tag``, ``setup``,
    ``debug``, ``unpack_to``, ``resource``)."""

    def wrap(f: Callable[..., Any]) -> LazyExecNode:
        return LazyExecNode(
            f,
            priority=priority,
            is_sequential=is_sequential,
            debug=debug,
            tag=tag,
            setup=setup,
            unpack_to=unpack_to,
            resource=resource,
        )

    if func is None:
        return wrap
    if not callable(func):  # compat: tawazi's own TypeError and message
        raise TypeError(f"{func} is not a callable. Did you use a non-keyword argument?")
    return wrap(func)


def dag(
    declare_dag_function: Callable[..., Any] | None = None,
    *,
    max_concurrency: int = 1,
    is_async: bool = False,
    behavior: ErrorStrategy | str | None = None,
) -> Any:
    """tawazi's ``@dag``: trace the function into a DAG run by calling it.

    ``behavior=`` (a dagforge addition) picks the error strategy; strict by default.
    """

    def wrap(f: Callable[..., Any]) -> DAG:
        cls = AsyncDAG if is_async else DAG
        return cls._from_function(f, max_concurrency, _strategy(None, behavior))

    if declare_dag_function is None:
        return wrap
    if not callable(declare_dag_function):  # compat: tawazi's own TypeError and message
        raise TypeError(
            f"{declare_dag_function} is not a callable. Did you use a non-keyword argument?"
        )
    return wrap(declare_dag_function)


@xn
def and_(a: Any, b: Any) -> Any:
    return a and b


@xn
def or_(a: Any, b: Any) -> Any:
    return a or b


@xn
def not_(a: Any) -> bool:
    return not a
