"""The one seam through which lower layers reach upper ones (DESIGN.md §2).

Imports go downward only, with one exception: conveniences that let a user stay on the
object they hold — ``dag.run()``, ``dag.profile()``, ``dag.prepare()``,
``dag.execute()``, ``dag.map()``/``dag.add_rule()``, ``result.trace``,
``result.report()``, an executor guided by a saved profile, ``simulate(profile)`` and
``Simulation.gantt()`` — need a class from a layer above the caller. Every such reach
goes through a function here; nothing else in a lower layer imports an upper one.

Each function imports its target when it is called (never when this module loads), so
importing ``dagforge.graph`` loads no engine, profiling or plotting code, and no import
circle exists at import time. The import-linter contracts in ``pyproject.toml`` ignore
exactly the imports made here (``dagforge._seams -> ...``) and no other upward import;
``make typecheck`` fails on any new one. See docs/architecture.md, "Layers".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers only: never imported at run time
    from dagforge.dynamic import Rule
    from dagforge.profiling.profile import Profile

# -- graph.py -> dynamic.py (rules are one layer above the graph) ----------------------


def rule_class() -> type[Rule]:
    """:class:`dagforge.dynamic.Rule`, for ``DAG.add_rule``'s type check."""
    from dagforge.dynamic import Rule

    return Rule


def map_rule(*args: Any, **kwargs: Any) -> Any:
    """:func:`dagforge.dynamic.map_rule`, for ``DAG.map``."""
    from dagforge.dynamic import map_rule

    return map_rule(*args, **kwargs)


# -- graph.py -> execution/ (the Task-Standard run conveniences) -----------------------


def execute(dag: Any, tasks: Any, run_inputs: Any) -> Any:
    """``DAG.execute``: run inline through an ``Executor``; the ``ExecutionResult``."""
    from dagforge.execution.executor import Executor

    return Executor(dag).execute(tasks, run_inputs=run_inputs)


def prepare(dag: Any, tasks: Any) -> None:
    """``DAG.prepare``: compile the run plan now (the engine caches it on the DAG)."""
    from dagforge.execution.backends.inline import InlineBackend
    from dagforge.execution.engine import Run

    Run(dag, tasks, InlineBackend(), check_inputs=False)


# -- scheduling/ -> execution/ (simulate() drives the real engine core) -----------------


def engine_run(dag: Any, tasks: Any, backend: Any, **kwargs: Any) -> Any:
    """``simulate()``: a :class:`dagforge.execution.engine.Run` (the one scheduler core)
    on the simulated backend and its virtual clock."""
    from dagforge.execution.engine import Run

    return Run(dag, tasks, backend, **kwargs)


# -- graph.py, execution/, scheduling/ -> profiling/ and plot.py -----------------------


def run_profile(dag: Any, **kwargs: Any) -> Any:
    """``DAG.run``/``DAG.profile``: :func:`dagforge.profiling.run_profile`."""
    from dagforge.profiling import run_profile

    return run_profile(dag, **kwargs)


def build_trace(result: Any) -> Any:
    """``ExecutionResult.trace``: :func:`dagforge.profiling.trace.build_trace`."""
    from dagforge.profiling.trace import build_trace

    return build_trace(result)


def write_report(path: Any, **kwargs: Any) -> Any:
    """``ExecutionResult.report``: :func:`dagforge.profiling.report.write_report`."""
    from dagforge.profiling.report import write_report

    return write_report(path, **kwargs)


def rank_costs_from_profile(profile: Any) -> dict[str, float]:
    """``Executor(guide_profile=...)``: :func:`dagforge.profiling.rank_costs_from_profile`."""
    from dagforge.profiling import rank_costs_from_profile

    return rank_costs_from_profile(profile)


def profile_class() -> type[Profile]:
    """:class:`dagforge.profiling.profile.Profile`, for ``simulate(profile_or_path)``."""
    from dagforge.profiling.profile import Profile

    return Profile


def gantt(schedule: Any, path: Any, **kwargs: Any) -> Any:
    """``Simulation.gantt``: :func:`dagforge.profiling.plot.gantt`."""
    from dagforge.profiling.plot import gantt

    return gantt(schedule, path, **kwargs)
