"""LocalDirStore remembers the directories it made (one mkdir per new directory); a
remembered directory removed behind its back must not break or misplace a write."""

from __future__ import annotations

import shutil

from dagforge.store import LocalDirStore


def test_layout_is_a_directory_per_key(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("run/a/output", b"1")
    store.put("run/b/output", b"2")
    assert (tmp_path / "run" / "a" / "output" / ".value").read_bytes() == b"1"
    assert (tmp_path / "run" / "b" / "output" / ".value").read_bytes() == b"2"
    assert LocalDirStore(tmp_path).get("run/b/output") == b"2"  # a fresh reader finds it


def test_write_after_a_remembered_parent_was_pruned(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("run/a/output", b"1")
    assert store.delete("run/a/output")  # prunes run/a and run
    assert not (tmp_path / "run").exists()
    store.put("run/a/output", b"again")
    store.put("run/b/output", b"b")
    assert store.get("run/a/output") == b"again" and store.get("run/b/output") == b"b"


def test_write_after_another_store_removed_the_tree(tmp_path):
    store = LocalDirStore(tmp_path / "s")
    store.put("run/a/output", b"1")
    shutil.rmtree(tmp_path / "s")  # the root itself is gone, behind this store's back
    store.put("run/b/output", b"2")
    assert store.get("run/b/output") == b"2" and not store.exists("run/a/output")


def test_overwrite_without_ttl_drops_the_old_sidecar(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("k/x", b"1", ttl=0.01)
    store.put("k/x", b"2")  # the directory exists: its .expires must go
    assert not (tmp_path / "k" / "x" / ".expires").exists()
    assert store.get("k/x") == b"2"
