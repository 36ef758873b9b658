"""One contract, five stores: memory, local directory, Redis, and S3 on two real servers
(moto and SeaweedFS)."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from dagforge.errors import SerializationError, StoreError
from dagforge.store import MemoryStore, Store, get_value, open_store, put_value, run_key


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def is_missing(store: Store, key: str) -> bool:
    return not store.exists(key)


# --- bytes -------------------------------------------------------------------------------


def test_round_trip_bytes(store: Store) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    store.put("r1/n/big", big)
    store.put("r1/n/empty", b"")
    store.put("r1/n/view", memoryview(b"abc"))
    store.put("r1/n/ba", bytearray(b"xyz"))
    assert store.get("r1/n/big") == big
    assert store.get("r1/n/empty") == b""
    assert store.get("r1/n/view") == b"abc"
    assert store.get("r1/n/ba") == b"xyz"
    assert isinstance(store.get("r1/n/view"), bytes)


def test_put_replaces(store: Store) -> None:
    store.put("a/b", b"one")
    store.put("a/b", b"two")
    assert store.get("a/b") == b"two"
    assert store.keys() == ["a/b"]


def test_put_refuses_non_bytes(store: Store) -> None:
    with pytest.raises(StoreError, match="put_value"):
        store.put("a/b", "text")  # type: ignore[arg-type]


def test_missing_key_error_names_key_and_store(store: Store) -> None:
    with pytest.raises(StoreError) as info:
        store.get("run9/node/out")
    message = str(info.value)
    assert "'run9/node/out'" in message
    assert type(store).__name__ in message


def test_exists_and_delete(store: Store) -> None:
    assert store.exists("k") is False
    store.put("k", b"v")
    assert store.exists("k") is True
    assert store.delete("k") is True
    assert store.exists("k") is False
    assert store.delete("k") is False
    with pytest.raises(StoreError, match="'k'"):
        store.get("k")


def test_nested_keys_do_not_collide(store: Store) -> None:
    store.put("a/b", b"short")
    store.put("a/b/c", b"long")
    assert store.get("a/b") == b"short"
    assert store.get("a/b/c") == b"long"
    store.delete("a/b")
    assert store.get("a/b/c") == b"long"
    assert store.keys() == ["a/b/c"]


def test_keys_are_sorted_and_filtered_by_string_prefix(store: Store) -> None:
    for key in ["run1/b/out", "run1/a/out", "run10/a/out", "run2/a/out", "other"]:
        store.put(key, b"x")
    assert store.keys() == ["other", "run1/a/out", "run1/b/out", "run10/a/out", "run2/a/out"]
    assert store.keys("run1/") == ["run1/a/out", "run1/b/out"]
    assert store.keys("run1") == ["run1/a/out", "run1/b/out", "run10/a/out"]
    assert store.keys("run1/a") == ["run1/a/out"]
    assert store.keys("nothing/") == []
    assert store.keys("../") == []


def test_keys_with_glob_characters_match_literally(store: Store) -> None:
    store.put("r*/n/o", b"1")
    store.put("rx/n/o", b"2")
    assert store.keys("r*") == ["r*/n/o"]
    assert store.delete_prefix("r*/") == 1
    assert store.keys() == ["rx/n/o"]


def test_delete_prefix(store: Store) -> None:
    for i in range(25):
        store.put(run_key("run1", f"node{i}", "out"), b"x")
    store.put(run_key("run2", "node0", "out"), b"y")
    assert store.delete_prefix("run1/") == 25
    assert store.keys() == ["run2/node0/out"]
    assert store.delete_prefix("run1/") == 0
    assert store.delete_prefix("") == 1
    assert store.keys() == []


@pytest.mark.parametrize(
    "key", ["", "/a", "a/", "a//b", ".hidden", "a/../b", "a/./b", "a\\b", "a\x00b", 3, None]
)
def test_invalid_keys_are_refused(store: Store, key) -> None:
    with pytest.raises(StoreError):
        store.put(key, b"x")
    with pytest.raises(StoreError):
        store.get(key)


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, "1", True])
def test_invalid_ttl_is_refused(store: Store, ttl) -> None:
    with pytest.raises(StoreError, match="ttl"):
        store.put("a", b"x", ttl=ttl)
    assert not store.exists("a")


# --- expiry and retention ------------------------------------------------------------------


def test_ttl_expiry(store: Store) -> None:
    # The deadline starts before the write: a server's slow first write to a new bucket
    # (SeaweedFS takes ~0.2 s) must not eat the whole ttl, so write elsewhere first and
    # leave the short ttl a second of room before the read that expects the value.
    store.put("r/n/forever", b"z")
    store.put("r/n/long", b"y", ttl=60)
    store.put("r/n/short", b"x", ttl=1.0)
    assert store.get("r/n/short") == b"x"
    assert wait_until(lambda: is_missing(store, "r/n/short"))
    with pytest.raises(StoreError, match="'r/n/short'"):
        store.get("r/n/short")
    assert store.get("r/n/long") == b"y"
    assert store.get("r/n/forever") == b"z"
    store.cleanup_expired()
    assert store.keys("r/") == ["r/n/forever", "r/n/long"]


def test_cleanup_expired_removes_what_the_server_does_not(store: Store) -> None:
    store.put("r/n/gone", b"x", ttl=0.2)
    store.put("r/n/kept", b"y")
    assert wait_until(lambda: is_missing(store, "r/n/gone"))
    removed = store.cleanup_expired()
    assert removed == (0 if store.describe()["type"] == "RedisStore" else 1)
    assert store.keys() == ["r/n/kept"]
    assert store.cleanup_expired() == 0


def test_put_without_ttl_clears_an_earlier_ttl(store: Store) -> None:
    store.put("k", b"old", ttl=0.2)
    store.put("k", b"new")
    time.sleep(0.4)
    assert store.get("k") == b"new"


def test_expire_prefix_is_retention(store: Store) -> None:
    for node in ("a", "b", "c"):
        store.put(run_key("done", node, "out"), b"x")
    store.put(run_key("live", "a", "out"), b"y")
    assert store.expire_prefix("done/", 0.2) == 3
    assert store.exists("done/a/out")  # not yet
    assert wait_until(lambda: all(is_missing(store, f"done/{n}/out") for n in "abc"))
    store.cleanup_expired()
    assert store.keys() == ["live/a/out"]
    assert store.get("live/a/out") == b"y"


def test_expire_prefix_zero_deletes_now(store: Store) -> None:
    store.put("done/a/out", b"x")
    store.put("live/a/out", b"y")
    assert store.expire_prefix("done/", 0) == 1
    assert store.keys() == ["live/a/out"]
    with pytest.raises(StoreError, match="after_seconds"):
        store.expire_prefix("live/", -1)


# --- typed values and pickle refusal ---------------------------------------------------------


def test_put_value_get_value_json(store: Store) -> None:
    value = {"quantity": 250, "items": ["a", "b"], "ok": True, "none": None}
    size = put_value(store, "run/n/out", value)
    assert size == len(store.get("run/n/out"))
    assert json.loads(store.get("run/n/out")) == value  # plain JSON, readable by anyone
    assert get_value(store, "run/n/out") == value


def test_get_value_wrong_format_is_a_serialization_error(store: Store) -> None:
    store.put("run/n/out", b"\x80\x05not json")
    with pytest.raises(SerializationError, match=r"'json'.*'run/n/out'"):
        get_value(store, "run/n/out")


def test_pickle_refused_on_shared_stores_unless_opted_in(store: Store) -> None:
    value = {"t": (1, 2), "s": {3}}
    put_value(store, "run/n/out", value, "pickle")
    if store.shared:
        with pytest.raises(StoreError) as info:
            get_value(store, "run/n/out", "pickle")
        message = str(info.value)
        assert "allow_pickle=True" in message and "'pickle'" in message and "'run/n/out'" in message
        assert get_value(store, "run/n/out", "pickle", allow_pickle=True) == value
        with pytest.raises(StoreError, match="allow_pickle"):
            get_value(store, "run/n/out", "cloudpickle")
    else:
        assert get_value(store, "run/n/out", "pickle") == value


def test_numpy_safe_needs_no_opt_in(store: Store) -> None:
    np = pytest.importorskip("numpy")
    arrays = {"x": np.arange(6.0).reshape(2, 3), "y": np.array([1, 2], dtype=np.int8)}
    put_value(store, "run/n/arrays", arrays, "numpy-safe")
    back = get_value(store, "run/n/arrays", "numpy-safe")
    assert set(back) == {"x", "y"}
    np.testing.assert_array_equal(back["x"], arrays["x"])
    assert back["y"].dtype == np.int8


# --- lifecycle and description -----------------------------------------------------------------


def test_describe_is_json_and_reopens_the_same_data(store: Store) -> None:
    info = store.describe()
    assert json.loads(json.dumps(info)) == info
    assert info["type"] == type(store).__name__
    assert info["shared"] is store.shared
    assert "secret" not in json.dumps(info).lower()
    if isinstance(store, MemoryStore):
        return  # each memory:// is a new, private store
    store.put("run/n/out", b"via describe")
    with open_store(info) as other:
        assert other.get("run/n/out") == b"via describe"
        assert other.describe() == info


def test_close_is_idempotent_and_final(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get("a")
    with pytest.raises(StoreError, match="closed"):
        store.put("a", b"x")


def test_concurrent_writers(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(20):
                store.put(f"run/t{t}/o{i}", f"{t}:{i}".encode())
                store.put("run/shared/out", f"{t}".encode())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.keys("run/t")) == 80
    assert store.get("run/t3/o19") == b"3:19"
    assert store.get("run/shared/out") in {b"0", b"1", b"2", b"3"}
