"""Content-addressed result cache: skip nodes whose code and inputs did not change.

A node's key is the SHA-256 of (its code identity, the values of its ``config_deps``,
its input values). An unchanged re-run executes nothing; editing a task invalidates its
entries and, through the changed outputs, those of everything downstream. The key is
the same in every process and on every machine for the same code and values.

What the code identity hashes (recursively, never a ``repr`` holding an address):

- the function's module and qualified name, and its code object: bytecode, constants,
  names, variable names, argument counts and flags, and every nested code object
  (comprehensions, lambdas, inner functions) the same way;
- its defaults and keyword defaults, and the contents of its closure cells;
- every function **of its own module** it names (``co_names`` looked up in its
  globals), recursively, and simple module-level constants it names
  (``None``/bool/int/float/complex/str/bytes);
- for a ``Task``: its class's name and every function defined on the class and its
  bases (below ``Task``); for ``@task`` the wrapped function; for ``functools.partial``
  the function plus its bound arguments; for a callable object its class's ``__call__``.

What it does **not** hash: functions of other modules (libraries: pin versions
yourself), classes other than the task's own, mutable or opaque objects held in
defaults, closures or globals (only their type is hashed: a list, dict or custom object
may change without changing the key), files or data read at run time, and line numbers
(moving code does not invalidate). For any of these, give the node an explicit
``cache_key="..."`` (a node option): it replaces the code identity, and the key still
includes the ``config_deps`` values and the inputs. Inputs and config values are
hashed through ``pickle``; a value that cannot be pickled makes the node uncacheable,
and sets of strings pickle in a per-process order (use a sorted tuple).

Entries are pickle files in a local directory the user chose. Only point ``cache=`` or
``checkpoint=`` at a directory you trust: loading a pickle can run code. A checkpoint
is the same cache: a run that failed half-way, re-run with the same directory,
restores every node that succeeded and runs the rest.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import types
from pathlib import Path
from typing import Any

from dagforge.tasks import Task

DEFAULT_DIR = ".dagforge-cache"
_MISS = object()


_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


def code_identity(fn: Any) -> bytes:
    """Bytes that change when the task's code changes, and only then (see module doc).

    Stable across processes and machines: nothing here depends on memory addresses,
    hash randomisation, file names or line numbers.
    """
    out: list[bytes] = []
    _Identity(out).target(fn)
    return b"\0".join(out)


class _Identity:
    """Walks a task's code and what it refers to, appending stable bytes to ``out``."""

    __slots__ = ("out", "seen")

    def __init__(self, out: list[bytes]):
        self.out = out
        self.seen: dict[int, int] = {}

    def text(self, *parts: Any) -> None:
        self.out.append("\x1f".join(str(p) for p in parts).encode())

    def target(self, fn: Any) -> None:
        if isinstance(fn, Task):
            cls = type(fn)
            self.text("task", cls.__module__, cls.__qualname__)
            for klass in cls.__mro__:
                if klass is Task or klass is object:
                    continue
                for name, member in sorted(vars(klass).items()):
                    inner = getattr(member, "__func__", member)  # static/class methods
                    if isinstance(inner, types.FunctionType):
                        self.text("method", name)
                        self.function(inner)
            inner_fn = getattr(fn, "fn", None)  # FunctionTask wraps a function
            if inner_fn is not None:
                self.target(inner_fn)
            return
        if isinstance(fn, types.FunctionType):
            self.function(fn)
        elif isinstance(fn, types.MethodType):
            self.text("method-of", _qualname(type(fn.__self__)))
            self.target(fn.__func__)
        elif isinstance(fn, functools.partial):
            self.text("partial")
            self.target(fn.func)
            self.value(fn.args)
            self.value(tuple(sorted(fn.keywords.items())))
        elif isinstance(fn, type) or not hasattr(type(fn), "__call__"):  # noqa: B004
            self.text("callable", _qualname(fn))
        elif isinstance(fn, types.BuiltinFunctionType):
            self.text("builtin", getattr(fn, "__module__", ""), _qualname(fn))
        else:  # a callable object: its class's __call__, plus fn/k of dagforge's wrappers
            cls = type(fn)
            self.text("object", _qualname(cls))
            call = getattr(cls, "__call__", None)  # noqa: B004
            if isinstance(call, types.FunctionType):
                self.function(call)
            inner = getattr(fn, "fn", None)
            if inner is not None and callable(inner):
                self.target(inner)
            k = getattr(fn, "k", None)
            if k is not None:
                self.value(k)

    def function(self, f: types.FunctionType) -> None:
        key = id(f)
        if key in self.seen:  # recursion (a function calling itself, mutual calls)
            self.text("again", self.seen[key])
            return
        self.seen[key] = len(self.seen)
        self.text("function", f.__module__, f.__qualname__)
        self.code(f.__code__, f)
        self.value(f.__defaults__)
        self.value(tuple(sorted((f.__kwdefaults__ or {}).items())))
        for cell in f.__closure__ or ():
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                self.text("empty-cell")
                continue
            self.value(content, module=f.__module__)

    def code(self, co: types.CodeType, f: types.FunctionType) -> None:
        self.out.append(co.co_code)
        self.text(
            "code",
            co.co_argcount,
            co.co_posonlyargcount,
            co.co_kwonlyargcount,
            co.co_flags,
            ",".join(co.co_names),
            ",".join(co.co_varnames),
            ",".join(co.co_freevars),
            ",".join(co.co_cellvars),
        )
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                self.code(const, f)  # comprehensions, lambdas, nested functions
            else:
                self.value(const)
        # Functions (and simple constants) of the task's own module that it names.
        module_globals = f.__globals__
        for name in co.co_names:
            obj = module_globals.get(name, _MISS)
            if obj is _MISS:
                continue
            if isinstance(obj, types.FunctionType) and obj.__module__ == f.__module__:
                self.text("calls", name)
                self.function(obj)
            elif type(obj) in _SIMPLE:
                self.text("global", name)
                self.value(obj)

    def value(self, v: Any, module: str | None = None) -> None:
        t = type(v)
        if t in _SIMPLE:
            self.text(t.__name__, repr(v))
        elif t is tuple:
            self.text("tuple", len(v))
            for item in v:
                self.value(item, module)
        elif t is frozenset:
            parts: list[bytes] = []
            sub = _Identity(parts)
            encoded = []
            for item in v:
                parts.clear()
                sub.value(item)
                encoded.append(b"\0".join(parts))
            self.text("frozenset", len(v))
            self.out.extend(sorted(encoded))
        elif isinstance(v, types.CodeType):
            self.text("code-const")
            self.out.append(v.co_code)
        elif isinstance(v, types.FunctionType):
            if module is None or v.__module__ == module:
                self.function(v)
            else:
                self.text("foreign-function", v.__module__, v.__qualname__)
        elif isinstance(v, type):
            self.text("class", _qualname(v))
        else:  # mutable or opaque objects: their type only (use cache_key= for more)
            self.text("object", _qualname(t))


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module}.{name or type(obj).__qualname__}"


