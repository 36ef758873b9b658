# ruff: noqa: E501  (the seed article's code is kept verbatim, long lines included)
"""dagforge.compat.tawazi: the seed article's 0.1.2 code verbatim, and tawazi 0.6's @xn/@dag
checked against the installed original."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import types

import pytest

import dagforge.compat.tawazi as ct
from dagforge.compat.tawazi import ErrorStrategy

# The article's block (seed 003), verbatim apart from the import line. One fix that any
# run needs: the article's `exec_nodes = [` list is missing its closing `]`.
ARTICLE = """
from time import time
from dagforge.compat.tawazi import DAG, ExecNode
import requests
# This function replaces A in the DAG diagram.
def fetch_distant_data(**results_dict):
    t0 = time()
    resp = requests.get("")
    print(f"fetch_distant_data: {time()-t0:.2f}s", flush=True)
    return len(resp.content)
# This function replaces B and C in the DAG diagram. It is used twice in the created DAG
def python_calculation_exec_node(**results_dict):
    t0 = time()
    sum = 0
    for i in range(10000000):
        if not sum % 3:
            sum += i
            sum += 1
    print(f"python_calculation_exec_node: {time() - t0:.2f}s", flush=True)
    return sum
# This function replaces D in the DAG diagram.
def final(len_data, execution_result, **results_dict):
    print('final ExecNode', flush=True)
    return f"{len_data} + {execution_result} = {len_data + execution_result}"

if __name__ == "__main__":
    # Define dependencies
    exec_nodes = [
        ExecNode("len_data", fetch_distant_data, priority=10, is_sequential=False),
        ExecNode("execution_result", python_calculation_exec_node, priority=0, is_sequential=False),
        ExecNode("execution_result2", python_calculation_exec_node, priority=0, is_sequential=False),
        ExecNode(final, final, ["len_data", "execution_result", "execution_result2"], is_sequential=False),
    ]

    # Create the DAG
    g = DAG(exec_nodes, max_concurrency=2)

    t0 = time()
    # Execute the DAG
    node_dict = g.execute()
    print(f"DAG ran in {time()-t0:.2f}s")
    print([node.result for node in node_dict.values()])
