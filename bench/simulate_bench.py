"""Simulator vs a real run (issue 14 item 3) on the heterogeneous workload.

The workload of ``bench/resources_bench.py`` [2]: 200 sleeping tasks on a layered DAG
(10 layers, <= 2 parents, seed 0) with cpu/gpu/memory requirements drawn with
``random.Random(0)``, pool ``{"cpu": 8, "gpu": 2, "memory_mb": 16000}``, durations of
1-3 units. It is run for real with ``ResourceAwareExecutor`` (threads, 16 workers,
``costs=`` the sleeps) and simulated with the same options by
``dagforge.scheduling.simulate`` — the engine's own core on a virtual clock — twice:
``simulate_executor`` on the same executor (durations: its ``costs``, known before
anything runs) and ``simulate`` on the profile of one earlier real run (its measured
node times as durations, the engine told the same costs).

Printed: measured makespans (median of ``--repeat`` runs after the profiling run), the
predictions, their ratio, and all against the lower bound max(critical path, work per
resource / capacity). Target: prediction within 10 % of the measurement.

Usage: ``.venv/bin/python bench/simulate_bench.py [--nodes 200] [--unit 0.01]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import shapes

import dagforge
from dagforge.profiling import Profile
from dagforge.scheduling.simulate import simulate, simulate_executor

CAPS = shapes.HETEROGENEOUS_CAPS
WORKERS = 16


def workload(n: int, unit: float):
    """names, parents, durations (s) and requirements: resources_bench.py's [2], seed 0."""
    return shapes.heterogeneous(n, unit)


def lower_bound(names, parents, dur, req):
    return shapes.heterogeneous_bound(names, parents, dur, req, CAPS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--unit", type=float, default=0.01, help="seconds per duration unit")
    ap.add_argument("--repeat", type=int, default=5, help="real runs (median reported)")
    args = ap.parse_args()

    names, parents, dur, req = workload(args.nodes, args.unit)
    bound, cp, area = lower_bound(names, parents, dur, req)
    dag = dagforge.DAG()
    for name in names:
        dag.add_node(name)
    for name in names:
        for p in parents[name]:
            dag.add_edge(p, name)
    reqs = {k: dagforge.ResourceRequirements(resources=v) for k, v in req.items()}

    def sleeper(d: float):
        return lambda *_: time.sleep(d)

    fns = {x: sleeper(dur[x]) for x in names}

    def executor():
        pool = dagforge.ResourcePool(capacities=CAPS)
        return dagforge.ResourceAwareExecutor(dag, pool, reqs, costs=dur, max_workers=WORKERS)

    # 1. Before anything runs: the executor's own options, simulated (simulate_executor
    #    reads them off it); durations = its costs, the nominal sleeps.
    t0 = time.perf_counter()
    sim = simulate_executor(executor())
    t_sim = time.perf_counter() - t0
    assert all(s == "succeeded" for s in sim.status.values()), sim.status

    # 2. After one profiling run (not counted below): its profile's measured node times
    #    as durations, the engine told the same costs as the executor (in ms, the
    #    profile's unit).
    r = executor().execute(fns)
    assert r.succeeded == len(names)
    profile = Profile.from_result(r)
    ms = {k: v * 1e3 for k, v in dur.items()}
    sim_p = simulate(
        profile, WORKERS, ms, durations=profile.compute_times(), resources=CAPS, requirements=req
    )
    p_s = sim_p.makespan / 1e3

    # 3. The real runs.
    measured = []
    for _ in range(args.repeat):
        ex = executor()
        t0 = time.perf_counter()
        r = ex.execute(fns)
        measured.append(time.perf_counter() - t0)
        assert r.succeeded == len(names)
    real = statistics.median(measured)

    print(
        f"simulate vs real: heterogeneous {len(names)} sleeping tasks, unit {args.unit * 1e3:g} ms,"
    )
    print(
        f"  caps {CAPS}, {WORKERS} threads, overtake_limit 8, costs= the sleeps "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"  lower bound            {bound:.3f} s "
        f"(critical path {cp:.3f} s, resource area {area:.3f} s)"
    )
    print(
        f"  measured makespan      {real:.3f} s  median of {args.repeat} "
        f"(min {min(measured):.3f}, max {max(measured):.3f})  = {real / bound:.3f}x the bound"
    )
    for label, value in (("from the costs  ", sim.makespan), ("from a profile  ", p_s)):
        ok = abs(value / real - 1) <= 0.10
        print(
            f"  predicted {label} {value:.3f} s  = {value / bound:.3f}x the bound;"
            f"  predicted / measured = {value / real:.3f}  {'PASS' if ok else 'MISS'} (10 %)"
        )
    print(f"  ({t_sim * 1e3:.0f} ms to simulate {len(names)} nodes)")


if __name__ == "__main__":
    main()
