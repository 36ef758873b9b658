"""LocalDirStore's on-disk layout: v2 (the last key part is a file ``.v.<part>`` in the
directory of the other parts), data directories of the old layout (each key a directory
holding ``.value``/``.expires``) read as they are, one mkdir per new directory, and a
remembered directory removed behind the store's back that must not break a write."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest

from dagforge.errors import StoreError
from dagforge.store import LocalDirStore


def _old_entry(root: Path, key: str, value: bytes, *, expires: float | None = None) -> Path:
    """Write ``key`` the way earlier versions did: ``<root>/<key>/.value`` (+ ``.expires``)."""
    d = root.joinpath(*key.split("/"))
    d.mkdir(parents=True, exist_ok=True)
    (d / ".value").write_bytes(value)
    if expires is not None:
        (d / ".expires").write_text(repr(expires))
    return d


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- the v2 layout -----------------------------------------------------------------------


def test_layout_is_a_file_per_key_in_the_directory_of_the_other_parts(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("run/a/output", b"1")
    store.put("run/b/output", b"2", ttl=60)
    store.put("top", b"t")
    assert (tmp_path / "run" / "a" / ".v.output").read_bytes() == b"1"
    assert (tmp_path / "run" / "b" / ".v.output").read_bytes() == b"2"
    assert float((tmp_path / "run" / "b" / ".e.output").read_text()) > time.time()
    assert (tmp_path / ".v.top").read_bytes() == b"t"
    assert _files(tmp_path) == [".v.top", "run/a/.v.output", "run/b/.e.output", "run/b/.v.output"]
    assert LocalDirStore(tmp_path).get("run/b/output") == b"2"  # a fresh reader finds it


def test_a_key_and_a_longer_key_under_it(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("a/b", b"short")
    store.put("a/b/c", b"long")
    store.put("a", b"one part")
    assert (tmp_path / "a" / ".v.b").read_bytes() == b"short"
    assert (tmp_path / "a" / "b" / ".v.c").read_bytes() == b"long"
    assert [store.get(k) for k in ("a", "a/b", "a/b/c")] == [b"one part", b"short", b"long"]
    assert store.keys() == ["a", "a/b", "a/b/c"]
    assert store.keys("a/") == ["a/b", "a/b/c"] and store.keys("a/b/") == ["a/b/c"]
    assert store.keys("a/b") == ["a/b", "a/b/c"] and store.keys("a") == ["a", "a/b", "a/b/c"]
    assert store.keys("a/c") == [] and store.keys("a/b/c/") == [] and store.keys("b") == []
    assert store.delete("a/b") and not store.exists("a/b")
    assert store.get("a/b/c") == b"long"  # the longer key (and its directory) stays
    assert store.delete("a/b/c") and store.delete("a")
    assert list(tmp_path.iterdir()) == []  # every directory pruned, the root kept


def test_tmp_files_are_never_listed_or_read(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("run/n/out", b"1")
    # in-flight writes (or ones a crash left behind) of both layouts
    (tmp_path / "run" / "n" / ".t.123-456-7").write_bytes(b"tmp")
    (tmp_path / "run" / "n" / ".t.out.123-456-8").write_bytes(b"tmp")
    (tmp_path / "run" / "m").mkdir()
    (tmp_path / "run" / "m" / ".value.123-456-9.tmp").write_bytes(b"old tmp")
    assert store.keys() == ["run/n/out"] and store.keys("run/") == ["run/n/out"]
    assert not store.exists("run/m") and store.get("run/n/out") == b"1"
    assert store.cleanup_expired() == 0


def test_a_write_leaves_no_tmp_file(tmp_path):
    store = LocalDirStore(tmp_path, fsync=True)
    store.put("r/n/o", b"1", ttl=30)
    store.put("r/n/o", b"2")
    assert _files(tmp_path) == ["r/n/.v.o"]  # the new write without a ttl dropped .e.o
    assert store.get("r/n/o") == b"2"


def test_overwrite_without_ttl_drops_the_old_sidecar(tmp_path):
    store = LocalDirStore(tmp_path)
    store.put("k/x", b"1", ttl=0.01)
    store.put("k/x", b"2")  # the directory exists: its .e.x must go
    assert not (tmp_path / "k" / ".e.x").exists()
    time.sleep(0.02)
    assert store.get("k/x") == b"2"


# --- system calls per run ------------------------------------------------------------------


def test_a_three_node_run_makes_four_directories_and_unlinks_nothing(tmp_path, monkeypatch):
    store = LocalDirStore(tmp_path)
    root = store.path
    calls: list[tuple[str, str]] = []
    real_mkdir, real_unlink = os.mkdir, os.unlink

    def mkdir(path, *args, **kwargs):
        calls.append(("mkdir", os.fspath(path)))
        return real_mkdir(path, *args, **kwargs)

    def unlink(path, *args, **kwargs):
        calls.append(("unlink", os.fspath(path)))
        return real_unlink(path, *args, **kwargs)

    real_replace = os.replace
    renames: list[tuple[str, str]] = []

    def replace(src, dst, *args, **kwargs):
        renames.append((os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(os, "replace", replace)
    for run in ("r1", "r2"):
        calls.clear()
        renames.clear()
        for node in ("a", "b", "c"):
            store.put(f"{run}/{node}/x", b"2")
        assert calls == [
            ("mkdir", str(root / run)),
            ("mkdir", str(root / run / "a")),
            ("mkdir", str(root / run / "b")),
            ("mkdir", str(root / run / "c")),
        ]
        assert [dst for _, dst in renames] == [str(root / run / n / ".v.x") for n in "abc"]
        for src, dst in renames:  # a .t. temporary beside its target
            assert os.path.dirname(src) == os.path.dirname(dst)
            assert os.path.basename(src).startswith(".t.")
    calls.clear()
    store.put("r1/a/y", b"second output")  # a directory it made: no mkdir at all
    assert calls == [("unlink", str(root / "r1" / "a" / ".e.y"))]
    assert store.keys("r1/") == ["r1/a/x", "r1/a/y", "r1/b/x", "r1/c/x"]


# --- directories removed behind the store's back -------------------------------------------


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
    store.put("run/a/more", b"1")
    store.put("top", b"1")
    other = LocalDirStore(tmp_path / "s")
    assert other.delete("run/a/more") and other.delete("run/a/output")  # prunes run/a
    store.put("run/a/more", b"2")  # remembered run/a is gone: made again
    assert store.get("run/a/more") == b"2"
    shutil.rmtree(tmp_path / "s")  # the root itself is gone, behind this store's back
    store.put("run/b/output", b"2")
    store.put("top", b"3")
    assert store.get("run/b/output") == b"2" and store.get("top") == b"3"
    assert not store.exists("run/a/output")


def test_a_write_into_a_directory_pruned_under_it_is_retried(tmp_path, monkeypatch):
    import dagforge.store.local as local

    store = LocalDirStore(tmp_path)
    real = local.atomic_write
    writes: list[str] = []

    def pruned_first(target, data, **kwargs):
        writes.append(os.path.basename(target))
        if len(writes) == 1:  # as if a concurrent delete pruned run/n after our mkdir
            shutil.rmtree(tmp_path / "run")
        return real(target, data, **kwargs)

    monkeypatch.setattr(local, "atomic_write", pruned_first)
    store.put("run/n/out", b"1")
    assert writes == [".v.out", ".v.out"] and store.get("run/n/out") == b"1"

    def always_pruned(target, data, **kwargs):
        shutil.rmtree(tmp_path / "run", ignore_errors=True)
        return real(target, data, **kwargs)

    monkeypatch.setattr(local, "atomic_write", always_pruned)
    with pytest.raises(StoreError, match=r"cannot write key 'run/m/out'"):
        store.put("run/m/out", b"2")


# --- concurrency --------------------------------------------------------------------------


def test_threads_put_keys_of_different_runs_and_the_same_key(tmp_path):
    store = LocalDirStore(tmp_path)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def run_many(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(40):
                run = f"w{worker}-{i}"
                for node in ("a", "b", "c"):
                    store.put(f"{run}/{node}/x", f"{run}/{node}".encode())
                store.put("shared/n/x", f"{worker}".encode())  # every thread, one key
                if i % 3 == 0:
                    assert store.delete(f"{run}/a/x")  # prunes while others write
        except BaseException as exc:  # reported below, with the thread's number
            errors.append(exc)

    threads = [threading.Thread(target=run_many, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    for w in range(6):
        for i in range(40):
            run = f"w{w}-{i}"
            expected = [f"{run}/{n}/x" for n in ("b", "c")]
            if i % 3:
                expected.insert(0, f"{run}/a/x")
            assert store.keys(f"{run}/") == expected
            assert store.get(f"{run}/c/x") == f"{run}/c".encode()
    assert store.get("shared/n/x") in {str(w).encode() for w in range(6)}
    leftovers = [p.name for p in tmp_path.rglob(".t.*")]
    assert leftovers == []


# --- data directories of the old layout ----------------------------------------------------


def test_old_layout_is_read_as_it_is(tmp_path):
    _old_entry(tmp_path, "run/a/out", b"old a")
    _old_entry(tmp_path, "run/b/out", b"old b", expires=time.time() + 60)
    _old_entry(tmp_path, "run/c/out", b"gone", expires=time.time() - 1)
    _old_entry(tmp_path, "single", b"one part")
    store = LocalDirStore(tmp_path)
    assert store.get("run/a/out") == b"old a" and store.get("run/b/out") == b"old b"
    assert store.get("single") == b"one part"
    assert store.exists("run/a/out") and not store.exists("run/c/out")
    assert store.keys() == ["run/a/out", "run/b/out", "single"]
    assert store.keys("run/") == ["run/a/out", "run/b/out"] and store.keys("run/b") == ["run/b/out"]
    assert not store.exists("run/c/out")
    with pytest.raises(StoreError, match="run/c/out"):
        store.get("run/c/out")  # expired: missing, and removed on the way
    assert not (tmp_path / "run" / "c").exists()


def test_old_layout_delete_and_expire(tmp_path):
    _old_entry(tmp_path, "run/a/out", b"a")
    _old_entry(tmp_path, "run/a/out/deeper", b"under it")
    _old_entry(tmp_path, "run/b/out", b"b")
    store = LocalDirStore(tmp_path)
    assert store.delete("run/a/out") and not store.delete("run/a/out")
    assert not (tmp_path / "run" / "a" / "out" / ".value").exists()
    assert store.get("run/a/out/deeper") == b"under it"  # its directory stays
    assert store.delete("run/a/out/deeper")
    assert not (tmp_path / "run" / "a").exists()  # pruned up to run/, which holds b
    assert store.expire_prefix("run/", 0.05) == 1
    assert float((tmp_path / "run" / "b" / "out" / ".expires").read_text()) > time.time()
    assert store.exists("run/b/out")
    time.sleep(0.06)
    assert not store.exists("run/b/out") and store.keys() == []
    assert not store.expire_prefix("run/", 10)  # nothing live left to expire


def test_old_layout_cleanup_expired(tmp_path):
    _old_entry(tmp_path, "r/a/out", b"expired", expires=time.time() - 1)
    _old_entry(tmp_path, "r/b/out", b"live", expires=time.time() + 60)
    _old_entry(tmp_path, "r/c/out", b"no ttl")
    store = LocalDirStore(tmp_path)
    store.put("r/d/out", b"new, expired", ttl=0.01)
    store.put("r/e/out", b"new, live", ttl=60)
    time.sleep(0.02)
    assert store.cleanup_expired() == 2
    assert store.keys() == ["r/b/out", "r/c/out", "r/e/out"]
    assert not (tmp_path / "r" / "a").exists() and not (tmp_path / "r" / "d").exists()
    assert store.cleanup_expired() == 0


def test_a_put_shadows_the_old_entry_which_delete_also_removes(tmp_path):
    old = _old_entry(tmp_path, "run/n/out", b"old")
    store = LocalDirStore(tmp_path)
    store.put("run/n/out", b"new")
    assert (old / ".value").read_bytes() == b"old"  # a put writes v2 only
    assert store.get("run/n/out") == b"new" and store.keys() == ["run/n/out"]
    assert store.expire_prefix("run/", 60) == 1
    assert (tmp_path / "run" / "n" / ".e.out").exists()  # the live (v2) entry's sidecar
    assert not (old / ".expires").exists()
    assert store.delete("run/n/out")
    assert not store.exists("run/n/out") and store.keys() == []  # the old one is gone too
    assert not (tmp_path / "run").exists()


def test_an_expired_v2_entry_still_shadows_the_old_one(tmp_path):
    _old_entry(tmp_path, "r/n/out", b"stale")
    _old_entry(tmp_path, "r/m/out", b"stale")
    store = LocalDirStore(tmp_path)
    store.put("r/n/out", b"new", ttl=0.01)
    store.put("r/m/out", b"new", ttl=0.01)
    time.sleep(0.02)
    assert not store.exists("r/n/out") and store.keys() == []
    assert not store.expire_prefix("r/", 60)  # no live entry: the stale one stays dead
    with pytest.raises(StoreError, match="r/n/out"):
        store.get("r/n/out")  # removes both entries
    assert not (tmp_path / "r" / "n").exists()
    assert store.cleanup_expired() == 1  # r/m/out: one key, both layouts' files
    assert not (tmp_path / "r").exists()
    assert store.keys() == []


def test_an_expired_old_entry_under_a_live_v2_one_is_not_a_key(tmp_path):
    old = _old_entry(tmp_path, "r/n/out", b"stale", expires=time.time() - 1)
    store = LocalDirStore(tmp_path)
    store.put("r/n/out", b"live")
    assert store.cleanup_expired() == 0  # the old files go, no key was removed
    assert not old.exists() and store.get("r/n/out") == b"live"


def test_a_stray_v2_sidecar_is_ignored_and_cleaned_up(tmp_path):
    _old_entry(tmp_path, "r/n/out", b"old, live")
    (tmp_path / "r" / "n" / ".e.out").write_text(repr(time.time() - 1))  # a failed write's
    (tmp_path / "r" / "n" / ".e.gone").write_text(repr(time.time() - 1))
    store = LocalDirStore(tmp_path)
    assert store.get("r/n/out") == b"old, live" and store.keys() == ["r/n/out"]
    assert store.cleanup_expired() == 0
    assert _files(tmp_path) == ["r/n/out/.value"]


def test_old_and_new_keys_of_one_run_are_listed_once(tmp_path):
    for node in ("a", "b"):
        _old_entry(tmp_path, f"run/{node}/out", b"old")
    store = LocalDirStore(tmp_path)
    store.put("run/b/out", b"new")
    store.put("run/c/out", b"new")
    run = uuid.uuid4().hex
    store.put(f"{run}/a/out", b"other run")
    assert store.keys("run/") == ["run/a/out", "run/b/out", "run/c/out"]
    assert [store.get(f"run/{n}/out") for n in "abc"] == [b"old", b"new", b"new"]
    assert store.delete_prefix("run/") == 3
    assert store.keys() == [f"{run}/a/out"]
    assert not (tmp_path / "run").exists()


def test_an_old_key_directory_also_holds_new_keys_under_it(tmp_path):
    _old_entry(tmp_path, "a/b", b"old a/b")  # the directory a/b holds .value ...
    store = LocalDirStore(tmp_path)
    store.put("a/b/c", b"new a/b/c")  # ... and now .v.c
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == [".v.c", ".value"]
    assert store.keys("a/") == ["a/b", "a/b/c"]
    assert store.delete("a/b") and store.keys() == ["a/b/c"]
    assert store.get("a/b/c") == b"new a/b/c"
    assert store.delete("a/b/c") and list(tmp_path.iterdir()) == []
