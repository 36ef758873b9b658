"""Small, dependency-free helpers shared by dagforge's benchmarks.

The pattern every benchmark follows:

* the **parent** (driver) process never imports the thing it measures; for each
  measurement it starts a FRESH Python subprocess with :func:`run_worker`, so peak RSS
  (``ru_maxrss``) and import side effects belong to exactly one contender;
* the **worker** does its measurement and finishes with :func:`emit` (or lets
  :func:`worker_main` do it), which prints one marker-prefixed JSON line on stdout;
* :func:`run_worker` parses that line back into a dict and always returns one, with a
  ``status`` of ``"ok"``, ``"FAIL"`` (the worker ran but a check failed),
  ``"unavailable"`` (an import failed, e.g. a peer that could not be installed),
  ``"TIMEOUT"`` or ``"ERROR"`` (crash, no result line).

Usage from a benchmark script (``bench/foo.py``)::

    import harness

    def measure(args) -> dict:           # runs in the worker
        ...
        return {"run_s": 1.2}

    if __name__ == "__main__":
        if harness.is_worker():
            harness.worker_main(measure)  # parses nothing itself: gets sys.argv[2:]
        else:
            res = harness.run_worker(__file__, ["case-a", "10000"], timeout=120)

Everything here runs on Python >= 3.11 with the standard library only.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

RESULT_MARKER = "@@DAGFORGE-BENCH-RESULT@@ "
WORKER_FLAG = "--bench-worker"

__all__ = [
    "RESULT_MARKER",
    "WORKER_FLAG",
    "CheckFailed",
    "Unavailable",
    "best_of",
    "emit",
    "is_worker",
    "machine_info",
    "peak_rss_mb",
    "run_worker",
    "timed",
    "worker_main",
]


class Unavailable(Exception):
    """Raise in a worker when the thing to measure cannot be imported or used."""


class CheckFailed(Exception):
    """Raise in a worker when a correctness check (e.g. call count) fails."""


# ----------------------------------------------------------------------------- worker side


def peak_rss_mb() -> float:
    """Peak resident set size of THIS process so far, in MiB (Linux: ru_maxrss is KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there
        return rss / (1024 * 1024)
    return rss / 1024


def emit(result: dict[str, Any]) -> None:
    """Print ``result`` as the worker's single result line (adds ``peak_rss_mb``)."""
    result = dict(result)
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    sys.stdout.write(RESULT_MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def is_worker(argv: Sequence[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return len(argv) > 1 and argv[1] == WORKER_FLAG


def worker_main(measure: Callable[[list[str]], dict[str, Any]]) -> None:
    """Run ``measure(sys.argv[2:])`` and emit its dict with ``status="ok"``.

    :class:`Unavailable` becomes ``status="unavailable"``, :class:`CheckFailed`
    ``status="FAIL"``, any other exception ``status="ERROR"``; the message is kept in
    ``"error"``. The process exits 0 in all these cases (the status says what happened).
    """
    try:
        out = measure(sys.argv[2:])
        out.setdefault("status", "ok")
    except Unavailable as exc:
        out = {"status": "unavailable", "error": str(exc)}
    except CheckFailed as exc:
        out = {"status": "FAIL", "error": str(exc)}
    except Exception as exc:  # report, don't crash: the driver wants a row
        out = {
            "status": "ERROR",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    emit(out)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, fn())`` using ``perf_counter``; collects garbage first so a previous
    repetition's garbage is not charged to this one (GC stays enabled while timing)."""
    gc.collect()
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def best_of(
    repeats: int,
    once: Callable[[int], dict[str, float]],
    *,
    budget_s: float | None = None,
) -> tuple[dict[str, float], int]:
    """Call ``once(i)`` up to ``repeats`` times; return (per-key minimum, repetitions done).

    ``once`` returns a dict of timings (e.g. ``{"build_s": .., "run_s": ..}``); each key's
    best (smallest) value is kept independently. When ``budget_s`` is given, no new
    repetition starts once that much wall time has been spent (at least one always runs),
    so very slow contenders do not dominate the benchmark's wall time.
    """
    best: dict[str, float] = {}
    start = time.perf_counter()
    done = 0
    for i in range(max(1, repeats)):
        if i and budget_s is not None and time.perf_counter() - start > budget_s:
            break
        for key, value in once(i).items():
            best[key] = value if key not in best else min(best[key], value)
        done += 1
    return best, done


# ----------------------------------------------------------------------------- driver side


def run_worker(
    script: str,
    args: Sequence[str],
    *,
    timeout: float,
    python: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> dict[str, Any]:
    """Run ``python script --bench-worker *args`` in a fresh process; return its result.

    Always returns a dict with at least ``status`` and ``wall_s`` (the subprocess's wall
    time, interpreter start-up included). ``PYTHONHASHSEED`` defaults to 0 so set/dict
    orders inside the worker are reproducible.
    """
    cmd = [python or sys.executable, script, WORKER_FLAG, *args]
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONHASHSEED", "0")
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    if env:
        full_env.update(env)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        return {
            "status": "TIMEOUT",
            "error": f"no result after {timeout:.0f} s",
            "wall_s": time.perf_counter() - t0,
            "stderr_tail": _tail(exc.stderr),
        }
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            out: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            out["wall_s"] = wall
            if proc.returncode != 0 and out.get("status") == "ok":
                out["status"] = "ERROR"
                out["error"] = f"worker exited {proc.returncode} after reporting"
            return out
    return {
        "status": "ERROR",
        "error": f"worker exited {proc.returncode} without a result line"
        + (" (killed: out of memory?)" if proc.returncode in (-9, 137) else ""),
        "wall_s": wall,
        "stderr_tail": _tail(proc.stderr),
    }


def _tail(text: str | bytes | None, lines: int = 15) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def machine_info(python: str | None = None) -> dict[str, Any]:
    """Facts worth storing next to benchmark numbers."""
    info: dict[str, Any] = {
        "driver_python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        with open("/proc/meminfo") as fh:
            info["mem_total_mb"] = int(fh.readline().split()[1]) // 1024
    except OSError:
        pass
    if python:
        try:
            info["worker_python"] = subprocess.run(
                [python, "-c", "import sys; print(sys.version.split()[0])"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["worker_python"] = "?"
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info
