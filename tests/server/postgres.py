"""A real PostgreSQL server for the tests: Debian's binaries, a temporary cluster.

``postgres_server`` (session): ``initdb`` into a temporary directory (as the ``postgres``
user when the tests run as root, since PostgreSQL refuses to run as root), then the server
on a free loopback port with its Unix socket in that directory; stopped and removed at the
end. ``postgres_url`` (per test): a fresh, empty database on that server.

Skipped with a clear reason only when the binaries are absent (CI installs postgresql).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback import free_port as _free_port

PG_BIN = Path(os.environ.get("DAGFORGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the ``postgres`` user when we are root (initdb/postgres refuse root)."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running server's ``postgres`` database (superuser, trust auth)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(
            f"PostgreSQL is not installed ({PG_BIN}/initdb missing; apt-get install postgresql)"
        )
    pytest.importorskip(
        "psycopg", reason="psycopg 3 is not installed (pip install 'dagforge[postgres]')"
    )
    root = Path(tempfile.mkdtemp(prefix="dagforge-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    init = subprocess.run(
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
    port = _free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        _as_postgres(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        while True:
            if proc.poll() is not None:
                tail = (root / "server.log").read_text()[-2000:]
                pytest.fail(f"postgres exited with {proc.returncode}: {tail}")
            if _accepting(port) and _ready(url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"postgres on port {port} did not accept connections within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        _stop(proc, data)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _stop(proc: subprocess.Popen, data: Path) -> None:
    """Fast-shut the postmaster itself: as root ``proc`` is ``runuser``, which does not
    pass signals on, so signalling it alone would leave postgres running."""
    pid_file = data / "postmaster.pid"
    try:
        postmaster = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = proc.pid
    for pid in {postmaster, proc.pid}:
        try:
            os.kill(pid, signal.SIGINT)  # "fast" shutdown
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for pid in {postmaster, proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)


def _ready(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped afterwards)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
