"""``FunctionRegistry``: where a spec's ``node_id``s find their Python functions.

Functions are registered by name (``register(name, fn)`` or as a decorator), by import
path (``register_path(name, "package.module:function")``, imported on first use) or a
whole module at a time (``from_module``). ``check(spec)`` resolves every ``node_id`` of
a spec and reports *all* that have no usable function in one
:class:`~dagforge.errors.UnknownFunctionError`, before anything runs.

With ``allowed_modules``, import paths (and modules named by string) outside those
packages are refused, so a spec or a registration sent over HTTP cannot make the
platform import arbitrary code. The rule is checked twice, when a path is registered
and again when it is resolved to run: the module must lie in an allowed package, every
attribute on the way from it to the callable must not be a module (``mypkg:os.system``
hops through ``os``) nor a dunder (``f.__globals__``), and the callable must be *defined*
in an allowed package (its ``__module__`` inside it; an ``os.system`` imported into an
allowed module is refused). Callables registered directly are trusted: they are
already in the process.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from dagforge.errors import RegistryError, UnknownFunctionError

__all__ = ["FunctionRegistry"]

_IMPORT_PATH = re.compile(
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", re.ASCII
)


class _registry_or_instance_method:
    """``Cls.m(...)`` makes a new registry; ``obj.m(...)`` adds to ``obj``."""

    def __init__(self, func: Callable[..., Any]):
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, cls: type) -> Callable[..., Any]:
        def bound(*args: Any, **kwargs: Any) -> Any:
            if obj is None:
                allowed = kwargs.pop("allowed_modules", None)
                return self.func(cls(allowed_modules=allowed), *args, **kwargs)
            return self.func(obj, *args, **kwargs)

        bound.__doc__ = self.func.__doc__
        return bound


class FunctionRegistry:
    """Maps names (a spec's ``node_id``s) to callables, given directly or by import path."""

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        *,
        allowed_modules: Iterable[str] | None = None,
    ):
        self._functions: dict[str, Callable[..., Any]] = {}
        self._paths: dict[str, str] = {}
        if isinstance(allowed_modules, str):
            allowed_modules = [allowed_modules]
        self.allowed_modules: tuple[str, ...] | None = (
            tuple(allowed_modules) if allowed_modules is not None else None
        )
        for name, fn in (functions or {}).items():
            self.register(name, fn)

    # -- registering -----------------------------------------------------------------------

    def register(self, name: Any = None, fn: Callable[..., Any] | None = None) -> Any:
        """Register ``fn`` under ``name``; also a decorator.

        ``register("name", fn)``, ``@register`` (the function's ``__name__``),
        ``@register("name")``. A later registration of a name replaces the earlier one.
        Returns the function (so the decorator leaves it usable).
        """
        if fn is None:
            if callable(name) and not isinstance(name, str):
                return self.register(getattr(name, "__name__", None), name)

            def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
                return self.register(name if name is not None else func.__name__, func)

            return decorator
        _check_name(name)
        if not callable(fn):
            raise RegistryError(f"function {name!r} is not callable: {fn!r}")
        self._functions[name] = fn
        self._paths.pop(name, None)
        return fn

    def function(self, name_or_fn: Any = None) -> Any:
        """Decorator: ``@registry.function`` or ``@registry.function("name")``."""
        return self.register(name_or_fn)

    def register_path(self, name: str, path: str) -> None:
        """Register ``"package.module:function"`` under ``name`` (imported on first use).

        Raises ``UnknownFunctionError`` when the path is malformed or its module is outside
        ``allowed_modules``; import problems surface on ``resolve``/``check``.
        """
        _check_name(name)
        if not isinstance(path, str) or not _IMPORT_PATH.fullmatch(path):
            raise UnknownFunctionError(
                f"function {name!r}: an import path looks like 'package.module:function', "
                f"got {path!r}"
            )
        module, _, attr = path.partition(":")
        self._check_allowed(name, module)
        if self.allowed_modules is not None:
            for part in attr.split("."):
                if part.startswith("__"):
                    raise UnknownFunctionError(
                        f"function {name!r}: {path!r} passes through the dunder attribute "
                        f"{part!r}; name a function defined in an allowed package"
                    )
        self._paths[name] = path
        self._functions.pop(name, None)

    @_registry_or_instance_method
    def from_module(self, module: ModuleType | str) -> FunctionRegistry:
        """Register every public function of ``module`` under its own name.

        Public means listed in ``__all__`` when the module has one, else every callable
        whose name has no leading underscore, defined in that module (not imported into
        it) and not a class. ``FunctionRegistry.from_module(m, allowed_modules=...)``
        builds a new registry; ``registry.from_module(m)`` adds to one. Returns it.
        With ``allowed_modules``, a name listed in ``__all__`` but defined outside the
        allowed packages (``from os import system``) is left out.
        """
        if isinstance(module, str):
            self._check_allowed(module, module)
            try:
                module = importlib.import_module(module)
            except Exception as exc:
                raise UnknownFunctionError(
                    f"cannot import module {module!r}: {type(exc).__name__}: {exc}"
                ) from exc
        if not isinstance(module, ModuleType):
            raise RegistryError(f"from_module takes a module or its name, got {module!r}")
        public = getattr(module, "__all__", None)
        if public is not None:
            for attr in public:
                value = getattr(module, attr, None)
                if not callable(value):
                    continue
                if self.allowed_modules is not None and not self._inside(
                    str(getattr(value, "__module__", None))
                ):
                    continue
                self.register(attr, value)
            return self
        for attr, value in vars(module).items():
            if attr.startswith("_") or not callable(value) or isinstance(value, type):
                continue
            if getattr(value, "__module__", None) == module.__name__:
                self.register(attr, value)
        return self

    def _inside(self, module: str) -> bool:
        allowed = self.allowed_modules
        return allowed is None or any(module == a or module.startswith(a + ".") for a in allowed)

    def _check_allowed(self, name: str, module: str) -> None:
        allowed = self.allowed_modules
        if allowed is None:
            return
        if not self._inside(module):
            raise UnknownFunctionError(
                f"function {name!r}: module {module!r} is not in the allowed packages "
                f"{list(allowed)}; the operator allows more with --allow-module"
            )

    # -- looking up ------------------------------------------------------------------------

    def resolve(self, name: str) -> Callable[..., Any]:
        """The callable registered as ``name``, importing it on first use."""
        fn = self._functions.get(name)
        if fn is not None:
            return fn
        path = self._paths.get(name)
        if path is None:
            hint = difflib.get_close_matches(str(name), self.names, n=1)
            maybe = f"; did you mean {hint[0]!r}?" if hint else ""
            shown = ", ".join(self.names[:12]) + (", ..." if len(self.names) > 12 else "")
            raise UnknownFunctionError(
                f"no function registered for {name!r}{maybe} (registered: {shown or 'none'})"
            )
        module_name, _, attr = path.partition(":")
        try:
            value: Any = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or whatever the module raises on import
            raise UnknownFunctionError(
                f"function {name!r}: cannot import {path!r}: {type(exc).__name__}: {exc}"
            ) from exc
        self._check_allowed(name, module_name)  # again: the allow list may have changed
        guarded = self.allowed_modules is not None
        for part in attr.split("."):
            if guarded and part.startswith("__"):
                raise UnknownFunctionError(
                    f"function {name!r}: {path!r} passes through the dunder attribute {part!r}"
                )
            try:
                value = getattr(value, part)
            except AttributeError:
                raise UnknownFunctionError(
                    f"function {name!r}: cannot import {path!r}: {module_name!r} has no "
                    f"attribute {attr!r}"
                ) from None
            if guarded and isinstance(value, ModuleType):
                raise UnknownFunctionError(
                    f"function {name!r}: {path!r} reaches through the module "
                    f"{value.__name__!r}; name a function defined in an allowed package "
                    f"{list(self.allowed_modules or ())} directly"
                )
        if not callable(value):
            raise UnknownFunctionError(f"function {name!r}: {path!r} is not callable")
        if guarded:
            defined_in = getattr(value, "__module__", None)
            if not isinstance(defined_in, str) or not self._inside(defined_in):
                raise UnknownFunctionError(
                    f"function {name!r}: {path!r} is defined in {defined_in!r}, not in the "
                    f"allowed packages {list(self.allowed_modules or ())}; only functions "
                    "defined in an allowed package may run (imported ones are refused)"
                )
        self._functions[name] = value
        return value

    def check(self, spec: Any) -> dict[str, Callable[..., Any]]:
        """Resolve every ``node_id`` of ``spec``; report all that fail at once.

        Returns ``{node_id: callable}``. Raises ``UnknownFunctionError`` whose
        ``.missing`` lists the node_ids and ``.errors`` the ``(dag[i], reason)`` pairs.
        """
        found: dict[str, Callable[..., Any]] = {}
        errors: list[tuple[str, str]] = []
        missing: list[str] = []
        for i, entry in enumerate(spec.dag):
            try:
                found[entry.node_id] = self.resolve(entry.node_id)
            except UnknownFunctionError as exc:
                missing.append(entry.node_id)
                errors.append((f"dag[{i}]", f"{entry.node_id!r}: {exc}"))
        if missing:
            lines = "".join(f"\n  {path}: {reason}" for path, reason in errors)
            error = UnknownFunctionError(
                f"workflow {spec.name!r}: {len(missing)} node(s) have no usable function "
                f"({', '.join(missing)}):{lines}\nregister them with register(name, fn) or "
                "register_path(name, 'package.module:function')"
            )
            error.missing = missing  # type: ignore[attr-defined]
            error.errors = errors  # type: ignore[attr-defined]
            raise error
        return found

    @property
    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted({*self._functions, *self._paths})

    def __contains__(self, name: object) -> bool:
        return name in self._functions or name in self._paths

    def __len__(self) -> int:
        return len(self._functions.keys() | self._paths.keys())

    def __repr__(self) -> str:
        return f"<FunctionRegistry {self.names}>"


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise RegistryError(f"a function name is a non-empty string, got {name!r}")