"""


def _reference_sum() -> int:
    total = 0
    for i in range(10000000):
        if not total % 3:
            total += i
            total += 1
    return total


class _FakeRequests(types.ModuleType):
    """No network in tests: ``requests.get`` returns a page of 1256 bytes."""

    def __init__(self):
        super().__init__("requests")
        self.calls = []

    def get(self, url, **kw):
        self.calls.append(url)
        return types.SimpleNamespace(content=b"x" * 1256)


def test_the_article_example_runs_and_prints_what_it_documents(monkeypatch):
    fake = _FakeRequests()
    monkeypatch.setitem(sys.modules, "requests", fake)
    out = io.StringIO()
    namespace = {"__name__": "__main__"}
    with contextlib.redirect_stdout(out):
        exec(compile(ARTICLE, "tawazi_article.py", "exec"), namespace)
    lines = out.getvalue().splitlines()
    expected_sum = _reference_sum()
    # the documented shape: two calculation lines and the fetch line, then final, then the total
    assert sorted(line.split(":")[0] for line in lines[:3]) == [
        "fetch_distant_data",
        "python_calculation_exec_node",
        "python_calculation_exec_node",
    ]
    assert lines[3] == "final ExecNode"
    assert lines[4].startswith("DAG ran in ")
    assert lines[5] == repr(
        [1256, expected_sum, expected_sum, f"1256 + {expected_sum} = {1256 + expected_sum}"]
    )
    assert fake.calls == [""]
    node_dict = namespace["node_dict"]
    assert list(node_dict) == [
        "len_data",
        "execution_result",
        "execution_result2",
        namespace["final"],
    ]
    # priority 10: the fetch starts first; max_concurrency=2: at most two nodes at once
    g = namespace["g"]
    assert g.last_result.execution_order[0] == "len_data"
    assert g.graph_ids.options("final").exclusive is False


# --- tawazi 0.1.2 semantics on the engine --------------------------------------------------


def _boom(**_):
    raise LookupError("no such invoice")


def test_strict_mode_reraises_the_nodes_own_exception():
    nodes = [
        ct.ExecNode("a", lambda: 1, is_sequential=False),
        ct.ExecNode("b", _boom, ["a"], is_sequential=False),
        ct.ExecNode("c", lambda b: b, ["b"], is_sequential=False),
    ]
    with pytest.raises(LookupError, match="no such invoice"):
        ct.DAG(nodes, max_concurrency=2).execute()


def test_permissive_mode_ignores_the_error_and_runs_the_children():
    seen = {}

    def child(b):
        seen["b"] = b
        return "child ran"

    nodes = [
        ct.ExecNode("a", lambda: 1, is_sequential=False),
        ct.ExecNode("b", _boom, ["a"], is_sequential=False),
        ct.ExecNode("c", child, ["b"], is_sequential=False),
    ]
    out = ct.DAG(nodes, max_concurrency=2, behaviour=ErrorStrategy.permissive).execute()
    assert out["b"].result is None and out["c"].result == "child ran" and seen == {"b": None}


def test_all_children_mode_skips_descendants_and_finishes_the_rest():
    nodes = [
        ct.ExecNode("a", lambda: 1, is_sequential=False),
        ct.ExecNode("b", _boom, ["a"], is_sequential=False),
        ct.ExecNode("c", lambda b: "never", ["b"], is_sequential=False),
        ct.ExecNode("d", lambda a: a + 1, ["a"], is_sequential=False),
    ]
    out = ct.DAG(nodes, max_concurrency=1, behaviour=ErrorStrategy.all_children).execute()
    assert out["c"].result is None and out["d"].result == 2


def test_is_sequential_nodes_run_alone_and_default_to_true_as_in_0_1_2():
    lock = threading.Lock()
    live = [0]
    alone = []
    gate = threading.Barrier(2, timeout=5)

    def parallel(**_):
        with lock:
            live[0] += 1
        gate.wait()
        with lock:
            live[0] -= 1
        return 1

    def sequential(**_):
        with lock:
            alone.append(live[0] == 0)
        return 2

    nodes = [
        ct.ExecNode("p1", parallel, is_sequential=False),
        ct.ExecNode("p2", parallel, is_sequential=False),
        ct.ExecNode("s", sequential),  # tawazi 0.1.2's default: is_sequential=True
    ]
    assert ct.ExecNode("x").is_sequential is True
    out = ct.DAG(nodes, max_concurrency=3).execute()
    assert [out[k].result for k in ("p1", "p2", "s")] == [1, 2 - 1, 2] and alone == [True]


def test_bad_dags_are_refused_with_builtin_types():
    with pytest.raises(ValueError, match="cycle"):
        ct.DAG([ct.ExecNode("a", lambda b: b, ["b"]), ct.ExecNode("b", lambda a: a, ["a"])])
    with pytest.raises(ValueError, match="'zz'"):
        ct.DAG([ct.ExecNode("a", lambda zz: zz, ["zz"])])
    with pytest.raises(ValueError, match="positive"):
        ct.DAG([ct.ExecNode("a")], max_concurrency=0)


# --- tawazi 0.6 @xn / @dag against the installed original ------------------------------------

tawazi = pytest.importorskip("tawazi", reason="tawazi 0.6.2 is a test extra")


def _pipeline(T, log):
    @T.xn(priority=1)
    def low(x):
        log.append("low")
        return x + 1

    @T.xn(priority=9)
    def high(x):
        log.append("high")
        return x * 10

    @T.xn(priority=5, unpack_to=2)
    def pair(x):
        log.append("pair")
        return x, -x

    @T.xn
    def join(a, b, c, d, k=3):
        return (a + b + c + d) * k

    @T.dag(max_concurrency=1)
    def flow(x):
        c, d = pair(x)
        return join(low(x), high(x), c, d, 7), low(x)

    return flow


@pytest.mark.parametrize("x", [1, 4])
def test_xn_dag_results_order_and_ids_match_tawazi(x):
    theirs_log, ours_log = [], []
    theirs = _pipeline(tawazi, theirs_log)
    ours = _pipeline(ct, ours_log)
    assert ours(x) == theirs(x)
    assert ours_log == theirs_log  # priority order with one thread
    # tawazi also makes an id for each constant argument (">!>3rd argument"); dagforge keeps
    # constants as the node's configuration instead
    their_ids = [
        i for i in theirs.exec_nodes if ">!>" not in i or i.startswith(theirs.__qualname__)
    ]
    assert list(ours.exec_nodes) == their_ids


def test_strict_dag_raises_the_nodes_exception_like_tawazi():
    def build(T):
        @T.xn
        def ok(x):
            return x

        @T.xn
        def bad(x):
            raise KeyError(f"missing {x}")

        @T.dag(max_concurrency=2)
        def flow(x):
            return bad(ok(x))

        return flow

    for T in (tawazi, ct):
        with pytest.raises(KeyError, match="missing 3"):
            build(T)(3)


def test_permissive_dag_gives_none_for_the_failed_node():
    @ct.xn
    def bad(x):
        raise RuntimeError("down")

    @ct.xn
    def after(v):
        return ("after", v)

    @ct.dag(max_concurrency=2, behavior="permissive")
    def flow(x):
        return bad(x), after(bad(x))

    assert flow(1) == (None, ("after", None))


def test_is_sequential_tags_executor_setup_and_debug():
    calls = {"setup": 0}

    @ct.xn(setup=True)
    def model():
        calls["setup"] += 1
        return {"w": 3}

    @ct.xn(tag="score", is_sequential=True)
    def score(m, x):
        return m["w"] * x

    @ct.xn(debug=True)
    def show(v):
        calls["debug"] = v
        return v

    @ct.dag(max_concurrency=2)
    def flow(x):
        s = score(model(), x)
        show(s)
        return s

    assert flow(2) == 6 and flow(5) == 15
    assert calls == {"setup": 1}  # setup ran once; debug nodes do not run by default
    node = flow.get_node_by_id("test_is_sequential_tags_executor_setup_and_debug.<locals>.score")
    assert node.is_sequential and flow.get_nodes_by_tag("score") == [node]
    ex = flow.executor(target_nodes=["score"])
    assert ex(7) == 21
    assert ex.results[node.id] == 21
    ct.cfg.RUN_DEBUG_NODES = True
    try:
        assert flow(1) == 3 and calls["debug"] == 3
    finally:
        ct.cfg.RUN_DEBUG_NODES = False


def test_outside_a_dag_an_xn_is_its_function_and_kwargs_are_refused():
    @ct.xn
    def double(x):
        return 2 * x

    @ct.dag
    def flow(x):
        return double(x)

    assert flow(4) == 8
    for T in (tawazi, ct):  # tawazi's default: an error
        with pytest.raises(Exception, match="outside of a `DAG`"):
            T.xn(lambda x: 2 * x)(4)
    ct.cfg.TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR = "ignore"
    try:
        assert double(4) == 8
    finally:
        ct.cfg.TAWAZI_EXECNODE_OUTSIDE_DAG_BEHAVIOR = "error"
    with pytest.raises(ct.errors.TawaziUsageError, match="keyword"):
        flow(x=4)


def test_async_dag():
    import asyncio

    @ct.xn
    def inc(x):
        return x + 1

    @ct.dag(is_async=True, max_concurrency=2)
    def flow(x):
        return inc(inc(x))

    assert asyncio.run(flow(1)) == 3


def test_twz_active_runs_a_node_only_when_true_like_tawazi():
    def build(T):
        @T.xn
        def inc(x):
            return x + 1

        @T.xn
        def wrap(y):
            return ("wrapped", y)

        @T.xn
        def big(x):
            return x > 5

        @T.dag
        def flow(x):
            r = inc(x, twz_active=big(x))
            return r, wrap(r)

        return flow

    theirs, ours = build(tawazi), build(ct)
    for x in (1, 10):
        assert ours(x) == theirs(x)
    assert ours(1) == (None, ("wrapped", None)) and ours(10) == (11, ("wrapped", 11))
