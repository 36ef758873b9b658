"""Export to SAGA's task graph; HEFT and CPOP schedule it (when anrg-saga is installed)."""

from __future__ import annotations

import pytest

from dagforge.profiling import Profile, to_saga


def test_missing_saga_names_the_extra(seed_fixture_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_saga(name, *args, **kwargs):
        if name == "saga" or name.startswith("saga."):
            raise ImportError("No module named 'saga'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_saga)
    with pytest.raises(ImportError, match="anrg-saga"):
        to_saga(Profile.load(seed_fixture_path))


def test_heft_and_cpop_schedule_the_exported_graph(seed_fixture_path):
    saga = pytest.importorskip("saga")
    from saga.schedulers import CpopScheduler, HeftScheduler

    from dagforge.profiling import to_saga_network

    profile = Profile.load(seed_fixture_path)
    graph = to_saga(profile, edge_units="bytes")
    network = to_saga_network({"m1": 1e6, "m2": 2e6}, bandwidth=1e8)
    for scheduler in (HeftScheduler(), CpopScheduler()):
        schedule = scheduler.schedule(network, graph)
        scheduled = {t.name for tasks in _tasks(schedule) for t in tasks}
        assert {"collect", "process", "classify"} <= scheduled
    assert saga is not None


def _tasks(schedule):
    return schedule.values() if hasattr(schedule, "values") else schedule.mapping.values()
