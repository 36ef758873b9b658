"""Ship the user's own modules by value, so workers that cannot import them run them.

A Dask scheduler or worker on another machine, or a local worker process, imports a
function pickled *by reference* from its module; a user's script or project package is
often not importable there (not installed, loaded by path, or a test file under pytest's
importlib mode). Registering those modules with ``cloudpickle.register_pickle_by_value``
makes their functions and classes travel as code instead. Installed packages (stdlib,
``site-packages``, dagforge itself) still travel by reference and must be installed on
the workers.
"""

from __future__ import annotations

import os
import sys

# User modules already registered with cloudpickle to travel by value.
_SHIPPED: set[str] = set()


def user_modules() -> list[str]:
    """Modules imported from outside this interpreter's installation.

    Those are the user's scripts and project packages: a Dask scheduler or worker on
    another machine cannot import them (nor can a local worker import a module loaded by
    path, such as a test file under pytest's importlib mode), so their functions must
    travel by value.
    Anything under the standard library, ``site-packages``/``dist-packages`` or the
    interpreter's prefixes is installed (and must be installed on the workers too, like
    dagforge itself); ``__main__`` already travels by value.
    """
    import sysconfig

    roots = {
        os.path.realpath(p)
        for p in (
            *sysconfig.get_paths().values(),
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
        )
        if p
    }
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        mine = _MINE.get((name, path))
        if mine is None:
            top = name.partition(".")[0]
            real = os.path.realpath(path)
            mine = _MINE[(name, path)] = not (
                top in _NEVER_SHIP
                or "site-packages" in real
                or "dist-packages" in real
                or any(real.startswith(r + os.sep) for r in roots)
            )
        if mine:
            found.append(name)
    return sorted(found)


# (module name, file) -> whether it is the user's (memo: a run re-checks only new modules).
_MINE: dict[tuple[str, str], bool] = {}


_NEVER_SHIP = frozenset({"__main__", "__mp_main__", "dagforge", "distributed", "dask"})


def importable_by_name(name: str) -> bool:
    """True when a process with this ``sys.path`` would import ``name`` from the same file.

    Looks the top-level name up on ``sys.path`` without importing anything.
    """
    from importlib.machinery import PathFinder

    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return False
    top = name.partition(".")[0]
    try:
        spec = PathFinder.find_spec(top, [p or os.getcwd() for p in sys.path])
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    real = os.path.realpath(path)
    if top == name and spec.origin:
        return os.path.realpath(spec.origin) == real
    return any(
        real.startswith(os.path.realpath(loc) + os.sep)
        for loc in (spec.submodule_search_locations or ())
    )


def ship_user_modules(only_unimportable: bool = False) -> list[str]:
    """Register :func:`user_modules` with cloudpickle (by value); return the new ones.

    ``only_unimportable`` keeps modules a child process with our ``sys.path`` imports by
    name (the ``processes`` backend's workers) travelling by reference, so a function
    that reads an unpicklable module global (a lock, a connection) still works there;
    Dask workers may be other machines, so everything of the user's ships.
    cloudpickle's registry is per process: once registered, a module travels by value
    for every cloudpickle user here.
    """
    import cloudpickle

    new = [m for m in user_modules() if m not in _SHIPPED]
    if only_unimportable:
        new = [m for m in new if not importable_by_name(m)]
    for name in new:
        try:
            cloudpickle.register_pickle_by_value(sys.modules[name])
        except (ValueError, KeyError):  # pragma: no cover - vanished meanwhile
            continue
        _SHIPPED.add(name)
    return new
