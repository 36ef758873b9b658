"""Observability overhead: 1,000 tasks of 1 ms on threads, log capture + OpenTelemetry
spans off vs on, in the same run (issue 15 target: <= 5%).

Each task sleeps 1 ms, prints one line and logs one record (so capture has real work);
the DAG is the layered shape of `profiling_overhead.py` (100 layers, up to 3 parents).
"on" = ``capture_logs=True`` and ``OtelCallbacks`` on an SDK tracer provider with a
``BatchSpanProcessor`` into an in-memory exporter (spans are really built and exported).
Modes alternate within each repeat so drift hits both. Prints best-of-N and median wall
times and the ratios. Run: `.venv/bin/python bench/observability_overhead.py`.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profiling_overhead import layered

from dagforge import Executor

log = logging.getLogger("bench.task")


def chatty(*_parents):
    time.sleep(0.001)
    print("step done")
    log.warning("step logged")
    return 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from dagforge.otel import OtelCallbacks

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=10_000))
    tracer = provider.get_tracer("bench")
    # "off" output must go somewhere cheap too: both modes write to /dev/null
    devnull = open("/dev/null", "w")  # noqa: SIM115
    real_stdout = sys.stdout
    logging.basicConfig(stream=devnull, level=logging.WARNING)
    dag = layered(args.tasks, chatty)
    times: dict[str, list[float]] = {"off": [], "on": []}
    built: list[float] = []  # run + building its spans on the background thread
    spans = 0
    for _ in range(args.repeat):
        for mode in ("off", "on"):
            exporter.clear()
            on = mode == "on"
            cb = OtelCallbacks(tracer) if on else None
            ex = Executor(
                dag,
                backend="threads",
                max_workers=args.workers,
                capture_logs=on,
                callbacks=cb.callbacks() if cb else None,
            )
            sys.stdout = devnull
            try:
                t0 = time.perf_counter()
                result = ex.execute()
                elapsed = time.perf_counter() - t0
            finally:
                sys.stdout = real_stdout
            times[mode].append(elapsed)
            assert result.succeeded == len(dag), result
            if on:
                assert cb.done.wait(30)
                built.append(time.perf_counter() - t0)
                provider.force_flush()
                spans = len(exporter.get_finished_spans())
                assert result[dag.nodes[0]].logs.stdout == "step done\n"
    off, on = min(times["off"]), min(times["on"])
    med_off, med_on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"{args.tasks} tasks x 1 ms on threads ({args.workers} workers), best of {args.repeat}:")
    print(f"  observability off: {off:.4f} s   (median {med_off:.4f})")
    print(f"  capture + spans:   {on:.4f} s   (median {med_on:.4f}; {spans} spans exported)")
    print(
        f"  overhead: {100 * (on / off - 1):+.2f}% best-to-best, "
        f"{100 * (med_on / med_off - 1):+.2f}% median-to-median  (target <= +5%)"
    )
    print(
        f"  until every span has ended (background thread): best {min(built):.4f} s "
        f"({100 * (min(built) / off - 1):+.2f}%), median {statistics.median(built):.4f} s"
    )


if __name__ == "__main__":
    main()
