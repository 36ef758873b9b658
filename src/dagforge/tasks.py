"""The DAG Task Standard (dagprofiler) and the ``@task`` decorator.

A ``Task`` declares what it reads (``inputs``), what it produces (``outputs``) and which
configuration parameters its cost depends on (``config_deps``); ``compute`` returns a
dict holding exactly the declared outputs; ``estimate_instructions(cfg)`` is a static
cost model (0 by default). Declarations let the DAG route data between tasks without
any glue code and let the profiler attribute bytes to edges.

Per-node options (``priority``, ``exclusive``, ``resources``, ``retries``, ...) may be
set as class attributes; see :mod:`dagforge.options`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dagforge.config import Config
from dagforge.options import NodeOptions


class Task:
    """Base class of the Task Standard: subclass it and implement ``compute``."""

    # Class-level defaults that a subclass overrides and a FunctionTask sets per instance.
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    config_deps: Sequence[str] = ()

    def compute(self, *args: Any, **inputs: Any) -> dict[str, Any]:
        """Return a dict of exactly the declared outputs; the engine calls it as
        ``compute(**inputs, cfg=cfg)``. Typed ``(*args, **inputs)`` so that any override
        (``def compute(self, data, cfg=None)``) is a valid one for a type checker."""
        raise NotImplementedError(f"{type(self).__name__}.compute is not implemented")

    @staticmethod
    def estimate_instructions(cfg: Config | None) -> float:
        """A static cost model in instructions; 0 when a task does not say."""
        return 0

    # -- helpers used by the DAG and the engine --------------------------------------

    @property
    def name(self) -> str:
        return getattr(self, "_name", None) or type(self).__name__

    def declared_options(self) -> dict[str, Any]:
        """Options given as class (or instance) attributes, e.g. ``priority = 5``."""
        found = {}
        for key in (*NodeOptions.names(), "is_sequential"):
            if key in ("cache",):
                continue
            value = getattr(self, key, None)
            if value is not None and not callable(value):
                found[key] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} inputs={list(self.inputs)} outputs={list(self.outputs)}>"


class FunctionTask(Task):
    """A Task made from a plain function by :func:`task`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        inputs: Sequence[str],
        outputs: Sequence[str],
        config_deps: Sequence[str],
        estimate_fn: Callable[[Any], float] | None,
        options: Mapping[str, Any],
    ):
        self.fn = fn
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.config_deps = tuple(config_deps)
        self._estimate_fn = estimate_fn
        self._name = fn.__name__
        self._options = dict(options)
        import inspect  # here, not at module level: import time of `import dagforge`

        params = inspect.signature(fn).parameters
        self._wants_cfg = "cfg" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def compute(self, cfg: Config | None = None, **inputs: Any) -> dict[str, Any]:
        if self._wants_cfg:
            return self.fn(**inputs, cfg=cfg)
        return self.fn(**inputs)

    def estimate_instructions(self, cfg: Config | None) -> float:  # type: ignore[override]
        return self._estimate_fn(cfg) if self._estimate_fn is not None else 0

    def declared_options(self) -> dict[str, Any]:
        return dict(self._options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self._name} inputs={list(self.inputs)} outputs={list(self.outputs)}>"


def task(
    fn: Callable[..., Any] | None = None,
    *,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    config_deps: Sequence[str] = (),
    estimate_fn: Callable[[Any], float] | None = None,
    **options: Any,
) -> Any:
    """Turn a function into a Task: ``@task(inputs=["data"], outputs=["result"])``.

    The function receives its inputs as keyword arguments and ``cfg`` when it declares
    it; extra keywords (``priority=``, ``exclusive=``, ``retries=``...) become node options.
    """

    def wrap(f: Callable[..., Any]) -> FunctionTask:
        # Reject unknown option names and bad values now, naming the task.
        NodeOptions.from_mapping(options, node=getattr(f, "__name__", "?"))
        return FunctionTask(f, inputs, outputs, config_deps, estimate_fn, options)

    return wrap(fn) if fn is not None else wrap
