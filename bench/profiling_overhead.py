"""Profiling overhead: 1,000 tasks of 1 ms each, profiling off vs on (issue 3 target: <= 5%).

Each task busy-waits 1 ms and returns a small list (so serialization has real work);
the DAG is the layered shape of `bench/shapes.py` (100 layers, up to 3 parents, seed 0).
Prints best-of-N wall times and the ratio. Run: `.venv/bin/python bench/profiling_overhead.py`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dagforge import DAG, Executor


def busy(*_parents):
    end = time.perf_counter() + 0.001
    while time.perf_counter() < end:
        pass
    return [1.0] * 64


def sleeping(*_parents):
    time.sleep(0.001)
    return [1.0] * 64


def layered(n: int, task=busy, layers: int = 100, max_parents: int = 3, seed: int = 0) -> DAG:
    rng = random.Random(seed)
    dag = DAG()
    per = n // layers
    prev: list[str] = []
    for layer in range(layers):
        cur = [f"n{layer}_{k}" for k in range(per)]
        for name in cur:
            dag.add_node(name, task)
            if prev:
                for p in rng.sample(prev, min(len(prev), rng.randint(1, max_parents))):
                    dag.add_edge(p, name)
        prev = cur
    return dag.validate()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backend", default="inline")
    ap.add_argument(
        "--task",
        choices=["busy", "sleep"],
        default=None,
        help="busy-wait (default on inline) or sleep (default on threads: "
        "busy-waiting threads only measure the GIL)",
    )
    args = ap.parse_args()
    kind = args.task or ("busy" if args.backend == "inline" else "sleep")
    dag = layered(args.tasks, busy if kind == "busy" else sleeping)
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeat):
        for mode in ("off", "on"):
            ex = Executor(dag, backend=args.backend, max_workers=2, profile=(mode == "on"))
            t0 = time.perf_counter()
            result = ex.execute()
            times[mode].append(time.perf_counter() - t0)
            assert result.succeeded == len(dag), result
            if mode == "on":
                assert len(result.edge_bytes) == dag.edge_count
    off, on = min(times["off"]), min(times["on"])
    print(f"{args.tasks} tasks x 1 ms ({kind}) on {args.backend}, best of {args.repeat}:")
    print(f"  profiling off: {off:.4f} s   (median {statistics.median(times['off']):.4f})")
    print(f"  profiling on:  {on:.4f} s   (median {statistics.median(times['on']):.4f})")
    med_off, med_on = statistics.median(times["off"]), statistics.median(times["on"])
    print(
        f"  overhead: {100 * (on / off - 1):+.2f}% best-to-best, "
        f"{100 * (med_on / med_off - 1):+.2f}% median-to-median  (target <= +5%)"
    )


if __name__ == "__main__":
    main()
