"""A real Dask cluster for the Dask backend tests: 2 worker processes over TCP on loopback."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402


@pytest.fixture(scope="session")
def client():
    """A client of a 2-worker, 1-thread-each LocalCluster whose workers declare ``slot=1``.

    ``allowed-failures`` is 1 so a node that kills its worker is given up after two
    deaths instead of four (the scheduler reads it when it starts).
    """
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            resources={"slot": 1},
        )
        c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
