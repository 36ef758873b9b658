"""A local Dask cluster from a script's top level: a clear error naming the guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("distributed")

UNGUARDED = """
from dagforge import DAG, Executor

dag = DAG()
dag.add_node("a", lambda: 1)
Executor(dag, backend="dask").execute()
"""


def test_top_level_dask_run_names_the_main_guard(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(UNGUARDED))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"dagforge.errors.BackendError: {script}, line 6: ")
    assert 'if __name__ == "__main__":' in last
    assert "Nanny" not in done.stderr


def test_the_guard_check(tmp_path, monkeypatch):
    from dagforge.execution.backends import _main_guard

    script = tmp_path / "job.py"
    script.write_text(
        "import x\ntop = 1\nif __name__ == '__main__':\n    inside = 2\n    more = 3\nafter = 4\n"
    )
    module = type(sys)("__main__")
    module.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", module)

    def at(line: int):
        code = compile("\n" * (line - 1) + "result = probe()", str(script), "exec")
        scope = {"__name__": "__main__", "probe": _main_guard.unguarded_main_line}
        exec(code, scope)
        return scope["result"]

    assert at(2) == (str(script), 2)
    assert at(4) is None
    assert at(5) is None
    assert at(6) == (str(script), 6)
