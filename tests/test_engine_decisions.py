"""The core emits decisions and touches no backend (issue 14 item 1).

The core is driven here with no backend at all — an object carrying only the backend's
declared data (capacity, synchronous, name, worker names), no method to call — by
feeding it events and asserting the decisions it returns: start this node, arm this
timer, abandon this attempt, the run is finished. And an ast scan: the core's modules
import no threads, clocks, event loops or OS, and call no backend or cache method.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import dagforge.execution as execution_pkg
from dagforge import DAG
from dagforge.execution import states as S
from dagforge.execution.decisions import Abandon, Lookup, Start, Store
from dagforge.execution.engine import Run
from dagforge.execution.jobs import done, failed
from dagforge.execution.timers import RETRY, TIMEOUT, Timer

EXECUTION = Path(execution_pkg.__file__).parent
CORE_MODULES = ["core.py", "admission.py", "timers.py", "growth.py", "planning.py"]


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _no_backend(capacity: int = 2) -> types.SimpleNamespace:
    """Only the declared data of a backend: calling anything on it is an AttributeError."""
    return types.SimpleNamespace(
        capacity=capacity, synchronous=False, name="none", worker_names=["w0", "w1"], select=None
    )


def _core(dag: DAG, capacity: int = 2) -> tuple[Run, VirtualClock]:
    clock = VirtualClock()
    tasks = {name: (lambda *a: 1) for name in dag.nodes}
    run = Run(dag, tasks, _no_backend(capacity), clock=clock)  # type: ignore[arg-type]
    run.begin()  # the core's own start: no backend is started (that is the driver's)
    return run, clock


def _decide(run: Run) -> list:
    run.dispatch()
    out = list(run.outbox)
    run.outbox.clear()
    return out


def _started(decisions: list) -> list[str]:
    assert all(type(d) is Start for d in decisions), decisions
    return [d.job.name for d in decisions]


def test_events_in_decisions_out_with_no_backend():
    dag = DAG()
    for name in "abcd":
        dag.add_node(name, lambda *a: 1)
    dag.add_edge("a", "b")
    dag.add_edge("a", "c")
    dag.add_edge("b", "d")
    dag.add_edge("c", "d")
    run, clock = _core(dag)
    assert _started(_decide(run)) == ["a"]
    assert not run.finished()
    clock.now = 1.0
    run._complete(done(0, 1, 10, 0.0, 1.0, 0))  # a succeeded: b and c may start
    decisions = _decide(run)
    assert sorted(_started(decisions)) == ["b", "c"]
    assert all(d.job.args == [10] for d in decisions)  # a's value, positionally
    assert _decide(run) == []  # capacity 2: nothing more until an event
    for d in decisions:
        run._complete(done(d.job.idx, d.job.attempt, 1, 1.0, 2.0, 1))
    assert _started(_decide(run)) == ["d"]
    run._complete(done(3, 1, 2, 2.0, 3.0, 0))
    assert _decide(run) == []
    assert run.finished()
    assert [S.NAMES[s] for s in run.status] == ["succeeded"] * 4


def test_a_timeout_is_an_armed_timer_then_an_abandon_decision():
    dag = DAG()
    dag.add_node("slow", lambda: 1, timeout=5.0, retries=1, retry_delay=2.0, retry_jitter=0)
    run, clock = _core(dag)
    [start] = _decide(run)
    assert type(start) is Start and start.job.attempt == 1
    assert run.timers == [Timer(5.0, TIMEOUT, 0, 1)]  # arm this timer
    clock.now = 5.0
    run._fire_timers()  # the timer is due: give up on attempt 1, retry after 2 s
    assert run.outbox == [Abandon(0, 1)]
    run.outbox.clear()
    assert S.NAMES[run.status[0]] == "retry_wait"
    assert [t for t in run.timers if t.kind == RETRY] == [Timer(7.0, RETRY, 0, 1)]
    assert not run.finished()
    clock.now = 7.0
    run._fire_timers()
    [again] = _decide(run)
    assert type(again) is Start and again.job.attempt == 2
    run._complete(done(0, 1, "stale", 6.0, 7.5, 0))  # the abandoned attempt: ignored
    assert S.NAMES[run.status[0]] == "running"
    run._complete(failed(0, 2, ValueError("boom"), "", 7.0, 8.0, 0))
    assert run.finished()
    assert S.NAMES[run.status[0]] == "failed"


def test_an_interrupt_takes_back_undelivered_starts_and_abandons_the_running():
    dag = DAG()
    for name in "ab":
        dag.add_node(name, lambda: 1)
    run, _ = _core(dag)
    run.dispatch()
    delivered = run.outbox.pop(0)  # the driver applied the first Start only
    run.interrupt("stop")
    assert run.outbox == [Abandon(0, 1), Abandon(1, 1)]
    assert all(type(d) is not Start for d in run.outbox)
    assert delivered.job.name == "a"
    assert [S.NAMES[s] for s in run.status] == ["cancelled", "cancelled"]
    assert run.finished()


def test_the_result_cache_is_a_decision_answered_by_the_driver():
    class Cache:  # only the driver may touch it: the core must not call it
        def __getattr__(self, name):
            raise AssertionError(f"the core called the cache's {name}")

    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("b", lambda a: a)
    dag.add_edge("a", "b")
    clock = VirtualClock()
    run = Run(dag, None, _no_backend(), clock=clock, cache=Cache())  # type: ignore[arg-type]
    run.begin()
    [lookup] = _decide(run)
    assert type(lookup) is Lookup and lookup.job.name == "a"
    run._restored(0, 1, 41)  # the driver's answer: a hit
    assert run.values[0] == 41 and run.cached == 1
    [lookup_b] = _decide(run)
    run._not_cached(lookup_b.job, "key-b")  # a miss: start it, store its value after
    assert run.outbox == [Start(lookup_b.job)]
    run.outbox.clear()
    run._complete(done(1, 1, 42, 0.0, 1.0, 0))
    assert run.outbox == [Store(1, "key-b")]
    assert run.finished()


# -- the scan --------------------------------------------------------------------------

FORBIDDEN_IMPORTS = {"threading", "time", "asyncio", "os"}


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def _calls_on(tree: ast.AST, owner: str) -> list[str]:
    """Calls of ``<...>.<owner>.<method>(...)``, ``<owner>.<method>(...)`` and
    ``getattr(<...>.<owner>, ...)(...)``, and calls through a name bound to one of
    them. Reading the owner's data (``getattr(self.backend, "provisional", False)``)
    is not a call."""
    hits = []
    bound = set()

    def on_owner(e: ast.AST) -> bool:  # <...>.owner.x, owner.x or getattr(<...>.owner, ...)
        if isinstance(e, ast.Attribute):
            base = e.value
            return (isinstance(base, ast.Attribute) and base.attr == owner) or (
                isinstance(base, ast.Name) and base.id == owner
            )
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "getattr":
            a0 = e.args[0] if e.args else None
            return (isinstance(a0, ast.Attribute) and a0.attr == owner) or (
                isinstance(a0, ast.Name) and a0.id == owner
            )
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and on_owner(node.value):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if on_owner(f) or (isinstance(f, ast.Name) and f.id in bound):
            hits.append(f"{ast.unparse(f)}() line {node.lineno}")
    return hits


def test_the_core_modules_import_no_threads_clock_loop_or_os():
    for rel in CORE_MODULES:
        tree = ast.parse((EXECUTION / rel).read_text())
        bad = _imports(tree) & FORBIDDEN_IMPORTS
        assert not bad, f"execution/{rel} imports {sorted(bad)}"


def test_the_core_modules_call_no_backend_or_cache_method():
    for rel in CORE_MODULES:
        tree = ast.parse((EXECUTION / rel).read_text())
        hits = _calls_on(tree, "backend") + _calls_on(tree, "cache")
        assert not hits, f"execution/{rel} calls {hits}"


def test_the_scan_sees_a_backend_call(tmp_path):
    """The scan is not vacuous: the shapes it must catch are caught."""
    src = (
        "import time\n"
        "def f(self):\n"
        "    self.backend.abandon(1, 2)\n"
        "    submit = self.backend.submit\n"
        "    submit(3)\n"
        "    getattr(self.backend, 'resolve')(4)\n"
        "    fetch = getattr(self.backend, 'materialize', None)\n"
        "    fetch(self, 5)\n"
        "    sync = self.backend.synchronous\n"
        "    self.cache.get('k')\n"
    )
    tree = ast.parse(src)
    assert _imports(tree) == {"time"}
    assert len(_calls_on(tree, "backend")) == 4
    assert len(_calls_on(tree, "cache")) == 1
