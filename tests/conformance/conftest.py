"""The conformance matrix: every scenario on every backend.

``backend`` is parametrised over the five backends; ``make_executor`` builds an
``Executor`` for the current one. Dask runs on one session-scoped ``LocalCluster`` of 2
worker processes (1 thread each, workers declaring ``slot=1``), with
``allowed-failures`` 1 so a node that kills its worker is given up after two deaths.
"""

from __future__ import annotations

import pytest

BACKENDS = ("inline", "threads", "processes", "asyncio", "dask")


@pytest.fixture(scope="session")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            resources={"slot": 1},
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """A factory of fresh backend specs for the parametrised backend (new per run)."""
    name = request.param
    if name == "dask":
        client = request.getfixturevalue("dask_client")
        client.wait_for_workers(2, timeout=60)
        from dagforge.execution.backends.dask_backend import DaskBackend

        def make():
            return DaskBackend(client, gather=True)

    else:

        def make():
            return name

    make.name = name
    return make


@pytest.fixture
def make_executor(backend):
    from dagforge import Executor

    def build(dag, **kwargs):
        kwargs.setdefault("max_workers", 2)
        return Executor(dag, backend=backend(), **kwargs)

    build.backend = backend.name
    return build
