"""Two runs on two pools sharing the same requirement objects: each run keeps its own
compiled take/give per node (planning's ``takes``/``gives``), so a run planned later on
another pool neither sends the first run's takes to the wrong pool nor makes it
recompile them."""

import threading

import dagforge
from dagforge import DAG
from dagforge.resources import ResourcePool, ResourceRequirements


class _CountingPool(ResourcePool):
    """A pool that counts how often it compiles a requirement's take/give."""

    __slots__ = ("compiles",)

    def __init__(self, capacities):
        super().__init__(capacities)
        self.compiles = 0

    def _compile(self, req):
        self.compiles += 1
        return super()._compile(req)


def _dag(prefix: str, n: int, body) -> DAG:
    dag = DAG()
    for k in range(n):
        dag.add_node(f"{prefix}{k}", body(k))
    return dag


def test_runs_on_two_pools_sharing_requirement_objects_stay_on_their_own_pool():
    shared = ResourceRequirements({"slot": 1})  # ONE object, used by both runs
    p1, p2 = _CountingPool({"slot": 1}), _CountingPool({"slot": 2})
    lock = threading.Lock()
    running = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    a_waiting, go = threading.Event(), threading.Event()

    def body(run):
        def make(k):
            def node():
                with lock:
                    running[run] += 1
                    peak[run] = max(peak[run], running[run])
                if run == "a" and k == 0:
                    a_waiting.set()
                    assert go.wait(10), "run b never finished"
                else:
                    threading.Event().wait(0.002)
                with lock:
                    running[run] -= 1
                return k

            return node

        return make

    dag_a, dag_b = _dag("a", 6, body("a")), _dag("b", 6, body("b"))
    out = {}

    def run_a():
        reqs = {f"a{k}": shared for k in range(6)}
        out["a"] = dagforge.ResourceAwareExecutor(dag_a, p1, reqs, max_workers=3).execute()

    t = threading.Thread(target=run_a)
    t.start()
    try:
        assert a_waiting.wait(10)
        # Run a has planned and holds p1; run b plans on p2 with the same object (the
        # record's own cache now names p2) and runs to the end while a waits.
        reqs_b = {f"b{k}": shared for k in range(6)}
        out["b"] = dagforge.ResourceAwareExecutor(dag_b, p2, reqs_b, max_workers=3).execute()
    finally:
        go.set()
        t.join(30)
    assert not t.is_alive()
    assert out["a"].succeeded == 6 and out["b"].succeeded == 6
    assert peak["a"] == 1  # p1 has one slot: run a never took p2's
    assert 1 <= peak["b"] <= 2
    assert p1.allocated == {"slot": 0} and p2.allocated == {"slot": 0}
    assert len(p1.timeline) == 12 and len(p2.timeline) == 12  # a take and a give per node
    # Each pool compiled the shared record once; run a's later takes used its own
    # compile although the record's cache was overwritten by run b's planning.
    assert p1.compiles == 1
    assert p2.compiles == 1
