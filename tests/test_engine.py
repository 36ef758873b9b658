"""The one engine on the ``inline`` and ``threads`` backends: calling conventions, ordering
(priority, critical-path rank, costs), admission (``exclusive``, ``max_concurrency``),
failure modes, callbacks, interrupts, partial runs, the result object and the node state
machine.

Concurrency is checked with intervals recorded inside the nodes (``perf_counter``) and
counters under a lock, never with durations; every wait has a timeout.
"""

from __future__ import annotations

import itertools
import threading
from time import perf_counter, sleep

import pytest

from dagforge import (
    DAG,
    Config,
    ExecutionCallbacks,
    ExecutionError,
    ExecutionResult,
    Executor,
    GraphError,
    MissingInputError,
    NodeResult,
    NodeStateError,
    Task,
    UnknownNodeError,
)

BACKENDS = ["inline", "threads"]
WAIT = 5.0  # seconds: the bound of every wait in this file


class Recorder:
    """Wraps node bodies to record, under a lock, who started when and how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.intervals: dict[str, tuple[float, float]] = {}
        self.started: list[str] = []
        self.live = 0
        self.peak = 0

    def node(self, name: str, body=None):
        def fn(*parents):
            with self.lock:
                self.live += 1
                self.peak = max(self.peak, self.live)
                self.started.append(name)
                t0 = perf_counter()
            try:
                return body(*parents) if body is not None else name
            finally:
                with self.lock:
                    self.live -= 1
                    self.intervals[name] = (t0, perf_counter())

        return fn

    def overlap(self, a: str, b: str) -> bool:
        (s1, e1), (s2, e2) = self.intervals[a], self.intervals[b]
        return s1 < e2 and s2 < e1


def chain_of(*names: str) -> DAG:
    d = DAG()
    for n in names:
        d.add_node(n)
    for u, v in itertools.pairwise(names):
        d.add_edge(u, v)
    return d


# -- calling conventions --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_parents_are_passed_positionally_in_edge_insertion_order(backend):
    d = DAG()
    for n in ("x", "y", "z", "join"):
        d.add_node(n)
    d.add_edge("z", "join").add_edge("x", "join").add_edge("y", "join")
    result = Executor(d, backend=backend).execute(
        {"x": lambda: "X", "y": lambda: "Y", "z": lambda: "Z", "join": lambda a, b, c: a + b + c}
    )
    assert result.outputs == {"join": "ZXY"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_callables_without_parameters_are_called_with_none(backend):
    calls = []

    class Obj:
        def __call__(self):
            calls.append("obj")
            return "obj"

    d = chain_of("a", "b", "c")
    result = Executor(d, backend=backend).execute(
        {"a": lambda: 1, "b": Obj(), "c": lambda: calls.append("c") or "c"}
    )
    assert result.succeeded == 3 and calls == ["obj", "c"]
    assert result.results["b"].value == "obj"


def test_other_callable_shapes():
    import functools

    def varargs(*a):
        return a

    def defaults(x=5):
        return x

    d = DAG()
    d.add_node("r1", lambda: 1).add_node("r2", lambda: 2)
    d.add_node("star", varargs).add_node("part", functools.partial(lambda p, a, b: (p, a, b), "P"))
    d.add_node("root_default", defaults).add_node("builtin", max)
    for child in ("star", "part", "builtin"):
        d.add_edge("r2", child).add_edge("r1", child)
    values = Executor(d).execute().values
    assert values["star"] == (2, 1) and values["part"] == ("P", 2, 1)
    assert values["root_default"] == 5 and values["builtin"] == 2


def test_callables_given_to_execute_override_attached_ones():
    d = DAG().add_node("a", lambda: "attached")
    assert Executor(d).execute().values == {"a": "attached"}
    assert Executor(d).execute({"a": lambda: "given"}).values == {"a": "given"}


def test_missing_and_unknown_callables_are_reported_before_anything_runs():
    ran = []
    d = chain_of("a", "b", "c")
    with pytest.raises(GraphError) as err:
        Executor(d).execute({"a": lambda: ran.append("a")})
    assert "['b', 'c']" in str(err.value)
    with pytest.raises(UnknownNodeError, match=r"\['nope'\]"):
        Executor(d).execute({"a": lambda: 1, "b": lambda: 1, "c": lambda: 1, "nope": lambda: 1})
    with pytest.raises(GraphError, match=r"'b'.*not callable"):
        Executor(d).execute({"a": lambda: 1, "b": 42, "c": lambda: 1})
    assert ran == []


def test_bad_worker_and_concurrency_settings():
    d = DAG().add_node("a", lambda: 1)
    with pytest.raises(ValueError, match="max_workers"):
        Executor(d, backend="threads", max_workers=-1).execute()
    with pytest.raises(ValueError, match="max_concurrency"):
        Executor(d, backend="threads", max_concurrency=-1).execute()
    with pytest.raises(ValueError, match="priority"):
        Executor(d, priority="random")


@pytest.mark.parametrize("setting", [{"max_workers": 0}, {"max_concurrency": 0}])
def test_zero_workers_or_concurrency_is_refused(setting):
    d = DAG().add_node("a", lambda: 1)
    with pytest.raises(ValueError, match=next(iter(setting))):
        Executor(d, backend="threads", **setting).execute()


# -- ordering ----------------------------------------------------------------------------------


def test_priority_higher_first_on_inline():
    d = DAG()
    for name, prio in [("low", 1), ("high", 9), ("neg", -3), ("mid", 5), ("zero", 0)]:
        d.add_node(name, lambda: None, priority=prio)
    order = Executor(d).execute().execution_order
    assert order == ["high", "mid", "low", "zero", "neg"]
    assert Executor(d).execute().execution_order == order  # deterministic


def test_priority_never_overrides_dependencies():
    d = DAG()
    d.add_node("parent", lambda: 1, priority=0)
    d.add_node("urgent_child", lambda p: p, priority=100)
    d.add_node("other", lambda: 2, priority=50)
    d.add_edge("parent", "urgent_child")
    assert Executor(d).execute().execution_order == ["other", "parent", "urgent_child"]


def test_priority_three_ways_orders_the_run():
    class Urgent(Task):
        outputs = ["x"]
        priority = 3

        def compute(self, cfg=None):
            return {"x": 1}

    class Normal(Task):
        outputs = ["y"]

        def compute(self, cfg=None):
            return {"y": 2}

    d = DAG(
        tasks={"n1": Normal(), "u": Urgent(), "n2": Normal()},
        edges=[],
        options={"n2": {"priority": 10}},
    )
    assert d.execute().execution_order == ["n2", "u", "n1"]


def test_priority_on_one_thread_worker_matches_inline():
    d = DAG()
    for name, prio in [("low", 1), ("high", 9), ("mid", 5)]:
        d.add_node(name, lambda: None, priority=prio)
    result = Executor(d, backend="threads", max_workers=1).execute()
    assert result.execution_order == ["high", "mid", "low"]


def test_critical_path_rank_without_priorities_inline():
    """Seed 003: A; B, C, D after A; E after C and D. C and D lead to E, so they go first."""
    d = chain_of("A", "B")
    for n in ("C", "D", "E"):
        d.add_node(n)
    d.add_edge("A", "C").add_edge("A", "D").add_edge("C", "E").add_edge("D", "E")
    fns = {n: (lambda *_: None) for n in "ABCDE"}
    assert Executor(d).execute(fns).execution_order == ["A", "C", "D", "B", "E"]
    # "fifo" turns the ranking off: insertion order among the ready.
    assert Executor(d, priority="fifo").execute(fns).execution_order[:2] == ["A", "B"]


def test_costs_rank_ready_nodes():
    d = DAG()
    for n in ("short", "long", "tail"):
        d.add_node(n, lambda *_: None)
    d.add_edge("long", "tail")
    fifo = Executor(d, priority="fifo").execute().execution_order
    assert fifo[0] == "short"
    ranked = Executor(d, costs={"short": 5, "long": 1, "tail": 10}).execute().execution_order
    assert ranked == ["long", "tail", "short"]  # long + tail = 11, then tail 10 > short 5
    flipped = Executor(d, costs={"short": 50, "long": 1, "tail": 10}).execute().execution_order
    assert flipped[0] == "short"


def test_estimate_instructions_ranks_task_nodes():
    def make(name, n_instr, inputs=(), outputs=("v",)):
        return type(
            name,
            (Task,),
            {
                "inputs": list(inputs),
                "outputs": list(outputs),
                "compute": lambda self, cfg=None, **kw: {o: 1 for o in self.outputs},
                "estimate_instructions": staticmethod(lambda cfg: n_instr * cfg.N),
            },
        )()

    d = DAG(
        tasks={"cheap": make("Cheap", 1, outputs=["c"]), "heavy": make("Heavy", 100)},
        edges=[],
        config=Config(N=10),
    )
    assert d.execute().execution_order == ["heavy", "cheap"]


def test_priority_comes_before_rank():
    d = chain_of("long1", "long2", "long3")
    d.add_node("short", priority=1)
    fns = {n: (lambda *_: None) for n in d.nodes}
    assert Executor(d).execute(fns).execution_order[0] == "short"


# -- admission: exclusive and max_concurrency ------------------------------------------------


def test_exclusive_nodes_never_overlap_anything_on_threads():
    rec = Recorder()
    pair = threading.Barrier(2, timeout=WAIT)
    d = DAG()
    # Two high-priority nodes that can only finish together: proves real parallelism.
    d.add_node("pair_a", rec.node("pair_a", lambda: pair.wait()), priority=5)
    d.add_node("pair_b", rec.node("pair_b", lambda: pair.wait()), priority=5)
    d.add_node("solo", rec.node("solo", lambda: sleep(0.02)), exclusive=True, priority=1)
    for k in range(8):
        d.add_node(f"io{k}", rec.node(f"io{k}", lambda *_: sleep(0.01)))
    # An exclusive node that becomes ready while other nodes are running.
    d.add_node("solo2", rec.node("solo2", lambda *_: sleep(0.02)), is_sequential=True)
    d.add_edge("io0", "solo2")
    result = Executor(d, backend="threads", max_workers=4).execute()
    assert result.ok, result.failures
    assert rec.overlap("pair_a", "pair_b")
    for solo in ("solo", "solo2"):
        for other in rec.intervals:
            if other != solo:
                assert not rec.overlap(solo, other), (solo, other)
    # The engine's own record agrees with what the nodes saw.
    r = result.results
    for other in r:
        if other != "solo":
            assert r[other].end <= r["solo"].start or r[other].start >= r["solo"].end


@pytest.mark.parametrize("limit", [1, 3])
def test_max_concurrency_is_never_exceeded_and_is_reached(limit):
    rec = Recorder()
    gate = threading.Barrier(limit, timeout=WAIT)  # trips only when `limit` run at once
    d = DAG()
    for k in range(6 * limit):
        d.add_node(f"n{k}", rec.node(f"n{k}", lambda: gate.wait()))
    result = Executor(d, backend="threads", max_workers=8, max_concurrency=limit).execute()
    assert result.ok, result.failures
    assert rec.peak == limit


def test_max_workers_caps_concurrency_by_default():
    rec = Recorder()
    gate = threading.Barrier(2, timeout=WAIT)
    d = DAG()
    for k in range(8):
        d.add_node(f"n{k}", rec.node(f"n{k}", lambda: gate.wait()))
    result = Executor(d, backend="threads", max_workers=2).execute()
    assert result.ok and rec.peak == 2
    assert {r.worker for r in result.results.values()} == {"thread-0", "thread-1"}


def test_inline_runs_one_node_at_a_time_on_the_callers_thread():
    rec = Recorder()
    caller = threading.get_ident()
    seen = set()
    d = DAG()
    for k in range(5):
        d.add_node(f"n{k}", rec.node(f"n{k}", lambda: seen.add(threading.get_ident())))
    result = Executor(d, max_concurrency=4).execute()
    assert result.ok and rec.peak == 1 and seen == {caller}
    assert {r.worker for r in result.results.values()} == {"main"}


# -- failures ----------------------------------------------------------------------------------


class Boom(Exception):
    pass


def boom(*_):
    raise Boom("kaput")


def branches(rec: Recorder | None = None) -> DAG:
    """root -> bad -> after_bad -> after_after ; root -> good -> after_good ; lone."""
    wrap = rec.node if rec is not None else (lambda name, body: body)
    d = DAG()
    d.add_node("root", wrap("root", lambda: 1))
    d.add_node("bad", wrap("bad", boom))
    d.add_node("after_bad", wrap("after_bad", lambda x: x))
    d.add_node("after_after", wrap("after_after", lambda x: x))
    d.add_node("good", wrap("good", lambda r: r + 1))
    d.add_node("after_good", wrap("after_good", lambda g: g + 1))
    d.add_node("lone", wrap("lone", lambda: "alone"))
    d.add_edge("root", "bad").add_edge("bad", "after_bad").add_edge("after_bad", "after_after")
    d.add_edge("root", "good").add_edge("good", "after_good")
    return d


def test_fail_fast_skips_every_node_not_started_inline():
    rec = Recorder()
    result = Executor(branches(rec)).execute()  # fail_fast defaults to True
    assert result.status == "failed" and not result.ok
    assert rec.started == ["root", "bad"]  # rank order: root, then bad; nothing after
    r = result.results
    assert r["root"].status == "succeeded" and r["bad"].status == "failed"
    skipped = result.names_with_status("skipped")
    assert set(skipped) == {"after_bad", "after_after", "good", "after_good", "lone"}
    for name in skipped:
        assert "'bad'" in r[name].reason and "fail_fast" in r[name].reason
    assert (result.succeeded, result.failed, result.skipped, result.cancelled) == (1, 1, 5, 0)


def test_fail_fast_on_threads_lets_running_nodes_finish_and_starts_nothing_new():
    rec = Recorder()
    failed_at = []
    slow_started = threading.Event()

    def slow():
        slow_started.set()
        sleep(0.05)
        return "slow done"

    def fail():
        assert slow_started.wait(WAIT)
        failed_at.append(perf_counter())
        raise Boom("kaput")

    d = DAG()
    d.add_node("slow", rec.node("slow", slow), priority=2)
    d.add_node("fail", rec.node("fail", fail), priority=1)
    for k in range(6):
        d.add_node(f"later{k}", rec.node(f"later{k}", lambda: None))
    d.add_edge("fail", "later0")
    result = Executor(d, backend="threads", max_workers=2).execute()
    r = result.results
    assert r["fail"].status == "failed" and r["slow"].status == "succeeded"
    assert r["slow"].value == "slow done"  # running work is not thrown away
    for k in range(6):
        assert r[f"later{k}"].status == "skipped" and "'fail'" in r[f"later{k}"].reason
    assert all(rec.intervals[n][0] < failed_at[0] for n in rec.started)
    assert set(rec.started) == {"slow", "fail"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_keep_going_skips_only_descendants(backend):
    result = Executor(branches(), backend=backend, fail_fast=False).execute()
    r = result.results
    assert r["bad"].status == "failed"
    for name in ("after_bad", "after_after"):
        assert r[name].status == "skipped"
        assert r[name].reason == "upstream node 'bad' failed"
    assert r["after_good"].value == 3 and r["lone"].value == "alone"
    assert (result.succeeded, result.failed, result.skipped) == (4, 1, 2)
    assert result.outputs == {"after_good": 3, "lone": "alone"}


def test_a_failure_deep_in_a_diamond_skips_the_join_only():
    d = DAG()
    d.add_node("a", lambda: 1).add_node("b", boom).add_node("c", lambda a: a)
    d.add_node("join", lambda b, c: b + c).add_node("side", lambda c: c * 10)
    d.add_edge("a", "b").add_edge("a", "c").add_edge("b", "join").add_edge("c", "join")
    d.add_edge("c", "side")
    result = Executor(d, fail_fast=False).execute()
    assert result.names_with_status("skipped") == ["join"]
    assert result.values == {"a": 1, "c": 1, "side": 10}


# -- the result --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_result_fields(backend):
    result = Executor(branches(), backend=backend, fail_fast=False).execute()
    assert isinstance(result, ExecutionResult)
    assert result.status == "failed" and result.interrupted is False
    assert result.backend == backend and result.duration >= 0
    bad = result.results["bad"]
    assert isinstance(bad, NodeResult) and bad.name == "bad" and bad.status == "failed"
    assert isinstance(bad.error, Boom) and str(bad.error) == "kaput"
    assert "Boom: kaput" in bad.traceback and "def boom" not in bad.traceback.splitlines()[0]
    assert "raise Boom" in bad.traceback  # the source line of the failing frame
    assert bad.value is None and not bad.ok
    good = result["after_good"]  # shortcut for result.results[...]
    assert good.ok and good.value == good.outputs == 3 and good.error is None
    assert good.start is not None and good.end is not None and 0 <= good.start <= good.end
    assert good.duration == pytest.approx(good.end - good.start)
    assert good.worker == "main" if backend == "inline" else good.worker.startswith("thread-")
    skipped = result.results["after_bad"]
    assert skipped.start is None and skipped.end is None and skipped.worker is None
    assert skipped.value is None and skipped.error is None
    assert len(result.results) == 7 and list(result.results) == branches().nodes
    assert "bad" in result.results and "nope" not in result.results
    with pytest.raises(KeyError, match="'nope'"):
        result.results["nope"]
    assert result.failures == {"bad": bad.error}
    assert "1 failed" in result.summary() and "2 skipped" in repr(result)
    # Parents finished before children started, by the engine's clock.
    r = result.results
    assert r["root"].end <= r["good"].start and r["good"].end <= r["after_good"].start


def test_outputs_are_the_leaves_and_values_every_node():
    d = DAG()
    d.add_node("a", lambda: 1).add_node("b", lambda a: a + 1).add_node("c", lambda a: a * 5)
    d.add_edge("a", "b").add_edge("a", "c")
    result = Executor(d).execute()
    assert result.outputs == {"b": 2, "c": 5}
    assert result.values == {"a": 1, "b": 2, "c": 5}
    assert result.raise_for_failures() is result  # nothing failed: returns itself


def test_raise_for_failures_lists_every_failed_node():
    d = DAG()
    d.add_node("first", boom)
    d.add_node("second", lambda: 1 / 0)
    d.add_node("fine", lambda: 1)
    d.add_node("child", lambda x: x)
    d.add_edge("second", "child")
    result = Executor(d, fail_fast=False).execute()
    assert result.failed == 2 and result.succeeded == 1 and result.skipped == 1
    with pytest.raises(ExecutionError) as err:
        result.raise_for_failures()
    msg = str(err.value)
    assert "2 node(s) failed" in msg
    assert "first: Boom: kaput" in msg and "second: ZeroDivisionError" in msg
    assert "fine" not in msg
    assert set(err.value.failures) == {"first", "second"}
    assert isinstance(err.value.failures["second"], ZeroDivisionError)


def test_task_dag_execute_with_run_inputs():
    class Scale(Task):
        inputs = ["data", "factor"]
        outputs = ["scaled"]

        def compute(self, data, factor, cfg=None):
            return {"scaled": [x * factor * cfg.k for x in data]}

    class Total(Task):
        inputs = ["scaled"]
        outputs = ["total"]

        def compute(self, scaled, cfg=None):
            return {"total": sum(scaled)}

    d = DAG(
        tasks={"scale": Scale(), "total": Total()},
        edges=[("scale", "total")],
        config=Config(k=10),
        inputs=["data", "factor"],
    )
    result = d.execute(data=[1, 2], factor=3)
    assert isinstance(result, ExecutionResult) and result.ok
    assert result.outputs == {"total": {"total": 90}}
    assert result.results["scale"].outputs == {"scaled": [30, 60]}
    threaded = Executor(d, backend="threads").execute(run_inputs={"data": [1], "factor": 1})
    assert threaded.outputs == {"total": {"total": 10}}
    with pytest.raises(MissingInputError) as err:
        d.execute(data=[1])
    assert "'factor'" in str(err.value) and "'scale'" in str(err.value)


# -- partial runs -------------------------------------------------------------------------------


def partial_dag(rec: Recorder) -> DAG:
    """a -> b -> c ; a -> d ; e"""
    d = DAG()
    for n in "abcde":
        d.add_node(n, rec.node(n, lambda *p: p))
    d.add_edge("a", "b").add_edge("b", "c").add_edge("a", "d")
    return d


def test_targets_run_only_the_targets_and_their_ancestors():
    rec = Recorder()
    result = Executor(partial_dag(rec)).execute(targets=["b"])
    assert sorted(rec.started) == ["a", "b"]
    assert result.values.keys() == {"a", "b"}
    for n in ("c", "d", "e"):
        assert result.results[n].status == "skipped" and "targets=" in result.results[n].reason
    assert result.status == "succeeded"


def test_exclude_leaves_out_a_node_and_its_descendants():
    rec = Recorder()
    result = Executor(partial_dag(rec), backend="threads").execute(exclude=["b"])
    assert sorted(rec.started) == ["a", "d", "e"]
    assert result.names_with_status("skipped") == ["b", "c"]
    rec2 = Recorder()
    both = Executor(partial_dag(rec2)).execute(targets=["c", "d"], exclude=["d"])
    assert sorted(rec2.started) == ["a", "b", "c"]
    assert both.succeeded == 3


def test_unknown_targets_and_excludes_are_named():
    d = partial_dag(Recorder())
    with pytest.raises(UnknownNodeError, match=r"target 'bb'.*did you mean 'b'"):
        Executor(d).execute(targets=["bb"])
    with pytest.raises(UnknownNodeError, match="excluded node 'zz'"):
        Executor(d).execute(exclude=["zz"])


def test_outputs_of_a_targeted_run_are_the_targets():
    result = Executor(partial_dag(Recorder())).execute(targets=["b"])
    assert result.values["b"] == ((),)  # b received a's value, ()
    assert result.outputs == {"b": ((),)}


# -- callbacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_callbacks_fire_with_the_right_arguments(backend):
    events: list[tuple] = []
    lock = threading.Lock()

    def log(*event):
        with lock:
            events.append(event)

    d = branches()
    cb = ExecutionCallbacks(
        on_run_start=lambda dag: log("run_start", dag),
        on_node_start=lambda n: log("start", n),
        on_node_complete=lambda n, v: log("complete", n, v),
        on_node_error=lambda n, e: log("error", n, e),
        on_node_skipped=lambda n, why: log("skipped", n, why),
        on_run_complete=lambda res: log("run_complete", res),
    )
    result = Executor(d, backend=backend, fail_fast=False, callbacks=cb).execute()
    assert events[0] == ("run_start", d)
    assert events[-1] == ("run_complete", result) and events[-1][1] is result
    body = events[1:-1]
    started = [e[1] for e in body if e[0] == "start"]
    completed = {e[1]: e[2] for e in body if e[0] == "complete"}
    errors = {e[1]: e[2] for e in body if e[0] == "error"}
    skipped = {e[1]: e[2] for e in body if e[0] == "skipped"}
    assert sorted(started) == sorted(["root", "bad", "good", "after_good", "lone"])
    assert len(started) == len(set(started))  # each node starts once
    assert completed == {"root": 1, "good": 2, "after_good": 3, "lone": "alone"}
    assert list(errors) == ["bad"] and errors["bad"] is result.results["bad"].error
    assert isinstance(errors["bad"], Boom)
    assert skipped == {
        "after_bad": "upstream node 'bad' failed",
        "after_after": "upstream node 'bad' failed",
    }
    for name in completed:
        assert body.index(("start", name)) < body.index(("complete", name, completed[name]))
    assert body.index(("start", "bad")) < body.index(("error", "bad", errors["bad"]))
    assert body.index(("complete", "root", 1)) < body.index(("start", "good"))


def test_skipped_callbacks_under_fail_fast_name_the_failed_node():
    skipped = {}
    cb = ExecutionCallbacks(on_node_skipped=lambda n, why: skipped.setdefault(n, why))
    result = Executor(branches(), callbacks=cb).execute()
    assert set(skipped) == set(result.names_with_status("skipped")) and len(skipped) == 5
    assert all("'bad'" in why for why in skipped.values())


def test_callbacks_never_run_concurrently_on_threads():
    inside = [0]
    peak = [0]
    lock = threading.Lock()

    def hook(*_):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        sleep(0.001)
        with lock:
            inside[0] -= 1

    d = DAG()
    for k in range(16):
        d.add_node(f"n{k}", lambda: sleep(0.002))
    cb = ExecutionCallbacks(on_node_start=hook, on_node_complete=hook)
    result = Executor(d, backend="threads", max_workers=4, callbacks=cb).execute()
    assert result.ok and peak[0] == 1


# -- interrupts --------------------------------------------------------------------------------


def interrupt_dag(raiser) -> DAG:
    """first -> kb -> after ; independent (runs last: lowest priority)."""
    d = DAG()
    d.add_node("first", lambda: 1, priority=3)
    d.add_node("kb", raiser, priority=2)
    d.add_node("after", lambda x: x)
    d.add_node("independent", lambda: 2, priority=-1)
    d.add_edge("first", "kb").add_edge("kb", "after")
    return d


def raise_keyboard_interrupt(*_):
    raise KeyboardInterrupt


@pytest.mark.parametrize("with_callbacks", [False, True])
def test_keyboard_interrupt_inside_a_node_on_inline(with_callbacks):
    started = []
    cb = ExecutionCallbacks(on_node_start=started.append) if with_callbacks else None
    result = Executor(interrupt_dag(raise_keyboard_interrupt), callbacks=cb).execute()
    assert result.interrupted is True and result.status == "cancelled"
    assert result.names_with_status("cancelled") == ["kb", "after", "independent"]
    assert result.cancelled == 3 and result.succeeded == 1 and result.failed == 0
    r = result.results
    assert r["first"].value == 1
    assert "KeyboardInterrupt" in r["kb"].reason and "while it was running" in r["kb"].reason
    assert "KeyboardInterrupt" in r["after"].reason
    if with_callbacks:
        assert started == ["first", "kb"]  # nothing new started after the interrupt
    with pytest.raises(ExecutionError, match="interrupted"):
        result.raise_for_failures()


def test_keyboard_interrupt_from_a_callback_on_inline():
    def on_complete(name, value):
        if name == "first":
            raise KeyboardInterrupt

    cb = ExecutionCallbacks(on_node_complete=on_complete)
    result = Executor(interrupt_dag(lambda x: x), callbacks=cb).execute()
    assert result.interrupted and result.results["first"].status == "succeeded"
    assert result.names_with_status("cancelled") == ["kb", "after", "independent"]


def test_keyboard_interrupt_from_a_callback_on_threads():
    release = threading.Event()

    def on_complete(name, value):
        if name == "first":
            raise KeyboardInterrupt

    d = interrupt_dag(lambda x: x)
    d.add_node("slow", lambda: release.wait(WAIT), priority=5)
    cb = ExecutionCallbacks(on_node_complete=on_complete)
    try:
        result = Executor(d, backend="threads", max_workers=2, callbacks=cb).execute()
    finally:
        release.set()
    assert result.interrupted and result.status == "cancelled"
    statuses = {n: r.status for n, r in result.results.items()}
    assert statuses["first"] == "succeeded"
    assert statuses["slow"] == "cancelled"  # abandoned while it was running
    for n in ("kb", "after", "independent"):
        assert statuses[n] == "cancelled"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_keyboard_interrupt_inside_a_node_on_threads_ends_the_run():
    box: dict = {}

    def target():
        try:
            box["result"] = Executor(
                interrupt_dag(raise_keyboard_interrupt), backend="threads", max_workers=2
            ).execute()
        except BaseException as exc:  # any way out is better than hanging
            box["error"] = exc

    runner = threading.Thread(target=target, daemon=True)
    runner.start()
    runner.join(1.0)
    assert not runner.is_alive(), "execute() did not return"
    result = box["result"]
    assert result.interrupted and result.results["after"].status == "cancelled"


# -- the node state machine ----------------------------------------------------------------------


def fresh_run():
    from dagforge.execution.backends import make_backend
    from dagforge.execution.engine import Run

    d = chain_of("alpha", "beta")
    return Run(d, {"alpha": lambda: 1, "beta": lambda a: a}, make_backend("inline"))


@pytest.mark.parametrize(
    ("path", "bad", "old", "new"),
    [
        ([], "running", "pending", "running"),
        ([], "succeeded", "pending", "succeeded"),
        (["ready"], "failed", "ready", "failed"),
        (["ready", "running", "succeeded"], "running", "succeeded", "running"),
        (["skipped"], "ready", "skipped", "ready"),
        (["cancelled"], "pending", "cancelled", "pending"),
    ],
)
def test_illegal_transitions_raise_naming_the_node_and_states(path, bad, old, new):
    from dagforge.execution import states as S

    run = fresh_run()
    for state in path:
        run._set(1, S.NAMES.index(state))  # legal steps first
    with pytest.raises(NodeStateError) as err:
        run._set(1, S.NAMES.index(bad))
    msg = str(err.value)
    assert "'beta'" in msg and f"from {old!r} to {new!r}" in msg
    assert S.NAMES[run.status[1]] == old  # the refused transition changed nothing


def test_legal_lifecycle_and_a_finished_run_cannot_restart():
    from dagforge.execution import states as S

    run = fresh_run()
    for state in ("ready", "running", "succeeded"):
        run._set(0, S.NAMES.index(state))
    with pytest.raises(NodeStateError, match="terminal"):
        run._set(0, S.READY)
    done = fresh_run()
    result = done.run()
    assert result.ok and result.values == {"alpha": 1, "beta": 1}
    with pytest.raises(NodeStateError, match="'succeeded' to 'running'"):
        done.begin()
