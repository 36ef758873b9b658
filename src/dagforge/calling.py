"""The calling convention of plain callables (dagron / tawazi style nodes).

A plain callable receives its parents' values **positionally, in edge order**:

- its required positional parameters (no default) take the parents' values, one each —
  so their number must equal the number of parents;
- ``*args`` takes every parent's value (after the required ones);
- parameters **with defaults are never filled from parents**, so the common idiom
  ``{n: (lambda n=n: work(n)) for n in names}`` works: edges into such a node only
  order it;
- a callable with no required parameters and no ``*args`` is called with no arguments,
  however many parents it has;
- there is no keyword matching by parent name: a required keyword-only parameter can
  never be filled, so it is refused.

A callable whose required parameters cannot match its parents is refused when the DAG
is built (or when ``execute`` resolves the callables it was given) with a
:class:`~dagforge.errors.SignatureError` naming the node, its parents and the signature.
Callables whose signature Python cannot inspect (some builtins) get every parent's value
positionally, unchecked.
"""

from __future__ import annotations

import types
from typing import Any

from dagforge.errors import SignatureError

# Call kinds: how the engine and the job protocol call a node (``kind_for`` picks one).
K_NOARGS, K_POS, K_TASK = 0, 1, 2

_CO_VARARGS = 0x04  # inspect.CO_VARARGS; inspect is imported only when needed

#: (required positional, takes *args, optional positional, required keyword-only names)
Arity = tuple[int, bool, int, tuple[str, ...]]


def arity(fn: Any) -> Arity | None:
    """How many positional values ``fn`` requires and accepts; None when unknowable."""
    if type(fn) is types.FunctionType:
        return _from_code(fn)
    call = _plain_call(fn)
    if call is not None:  # an object whose class defines __call__ in Python: drop self
        required, var, optional, need_kw = _from_code(call)
        if required:
            return required - 1, var, optional, need_kw
        return 0, var, optional - 1, need_kw  # ``self`` had a default
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    required = optional = 0
    var = False
    need: list[str] = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                required += 1
            else:
                optional += 1
        elif p.kind is p.VAR_POSITIONAL:
            var = True
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            need.append(p.name)
    return required, var, optional, tuple(need)


def _from_code(fn: types.FunctionType) -> Arity:
    code = fn.__code__
    nargs = code.co_argcount
    ndef = len(fn.__defaults__ or ())
    kwonly = code.co_varnames[nargs : nargs + code.co_kwonlyargcount]
    kwdefaults = fn.__kwdefaults__ or {}
    need_kw = tuple(k for k in kwonly if k not in kwdefaults)
    return nargs - ndef, bool(code.co_flags & _CO_VARARGS), ndef, need_kw


def _plain_call(fn: Any) -> types.FunctionType | None:
    """The ``__call__`` of ``fn``'s class when reading its code gives what
    ``inspect.signature(fn)`` would (a plain function taking ``self`` positionally, with
    no ``__wrapped__``/``__signature__`` on it or on ``fn``); None otherwise.

    Why: a callable object — the platform wraps every spec node in one — would
    otherwise cost an ``inspect.signature`` (about 80 us) each time a run is planned.
    """
    if isinstance(fn, type):
        return None
    for klass in type(fn).__mro__:
        raw = klass.__dict__.get("__call__")
        if raw is not None:
            break
    else:
        return None
    if type(raw) is not types.FunctionType or raw.__code__.co_argcount == 0:
        return None  # a staticmethod, a C slot, a decorator's object, ``(*args)``
    try:
        for obj in (fn, raw):
            if hasattr(obj, "__wrapped__") or hasattr(obj, "__signature__"):
                return None
    except Exception:  # an object whose __getattr__ raises: let inspect decide
        return None
    return raw


def describe(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    name = name or type(fn).__name__
    import inspect

    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return name


def kind_for(a: Arity | None, n_parents: int) -> int | str:
    """The call kind for ``n_parents`` parents, or the reason it cannot be called."""
    if a is None:
        return K_POS
    required, var, optional, need_kw = a
    if need_kw:
        return (
            f"required keyword-only parameter(s) {list(need_kw)} cannot be filled: parents' "
            "values are passed positionally (give them defaults)"
        )
    if var:
        if n_parents < required:
            return f"it requires at least {required} positional value(s)"
        if optional and n_parents > required:
            return (
                "*args would take the parents' values only after filling the parameters "
                "with defaults, which are never filled from parents"
            )
        return K_POS
    if required == 0:
        return K_NOARGS
    if required == n_parents:
        return K_POS
    return f"it requires {required} positional value(s), one per parent"


def refuse(node: str, parents: list[str], fn: Any, reason: str) -> SignatureError:
    shown = ", ".join(repr(p) for p in parents[:10]) + (" ..." if len(parents) > 10 else "")
    return SignatureError(
        f"node {node!r} cannot call {describe(fn)} with the values of its {len(parents)} "
        f"parent(s) [{shown}]: {reason}. Parents' values go, in edge order, to the required "
        "positional parameters (*args takes them all); parameters with defaults are never "
        "filled from parents"
    )
