"""Dask specifics of issue 11: user modules by value, values for rules, lone failures."""

from __future__ import annotations

import sys
import textwrap

import pytest

distributed = pytest.importorskip("distributed")

from dagforge import DAG, Executor  # noqa: E402
from dagforge.execution import shipping  # noqa: E402
from dagforge.execution.backends.dask_backend import DaskBackend  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def private_module(tmp_path):
    """A module only this process can import (the workers' sys.path lacks tmp_path)."""
    name = f"dagforge_private_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from dagforge import Task

            def double(x):
                return 2 * x

            class Grow(Task):
                outputs = ["n"]

                def compute(self, cfg=None):
                    return {"n": double(21)}
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(name)
        yield module
    finally:
        import cloudpickle

        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
        if name in shipping._SHIPPED:
            shipping._SHIPPED.discard(name)
            cloudpickle.unregister_pickle_by_value(module)


def test_a_users_module_reaches_workers_that_cannot_import_it(client, private_module):
    # By reference, a worker that cannot import the module fails to even load the task
    # (recent Dask then loses the worker); by value, the code travels with the task.
    assert private_module.__name__ in shipping.user_modules()
    d = DAG(tasks={"grow": private_module.Grow()})
    d.add_node("twice", lambda g: private_module.double(g["n"]))
    d.add_edge("grow", "twice")
    result = Executor(d, backend=DaskBackend(client, gather=True)).execute()
    assert result.ok, result.failures
    assert result.values == {"grow": {"n": 42}, "twice": 84}
    name = private_module.__name__

    def importable() -> bool:
        import importlib.util

        return importlib.util.find_spec(name) is not None

    assert not any(client.run(importable).values())  # it really was not importable there


def test_rules_read_values_while_map_data_stays_on_the_workers(client):
    d = DAG().add_node("items", lambda: [3, 4])
    d.map("items", lambda x: x + 1, name="inc", reduce=lambda *xs: sum(xs))
    result = Executor(d, backend=DaskBackend(client)).execute()
    assert result.ok, result.failures
    values = result.values
    assert all(isinstance(v, distributed.Future) for v in values.values())
    assert values["inc.reduce"].result() == 9
