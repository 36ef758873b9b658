"""The tawazi article's scenarios (seed 003), rewritten with dagforge's options.

I/O-bound nodes sleep; CPU-bound nodes run short pure-Python loops. Assertions are on
orders and overlaps of the recorded start/end times, never on durations.
"""

from __future__ import annotations

import time

import pytest

from dagforge import DAG, Executor


def fetch_distant_data(*_):  # I/O bound
    time.sleep(0.15)
    return 1000


def python_calculation(*_):  # CPU bound, holds the GIL
    total = 0
    for i in range(1_500_000):
        if not total % 3:
            total += i
            total += 1
    return total


def final(len_data, execution_result, execution_result2):
    return f"{len_data} + {execution_result} = {len_data + execution_result}"


def article_dag(cpu_exclusive: bool = False) -> DAG:
    d = DAG()
    d.add_node("len_data", fetch_distant_data, priority=10)
    d.add_node("execution_result", python_calculation, priority=0, exclusive=cpu_exclusive)
    d.add_node("execution_result2", python_calculation, priority=0, is_sequential=cpu_exclusive)
    d.add_node("final", final)
    for parent in ("len_data", "execution_result", "execution_result2"):
        d.add_edge(parent, "final")
    return d


def overlaps(a, b) -> bool:
    return a.start < b.end and b.start < a.end


def test_max_concurrency_2_keeps_the_cpu_nodes_apart_while_io_overlaps():
    result = Executor(article_dag(), backend="threads", max_workers=3, max_concurrency=2).execute()
    r = result.results
    assert result.ok
    assert result.execution_order[0] == "len_data"  # priority 10 starts first
    assert not overlaps(r["execution_result"], r["execution_result2"])
    assert overlaps(r["len_data"], r["execution_result"])  # I/O and CPU side by side
    assert r["final"].value.startswith("1000 + ")


def test_max_concurrency_3_interleaves_the_cpu_nodes():
    result = Executor(article_dag(), backend="threads", max_workers=3, max_concurrency=3).execute()
    r = result.results
    assert overlaps(r["execution_result"], r["execution_result2"])
    assert overlaps(r["len_data"], r["execution_result"])


def test_is_sequential_nodes_run_alone_even_with_free_slots():
    result = Executor(
        article_dag(cpu_exclusive=True), backend="threads", max_workers=3, max_concurrency=3
    ).execute()
    r = result.results
    for cpu in ("execution_result", "execution_result2"):
        for other in ("len_data", "execution_result", "execution_result2"):
            if other != cpu:
                assert not overlaps(r[cpu], r[other]), (cpu, other)
    assert result.ok


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_priority_by_critical_path_finishes_the_5_node_dag_in_3_units(backend):
    """A; B, C, D after A; E after C and D. Two workers: C and D must go before B."""
    d = (
        DAG.builder()
        .add_node("A")
        .add_node("B")
        .add_node("C")
        .add_node("D")
        .add_node("E")
        .add_edge("A", "B")
        .add_edge("A", "C")
        .add_edge("A", "D")
        .add_edge("C", "E")
        .add_edge("D", "E")
        .build()
    )
    result = Executor(d, backend=backend, max_workers=2).execute(
        {n: (lambda *_: time.sleep(0.05)) for n in "ABCDE"}
    )
    order = result.execution_order
    assert order[0] == "A"
    assert set(order[1:3]) == {"C", "D"} and order[3:] in (["B", "E"], ["E", "B"])
    r = result.results
    assert overlaps(r["B"], r["E"])  # the third unit holds B and E together
