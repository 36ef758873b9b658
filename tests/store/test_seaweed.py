"""SeaweedFS specifics beyond the shared contract: it verifies signatures, so a store
with the wrong credentials is refused with a StoreError naming bucket and endpoint."""

from __future__ import annotations

import uuid

import pytest

from dagforge.errors import StoreError
from dagforge.store import S3Store, open_store


def test_wrong_credentials_are_refused(seaweed_endpoint: str) -> None:
    bucket = f"dagforge-{uuid.uuid4().hex[:12]}"
    with pytest.raises(StoreError) as info:
        store = S3Store(
            bucket,
            endpoint_url=seaweed_endpoint,
            aws_access_key_id="intruder",
            aws_secret_access_key="guess",
        )
        store.put("a/b", b"x")
    message = str(info.value)
    assert bucket in message and seaweed_endpoint in message


def test_url_form_reaches_the_same_objects(seaweed_endpoint: str) -> None:
    bucket = f"dagforge-{uuid.uuid4().hex[:12]}"
    with S3Store(bucket, endpoint_url=seaweed_endpoint, prefix="runs") as store:
        store.put("r1/n/out", b"v")
        with open_store(f"s3://{bucket}/runs?endpoint={seaweed_endpoint}") as other:
            assert other.get("r1/n/out") == b"v"
            assert other.keys() == ["r1/n/out"]
