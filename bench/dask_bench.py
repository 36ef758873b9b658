"""dagforge on Dask vs raw dask.distributed (issue 7), same LocalCluster, same run.

Contenders per shape: raw `client.get` on a dict graph; dagforge throughput mode
(`run_graph`: the whole DAG submitted at once); dagforge engine-driven mode
(`Executor(dag, backend=DaskBackend(client))`: one admission decision per node).
Shapes: layered (100 layers, up to 3 parents), fan-out 1 -> N -> 1, and N tasks that
sleep 10 ms. Prints wall time, us/task and the ratio to raw Dask.
Run: `.venv/bin/python bench/dask_bench.py [--n 10000] [--sleep-n 1000] [--scale]`
(about 4 minutes at the defaults, most of it raw `client.get` on the 10,000-wide fan-out,
which grows faster than linearly; `--n 2000 --sleep-n 300` takes about 40 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import shapes

from dagforge import DAG, Executor
from dagforge.execution.backends.dask_backend import DaskBackend
from dagforge.execution.dask_run import run_graph


def noop(*_):
    return 1


def sleepy(*_):
    time.sleep(0.01)
    return 1


def build(names, parents, fn) -> DAG:
    d = DAG()
    for n in names:
        d.add_node(n, fn)
    for n in names:
        for p in parents[n]:
            d.add_edge(p, n)
    return d.validate()


def raw(client, names, parents, fn) -> float:
    graph = {n: (fn, *parents[n]) for n in names}
    leaves = shapes.leaves(names, parents)
    graph["__all__"] = (lambda *xs: len(xs), *leaves)
    t0 = time.perf_counter()
    assert client.get(graph, "__all__") == len(leaves)
    return time.perf_counter() - t0


def throughput(client, dag) -> float:
    t0 = time.perf_counter()
    r = run_graph(dag, client=client)
    assert r.succeeded == len(dag)
    return time.perf_counter() - t0


def engine(client, dag) -> float:
    t0 = time.perf_counter()
    r = Executor(dag, backend=DaskBackend(client)).execute()
    assert r.succeeded == len(dag), r
    return time.perf_counter() - t0


def main() -> None:
    from distributed import Client, LocalCluster

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--sleep-n", type=int, default=1000)
    ap.add_argument(
        "--scale",
        action="store_true",
        help="find the largest layered DAG (engine mode) finishing under 60 s",
    )
    args = ap.parse_args()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    )
    client = Client(cluster)
    try:
        cases = [
            (f"layered {args.n}", shapes.layered(args.n), noop),
            (f"fanout {args.n}", shapes.fanout(args.n), noop),
            (f"{args.sleep_n} x 10 ms", shapes.layered(args.sleep_n, layers=10), sleepy),
        ]
        print(f"{'shape':<16} {'contender':<22} {'wall s':>8} {'us/task':>9} {'vs raw':>7}")
        for label, (names, parents), fn in cases:
            dag = build(names, parents, fn)
            t_raw = raw(client, names, parents, fn)
            for name, t in (
                ("raw client.get", t_raw),
                ("dagforge throughput", throughput(client, dag)),
                ("dagforge engine", engine(client, dag)),
            ):
                print(
                    f"{label:<16} {name:<22} {t:8.3f} {t * 1e6 / len(names):9.1f} {t / t_raw:6.2f}x"
                )
        if args.scale:
            n = 2000
            while True:
                names, parents = shapes.layered(n)
                t = engine(client, build(names, parents, noop))
                print(f"scale: layered {n} in {t:.1f} s (engine mode)")
                if t > 60 or n >= 200_000:
                    break
                n *= 2
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
