"""Dynamic DAG cost (issue 5): run-time fan-out of N map nodes + reduce vs the same DAG
built statically, per task, on inline and threads. Target: <= 1.5x the static DAG.

Two static figures are printed: run only (the graph pre-built, the strictest
comparison) and build + run (what a user pays when the width is known up front).
A spec loop of many iterations is measured by `bench/spec_bench.py` when specs exist.
Run: `.venv/bin/python bench/dynamic_bench.py [--n 10000]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dagforge import DAG, Executor
from dagforge.dynamic import MapItem


def ident(x):
    return x


def count(*xs):
    return len(xs)


def static_dag(n: int) -> DAG:
    dag = DAG()
    dag.add_node("src", lambda: list(range(n)))
    for k in range(n):
        dag.add_node(f"m[{k}]", MapItem(ident, k))
        dag.add_edge("src", f"m[{k}]")
    dag.add_node("r", count)
    for k in range(n):
        dag.add_edge(f"m[{k}]", "r")
    return dag.validate()


def dynamic_dag(n: int) -> DAG:
    dag = DAG()
    dag.add_node("src", lambda: list(range(n)))
    dag.map("src", ident, name="m", reduce=count, reduce_name="r")
    return dag


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.n
    tasks = n + 2
    for backend in ("inline", "threads"):

        def run_static(dag=None, backend=backend):
            d = dag or static_dag(n)
            r = Executor(d, backend=backend, max_workers=2).execute()
            assert r.outputs == {"r": n}

        def run_dynamic(backend=backend):
            r = Executor(dynamic_dag(n), backend=backend, max_workers=2).execute()
            assert r.outputs == {"r": n} and r.succeeded == tasks

        prebuilt = static_dag(n)
        t_static_run = best(lambda: run_static(prebuilt), args.repeat)  # noqa: B023 - used at once
        t_static_all = best(run_static, args.repeat)
        t_dynamic = best(run_dynamic, args.repeat)
        us = 1e6 / tasks
        print(f"{backend}: fan-out of {n} (+src, +reduce), best of {args.repeat}")
        print(f"  static, run only      {t_static_run * us:7.2f} us/task")
        print(f"  static, build + run   {t_static_all * us:7.2f} us/task")
        print(
            f"  dynamic (rule)        {t_dynamic * us:7.2f} us/task   "
            f"{t_dynamic / t_static_run:.2f}x run-only, "
            f"{t_dynamic / t_static_all:.2f}x build+run (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
