"""dagprofiler 0.1.0 under its own names: ``from dagforge.compat.dagprofiler import ...``.

``Task``, ``Config``, ``DAG``, ``Profile``, ``TaskMetrics``, ``EdgeMetrics``, ``task`` and
the submodules ``decorators`` (``task``, ``dag``), ``task``, ``config``, ``dag``,
``profile``, ``metrics`` and ``schema``, over dagforge's graph, engine and profile.
What differs from dagprofiler is listed in ``docs/migrating.md``.
"""

from __future__ import annotations

from dagforge.compat.dagprofiler.config import Config
from dagforge.compat.dagprofiler.dag import DAG
from dagforge.compat.dagprofiler.decorators import task
from dagforge.compat.dagprofiler.metrics import EdgeMetrics, TaskMetrics
from dagforge.compat.dagprofiler.profile import Profile
from dagforge.compat.dagprofiler.task import Task

__version__ = "0.1.0"

__all__ = ["DAG", "Config", "EdgeMetrics", "Profile", "Task", "TaskMetrics", "__version__", "task"]
