"""Profiling and observability: the readers of a run.

- :class:`Profile` (``profile.py``): dagprofiler's JSON format — save/load/compare/
  aggregate, ``to_networkx``; :func:`run_profile` runs a DAG with profiling on.
- :data:`PROFILE_SCHEMA`, :func:`validate_profile` (``schema.py``).
- :class:`ProfileDiff` (``compare.py``).
- :func:`build_trace` / :class:`ChromeTrace` (``trace.py``): Chrome trace-event JSON.
- :func:`to_saga` (``saga.py``): the task graph of the SAGA schedulers (optional extra).

Only the standard library is imported here; numpy, networkx, matplotlib and saga are
imported by the functions that need them.
"""

from __future__ import annotations

from dagforge.profiling.compare import ABSENT, ProfileDiff, WeightDiff
from dagforge.profiling.profile import (
    EdgeMetrics,
    Profile,
    ProfileMetrics,
    TaskMetrics,
    rank_costs_from_profile,
    run_profile,
    seed_everything,
)
from dagforge.profiling.saga import to_saga, to_saga_network
from dagforge.profiling.schema import PROFILE_SCHEMA, validate_profile
from dagforge.profiling.trace import ChromeTrace, build_trace

__all__ = [
    "ABSENT",
    "PROFILE_SCHEMA",
    "ChromeTrace",
    "EdgeMetrics",
    "Profile",
    "ProfileDiff",
    "ProfileMetrics",
    "TaskMetrics",
    "WeightDiff",
    "build_trace",
    "rank_costs_from_profile",
    "run_profile",
    "seed_everything",
    "to_saga",
    "to_saga_network",
    "validate_profile",
]
