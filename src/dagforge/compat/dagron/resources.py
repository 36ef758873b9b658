"""dagron's resource scheduling module, as its documentation describes it.

``ResourcePool``, ``ResourceRequirements`` (``gpu``/``cpu``/``memory`` constructors,
``fits``), ``ResourceSnapshot``, ``ResourceTimeline`` and the two resource-aware
executors: dagforge's own classes, which follow the document (seeds/002): snapshot
events are ``"acquire"``/``"release"``, ``peak_utilization()`` returns fractions of
capacity, ``ResourceRequirements.cpu(n)`` asks for resource ``"cpu"``. dagron 0.1.1 itself
differs on those three points (``acquired``/``released``, absolute peaks,
``cpu_slots``); ``docs/migrating.md`` lists them.
"""

from __future__ import annotations

from dagforge.execution.executor import AsyncResourceAwareExecutor, ResourceAwareExecutor
from dagforge.resources import (
    ResourcePool,
    ResourceRequirements,
    ResourceSnapshot,
    ResourceTimeline,
)

__all__ = [
    "AsyncResourceAwareExecutor",
    "ResourceAwareExecutor",
    "ResourcePool",
    "ResourceRequirements",
    "ResourceSnapshot",
    "ResourceTimeline",
]
