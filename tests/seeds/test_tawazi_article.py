"""The tawazi article's scenarios (seed 003), rewritten with dagforge's options.

tawazi's ``ExecNode(..., priority=, is_sequential=)`` and ``DAG(..., max_concurrency=)``
become ``add_node(..., priority=, exclusive=/is_sequential=)`` and
``Executor(..., max_concurrency=)``. I/O-bound nodes wait (sleep or wait for an event, which
releases the GIL); CPU-bound nodes run short pure-Python loops. The assertions are on the
orders and overlaps the article describes, taken from intervals the nodes record
themselves — never on durations. Where the article's claim rests on one node outlasting
another ("fetch_distant_data: 1.78s" vs "0.86s"), the longer node waits for an event
instead of sleeping a guessed time, so the scenario is the same on a loaded machine.
"""

from __future__ import annotations

import threading
import time
from time import perf_counter

import pytest

from dagforge import DAG, Executor

WAIT = 5.0  # the bound of every wait


class Timeline:
    """Intervals recorded by the nodes themselves, plus events marking each start."""

    def __init__(self, names):
        self.lock = threading.Lock()
        self.intervals: dict[str, tuple[float, float]] = {}
        self.started = {n: threading.Event() for n in names}
        self.live = 0
        self.peak = 0

    def node(self, name, body):
        def fn(*parents):
            with self.lock:
                self.live += 1
                self.peak = max(self.peak, self.live)
                t0 = perf_counter()
            self.started[name].set()
            try:
                return body(*parents)
            finally:
                with self.lock:
                    self.live -= 1
                    self.intervals[name] = (t0, perf_counter())

        return fn

    def overlap(self, a, b) -> bool:
        (s1, e1), (s2, e2) = self.intervals[a], self.intervals[b]
        return s1 < e2 and s2 < e1


def cpu_chunk(n: int = 20_000) -> int:
    """The article's python_calculation_exec_node loop, shortened: holds the GIL."""
    total = 0
    for i in range(n):
        if not total % 3:
            total += i
            total += 1
    return total


# -- "a -> (b & c) -> d -> e": two threads run b and c together -------------------------------


def test_two_threads_run_the_independent_nodes_side_by_side():
    tl = Timeline("abcde")
    both = threading.Barrier(2, timeout=WAIT)  # b and c can only finish together
    d = DAG()
    d.add_node("a", tl.node("a", lambda: "a"))
    d.add_node("b", tl.node("b", lambda a: (both.wait(), "b")[1]))
    d.add_node("c", tl.node("c", lambda a: (both.wait(), "c")[1]))
    d.add_node("d", tl.node("d", lambda b, c: b + c))
    d.add_node("e", tl.node("e", lambda x: x + "!"))
    d.add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").add_edge("c", "d")
    d.add_edge("d", "e")
    result = Executor(d, backend="threads", max_workers=2).execute()
    assert result.ok, result.failures
    assert result.outputs == {"e": "bc!"}
    assert tl.overlap("b", "c") and tl.peak == 2
    assert not tl.overlap("a", "b") and not tl.overlap("d", "e")


# -- the five-node DAG: 3 units on 2 threads when C and D go before B ----------------------------


