"""Store fixtures over the real servers of tests/conftest.py (redis_url, s3_endpoint)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from dagforge.store import LocalDirStore, MemoryStore, RedisStore, S3Store, Store

STORE_KINDS = ["memory", "local", "redis", "s3"]


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_url)
    store._redis.flushdb()
    with store:
        yield store


@pytest.fixture
def s3_store(s3_endpoint: str) -> Iterator[S3Store]:
    with S3Store(f"dagforge-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint) as store:
        yield store


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """The same contract, run over every store."""
    kind = request.param
    if kind == "memory":
        with MemoryStore() as s:
            yield s
    elif kind == "local":
        with LocalDirStore(tmp_path / "store") as s:
            yield s
    else:
        yield request.getfixturevalue(f"{kind}_store")
