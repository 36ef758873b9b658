"""``FunctionRegistry``: where a spec's ``node_id``s find their Python functions.

Functions are registered by name (``register``, or the ``@registry.function`` decorator)
or by import path (``"package.module:function"``, imported on first use). With
``allowed_modules``, import paths outside those packages are refused, so a spec sent
over HTTP cannot make the platform import arbitrary code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from dagforge.errors import UnknownFunctionError


class FunctionRegistry:
    """Maps names to callables (given directly or by import path)."""

    def __init__(
        self,
        functions: dict[str, Callable[..., Any]] | None = None,
        *,
        allowed_modules: Iterable[str] | None = None,
    ):
        self._functions: dict[str, Callable[..., Any]] = dict(functions or {})
        self._paths: dict[str, str] = {}
        self.allowed_modules = tuple(allowed_modules) if allowed_modules is not None else None

    def register(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise UnknownFunctionError(f"function {name!r} is not callable: {fn!r}")
        self._functions[name] = fn
        self._paths.pop(name, None)
        return fn

    def function(self, name_or_fn: Any = None) -> Any:
        """Decorator: ``@registry.function`` or ``@registry.function("name")``."""
        if callable(name_or_fn):
            return self.register(name_or_fn.__name__, name_or_fn)

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            return self.register(name_or_fn or fn.__name__, fn)

        return wrap

    def register_path(self, name: str, path: str) -> None:
        """Register ``"package.module:function"`` under ``name`` (imported on first use)."""
        module, _, attr = path.partition(":")
        if not module or not attr:
            raise UnknownFunctionError(
                f"function {name!r}: import path must look like 'package.module:function', "
                f"got {path!r}"
            )
        self._check_allowed(name, module)
        self._paths[name] = path
        self._functions.pop(name, None)

    def from_module(self, module: ModuleType | str) -> FunctionRegistry:
        """Register every public function defined in ``module`` under its own name."""
        if isinstance(module, str):
            self._check_allowed(module, module)
            module = importlib.import_module(module)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not callable(value) or isinstance(value, type):
                continue
            if getattr(value, "__module__", None) == module.__name__:
                self.register(attr, value)
        return self

    def _check_allowed(self, name: str, module: str) -> None:
        allowed = self.allowed_modules
        if allowed is None:
            return
        if not any(module == a or module.startswith(a + ".") for a in allowed):
            raise UnknownFunctionError(
                f"function {name!r}: module {module!r} is not in the allowed packages "
                f"{list(allowed)}; the operator allows more with --allow-module"
            )

    def resolve(self, name: str) -> Callable[..., Any]:
        fn = self._functions.get(name)
        if fn is not None:
            return fn
        path = self._paths.get(name)
        if path is None:
            raise UnknownFunctionError(
                f"no function registered for {name!r}; registered: {sorted(self.names)}"
            )
        module, _, attr = path.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownFunctionError(f"function {name!r}: cannot import {path!r}: {exc}") from exc
        self._functions[name] = fn
        return fn

    def check(self, spec: Any) -> None:
        """Raise ``UnknownFunctionError`` listing every node_id with no function."""
        missing = []
        for entry in spec.dag:
            try:
                self.resolve(entry.node_id)
            except UnknownFunctionError as exc:
                missing.append(f"{entry.node_id} ({exc})")
        if missing:
            raise UnknownFunctionError(
                f"workflow {spec.name!r} uses functions that cannot be found: " + "; ".join(missing)
            )

    @property
    def names(self) -> list[str]:
        return sorted({*self._functions, *self._paths})

    def __contains__(self, name: object) -> bool:
        return name in self._functions or name in self._paths
