"""The functional authoring API: write a pipeline as a function that calls node functions.

``@node`` marks a function as a node; ``@pipeline`` marks a function whose body calls
nodes. The pipeline body is **traced once** (on first use): every node call adds a node
to a dagforge :class:`~dagforge.graph.DAG`; a node call's result passed to another call
(also inside lists, tuples and dicts, or indexed as ``result[0]`` / ``result["key"]``)
becomes an edge; any other value becomes that node's **configuration** (recorded in
``pipeline.configuration`` and in the DAG's config, so profiles carry it). Calling the
pipeline then runs that DAG on the one engine, with every node option (``priority``,
``exclusive``, ``resources``, ``retries``, ``timeout``, ...) and any backend::

    @node
    def load(n):
        return list(range(n))

    @node(priority=5, retries=2)
    def total(xs, scale):
        return sum(xs) * scale

    @pipeline(backend="threads", max_workers=4)
    def flow(n):
        return total(load(n), scale=10)

    flow(4)  # 60

The same ideas as Dask's ``delayed``, Prefect flows, Airflow's TaskFlow and tawazi 0.6's
``@xn``/``@dag`` (:mod:`dagforge.compat.tawazi` is this module under tawazi's names).

Rules worth knowing:
- Outside a pipeline, a node is its plain function (``total([1, 2], 3) == 9``).
- A pipeline's parameters are input nodes (their value is bound per call); defaults
  apply. A pipeline called inside another pipeline's body inlines its nodes there.
- Tracing sees values, not control flow: ``if result:`` or ``for x in result`` on a
  node result raises ``TypeError`` naming the node (use ``unpack_to=`` to split a
  tuple result, or a node for the decision).
- A node called several times gets one DAG node per call: ``name``, ``name#2``, ...
- Nodes are module-level functions so the processes and Dask backends can ship them.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

from dagforge.config import Config
from dagforge.errors import ExecutionError, GraphError, TracingError
from dagforge.graph import DAG
from dagforge.options import NodeOptions

__all__ = ["FunctionalNode", "Lazy", "Pipeline", "PipelineRun", "node", "pipeline"]

_state = threading.local()


def _tracer() -> _Tracer | None:
    return getattr(_state, "tracer", None)


class Lazy:
    """The traced result of a node call (or a pipeline input): a future value."""

    __slots__ = ("_keys", "_name", "_tracer")

    def __init__(self, name: str, tracer: _Tracer, keys: tuple[Any, ...] = ()):
        self._name = name
        self._tracer = tracer
        self._keys = keys

    @property
    def node(self) -> str:
        """The DAG node this value comes from."""
        return self._name

    def __getitem__(self, key: Any) -> Lazy:
        return Lazy(self._name, self._tracer, (*self._keys, key))

    def __bool__(self) -> bool:
        raise TracingError(
            f"the result of node {self._name!r} has no value while the pipeline is traced; "
            f"branch inside a node instead of on its result"
        )

    def __iter__(self) -> Any:
        raise TracingError(
            f"the result of node {self._name!r} cannot be iterated while the pipeline is "
            f"traced; declare the node with unpack_to=N to split a tuple result, or index it"
        )

    def __repr__(self) -> str:
        keys = "".join(f"[{k!r}]" for k in self._keys)
        return f"<result of {self._name}{keys}>"


class _Ref:
    """A slot in a node's argument template: parent ``pos``'s value, indexed by ``keys``."""

    __slots__ = ("keys", "pos")

    def __init__(self, pos: int, keys: tuple[Any, ...]):
        self.pos = pos
        self.keys = keys

    def __reduce__(self) -> Any:
        return (_Ref, (self.pos, self.keys))


def _fill(template: Any, values: tuple[Any, ...]) -> Any:
    if type(template) is _Ref:
        value = values[template.pos]
        for key in template.keys:
            value = value[key]
        return value
    if type(template) is tuple:
        return tuple(_fill(t, values) for t in template)
    if type(template) is list:
        return [_fill(t, values) for t in template]
    if type(template) is dict:
        return {k: _fill(v, values) for k, v in template.items()}
    return template


def _has_lazy(value: Any) -> bool:
    if isinstance(value, Lazy):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_lazy(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lazy(v) for v in value.values())
    return False


class _Bound:
    """What the engine calls for one node call: parents' values in, the function's value out."""

    __slots__ = ("args", "kwargs", "node")

    def __init__(self, fn_node: FunctionalNode, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.node = fn_node
        self.args = args
        self.kwargs = kwargs

    def __call__(self, *parents: Any) -> Any:
        return self.node.fn(*_fill(self.args, parents), **_fill(self.kwargs, parents))

    def __reduce__(self) -> Any:
        return (_Bound, (self.node, self.args, self.kwargs))


class _Input:
    """The callable of a pipeline input node: returns the value bound for this call."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: Any = None):
        self.name = name
        self.value = value

    def __call__(self) -> Any:
        return self.value

    def __reduce__(self) -> Any:
        return (_Input, (self.name, self.value))


