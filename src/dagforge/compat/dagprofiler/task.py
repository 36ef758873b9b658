"""dagprofiler's ``Task`` (``dagprofiler.task``): the DAG Task Standard's abstract base.

Subclasses declare ``inputs``/``outputs``/``config_deps`` and implement ``compute``;
``Task(name=None, config=None)`` as in dagprofiler; ``task.run(inputs, config)`` runs one
task standalone with dagprofiler's instrumentation (deserialize the inputs, compute,
check the outputs, serialize them) and returns ``{"outputs", "outputs_raw", "metrics"}``.
Inside a DAG the engine calls ``compute`` directly and measures the same numbers.
"""

from __future__ import annotations

import pickle
import time
from abc import ABCMeta, abstractmethod
from typing import Any

from dagforge.config import Config
from dagforge.errors import TaskOutputError
from dagforge.profiling.profile import TaskMetrics
from dagforge.tasks import Task as _Task

__all__ = ["Task"]


class Task(_Task, metaclass=ABCMeta):
    """Abstract base class for all DAG tasks (dagprofiler's)."""

    def __init__(self, name: str | None = None, config: Config | None = None):
        self._name = name or type(self).__name__
        self.config = config

    @property  # type: ignore[override]
    def name(self) -> str:
        return self._name if getattr(self, "_name", None) else type(self).__name__

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @abstractmethod
    def compute(self, cfg: Config | None = None, **inputs: Any) -> dict[str, Any]:
        """Compute the declared outputs from the inputs."""

    def run(self, inputs: dict[str, Any], config: Config | None = None) -> dict[str, Any]:
        cfg = config or self.config
        bytes_in = self._count_bytes(inputs)
        t0 = time.perf_counter()
        values = {k: self.deserialize(v) if isinstance(v, bytes) else v for k, v in inputs.items()}
        t1 = time.perf_counter()
        computed = self.compute(**values, cfg=cfg)
        t2 = time.perf_counter()
        self._validate_outputs(computed)
        serialized = {k: self.serialize(v) for k, v in computed.items()}
        t3 = time.perf_counter()
        metrics = TaskMetrics(
            self.name,
            (t2 - t1) * 1000.0,
            (t3 - t2) * 1000.0,
            (t1 - t0) * 1000.0,
            bytes_in,
            self._count_bytes(serialized),
        )
        return {"outputs": serialized, "outputs_raw": computed, "metrics": metrics}

    def _validate_outputs(self, outputs: Any) -> None:
        if not isinstance(outputs, dict):
            raise TaskOutputError(
                f"Task {self.name}: compute() must return a dict of outputs, got "
                f"{type(outputs).__name__}"
            )
        missing = set(self.outputs) - set(outputs)
        if missing:
            raise TaskOutputError(
                f"Task {self.name} missing outputs: {missing}. Expected: {list(self.outputs)}, "
                f"got: {list(outputs)}"
            )

    @staticmethod
    def serialize(data: Any) -> bytes:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def deserialize(data: bytes) -> Any:
        # Only what the caller hands to run() in-process (as dagprofiler): never a store.
        return pickle.loads(data)

    @staticmethod
    def _count_bytes(data: dict[str, Any]) -> int:
        total = 0
        for value in data.values():
            if isinstance(value, bytes):
                total += len(value)
            elif hasattr(value, "nbytes"):
                total += int(value.nbytes)
        return total