def five_node_dag() -> DAG:
    """A; B, C, D after A; E after C and D (the article's priority-scheduling figure)."""
    return (
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


def test_five_node_dag_on_two_threads_without_priorities():
    """A -> (C & D) -> (B & E): the engine ranks C and D (they lead to E) above B."""
    tl = Timeline("ABCDE")
    pair = threading.Barrier(2, timeout=WAIT)  # C and D share the second unit
    fns = {n: tl.node(n, lambda *_: pair.wait()) for n in "CD"}
    fns["A"] = tl.node("A", lambda: None)
    # B runs in the third unit *with* E: it finishes only once E has started.
    fns["B"] = tl.node("B", lambda *_: tl.started["E"].wait(WAIT))
    fns["E"] = tl.node("E", lambda *_: time.sleep(0.01))
    result = Executor(five_node_dag(), backend="threads", max_workers=2).execute(fns)
    assert result.ok, result.failures
    order = result.execution_order
    assert order[0] == "A" and set(order[1:3]) == {"C", "D"} and order[3:] == ["B", "E"]
    assert result.results["B"].value is True  # E started while B was running
    assert tl.overlap("C", "D") and tl.overlap("B", "E")
    assert tl.peak <= 2
    # Units: A alone, then C & D, then B & E: nothing of a later unit starts before the
    # earlier unit's nodes it depends on have ended.
    assert tl.intervals["A"][1] <= min(tl.intervals[n][0] for n in "BCD")
    assert max(tl.intervals[n][1] for n in "CD") <= tl.intervals["E"][0]


def test_five_node_dag_inline_order_and_the_fifo_contrast():
    fns = {n: (lambda *_: None) for n in "ABCDE"}
    assert Executor(five_node_dag()).execute(fns).execution_order == ["A", "C", "D", "B", "E"]
    # Without the ranking (insertion order only), B would take a slot of the second unit:
    # A -> (B & C) -> D -> E, the article's 4-unit schedule.
    fifo = Executor(five_node_dag(), priority="fifo").execute(fns).execution_order
    assert fifo == ["A", "B", "C", "D", "E"]


def test_five_node_dag_with_hand_set_priorities_as_in_the_article():
    """'A priority scheme that places more weight on C & D than on B' — given by hand."""
    d = five_node_dag()
    d.set_options("C", priority=1)
    d.set_options("D", priority=1)
    fns = {n: (lambda *_: None) for n in "ABCDE"}
    order = Executor(d, backend="threads", max_workers=2, priority="fifo").execute(fns)
    assert order.execution_order[0] == "A" and set(order.execution_order[1:3]) == {"C", "D"}


@pytest.mark.parametrize("backend", ["inline", "processes"])
def test_five_node_dag_order_on_other_backends(backend):
    result = Executor(five_node_dag(), backend=backend, max_workers=2).execute(
        {n: (lambda *_: None) for n in "ABCDE"}
    )
    order = result.execution_order
    assert result.succeeded == 5
    assert order[0] == "A" and set(order[1:3]) == {"C", "D"} and set(order[3:]) == {"B", "E"}


# -- the mixed DAG: fetch_distant_data (I/O) and two python_calculation nodes (CPU) ----------------


def final(len_data, execution_result, execution_result2):
    return f"{len_data} + {execution_result} = {len_data + execution_result}"


def mixed_dag(tl: Timeline, fetch, calc, *, cpu_exclusive: bool = False) -> DAG:
    """The article's last example: ExecNode("len_data", priority=10), two CPU nodes, final."""
    d = DAG()
    d.add_node("len_data", tl.node("len_data", fetch), priority=10, is_sequential=False)
    d.add_node(
        "execution_result",
        tl.node("execution_result", calc),
        priority=0,
        is_sequential=cpu_exclusive,
    )
    d.add_node(
        "execution_result2",
        tl.node("execution_result2", calc),
        priority=0,
        exclusive=cpu_exclusive,
    )
    d.add_node("final", tl.node("final", final))
    for parent in ("len_data", "execution_result", "execution_result2"):
        d.add_edge(parent, "final")
    return d


MIXED = ("len_data", "execution_result", "execution_result2", "final")


def test_max_concurrency_2_keeps_the_cpu_nodes_apart_while_io_overlaps_them():
    """'limit the maximum number of threads to 2, and make sure that A and B run before C'."""
    tl = Timeline(MIXED)

    def fetch_distant_data():
        # The I/O outlasts one calculation: its "response" arrives once the second
        # calculation has started (as in the article: 1.78 s against 0.86 s).
        assert tl.started["execution_result2"].wait(WAIT)
        return 1000

    result = Executor(
        mixed_dag(tl, fetch_distant_data, lambda: cpu_chunk()),
        backend="threads",
        max_workers=3,
        max_concurrency=2,
    ).execute()
    assert result.ok, result.failures
    assert result.execution_order[:2] == ["len_data", "execution_result"]  # priority 10 first
    assert not tl.overlap("execution_result", "execution_result2")  # never in parallel
    assert tl.overlap("len_data", "execution_result")  # I/O and CPU side by side
    assert tl.overlap("len_data", "execution_result2")
    assert tl.peak == 2
    expected = cpu_chunk()
    assert result.outputs == {"final": f"1000 + {expected} = {1000 + expected}"}


def test_max_concurrency_3_interleaves_the_cpu_nodes():
    """'with max_concurrency=3 ... the byteCodes get executed in an interleaved manner'."""
    tl = Timeline(MIXED)
    cpu = ("execution_result", "execution_result2")

    def python_calculation():
        # Compute in short chunks until both calculations have started: they interleave.
        total, deadline = 0, perf_counter() + WAIT
        while not all(tl.started[n].is_set() for n in cpu) and perf_counter() < deadline:
            total += cpu_chunk(2_000)
        return total + cpu_chunk(2_000)

    def fetch_distant_data():
        assert all(tl.started[n].wait(WAIT) for n in cpu)
        return 1000

    result = Executor(
        mixed_dag(tl, fetch_distant_data, python_calculation),
        backend="threads",
        max_workers=3,
        max_concurrency=3,
    ).execute()
    assert result.ok, result.failures
    assert tl.overlap("execution_result", "execution_result2")
    assert tl.overlap("len_data", "execution_result")
    assert tl.overlap("len_data", "execution_result2")
    assert tl.peak == 3


def test_is_sequential_cpu_nodes_run_alone_even_with_free_slots():
    """'the best choice is to block the execution of all other models'."""
    tl = Timeline(MIXED)
    result = Executor(
        mixed_dag(tl, lambda: time.sleep(0.02) or 1000, lambda: cpu_chunk(), cpu_exclusive=True),
        backend="threads",
        max_workers=3,
        max_concurrency=3,
    ).execute()
    assert result.ok, result.failures
    for cpu in ("execution_result", "execution_result2"):
        for other in MIXED:
            if other != cpu:
                assert not tl.overlap(cpu, other), (cpu, other)
    assert result.execution_order[0] == "len_data"
    assert result.dag.options("execution_result").exclusive is True  # is_sequential alias
