"""Resource-aware scheduling benchmarks (issue 4), all contenders in one process.

1. Overhead: the 10,000-node layered DAG of no-op tasks with requirements that never
   bind — dagforge ResourceAwareExecutor vs dagforge plain threads (target <= 1.5x) and
   vs dagron's ResourceAwareExecutor (target: >= 5x cheaper per task).
2. Heterogeneous makespan: 200 sleeping tasks with cpu/gpu/memory requirements (seed 0);
   makespan of dagforge and dagron against the lower bound
   max(critical path, total work per resource / capacity).
3. processes backend: per-task overhead vs concurrent.futures.ProcessPoolExecutor
   driven by hand on the same no-op chain of tasks.

Run it from the bench venv (dagron needs Python >= 3.12):
`.bench-venv/bin/python bench/resources_bench.py`; without dagron the dagron columns
say "unavailable".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import shapes

import dagforge

try:
    import dagron
except ImportError:  # not installable on this Python
    dagron = None


def noop(*_):
    return 1


def build(lib, names, parents):
    """The same structure with dagforge's or dagron's builder (their APIs match)."""
    b = lib.DAG.builder()
    for n in names:
        b.add_node(n)
    for n in names:
        for p in parents[n]:
            b.add_edge(p, n)
    return b.build()


def best(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def overhead(n: int, repeat: int) -> None:
    names, parents = shapes.layered(n)
    dag = build(dagforge, names, parents)
    fns = {name: noop for name in names}
    cap = {"cpu": 10**9, "memory_mb": 10**12}
    reqs = {
        name: dagforge.ResourceRequirements(resources={"cpu": 1, "memory_mb": 1}) for name in names
    }

    def plain():
        r = dagforge.Executor(dag, backend="threads", max_workers=2).execute(fns)
        assert r.succeeded == n

    def resource_aware():
        # The default pool (timeline on), a requirement on every node (issue 11).
        pool = dagforge.ResourcePool(capacities=cap)
        r = dagforge.ResourceAwareExecutor(dag, pool, reqs, max_workers=2).execute(fns)
        assert r.succeeded == n
        assert len(pool.timeline) == 2 * n

    # One phase, runs interleaved (plain, RA, plain, RA, ...), so both see the same
    # machine state. Reported: the ratio of the medians, the spread of the ratio of each
    # interleaved pair (min / quartiles / max), best-of, and the ratio of the medians of
    # the process CPU time (less sensitive to other processes on a shared machine).
    t_p, t_r, c_p, c_r = [], [], [], []
    for _ in range(repeat):
        for fn, wall, cpu in ((plain, t_p, c_p), (resource_aware, t_r, c_r)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    t_plain, t_ra = min(t_p), min(t_r)
    med = statistics.median(t_r) / statistics.median(t_p)
    pairs = sorted(r / p for r, p in zip(t_r, t_p, strict=True))
    q = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else pairs * 3
    cpu = statistics.median(c_r) / statistics.median(c_p)
    print(f"[1] layered {n} no-op, requirements never bind (interleaved, {repeat} pairs)")
    print(f"    median RA / median plain = {med:.2f}x (target <= 1.5x)")
    print(
        f"    per-pair ratio: min {pairs[0]:.2f}  q1 {q[0]:.2f}  median {q[1]:.2f}  "
        f"q3 {q[2]:.2f}  max {pairs[-1]:.2f};  CPU-time medians {cpu:.2f}x"
    )
    print(
        f"    dagforge threads(2)            {t_plain * 1e6 / n:8.1f} us/task best, "
        f"{statistics.median(t_p) * 1e6 / n:.1f} median"
    )
    print(
        f"    dagforge ResourceAwareExecutor {t_ra * 1e6 / n:8.1f} us/task best, "
        f"{statistics.median(t_r) * 1e6 / n:.1f} median; best-of ratio {t_ra / t_plain:.2f}x"
    )
    if dagron is None:
        print("    dagron ResourceAwareExecutor   unavailable (needs Python >= 3.12)")
        return
    gdag = build(dagron, names, parents)
    gfns = {name: noop for name in names}
    greqs = {
        name: dagron.ResourceRequirements(resources={"cpu": 1, "memory_mb": 1}) for name in names
    }

    def dagron_ra():
        pool = dagron.ResourcePool(capacities=cap)
        r = dagron.ResourceAwareExecutor(gdag, pool, greqs).execute(gfns)
        assert r.succeeded == n, r.succeeded

    t_g = best(dagron_ra, 1)
    print(
        f"    dagron ResourceAwareExecutor   {t_g * 1e6 / n:8.1f} us/task"
        f"   dagron / dagforge = {t_g / t_ra:.1f}x (target >= 5x)"
    )


OVERTAKE = 8  # the engine's default


def heterogeneous(n: int, unit: float) -> None:
    names, parents, dur, req = shapes.heterogeneous(n, unit)
    caps = shapes.HETEROGENEOUS_CAPS
    bound, cp, area = shapes.heterogeneous_bound(names, parents, dur, req, caps)

    def sleeper(name):
        d = dur[name]
        return lambda *_: time.sleep(d)

    dag = build(dagforge, names, parents)
    pool = dagforge.ResourcePool(capacities=caps)
    t0 = time.perf_counter()
    r = dagforge.ResourceAwareExecutor(
        dag,
        pool,
        {k: dagforge.ResourceRequirements(resources=v) for k, v in req.items()},
        costs=dur,
        max_workers=16,
    ).execute({x: sleeper(x) for x in names})
    t_df = time.perf_counter() - t0
    assert r.succeeded == n
    print(f"[2] heterogeneous {n} sleeping tasks (unit {unit * 1000:.0f} ms), caps {caps}")
    print(f"    lower bound {bound:.3f}s (critical path {cp:.3f}s, resource area {area:.3f}s)")
    print(f"    dagforge makespan {t_df:.3f}s = {t_df / bound:.2f}x the bound")
    if dagron is None:
        print("    dagron   unavailable")
        return
    gdag = build(dagron, names, parents)
    gpool = dagron.ResourcePool(capacities=caps)
    t0 = time.perf_counter()
    rg = dagron.ResourceAwareExecutor(
        gdag,
        gpool,
        {k: dagron.ResourceRequirements(resources=v) for k, v in req.items()},
        costs=dur,
    ).execute({x: (lambda f: lambda: f())(sleeper(x)) for x in names})
    t_g = time.perf_counter() - t0
    assert rg.succeeded == n
    print(f"    dagron   makespan {t_g:.3f}s = {t_g / bound:.2f}x the bound")


def processes(n: int) -> None:
    dag = dagforge.DAG()
    for k in range(n):
        dag.add_node(f"t{k}", noop)
        if k:
            dag.add_edge(f"t{k - 1}", f"t{k}")
    t0 = time.perf_counter()
    r = dagforge.Executor(dag, backend="processes", max_workers=2).execute()
    t_df = time.perf_counter() - t0
    assert r.succeeded == n
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as ex:
        value = 0
        for _ in range(n):
            value = ex.submit(noop, value).result()
    t_pp = time.perf_counter() - t0
    print(f"[3] processes backend, chain of {n} no-op tasks (includes pool start-up)")
    print(f"    dagforge processes(2)        {t_df * 1e6 / n:8.1f} us/task")
    print(
        f"    ProcessPoolExecutor by hand  {t_pp * 1e6 / n:8.1f} us/task   ratio {t_df / t_pp:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--hetero", type=int, default=200)
    ap.add_argument("--unit", type=float, default=0.01)
    ap.add_argument("--proc", type=int, default=2000)
    ap.add_argument("--overhead-only", action="store_true", help="run only [1], the overhead A/B")
    args = ap.parse_args()
    overhead(args.nodes, args.repeat)
    if args.overhead_only:
        return
    heterogeneous(args.hetero, args.unit)
    processes(args.proc)


if __name__ == "__main__":
    main()
