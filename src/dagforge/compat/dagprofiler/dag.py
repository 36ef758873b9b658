"""dagprofiler's ``DAG`` (``dagprofiler.dag``): ``DAG(tasks=, edges=, config=)``.

dagforge's :class:`~dagforge.graph.DAG`; ``run(seed=)`` returns dagprofiler's
:class:`~dagforge.compat.dagprofiler.profile.Profile`. Each task gets the DAG's config
as ``task.config`` (as dagprofiler sets it). ``DAG.from_yaml(path)`` reads dagprofiler's
YAML form (``config``, ``tasks: {name: {module, class}}``, ``edges``).
"""

from __future__ import annotations

import importlib
from typing import Any

from dagforge.compat.dagprofiler.profile import Profile
from dagforge.config import Config
from dagforge.graph import DAG as _DAG

__all__ = ["DAG"]


class DAG(_DAG):
    def __init__(self, tasks: Any = None, edges: Any = None, config: Any = None, **kwargs: Any):
        super().__init__(tasks=tasks, edges=edges if edges is not None else [], config=config)
        for name in self.nodes:
            t = self.task(name)
            if hasattr(t, "config") and not callable(getattr(t, "config", None)):
                t.config = self.config

    @property
    def tasks(self) -> dict[str, Any]:
        return {name: self.task(name) for name in self.nodes}

    @property
    def execution_order(self) -> list[str]:
        return self.topological_order()

    def run(self, seed: int | None = None, **executor_kwargs: Any) -> Profile:  # type: ignore[override]
        return Profile.wrap(super().run(seed=seed, **executor_kwargs))

    def profile(self, runs: int = 5, seed: int | None = None, **executor_kwargs: Any) -> Profile:
        return Profile.wrap(super().profile(runs=runs, seed=seed, **executor_kwargs))

    @classmethod
    def from_yaml(cls, path: str) -> DAG:
        import yaml

        with open(path, encoding="utf-8") as fh:
            spec = yaml.safe_load(fh) or {}
        config = Config(**spec.get("config", {}))
        tasks = {}
        for name, task_spec in spec.get("tasks", {}).items():
            module = importlib.import_module(task_spec["module"])
            tasks[name] = getattr(module, task_spec["class"])()
        edges: list[Any] = []
        for edge in spec.get("edges", []):
            if isinstance(edge, list):
                edges.append(tuple(edge))
            elif isinstance(edge, dict):
                src, dst = edge["source"], edge["target"]
                edges.append((src, dst, edge["data"]) if "data" in edge else (src, dst))
        return cls(tasks=tasks, edges=edges, config=config)
