"""Run ``dagforge`` in-process (``main(argv)``) and capture what a user would see."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import pytest

from dagforge.cli import main

CYCLIC = """
from dagforge import DAG

dag = DAG()
dag.add_node("a", lambda x: x)
dag.add_node("b", lambda x: x)
dag.add_edge("a", "b")
dag.add_edge("b", "a")
"""

GOOD = """
from dagforge import DAG

dag = DAG()
dag.add_node("a", lambda: 1)
dag.add_node("b", lambda x: x + 1)
dag.add_edge("a", "b")


def failing():
    d = DAG()
    d.add_node("boom", lambda: 1 / 0)
    return d
"""


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli("run", "m:dag")`` runs the command line and returns its exit code and output."""
    monkeypatch.delenv("DAGFORGE_DEBUG", raising=False)
    monkeypatch.delenv("DAGFORGE_URL", raising=False)
    monkeypatch.delenv("DAGFORGE_TOKEN", raising=False)

    def run(*argv: str) -> Outcome:
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            main(list(argv))
        captured = capsys.readouterr()
        code = stop.value.code
        return Outcome(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


MISWIRED = """
from dagforge import DAG, Task


class Needs(Task):
    inputs = ["data"]
    outputs = ["out"]

    def compute(self, data, cfg=None):
        return {"out": data}


dag = DAG(tasks={"lonely": Needs()})
"""

BROKEN = """
from dagforge import DAG

dag = DAG()
dag.add_node("a", undefined_name)
"""


@pytest.fixture
def dags(tmp_path, monkeypatch):
    """A directory (the cwd) with DAG modules: cyclic, good, miswired, broken."""
    (tmp_path / "cyclic.py").write_text(CYCLIC)
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "miswired.py").write_text(MISWIRED)
    (tmp_path / "broken.py").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The platform app on uvicorn in a thread, on a free loopback port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def platform(tmp_path, monkeypatch):
    """A platform that may import ``hello`` from examples/platform (the README's module)."""
    from pathlib import Path

    from dagforge.server.app import create_app
    from dagforge.server.platform import Settings

    examples = Path(__file__).resolve().parents[2] / "examples" / "platform"
    monkeypatch.syspath_prepend(str(examples))
    settings = Settings(data_dir=tmp_path / "platform-data", allow_modules=("hello",))
    with Server(create_app(settings)) as server:
        yield server
