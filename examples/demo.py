"""`make demo`: run the flagship example on embedded defaults and write its artefacts.

Runs the dagprofiler quickstart DAG with profiling and tracing on, then writes
`profile.json` (the scheduler-agnostic profile), `trace.json` (open it in Perfetto or
chrome://tracing) and `gantt.png` into the output directory, and prints a summary.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", help="directory for the artefacts")
    parser.add_argument("--n", type=int, default=10000, help="rows of data (config N)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dag = build(args.n)
    print(f"dagforge demo: {dag} — the dagprofiler quickstart (N={args.n}, seed={args.seed})")
    print(dag.to_mermaid())

    # 1. The profile: dag.run(seed=) is the dagprofiler API.
    profile = dag.run(seed=args.seed)
    profile.save(out / "profile.json")

    # 2. A traced run on two threads for the trace and the Gantt chart.
    random.seed(args.seed)
    np.random.seed(args.seed)
    result = Executor(
        dag, backend="threads", max_workers=2, enable_tracing=True, profile=True
    ).execute()
    result.raise_for_failures()
    result.trace.save(out / "trace.json")
    gantt_path = out / "gantt.png"
    try:
        from dagforge.plot import gantt

        gantt(result, gantt_path)
    except ImportError as exc:  # matplotlib is the `plot` extra
        gantt_path = None
        print(f"(no gantt.png: {exc})")

    print()
    print(f"run: {result.summary()}")
    print(f"total time (profiled run): {profile.metrics.total_time_ms:.2f} ms")
    print("node weights (instructions):")
    for name, w in profile.metrics.node_weights.items():
        print(f"  {name:<10} {w:>12,}")
    print("edge weights (bits):")
    for edge, bits in profile.metrics.edge_weights.items():
        print(f"  {edge:<20} {bits:>12,}")
    path, cost = dag.critical_path(profile.metrics.node_weights)
    print(f"critical path: {' -> '.join(path)} ({cost:,.0f} instructions)")
    print("measured per node (traced run on 2 threads):")
    for name, node in result.results.items():
        m = node.metrics
        print(
            f"  {name:<10} {node.duration * 1000:8.3f} ms on {node.worker:<9}"
            f" out {m.bytes_out:>9,} B  serialize {m.serialize_ms:.3f} ms"
        )
    print()
    print(f"wrote {out / 'profile.json'}")
    print(f"wrote {out / 'trace.json'}  (open in https://ui.perfetto.dev)")
    if gantt_path is not None:
        print(f"wrote {gantt_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
