"""open_store URLs, key helpers, connection errors and secrets in descriptions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dagforge.errors import StoreError
from dagforge.store import (
    LocalDirStore,
    MemoryStore,
    RedisStore,
    S3Store,
    open_store,
    run_key,
    validate_key,
)

# --- keys ------------------------------------------------------------------------------


def test_run_key() -> None:
    assert run_key("r1", "add_water#3", "quantity") == "r1/add_water#3/quantity"
    assert validate_key("r1/add_water#3/quantity") == "r1/add_water#3/quantity"


@pytest.mark.parametrize(
    ("parts", "words"),
    [
        (("", "n", "o"), "run id"),
        (("r", "a/b", "o"), "node name 'a/b'"),
        (("r", "n", ".x"), "output name '.x'"),
        (("r", 5, "o"), "node name must be a string"),
    ],
)
def test_run_key_names_the_bad_part(parts, words) -> None:
    with pytest.raises(StoreError, match=words):
        run_key(*parts)


# --- URLs ------------------------------------------------------------------------------


def test_memory_url() -> None:
    store = open_store("memory://")
    assert isinstance(store, MemoryStore)
    assert store.describe() == {"type": "MemoryStore", "url": "memory://", "shared": False}


def test_file_url_plain_path_and_pathlike(tmp_path: Path) -> None:
    by_url = open_store((tmp_path / "a b").as_uri())
    by_path = open_store(str(tmp_path / "a b"))
    by_pathlike = open_store(tmp_path / "a b")
    for store in (by_url, by_path, by_pathlike):
        assert isinstance(store, LocalDirStore)
        assert store.path == tmp_path / "a b"
    by_url.put("r/n/o", b"x")
    assert by_path.get("r/n/o") == b"x"
    assert (tmp_path / "a b" / "r" / "n" / ".v.o").read_bytes() == b"x"
    assert open_store(by_url.url).path == by_url.path  # describe()["url"] round-trips
    assert open_store("file://localhost" + str(tmp_path)).path == tmp_path


def test_file_url_with_a_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="file:///absolute/path"):
        open_store("file://otherhost/data")


def test_unknown_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(StoreError) as info:
        open_store("ftp://example/x")
    message = str(info.value)
    for scheme in ("'ftp'", "memory://", "file://", "redis://", "s3://"):
        assert scheme in message


@pytest.mark.parametrize("bad", ["", None, 42])
def test_open_store_refuses_non_targets(bad) -> None:
    with pytest.raises(StoreError):
        open_store(bad)


def test_open_store_refuses_a_description_without_url() -> None:
    with pytest.raises(StoreError, match="'url'"):
        open_store({"type": "RedisStore"})


def test_open_store_passes_a_store_through() -> None:
    store = MemoryStore()
    assert open_store(store) is store


def test_redis_url_with_prefix(redis_url: str) -> None:
    with open_store(redis_url + "?prefix=tenant-a:") as a, RedisStore(redis_url) as everything:
        assert isinstance(a, RedisStore)
        assert a.prefix == "tenant-a:"
        assert a.describe()["url"] == redis_url + "?prefix=tenant-a%3A"
        everything.delete_prefix("")
        everything.put("foreign", b"not ours")
        a.put("r/n/o", b"ours")
        assert everything.get("tenant-a:r/n/o") == b"ours"
        assert a.keys() == ["r/n/o"]
        assert a.delete_prefix("") == 1
        assert everything.keys() == ["foreign"]
        with open_store(a.describe()) as again:
            assert again.prefix == "tenant-a:"


def test_redis_url_with_unknown_parameter_fails_early(redis_url: str) -> None:
    with pytest.raises(StoreError, match="invalid Redis URL"):
        open_store(redis_url + "?bogus=1")


def test_redis_password_is_hidden_in_messages_but_kept_in_describe(closed_port: int) -> None:
    port = closed_port
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{port}/3")
    assert "hunter2" not in repr(store)
    with pytest.raises(StoreError) as info:
        store.get("k")
    assert "hunter2" not in str(info.value)
    assert f"127.0.0.1:{port} db 3" in str(info.value)
    assert store.describe()["url"] == f"redis://:hunter2@127.0.0.1:{port}/3"


def test_s3_url(s3_endpoint: str) -> None:
    url = f"s3://urlbucket/runs/2024?endpoint={s3_endpoint}&region=us-east-1"
    with open_store(url) as store:
        assert isinstance(store, S3Store)
        assert (store.bucket, store.prefix, store.endpoint_url) == (
            "urlbucket",
            "runs/2024/",
            s3_endpoint,
        )
        store.put("r/n/o", b"x")
        raw = store._client.get_object(Bucket="urlbucket", Key="runs/2024/r/n/o")
        assert raw["Body"].read() == b"x"
        info = store.describe()
        assert info["bucket"] == "urlbucket" and info["endpoint_url"] == s3_endpoint
        assert "testing" not in repr(info)  # the dummy credentials never leak
        with open_store(info) as again:
            assert again.get("r/n/o") == b"x"


def test_s3_url_create_bucket_false_and_errors(s3_endpoint: str) -> None:
    url = f"s3://never-made?endpoint={s3_endpoint}&create_bucket=false"
    with open_store(url) as store, pytest.raises(StoreError, match="'never-made'"):
        store.get("k")
    with pytest.raises(StoreError, match="names no bucket"):
        open_store("s3:///prefix")
    with pytest.raises(StoreError, match=r"unknown parameter.*colour"):
        open_store(f"s3://b?endpoint={s3_endpoint}&colour=red")
    with pytest.raises(StoreError, match="create_bucket must be true or false"):
        open_store(f"s3://b?endpoint={s3_endpoint}&create_bucket=maybe")


def test_s3_region_other_than_us_east_1(s3_endpoint: str) -> None:
    with S3Store("eu-bucket", endpoint_url=s3_endpoint, region="eu-west-1") as store:
        store.put("k", b"v")
        assert store.get("k") == b"v"
        assert "region=eu-west-1" in store.url


# --- connection errors name the address ----------------------------------------------------


def test_redis_closed_port_names_the_address(closed_port: int) -> None:
    port = closed_port
    store = RedisStore(f"redis://127.0.0.1:{port}/0")
    start = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.put("r/n/o", b"x")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "'r/n/o'" in str(info.value)
    assert info.value.__cause__ is not None
    assert time.monotonic() - start < 30  # bounded retries, not a hang


def test_s3_closed_port_names_bucket_and_endpoint(s3_endpoint: str, closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(StoreError) as info:
        S3Store("some-bucket", endpoint_url=endpoint)
    message = str(info.value)
    assert "'some-bucket'" in message and endpoint in message
    assert info.value.__cause__ is not None
    store = S3Store("some-bucket", endpoint_url=endpoint, create_bucket=False)
    with pytest.raises(StoreError, match=r"'some-bucket'.*127\.0\.0\.1"):
        store.keys()
