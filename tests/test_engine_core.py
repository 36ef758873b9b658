"""The core's transition methods: each refuses an illegal transition naming the node, and
they are the only code in execution/ that writes a node's status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dagforge import DAG, NodeStateError
from dagforge.execution import states as S
from dagforge.execution.backends.inline import InlineBackend
from dagforge.execution.engine import Run


def _run() -> Run:
    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("b", lambda a: a + 1)
    dag.add_edge("a", "b")
    return Run(dag, None, InlineBackend())


def test_start_refuses_a_node_that_is_not_ready():
    run = _run()
    with pytest.raises(NodeStateError, match="node 'b' cannot go from 'pending' to 'running'"):
        run._start(1)


def test_succeed_refuses_a_node_that_is_not_running():
    run = _run()
    run._push(0)  # pending -> ready
    with pytest.raises(NodeStateError, match="node 'a' cannot go from 'ready' to 'succeeded'"):
        run._succeed(0, 1, 0.0, 0.0, 0)


def test_a_finished_node_cannot_start_again():
    run = _run()
    result = run.run()
    assert result.ok
    with pytest.raises(NodeStateError, match="node 'a' cannot go from 'succeeded' to 'running'"):
        run._start(0)


def test_the_transitions_release_children_once():
    run = _run()
    run._push(0)
    heap_key = run.heap.pop()
    assert run._idx(heap_key) == 0
    assert run._start(0) == 1  # the attempt number
    run._succeed(0, 41, 1.0, 2.0, 0)
    assert run.status[0] == S.SUCCEEDED and run.values[0] == 41
    assert run.status[1] == S.READY and run.pending[1] == 0 and len(run.heap) == 1
    assert (run.starts[0], run.ends[0], run.in_flight) == (1.0, 2.0, 0)


def test_only_the_core_writes_node_status():
    """A status write anywhere else in execution/ would bypass the transition checks."""
    root = Path(__file__).resolve().parents[1] / "src" / "dagforge" / "execution"
    write = re.compile(r"\bstatus\[[^\]]+\]\s*=[^=]")
    offenders = [
        f"{path.relative_to(root)}:{k}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "core.py"
        for k, line in enumerate(path.read_text().splitlines(), 1)
        if write.search(line)
    ]
    assert offenders == []
