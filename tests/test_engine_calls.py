"""One node-call path (issue 14 item 6): every way a node is called — ``run_job`` on
every backend, the asyncio backend, the inline loop and the compiled inline order — goes
through ``jobs.call_node``; nothing else in execution/ spells the calling convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dagforge.execution as execution_pkg
from dagforge import DAG, Executor
from dagforge.execution import jobs
from dagforge.execution.jobs import K_NOARGS, K_POS, K_TASK

EXECUTION = Path(execution_pkg.__file__).parent

# (file, function) that call a node, each through call_node
CALLERS = {
    ("jobs.py", "run_job"),
    ("fastpath.py", "_dispatch_inline"),
    ("core.py", "_run_compiled"),
    ("backends/asyncio_backend.py", "_run"),
}


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _names(fn: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)
    }


def test_every_node_caller_uses_call_node():
    for rel, name in CALLERS:
        fns = [f for f in _functions(EXECUTION / rel) if f.name == name]
        assert fns, f"{rel}:{name} is gone; update CALLERS"
        assert "call_node" in _names(fns[0]), f"{rel}:{name} does not call jobs.call_node"


def test_no_other_function_spells_the_calling_convention():
    """Only call_node branches on the call kinds to call a node (``fn(*args)`` when K_POS,
    else ``fn()`` or ``fn(**kwargs)``): no hand-kept copy elsewhere."""
    offenders = []
    for path in EXECUTION.rglob("*.py"):
        for fn in _functions(path):
            if fn.name == "call_node":
                continue
            uses = _names(fn)
            starred = any(
                isinstance(a, ast.Starred)
                for c in ast.walk(fn)
                if isinstance(c, ast.Call)
                for a in c.args
            )
            if "K_POS" in uses and starred:
                offenders.append(f"{path.relative_to(EXECUTION)}:{fn.name}")
    assert not offenders, f"a copy of jobs.call_node: {offenders}"


def test_call_node_calls_each_kind():
    assert jobs.call_node(K_POS, lambda a, b: a + b, [1, 2], None) == 3
    assert jobs.call_node(K_NOARGS, lambda: 7, (), None) == 7
    assert jobs.call_node(K_TASK, lambda x, cfg: {"y": x + cfg}, (), {"x": 1, "cfg": 2}) == {"y": 3}


def test_call_node_finishes_a_coroutine_unless_told_not_to():
    async def node(a):
        return a * 2

    assert jobs.call_node(K_POS, node, [4], None) == 8
    coro = jobs.call_node(K_POS, node, [4], None, False)
    try:
        assert type(coro).__name__ == "coroutine"
    finally:
        coro.close()


@pytest.mark.parametrize("prepared", [False, True])
def test_async_nodes_run_to_their_end_on_both_inline_loops(prepared):
    """The heap loop (fastpath) and the compiled order (_run_compiled) both call through
    call_node, so an ``async def`` node's value is its awaited result on either."""

    async def a():
        return 2

    async def b(x):
        return x + 3

    dag = DAG()
    dag.add_node("a", a)
    dag.add_node("b", b)
    dag.add_edge("a", "b")
    if prepared:
        dag.prepare()
    result = Executor(dag, backend="inline").execute()
    assert result.succeeded
    assert result["b"].value == 5