class FunctionalNode:
    """A function marked with :func:`node`: a plain call outside a pipeline, a DAG node inside."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        unpack_to: int | None = None,
        **options: Any,
    ):
        if not callable(fn):
            raise TracingError(f"@node decorates a function, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        if unpack_to is not None and (not isinstance(unpack_to, int) or unpack_to < 1):
            raise GraphError(
                f"node {self.name!r}: unpack_to must be an int >= 1, got {unpack_to!r}"
            )
        self.unpack_to = unpack_to
        NodeOptions.from_mapping(options, node=self.name)  # bad names/values fail now
        self.options = dict(options)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def with_options(self, **options: Any) -> FunctionalNode:
        """The same node with some options changed, e.g. ``step.with_options(priority=9)(x)``."""
        merged = {**self.options, **options}
        return FunctionalNode(self.fn, name=self.name, unpack_to=self.unpack_to, **merged)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = _tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.call(self, args, kwargs)

    def __reduce__(self) -> Any:
        # By value: the module attribute is this object, not ``fn``, so cloudpickle (the
        # processes and Dask backends) ships ``fn`` itself and a worker never needs to
        # import the module that defined it.
        return (_rebuild_node, (self.fn, self.name, self.unpack_to, self.options))

    def __repr__(self) -> str:
        return f"<node {self.name}>"


def _rebuild_node(fn: Any, name: str, unpack_to: int | None, options: dict[str, Any]) -> Any:
    return FunctionalNode(fn, name=name, unpack_to=unpack_to, **options)


def node(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    unpack_to: int | None = None,
    **options: Any,
) -> Any:
    """Mark a function as a pipeline node: ``@node`` or ``@node(priority=5, retries=2)``.

    Options are dagforge's node options (``priority``, ``exclusive`` / ``is_sequential``,
    ``resources``, ``retries``, ``retry_delay``, ``timeout``, ``cost``, ``tags``, ...);
    ``name`` names the DAG node (default: the function's name); ``unpack_to=N`` lets a
    pipeline unpack a tuple result into N values.
    """

    def wrap(f: Callable[..., Any]) -> FunctionalNode:
        return FunctionalNode(f, name=name, unpack_to=unpack_to, **options)

    return wrap(fn) if fn is not None else wrap


# --- tracing ------------------------------------------------------------------------------


def _dagforge_name(base: str, count: int) -> str:
    return base if count == 0 else f"{base}#{count + 1}"


class _Tracer:
    """Records node calls into a DAG while a pipeline body runs."""

    def __init__(self, name_of_call: Callable[[str, int], str] = _dagforge_name):
        self.dag = DAG()
        self.configuration: dict[str, dict[str, Any]] = {}
        self.inputs: list[str] = []
        self._calls: dict[str, int] = {}
        self._name_of_call = name_of_call

    def unique(self, base: str) -> str:
        count = self._calls.get(base, 0)
        name = self._name_of_call(base, count)
        while name in self.dag:
            count += 1
            name = self._name_of_call(base, count)
        self._calls[base] = count + 1
        return name

    def add_input(self, name: str) -> Lazy:
        self.dag.add_node(name, _Input(name))
        self.inputs.append(name)
        return Lazy(name, self)

    def call(self, fn_node: FunctionalNode, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = self.unique(fn_node.name)
        parents: dict[str, int] = {}

        def template(value: Any) -> Any:
            if isinstance(value, Lazy):
                if value._tracer is not self:
                    raise GraphError(
                        f"node {name!r} was given the result of {value.node!r} from another "
                        f"pipeline's trace; pass values between nodes of one pipeline only"
                    )
                pos = parents.setdefault(value.node, len(parents))
                return _Ref(pos, value._keys)
            if type(value) in (tuple, list):
                return type(value)(template(v) for v in value)
            if type(value) is dict:
                return {k: template(v) for k, v in value.items()}
            return value

        targs = tuple(template(a) for a in args)
        tkwargs = {k: template(v) for k, v in kwargs.items()}
        self.dag.add_node(name, _Bound(fn_node, targs, tkwargs), **fn_node.options)
        for parent in parents:
            self.dag.add_edge(parent, name)
        self.configuration[name] = _constants(fn_node.fn, args, kwargs)
        result = Lazy(name, self)
        if fn_node.unpack_to is not None:
            return tuple(result[i] for i in range(fn_node.unpack_to))
        return result


def _constants(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict:
    """The plain (non-node-result) arguments of a call, by parameter name where known."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
    return {k: v for k, v in bound.items() if not _has_lazy(v)}


def _substitute(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, Lazy):
        out = values[value.node]
        for key in value._keys:
            out = out[key]
        return out
    if type(value) in (tuple, list):
        return type(value)(_substitute(v, values) for v in value)
    if type(value) is dict:
        return {k: _substitute(v, values) for k, v in value.items()}
    return value


def _concrete(value: Any) -> Any:
    """A Dask future's value (a user-given client leaves values on the cluster)."""
    if type(value).__name__ == "Future" and hasattr(value, "key"):
        result = getattr(value, "result", None)
        if callable(result):
            return result()
    return value


def _return_nodes(value: Any) -> list[str]:
    if isinstance(value, Lazy):
        return [value.node]
    if isinstance(value, (tuple, list)):
        return [n for v in value for n in _return_nodes(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _return_nodes(v)]
    return []


class PipelineRun:
    """One pipeline call: ``value`` (the body's return value) and the engine's ``result``."""

    __slots__ = ("result", "returned")

    def __init__(self, result: Any, returned: Any):
        self.result = result
        self.returned = returned

    @property
    def ok(self) -> bool:
        return bool(self.result.ok)

    @property
    def value(self) -> Any:
        """The pipeline's return value; raises the run's ``ExecutionError`` if a node failed."""
        if not self.result.ok:
            self.result.raise_for_failures()
        values = self.result.values
        wanted = {n: _concrete(values[n]) for n in _return_nodes(self.returned) if n in values}
        return _substitute(self.returned, wanted)

    def __repr__(self) -> str:
        return f"<PipelineRun {self.result!r}>"


class Pipeline:
    """A function whose body calls nodes, traced once into a :class:`~dagforge.graph.DAG`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        executor_options: Mapping[str, Any] | None = None,
        *,
        name_of_call: Callable[[str, int], str] = _dagforge_name,
        name_of_input: Callable[[str, str], str] | None = None,
    ):
        if not callable(fn):
            raise TracingError(f"@pipeline decorates a function, got {fn!r}")
        self.fn = fn
        self.executor_options = dict(executor_options or {})
        self._name_of_call = name_of_call
        self._name_of_input = name_of_input or (lambda _pipeline, param: param)
        self._signature = inspect.signature(fn)
        for p in self._signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TracingError(
                    f"pipeline {fn.__name__!r}: *{p.name} parameters cannot be traced; "
                    f"name each input"
                )
        self._lock = threading.Lock()
        self._traced: tuple[_Tracer, Any, dict[str, str]] | None = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    # -- tracing --------------------------------------------------------------------

    def _trace(self) -> tuple[_Tracer, Any, dict[str, str]]:
        with self._lock:
            if self._traced is None:
                if _tracer() is not None:
                    raise GraphError(f"pipeline {self.fn.__name__!r} is traced inside a trace")
                tracer = _Tracer(self._name_of_call)
                qualname = getattr(self.fn, "__qualname__", self.fn.__name__)
                inputs: dict[str, str] = {}
                lazies = {}
                for param in self._signature.parameters:
                    input_name = tracer.unique(self._name_of_input(qualname, param))
                    inputs[param] = input_name
                    lazies[param] = tracer.add_input(input_name)
                _state.tracer = tracer
                try:
                    returned = self.fn(**lazies)
                finally:
                    _state.tracer = None
                tracer.dag.config = Config(tracer.configuration)
                tracer.dag.validate()
                self._traced = (tracer, returned, inputs)
            return self._traced

    @property
    def dag(self) -> DAG:
        """The traced DAG (traced on first access)."""
        return self._trace()[0].dag

    @property
    def configuration(self) -> dict[str, dict[str, Any]]:
        """Per node, the plain values its call was given (the pipeline's configuration)."""
        return {k: dict(v) for k, v in self._trace()[0].configuration.items()}

    @property
    def inputs(self) -> dict[str, str]:
        """Pipeline parameter -> the input node that carries it."""
        return dict(self._trace()[2])

    @property
    def return_nodes(self) -> list[str]:
        """The nodes whose values the pipeline returns."""
        return _return_nodes(self._trace()[1])

    # -- running --------------------------------------------------------------------

    def with_options(self, **executor_options: Any) -> Pipeline:
        """The same traced pipeline with other executor options (backend, workers, ...)."""
        traced = self._trace()  # one trace shared by both
        other = Pipeline.__new__(Pipeline)
        other.__dict__.update(self.__dict__)
        other.executor_options = {**self.executor_options, **executor_options}
        other._lock = threading.Lock()
        other._traced = traced
        return other

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TracingError(f"pipeline {self.fn.__name__!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def execute(self, *args: Any, **kwargs: Any) -> PipelineRun:
        """Run once with these inputs; never raises for a node's failure (see ``.value``)."""
        return self.run_bound(self._bind(args, kwargs))

    def run_bound(
        self,
        values: Mapping[str, Any],
        *,
        tasks: Mapping[str, Any] | None = None,
        targets: Any = None,
        exclude: Any = None,
    ) -> PipelineRun:
        """Run with inputs already bound by parameter name; ``tasks`` replaces some nodes'
        callables (e.g. values kept from an earlier run), ``targets``/``exclude`` select
        nodes as :meth:`Executor.execute <dagforge.execution.executor.Executor.execute>`
        does. The layer the compatibility modules build on."""
        tracer, returned, inputs = self._trace()
        from dagforge.execution.executor import Executor

        calls = {inputs[p]: _Input(inputs[p], v) for p, v in values.items()}
        calls.update(tasks or {})
        result = Executor(tracer.dag, **self.executor_options).execute(
            calls, targets=targets, exclude=exclude
        )
        return PipelineRun(result, returned)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the pipeline and return what its body returns (node results filled in).

        Inside another pipeline's body the nodes are traced into that pipeline instead.
        A failed node raises :class:`~dagforge.errors.ExecutionError` (the node's own
        exception is its ``__cause__`` and in ``.failures``).
        """
        if _tracer() is not None:
            return self.fn(*args, **kwargs)
        run = self.execute(*args, **kwargs)
        if not run.ok:
            try:
                run.result.raise_for_failures()
            except ExecutionError as exc:
                first = next(iter(exc.failures.values()), None)
                raise exc from first
        return run.value

    def profile(self, *args: Any, seed: int | None = None, **kwargs: Any) -> Any:
        """Run once with profiling on and return a :class:`~dagforge.profiling.Profile`."""
        from dagforge.profiling.profile import Profile, seed_everything

        seed_everything(seed)
        opts = {"enable_tracing": True, **self.executor_options, "profile": True}
        run = self.with_options(**opts).execute(*args, **kwargs)
        run.result.raise_for_failures()
        return Profile.from_result(run.result, seed=seed)

    def __repr__(self) -> str:
        return f"<pipeline {self.fn.__name__}>"


def pipeline(fn: Callable[..., Any] | None = None, **executor_options: Any) -> Any:
    """Mark a function as a pipeline: ``@pipeline`` or ``@pipeline(backend="threads", ...)``.

    Keywords are :class:`~dagforge.execution.executor.Executor` options: ``backend``,
    ``max_workers``, ``max_concurrency``, ``fail_fast``, ``callbacks``, ``resource_pool``,
    ``priority``, ``cache``, ``enable_tracing``, ...
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, executor_options)

    return wrap(fn) if fn is not None else wrap
