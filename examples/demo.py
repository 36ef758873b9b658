"""`make demo`: run the flagship example on embedded defaults and write its artefacts.

Runs the dagprofiler quickstart DAG once, on two threads, with profiling and tracing
on. Every figure printed comes from that one run, and the same run is written as
`profile.json` (the scheduler-agnostic profile), `trace.json` (open it in Perfetto or
chrome://tracing), `gantt.png` (one row per worker) and `dag.mmd` (the graph as
Mermaid text) in the output directory.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from quickstart import build

from dagforge import Executor
from dagforge._files import atomic_write
from dagforge.profiling import Profile


def heading(text: str) -> None:
    print()
    print(text)
    print("-" * len(text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", help="directory for the artefacts")
    parser.add_argument("--n", type=int, default=10000, help="rows of data (config N)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dag = build(args.n)
    print(f"dagforge demo: the dagprofiler quickstart (N={args.n:,}, seed={args.seed})")

    heading("The DAG")
    for name in dag.topological_order():
        parents = dag.predecessors(name)
        print(f"  {name:<10} <- {', '.join(parents) if parents else '(no inputs)'}")
    atomic_write(out / "dag.mmd", dag.to_mermaid())

    # One run, profiled and traced: every number below and every file comes from it.
    random.seed(args.seed)
    np.random.seed(args.seed)
    result = Executor(
        dag, backend="threads", max_workers=2, enable_tracing=True, profile=True
    ).execute()
    result.raise_for_failures()
    profile = Profile.from_result(result, seed=args.seed)
    metrics = profile.metrics

    heading("The run (threads backend, 2 workers)")
    print(f"  {result.summary()}")
    print(f"  {'node':<10} {'worker':<10} {'start ms':>9} {'took ms':>9} {'output bytes':>13}")
    for name, node in result.results.items():
        print(
            f"  {name:<10} {node.worker:<10} {node.start * 1000:9.3f} "
            f"{node.duration * 1000:9.3f} {node.metrics.bytes_out:>13,}"
        )

    heading("Its profile")
    print(f"  total compute time: {metrics.total_time_ms:.2f} ms")
    print("  node weights (estimated instructions):")
    for name, w in metrics.node_weights.items():
        print(f"    {name:<10} {w:>14,}")
    print("  edge weights (bits that crossed each edge):")
    for edge, bits in metrics.edge_weights.items():
        print(f"    {edge:<20} {bits:>14,}")
    path, cost = dag.critical_path(metrics.node_weights)
    print(f"  critical path: {' -> '.join(path)} ({cost:,.0f} instructions)")

    profile.save(out / "profile.json")
    result.trace.save(out / "trace.json")
    gantt_path: Path | None = out / "gantt.png"
    try:
        from dagforge.profiling.plot import gantt

        gantt(result, gantt_path, title="quickstart on 2 threads: one bar per node")
    except ImportError as exc:  # matplotlib is the `plot` extra
        gantt_path = None
        gantt_missing = str(exc)

    heading(f"Files (in {out}/)")
    files = [
        (out / "profile.json", "the profile (dagprofiler's JSON; `dagforge compare` reads it)"),
        (out / "trace.json", "the trace: open it in https://ui.perfetto.dev"),
    ]
    if gantt_path is not None:
        files.append((gantt_path, "the Gantt chart: one row per worker, one bar per node"))
    files.append((out / "dag.mmd", "the graph as Mermaid text (paste it in https://mermaid.live)"))
    width = max(len(str(f)) for f, _ in files)
    for f, what in files:
        print(f"  {f!s:<{width}}  {what}")
    if gantt_path is None:
        print(f"  (no gantt.png: {gantt_missing})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
