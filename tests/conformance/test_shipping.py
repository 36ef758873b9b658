"""Which user modules travel by value to worker processes (execution/shipping.py)."""

from __future__ import annotations

import sys

from dagforge import DAG, Executor
from dagforge.execution import shipping


def test_processes_ship_only_what_their_workers_cannot_import(tmp_path, monkeypatch):
    """A module on sys.path keeps travelling by reference to worker processes, so a
    function reading an unpicklable module global still runs; a file loaded by path
    (not importable by name) travels by value."""
    import importlib.util

    (tmp_path / "dagforge_on_path_mod.py").write_text(
        "import threading\n_LOCK = threading.Lock()\n\ndef locked():\n    return _LOCK.locked()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    on_path = __import__("dagforge_on_path_mod")
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    (elsewhere / "by_path.py").write_text("def seven():\n    return 7\n")
    spec = importlib.util.spec_from_file_location(
        "dagforge_loaded_by_path", elsewhere / "by_path.py"
    )
    by_path = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = by_path
    try:
        spec.loader.exec_module(by_path)
        assert shipping.importable_by_name("dagforge_on_path_mod")
        assert not shipping.importable_by_name("dagforge_loaded_by_path")
        d = DAG().add_node("locked", on_path.locked).add_node("seven", by_path.seven)
        result = Executor(d, backend="processes", max_workers=1).execute()
        assert result.ok, result.failures
        assert result.values == {"locked": False, "seven": 7}
    finally:
        import cloudpickle

        for name in ("dagforge_loaded_by_path", "dagforge_on_path_mod"):
            module = sys.modules.pop(name, None)
            if name in shipping._SHIPPED and module is not None:
                shipping._SHIPPED.discard(name)
                cloudpickle.unregister_pickle_by_value(module)
