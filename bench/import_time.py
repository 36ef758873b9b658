"""Warm import time of ``from dagforge import DAG, Executor`` (issue 11: <= 40 ms).

"Warm" means byte-code already compiled: the script compiles once into a private
``PYTHONPYCACHEPREFIX`` (so it works with ``PYTHONDONTWRITEBYTECODE`` set, too), then
times N fresh interpreters and reports the median, with ``python -c pass`` beside it
(the interpreter's own start-up, included in the 40 ms).

    .venv/bin/python bench/import_time.py [--runs 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

STATEMENT = "from dagforge import DAG, Executor"


def median_ms(code: str, runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run([sys.executable, "-c", STATEMENT], env=env, check=True)  # compile
        imp = median_ms(STATEMENT, args.runs, env)
        bare = median_ms("pass", args.runs, env)
        check = subprocess.run(
            [sys.executable, "-c", STATEMENT + "; import sys; print('asyncio' in sys.modules)"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    verdict = "PASS" if imp <= 40 else "MISS"
    print(f"python -c {STATEMENT!r}: median {imp:.1f} ms over {args.runs} runs [{verdict} <= 40]")
    print(f"python -c 'pass':                          median {bare:.1f} ms")
    print(f"asyncio imported by it: {check}")


if __name__ == "__main__":
    main()
