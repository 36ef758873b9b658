"""One semantics on every backend: each scenario runs on inline, threads, processes,
asyncio and dask (see conftest.py). A cell passes, or is refused before anything runs
with an error that says why; ``matrix.py`` turns the outcomes into docs/execution.md.

Functions and Task classes live at module level on purpose: worker processes and Dask
workers cannot import this file (pytest's importlib mode), so they exercise shipping the
user's module by value. Counters that must survive a worker process are files.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import pytest

from dagforge import DAG, Config, ExecutionCallbacks, ResourcePool, Task
from dagforge.errors import NodeTimeoutError, SerializationError, WorkerLostError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IN_PROCESS = ("inline", "threads", "asyncio")


# -- helpers ------------------------------------------------------------------------------


def bump(path: str) -> int:
    """Count a call in a file (works from any worker process); the new count."""
    with open(path, "a") as fh:
        fh.write("x")
    return os.path.getsize(path)


def calls(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def peak_overlap(result, names) -> int:
    edges = []
    for n in names:
        r = result.results[n]
        edges += [(r.start, 1), (r.end, -1)]
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


def nap(seconds: float, value=None):
    def fn(*_):
        time.sleep(seconds)
        return value

    return fn


def add(*xs):
    return sum(xs)


def one():
    return 1


def boom(*_):
    raise ValueError("boom")


# -- value routing -------------------------------------------------------------------------


def diamond() -> DAG:
    d = DAG()
    d.add_node("a", lambda: 2)
    d.add_node("b", lambda a: a * 10)
    d.add_node("c", lambda a: a + 1)
    d.add_node("d", lambda b, c: (b, c))
    d.add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").add_edge("c", "d")
    return d


def test_value_routing_plain_callables(make_executor):
    result = make_executor(diamond()).execute()
    assert result.ok, result.failures
    assert result.values == {"a": 2, "b": 20, "c": 3, "d": (20, 3)}


class Make(Task):
    outputs = ["rows", "meta"]

    def compute(self, cfg=None):
        return {"rows": list(range(cfg.N)), "meta": {"n": cfg.N}}


class Total(Task):
    inputs = ["rows"]
    outputs = ["total"]

    def compute(self, rows, cfg=None):
        return {"total": sum(rows)}


class Describe(Task):
    inputs = ["info", "total"]
    outputs = ["text"]

    def compute(self, info, total, cfg=None):
        return {"text": f"{info['n']} rows, total {total}"}


def test_value_routing_task_standard(make_executor):
    d = DAG(
        tasks={"make": Make(), "total": Total(), "describe": Describe()},
        edges=[("make", "total"), ("make", "describe", {"meta": "info"}), ("total", "describe")],
        config=Config(N=5),
    )
    result = make_executor(d).execute()
    assert result.ok, result.failures
    assert result.values["describe"] == {"text": "5 rows, total 10"}
    assert result.values["total"] == {"total": 10}


# -- admission -------------------------------------------------------------------------------


def test_priorities_order_ready_nodes(make_executor):
    d = DAG().add_node("root", one)
    for name, prio in (("low", 1), ("high", 9), ("mid", 5)):
        d.add_node(name, nap(0.01, prio), priority=prio)
        d.add_edge("root", name)
    result = make_executor(d, max_concurrency=1).execute()
    assert result.ok, result.failures
    assert result.execution_order == ["root", "high", "mid", "low"]


def test_max_concurrency(make_executor):
    d = DAG()
    names = [f"n{k}" for k in range(4)]
    for n in names:
        d.add_node(n, nap(0.05, 1))
    result = make_executor(d, max_concurrency=1).execute()
    assert result.ok, result.failures
    assert peak_overlap(result, names) == 1


def test_exclusive_node_runs_alone(make_executor):
    d = DAG()
    names = [f"n{k}" for k in range(4)]
    for n in names:
        d.add_node(n, nap(0.05, 1))
    d.add_node("solo", nap(0.05, 2), exclusive=True)
    result = make_executor(d).execute()
    assert result.ok, result.failures
    solo = result.results["solo"]
    for n in names:
        r = result.results[n]
        assert r.end <= solo.start or r.start >= solo.end, f"{n} overlapped the exclusive node"


def test_resources_limit_what_runs_at_once(make_executor):
    pool = ResourcePool({"slot": 1})
    d = DAG()
    names = [f"n{k}" for k in range(3)]
    for n in names:
        d.add_node(n, nap(0.05, 1), resources={"slot": 1})
    result = make_executor(d, resource_pool=pool).execute()
    assert result.ok, result.failures
    assert peak_overlap(result, names) == 1


def test_a_requirement_the_pool_cannot_hold_is_refused_before_anything_runs(
    make_executor, tmp_path
):
    from dagforge.errors import DagforgeError

    flag = tmp_path / "ran"
    d = DAG().add_node("first", lambda: bump(str(flag)))
    d.add_node("huge", one, resources={"slot": 5})
    with pytest.raises(DagforgeError, match="huge"):
        make_executor(d, resource_pool=ResourcePool({"slot": 1})).execute()
    assert calls(flag) == 0


# -- failures, retries, timeouts -------------------------------------------------------------


def flaky(path: str, fails: int):
    def fn():
        if bump(path) <= fails:
            raise ConnectionError("not yet")
        return "ok"

    return fn


def test_retries_with_backoff(make_executor, tmp_path):
    counter = tmp_path / "n"
    d = DAG().add_node(
        "flaky",
        flaky(str(counter), 2),
        retries=2,
        retry_delay=0.01,
        retry_backoff=2.0,
    )
    result = make_executor(d).execute()
    assert result.ok, result.failures
    assert result.values["flaky"] == "ok"
    assert calls(counter) == 3
    assert [a.status for a in result.results["flaky"].attempts] == ["failed", "failed", "succeeded"]


@pytest.mark.timeout(60)
def test_timeouts(make_executor, request):
    d = DAG()
    d.add_node("slow", nap(1.5, 1), timeout=0.2)
    d.add_node("quick", nap(0.01, 2), timeout=30)  # must not hold execute() for 30 s
    result = make_executor(d, fail_fast=False).execute()
    assert result.results["slow"].status == "timed_out"
    assert isinstance(result.results["slow"].error, NodeTimeoutError)
    assert result.results["quick"].status == "succeeded"
    assert result.values["quick"] == 2


@pytest.mark.timeout(25)
def test_a_finished_run_is_not_held_by_a_pending_timeout(make_executor):
    # pytest-timeout ends the test if execute() waited out the 60 s timeout
    d = DAG().add_node("quick", nap(0.05, 1), timeout=60).add_node("then", add)
    d.add_edge("quick", "then")
    result = make_executor(d).execute()
    assert result.ok and result.values["then"] == 1


def fail_fast_dag() -> DAG:
    d = DAG()
    d.add_node("bad", boom)
    d.add_node("below", add)
    d.add_edge("bad", "below")
    d.add_node("side", nap(0.3, 1))
    d.add_node("after_side", add)
    d.add_edge("side", "after_side")
    return d


def test_fail_fast_stops_the_run(make_executor):
    result = make_executor(fail_fast_dag(), fail_fast=True).execute()
    assert not result.ok
    assert result.results["bad"].status == "failed"
    assert isinstance(result.results["bad"].error, ValueError)
    assert result.results["below"].status == "skipped"
    assert result.results["after_side"].status == "skipped"  # not started after the failure
    assert result.results["side"].status in ("succeeded", "skipped")


def test_without_fail_fast_independent_branches_finish(make_executor):
    result = make_executor(fail_fast_dag(), fail_fast=False).execute()
    assert result.results["bad"].status == "failed"
    assert result.results["below"].status == "skipped"
    assert result.results["after_side"].status == "succeeded"
    assert result.values["after_side"] == 1


def test_callbacks(make_executor):
    seen: dict[str, list] = {"start": [], "complete": [], "error": [], "skipped": []}
    lock = threading.Lock()

    def note(kind):
        def fn(name, *_):
            with lock:
                seen[kind].append(name)

        return fn

    cb = ExecutionCallbacks(
        on_node_start=note("start"),
        on_node_complete=note("complete"),
        on_node_error=note("error"),
        on_node_skipped=note("skipped"),
    )
    result = make_executor(fail_fast_dag(), fail_fast=False, callbacks=cb).execute()
    assert sorted(seen["start"]) == ["after_side", "bad", "side"]
    assert sorted(seen["complete"]) == ["after_side", "side"]
    assert seen["error"] == ["bad"] and seen["skipped"] == ["below"]
    assert result.results["side"].status == "succeeded"


def test_targets_and_exclude(make_executor):
    result = make_executor(diamond()).execute(targets=["b"])
    assert result.results["b"].status == "succeeded" and result.values["b"] == 20
    assert result.results["d"].status == "skipped" and result.results["c"].status == "skipped"
    result = make_executor(diamond()).execute(exclude=["c"])
    assert result.values["b"] == 20
    assert result.results["d"].status == "skipped"


# -- cache and checkpoints ------------------------------------------------------------------


def counted(path: str, value):
    def fn(*xs):
        bump(path)
        return value + sum(xs)

    return fn


def test_cache(make_executor, tmp_path):
    counter = tmp_path / "n"

    def build():
        d = DAG().add_node("a", counted(str(counter), 1)).add_node("b", counted(str(counter), 10))
        return d.add_edge("a", "b")

    first = make_executor(build(), cache=tmp_path / "cache").execute()
    second = make_executor(build(), cache=tmp_path / "cache").execute()
    assert first.values == second.values == {"a": 1, "b": 11}
    assert calls(counter) == 2  # the second run computed nothing


def until_flag(path: str, flag: str):
    def fn(*xs):
        bump(path)
        if not os.path.exists(flag):
            raise RuntimeError("flag missing")
        return sum(xs) + 1

    return fn


def test_checkpoint_resume(make_executor, tmp_path):
    counter, flag = tmp_path / "n", tmp_path / "flag"

    def build():
        d = DAG().add_node("a", counted(str(counter), 1))
        d.add_node("b", until_flag(str(counter), str(flag)))
        return d.add_edge("a", "b")

    failed = make_executor(build(), checkpoint=tmp_path / "ck").execute()
    assert failed.results["a"].status == "succeeded" and failed.results["b"].status == "failed"
    flag.touch()
    resumed = make_executor(build(), checkpoint=tmp_path / "ck").execute()
    assert resumed.ok, resumed.failures
    assert resumed.values == {"a": 1, "b": 2}
    assert calls(counter) == 3  # a once, b twice: a was not re-run


# -- dynamic graphs, conditions, specs --------------------------------------------------------


def test_rules_see_values(make_executor):
    from dagforge.dynamic import Rule

    d = DAG().add_node("files", lambda: ["x", "y", "z"])

    def body(b):
        for k in range(len(b.view.value("files"))):
            b.add_node(f"process{k}", lambda files, k=k: files[k].upper(), after=["files"])

    d.add_rule(Rule(lambda v: v.succeeded("files"), body, name="add_processing"))
    result = make_executor(d).execute()
    assert result.ok, result.failures
    assert [result.values[f"process{k}"] for k in range(3)] == ["X", "Y", "Z"]


def square(x):
    return x * x


def test_dag_map(make_executor):
    d = DAG().add_node("items", lambda: [1, 2, 3])
    d.map("items", square, name="sq", reduce=add)
    result = make_executor(d).execute()
    assert result.ok, result.failures
    assert result.values["sq.reduce"] == 14
    assert [result.values[f"sq[{k}]"] for k in range(3)] == [1, 4, 9]


def no_arguments_reduce(*xs):
    return ("reduced", xs)


def test_dag_map_over_an_empty_list(make_executor):
    d = DAG().add_node("items", lambda: [])
    d.map("items", square, name="sq", reduce=no_arguments_reduce)
    result = make_executor(d).execute()
    assert result.ok, result.failures
    assert result.values["sq.reduce"] == ("reduced", ())


def test_conditional_edges(make_executor):
    d = DAG().add_node("s", lambda: 5).add_node("big", lambda s: s).add_node("small", lambda s: s)
    d.add_edge("s", "big", when=lambda v: v > 3).add_edge("s", "small", when=lambda v: v <= 3)
    result = make_executor(d).execute()
    assert result.results["big"].status == "succeeded" and result.values["big"] == 5
    assert result.results["small"].status == "skipped"


def spec_functions():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "dagforge_conformance_spec_functions", EXAMPLES / "spec_functions.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # loaded by path: its functions ship by value
    spec.loader.exec_module(module)
    return module


def run_spec(backend, spec, functions, arguments):
    from dagforge.spec import FunctionRegistry, run_workflow

    registry = FunctionRegistry()
    for name, fn in functions.items():
        registry.register(name, fn)
    return run_workflow(spec, registry, arguments, backend=backend(), max_workers=2)


def test_seed_spec_glass_of_water_loop(backend):
    fns = spec_functions()
    spec = json.loads((EXAMPLES / "specs" / "filling-a-glass-of-water.json").read_text())
    names = ("check_if_full", "add_water", "glass_full")
    result = run_spec(backend, spec, {n: getattr(fns, n) for n in names}, {"quantity": 0})
    assert result.ok, result.failures
    assert result.workflow_outputs["glass_full"]["quantity"] == 1000


def test_seed_spec_text_sentiment(backend):
    fns = spec_functions()
    spec = json.loads((EXAMPLES / "specs" / "text-sentiment-analysis.json").read_text())
    names = ("fetch_sentences", "calculate_sentiment", "create_sentiment_report")
    result = run_spec(
        backend, spec, {n: getattr(fns, n) for n in names}, {"text": "I love it. It is bad."}
    )
    assert result.ok, result.failures
    report = result.workflow_outputs["create_sentiment_report"]
    assert [r["label"] for r in report["report"]] == ["positive", "negative"]


def spec_node(node_id, primitive="serial", **props):
    base = {
        "label": node_id,
        "primitive": primitive,
        "condition": {},
        "next": "",
        "branch_1": "",
        "branch_2": "",
        "arguments": {},
        "outputs_from": [],
    }
    base.update(props)
    return {"node_id": node_id, "properties": base}


def fork(**_):
    return {"base": 10}


def left(base, **_):
    return {"left": base + 1}


def right(base, **_):
    return {"right": base * 2}


def join(left, right, **_):
    return {"sum": left + right}


def test_spec_parallel_fork_join(backend):
    spec = {
        "name": "fork-join",
        "dag": [
            spec_node("fork", "parallel", next=["left", "right"]),
            spec_node("left", next="join", outputs_from=["fork"]),
            spec_node("right", next="join", outputs_from=["fork"]),
            spec_node("join", outputs_from=["left", "right"]),
        ],
    }
    fns = {"fork": fork, "left": left, "right": right, "join": join}
    result = run_spec(backend, spec, fns, {})
    assert result.ok, result.failures
    assert result.workflow_outputs["join"] == {"sum": 31}


def inc(n=0, **_):
    return {"n": n + 1}


def check_n(n, **_):
    return {"n": n}


def done(n, **_):
    return {"final": n}


def test_spec_loop(backend):
    cond = {"source": "n", "operator": "less_than", "target": 4}
    spec = {
        "name": "count-to-four",
        "dag": [
            spec_node("inc", next="test", outputs_from=["test"]),
            spec_node(
                "test",
                "condition",
                condition=cond,
                branch_1="inc",
                branch_2="done",
                outputs_from=["inc"],
            ),
            spec_node("done", outputs_from=["test"]),
        ],
    }
    result = run_spec(backend, spec, {"inc": inc, "test": check_n, "done": done}, {})
    assert result.ok, result.failures
    assert result.workflow_outputs["done"] == {"final": 4}


# -- observability ----------------------------------------------------------------------------


def test_profiling_has_the_same_shape_everywhere(make_executor):
    from dagforge.profiling import Profile

    d = DAG(
        tasks={"make": Make(), "total": Total(), "describe": Describe()},
        edges=[("make", "total"), ("make", "describe", {"meta": "info"}), ("total", "describe")],
        config=Config(N=50),
    )
    result = make_executor(d, profile=True).execute()
    assert result.ok, result.failures
    doc = Profile.from_result(result).to_dict()
    inline = Profile.from_result(
        __import__("dagforge").Executor(d, profile=True).execute()
    ).to_dict()
    assert set(doc) == set(inline)
    assert sorted(e["task"] for e in doc["execution_metrics"]) == ["describe", "make", "total"]
    assert [sorted(e) for e in doc["execution_metrics"]] == [
        sorted(e) for e in inline["execution_metrics"]
    ]
    bytes_by_task = {e["task"]: e["bytes_out"] for e in doc["execution_metrics"]}
    inline_bytes = {e["task"]: e["bytes_out"] for e in inline["execution_metrics"]}
    assert bytes_by_task == inline_bytes  # measured where the node ran, same data


def test_tracing(make_executor):
    result = make_executor(diamond(), enable_tracing=True).execute()
    trace = result.trace
    assert sorted(e["name"] for e in trace.node_events) == ["a", "b", "c", "d"]
    json.loads(trace.to_json())


def draw(*parents):
    import random as r

    return [r.random() for _ in range(3)] + [sum(sum(p) for p in parents)]


def test_seed_gives_the_same_data_on_every_backend(make_executor):
    from dagforge import Executor

    d = DAG()
    for k in range(3):
        d.add_node(f"r{k}", draw)
        if k:
            d.add_edge(f"r{k - 1}", f"r{k}")
    d.add_node("side", draw)
    first = make_executor(d, seed=42).execute().values
    random.seed(7)  # the caller's generator state does not matter
    second = make_executor(d, seed=42).execute().values
    reference = Executor(d, seed=42).execute().values  # inline
    assert first == second == reference
    assert make_executor(d, seed=43).execute().values != first


# -- interruption and hostile nodes ----------------------------------------------------------


def ctrl_c():
    raise KeyboardInterrupt


def test_keyboard_interrupt_in_a_node_cancels_the_run(make_executor, request):
    d = DAG().add_node("stop", ctrl_c).add_node("below", add)
    d.add_edge("stop", "below")
    try:
        result = make_executor(d).execute()
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt in a node escaped execute() instead of cancelling the run")
    assert result.interrupted
    assert result.status == "cancelled"
    assert result.results["below"].status in ("cancelled", "skipped")


def leave(*_):
    sys.exit(3)


def test_system_exit_in_a_node_is_its_failure(make_executor):
    d = DAG().add_node("exit", leave).add_node("below", add).add_node("other", one)
    d.add_edge("exit", "below")
    result = make_executor(d, fail_fast=False).execute()
    assert result.results["exit"].status == "failed"
    assert isinstance(result.results["exit"].error, SystemExit)
    assert result.results["below"].status == "skipped"
    assert result.values["other"] == 1


def uses_lock():
    lock = threading.Lock()
    return lambda: lock.locked()  # a closure travels by value; the lock cannot be pickled


def test_an_unpicklable_function_fails_only_its_node(make_executor):
    d = DAG().add_node("locked", uses_lock()).add_node("other", one)
    result = make_executor(d, fail_fast=False).execute()
    assert result.values["other"] == 1
    node = result.results["locked"]
    if make_executor.backend in IN_PROCESS:
        assert node.status == "succeeded"  # nothing is pickled in this process
    else:
        assert node.status == "failed" and isinstance(node.error, SerializationError)
        assert "'locked'" in str(node.error)


def make_lock():
    return threading.Lock()


def test_an_unserializable_result_fails_only_its_node(make_executor):
    d = DAG().add_node("lock", make_lock).add_node("other", one).add_node("two", lambda: 2)
    result = make_executor(d, fail_fast=False).execute()
    assert result.values["other"] == 1 and result.values["two"] == 2  # no lost results
    node = result.results["lock"]
    if make_executor.backend in IN_PROCESS:
        assert node.status == "succeeded"
    else:
        assert node.status == "failed" and isinstance(node.error, SerializationError)
        assert "'lock'" in str(node.error)


def die(*_):
    os._exit(3)


@pytest.mark.timeout(120)
def test_a_node_that_kills_its_worker_fails_only_itself(make_executor):
    if make_executor.backend in IN_PROCESS:
        pytest.skip(
            "n/a: the node runs in the caller's process; os._exit ends that process, "
            "there is no worker to lose"
        )
    d = DAG().add_node("die", die).add_node("below", add)
    d.add_edge("die", "below")
    for k in range(3):
        d.add_node(f"sibling{k}", nap(0.2, k))
    result = make_executor(d, fail_fast=False).execute()
    assert result.results["die"].status == "failed"
    assert isinstance(result.results["die"].error, WorkerLostError)
    assert result.results["below"].status == "skipped"
    assert [result.values[f"sibling{k}"] for k in range(3)] == [0, 1, 2]
