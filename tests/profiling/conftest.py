"""DAGs shared by the profiling tests: the seed quickstart, tawazi's five nodes, sleepers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from dagforge import DAG

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from quickstart import build  # noqa: E402


def make_quickstart(n: int = 10000) -> DAG:
    """The seed's quickstart DAG, from the example users run (``examples/quickstart.py``)."""
    return build(n)


def make_sleepers(seconds: dict[str, float], edges: list[tuple[str, str]]) -> tuple[DAG, dict]:
    """A DAG of plain callables that sleep; ``cost`` options equal the sleeps."""
    dag = DAG()
    for name, s in seconds.items():
        dag.add_node(name, cost=s)
    for a, b in edges:
        dag.add_edge(a, b)
    dag.validate()

    def sleeper(s: float):
        def fn(*_args):
            time.sleep(s)
            return s

        return fn

    return dag, {name: sleeper(s) for name, s in seconds.items()}


@pytest.fixture
def quickstart() -> DAG:
    return make_quickstart()


@pytest.fixture
def tawazi() -> DAG:
    """tawazi's article example: A; B, C, D after A; E after C and D."""
    return (
        DAG.builder()
        .add_nodes(["A", "B", "C", "D", "E"])
        .add_edge("A", "B")
        .add_edge("A", "C")
        .add_edge("A", "D")
        .add_edge("C", "E")
        .add_edge("D", "E")
        .build()
    )


@pytest.fixture
def seed_fixture_path() -> Path:
    return DATA / "dagprofiler_0_1_0.json"


@pytest.fixture
def sleepers():
    return make_sleepers
