"""A spec loop of many iterations (issue 5): time per instance and bytes per instance.

The loop `check -> add -> check -> ...` runs until a counter reaches N, so 2N+1
instances are created by rules while the run goes. Memory is traced with tracemalloc;
"flat" means bytes per instance stay the same as N grows (each instance is a node of
the run's DAG plus its result, nothing accumulates per iteration beyond that).
Run: `.venv/bin/python bench/spec_bench.py [--sizes 1000,5000,10000]`.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dagforge.spec import FunctionRegistry, run_workflow


def node(node_id, primitive="serial", **props):
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


def loop_spec(n: int) -> dict:
    return {
        "name": "count",
        "max_iterations": n + 5,
        "dag": [
            node(
                "check",
                "condition",
                outputs_from=["add"],
                branch_1="add",
                branch_2="done",
                condition={"source": "i", "operator": "less_than", "target": n},
            ),
            node("add", next="check", outputs_from=["check"]),
            node("done", outputs_from=["check"]),
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--backend", default="inline")
    args = ap.parse_args()
    reg = FunctionRegistry()
    reg.register("check", lambda i=0, **_: {"i": i})
    reg.register("add", lambda i=0, **_: {"i": i + 1})
    reg.register("done", lambda i=0, **_: {"final": i})
    print(f"spec loop on {args.backend}: instances, us/instance, bytes/instance (traced)")
    for n in (int(x) for x in args.sizes.split(",")):
        t0 = time.perf_counter()
        result = run_workflow(loop_spec(n), reg, {"i": 0}, backend=args.backend)
        elapsed = time.perf_counter() - t0
        assert result.workflow_outputs == {"done": {"final": n}}, result.workflow_outputs
        instances = len(result.dag)
        del result
        tracemalloc.start()
        result = run_workflow(loop_spec(n), reg, {"i": 0}, backend=args.backend)
        current, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  N={n:>6}: {instances:>6} instances, {elapsed * 1e6 / instances:7.1f} us, "
            f"{current / instances:8.0f} B/instance retained"
        )
        del result


if __name__ == "__main__":
    main()
