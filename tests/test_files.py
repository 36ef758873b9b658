"""The one atomic write: readable by whoever the umask allows, never half-written."""

from __future__ import annotations

import os
import stat

import pytest

from dagforge import Executor
from dagforge._files import atomic_write
from dagforge.graph import DAG


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_uses_the_umask_default_mode(tmp_path, umask_022):
    target = tmp_path / "a.json"
    atomic_write(target, "{}")
    assert _mode(target) == 0o644
    assert target.read_text() == "{}"
    os.umask(0o077)
    atomic_write(target, b"[]")
    assert _mode(target) == 0o600
    assert target.read_bytes() == b"[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp file left


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write(target, "old")
    with pytest.raises(TypeError):
        atomic_write(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_profile_trace_and_store_files_are_readable_by_others(tmp_path, umask_022):
    from dagforge.store import LocalDirStore

    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("b", lambda x: x + 1)
    dag.add_edge("a", "b")
    profile = dag.run(seed=1)
    profile.save(tmp_path / "profile.json")
    result = Executor(dag, enable_tracing=True).execute()
    result.trace.save(tmp_path / "trace.json")
    assert _mode(tmp_path / "profile.json") == 0o644
    assert _mode(tmp_path / "trace.json") == 0o644
    store = LocalDirStore(tmp_path / "store")
    store.put("run/a/out", b"x")
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert files and all(_mode(p) == 0o644 for p in files)