class ResultCache:
    """A directory of pickled node values keyed by content hash."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path or DEFAULT_DIR)
        self.path.mkdir(parents=True, exist_ok=True)

    def key(
        self, fn: Any, cfg_values: Any, args: Any, kwargs: Any, explicit: str | None = None
    ) -> str | None:
        """The entry key, or None when the inputs cannot be hashed (not cacheable).

        ``explicit`` (the node's ``cache_key=``) stands for the code identity.
        """
        try:
            payload = pickle.dumps((cfg_values, args, kwargs), protocol=5)
        except Exception:
            return None
        if explicit is not None:
            h = hashlib.sha256(b"explicit\0" + explicit.encode())
        else:
            h = hashlib.sha256(code_identity(fn))
        h.update(payload)
        return h.hexdigest()

    def get(self, key: str) -> Any:
        """The cached value, or the module's ``_MISS`` sentinel."""
        file = self.path / key[:2] / key
        try:
            with open(file, "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError:
            return _MISS
        except Exception:  # a corrupt or stale entry is a miss, not an error
            return _MISS

    def put(self, key: str, value: Any) -> bool:
        """Store atomically (temp file + rename); False when the value cannot be pickled."""
        folder = self.path / key[:2]
        folder.mkdir(exist_ok=True)
        try:
            data = pickle.dumps(value, protocol=5)
        except Exception:
            return False
        from dagforge._files import atomic_write

        atomic_write(folder / key, data, fsync=False)
        return True

    @staticmethod
    def is_hit(value: Any) -> bool:
        return value is not _MISS
