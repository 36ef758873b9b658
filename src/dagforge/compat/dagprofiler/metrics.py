"""dagprofiler's metrics (``dagprofiler.metrics``): ``TaskMetrics``, ``EdgeMetrics``,
``DAGMetrics`` (what ``profile.metrics`` is: lists of per-task and per-edge metrics plus
the weights and ``total_time_ms``)."""

from __future__ import annotations

from dagforge.profiling.profile import EdgeMetrics, TaskMetrics
from dagforge.profiling.profile import ProfileMetrics as DAGMetrics

__all__ = ["DAGMetrics", "EdgeMetrics", "TaskMetrics"]
