"""Seed 000's ``@task`` block on dagforge itself: ``from dagforge import task`` and
``from dagforge.decorators import dag`` (the seed's two imports, prefix changed)."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

BLOCK = """
import numpy as np
from dagforge import Config
from dagforge import task
from dagforge.decorators import dag
@task(inputs=[], outputs=["data"])
def source(cfg):
    return {"data": np.random.randn(cfg.N)}
@task(inputs=["data"], outputs=["result"], estimate_fn=lambda cfg: cfg.N * 10)
def process(data, cfg):
    return {"result": data * 2}
my_dag = dag(tasks=[source, process], config=Config(N=100))
profile = my_dag.run()
"""


def test_the_decorator_block_runs_on_dagforge():
    ns: dict = {}
    exec(compile(BLOCK, "seed_000_decorators.py", "exec"), ns)
    profile = ns["profile"]
    assert ns["my_dag"].edges == [("source", "process")]
    assert profile.metrics.node_weights == {"source": 0, "process": 1000}
    assert profile.metrics.edge_weights == {"source->process": 100 * 8 * 8}
    assert [m.task for m in profile.metrics.task_metrics] == ["source", "process"]


def test_decorators_dag_takes_task_classes_and_explicit_edges():
    from dagforge import Config, Task
    from dagforge.decorators import dag, node, pipeline

    class Make(Task):
        outputs = ["x"]

        def compute(self, cfg=None):
            return {"x": cfg.K}

    class Use(Task):
        inputs = ["x"]
        outputs = ["y"]

        def compute(self, x, cfg=None):
            return {"y": x + 1}

    d = dag(tasks=[Make, Use], config=Config(K=4))
    assert d.nodes == ["Make", "Use"] and d.edges == [("Make", "Use")]
    assert d.execute().outputs == {"Use": {"y": 5}}
    explicit = dag(tasks=[Make(), Use()], config=Config(K=1), edges=[("Make", "Use")])
    assert explicit.execute().outputs == {"Use": {"y": 2}}
    with pytest.raises(ValueError, match="Task"):
        dag(tasks=[int])
    assert callable(node) and callable(pipeline)
