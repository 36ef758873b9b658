"""Run ``dagforge`` in-process (``main(argv)``) and capture what a user would see."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dagforge.cli import main
from loopback import UvicornThread as Server
from loopback import free_port  # noqa: F401

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
