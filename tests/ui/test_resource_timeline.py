"""The resource timeline: usage per resource over a run (profiling/resource_usage.py),
derived from a pool's snapshots or from node start/end and requirements, and drawn as
one SVG row per resource (the static report and the dashboard's run page)."""

from __future__ import annotations

import re
import time

import pytest

from dagforge import DAG, ResourcePool
from dagforge.execution.executor import Executor
from dagforge.profiling.resource_usage import (
    Step,
    requirements_of,
    usage_from_intervals,
    usage_from_snapshots,
    usage_of_result,
    usage_svg,
)
from dagforge.resources import ResourceSnapshot


def _steps(usage):
    return [(s.start, s.end, s.amount, s.holders) for s in usage.steps]


def test_usage_from_intervals_exact_steps():
    intervals = [
        ("load#1", 0.0, 2.0),  # an instance takes its family's requirements
        ("load#2", 1.0, 3.0),
        ("train", 2.0, 5.0),
        ("train", 6.0, 7.0),  # a second attempt of the same node
        ("free", 0.0, 9.0),  # requires nothing: not drawn
        ("load#3", 8.0, 8.0),  # zero-length: no step of its own
    ]
    reqs = {"load": {"cpu": 1}, "train": {"gpu": 2, "cpu": 0.5}, "free": {"gpu": 0}}
    usages = usage_from_intervals(intervals, reqs, capacities={"gpu": 4, "memory": 16})
    assert [u.resource for u in usages] == ["cpu", "gpu", "memory"]
    cpu, gpu, memory = usages
    assert (cpu.capacity, gpu.capacity, memory.capacity) == (None, 4, 16)
    assert _steps(cpu) == [
        (0.0, 1.0, 1.0, ("load#1",)),
        (1.0, 2.0, 2.0, ("load#1", "load#2")),
        (2.0, 3.0, 1.5, ("load#2", "train")),
        (3.0, 5.0, 0.5, ("train",)),
        (5.0, 6.0, 0.0, ()),
        (6.0, 7.0, 0.5, ("train",)),
        (7.0, 8.0, 0.0, ()),
    ]
    assert _steps(gpu) == [
        (0.0, 2.0, 0.0, ()),
        (2.0, 5.0, 2.0, ("train",)),
        (5.0, 6.0, 0.0, ()),
        (6.0, 7.0, 2.0, ("train",)),
        (7.0, 8.0, 0.0, ()),
    ]
    assert _steps(memory) == [(0.0, 8.0, 0.0, ())]
    assert (cpu.peak, gpu.peak, gpu.peak_fraction, cpu.peak_fraction) == (2.0, 2.0, 0.5, None)


def test_usage_from_intervals_names_bad_input():
    with pytest.raises(ValueError, match=r"'train'.*>= 0"):
        usage_from_intervals([("train", 0, 1)], {"train": {"gpu": -1}})
    with pytest.raises(TypeError, match="'gpu' of node 'train' must be a number"):
        usage_from_intervals([("train", 0, 1)], {"train": {"gpu": "1"}})
    with pytest.raises(ValueError, match="node 'train' ran from 2 to 1"):
        usage_from_intervals([("train", 2, 1)], {"train": {"gpu": 1}})
    assert usage_from_intervals([("a", 0, 1)], {}) == []


def test_usage_from_snapshots_exact_steps_and_holders():
    def snap(t, gpu, node, event, cpu=0.0):
        return ResourceSnapshot(t, {"gpu": gpu, "cpu": cpu}, {"gpu": 2 - gpu}, node, event)

    snaps = [
        snap(100.0, 1, "a", "acquire", cpu=1),
        snap(100.5, 2, "b", "acquire", cpu=1),
        snap(101.0, 1, "a", "release", cpu=0),
        snap(101.0, 1, "c", "acquire", cpu=1),  # same instant: no zero-length step
        snap(102.0, 0, "b", "release", cpu=1),
        snap(103.0, 0, "c", "release", cpu=0),
    ]
    usages = usage_from_snapshots(snaps, capacities={"cpu": 3})
    cpu, gpu = usages
    assert (cpu.resource, cpu.capacity, gpu.resource, gpu.capacity) == ("cpu", 3, "gpu", 2.0)
    assert _steps(gpu) == [
        (0.0, 0.5, 1.0, ("a",)),
        (0.5, 1.0, 2.0, ("a", "b")),
        (1.0, 2.0, 1.0, ("b",)),
        (2.0, 3.0, 0.0, ()),
    ]
    assert _steps(cpu) == [(0.0, 1.0, 1.0, ("a",)), (1.0, 3.0, 1.0, ("c",))]
    assert usage_from_snapshots([]) == []


def test_pool_run_stays_within_capacity_and_every_node_holds():
    pool = ResourcePool({"cpu": 2, "gpu": 1})
    dag = DAG()
    for k in range(6):
        dag.add_node(f"n{k}", lambda: time.sleep(0.002))
    reqs = {f"n{k}": ({"gpu": 1} if k % 3 == 0 else {"cpu": 1}) for k in range(6)}
    Executor(dag, backend="threads", max_workers=3, resource_pool=pool, requirements=reqs).execute()
    usages = {
        u.resource: u for u in usage_from_snapshots(pool.timeline.snapshots, {"cpu": 2, "gpu": 1})
    }
    assert set(usages) == {"cpu", "gpu"}
    for res, u in usages.items():
        assert 0 < u.peak <= u.capacity
        held = {h for s in u.steps for h in s.holders}
        assert held == {n for n, r in reqs.items() if res in r}
        assert all(s.end > s.start for s in u.steps)
        assert all(a.end == b.start for a, b in zip(u.steps, u.steps[1:], strict=False))


def test_usage_of_a_result_from_its_nodes_resources_options():
    dag = DAG()
    dag.add_node("a", lambda: time.sleep(0.003), resources={"memory": 3})
    dag.add_node("b", lambda: time.sleep(0.003), resources={"memory": 2, "gpu": 1})
    dag.add_node("c", lambda x: x)
    dag.add_edge("a", "c")
    result = Executor(dag, backend="threads", max_workers=2).execute()
    assert requirements_of(result.dag) == {"a": {"memory": 3.0}, "b": {"memory": 2.0, "gpu": 1.0}}
    spans = {n: (result.results[n].start, result.results[n].end) for n in ("a", "b")}
    expected = usage_from_intervals(
        [("a", *spans["a"]), ("b", *spans["b"])], {"a": {"memory": 3}, "b": {"memory": 2, "gpu": 1}}
    )
    assert usage_of_result(result) == expected
    memory = next(u for u in expected if u.resource == "memory")
    overlap = min(spans["a"][1], spans["b"][1]) > max(spans["a"][0], spans["b"][0])
    assert memory.peak == (5.0 if overlap else 3.0)
    plain = DAG()
    plain.add_node("x", lambda: 1)
    assert usage_of_result(Executor(plain, backend="threads").execute()) == []


def test_svg_one_row_per_resource_escaped_with_capacity():
    evil = "<img src=x onerror=alert(1)>"
    usages = usage_from_intervals(
        [("a", 0.0, 1.0), ("b", 0.5, 2.0)],
        {"a": {evil: 1, "gpu": 2}, "b": {"gpu": 1}},
        capacities={"gpu": 4},
    )
    svg = usage_svg(usages)
    rows = re.findall(r'<g class="resource-row" data-resource="([^"]*)"', svg)
    assert rows == ["&lt;img src=x onerror=alert(1)&gt;", "gpu"]
    assert "<img" not in svg
    assert svg.count('class="capacity"') == 1  # only gpu has a capacity
    assert "no capacity" in svg and "capacity 4" in svg and "peak 3 (75%)" in svg
    assert "gpu: 3 of 4 from 500.0 to 1000.0 ms — a, b" in svg
    assert usage_svg([]) == '<p class="resource-empty">No resource requirements in this run.</p>'


def test_svg_of_many_steps_is_drawn_per_pixel_column():
    intervals = [(f"n{k}", k * 0.001, k * 0.001 + 0.0015) for k in range(5000)]
    (usage,) = usage_from_intervals(intervals, {f"n{k}": {"cpu": 1} for k in range(5000)})
    assert len(usage.steps) > 5000 and usage.peak == 2.0
    svg = usage_svg([usage], width=900)
    rects = svg.count('class="usage"')
    assert 0 < rects <= 900
    heights = {float(h) for h in re.findall(r'class="usage"[^>]*height="([\d.]+)"', svg)}
    assert max(heights) == pytest.approx(36.0)  # the peak (2) fills the row's height


def test_bucketing_keeps_the_largest_amount_per_column():
    from dagforge.profiling.resource_usage import _bucketed

    steps = [Step(0.0, 0.25, 1.0), Step(0.25, 0.3, 3.0), Step(0.3, 1.0, 0.0), Step(0.5, 1.0, 2.0)]
    assert _bucketed(steps, 0.0, 1.0, 4) == [
        Step(0.0, 0.25, 1.0),
        Step(0.25, 0.5, 3.0),
        Step(0.5, 0.75, 2.0),
        Step(0.75, 1.0, 2.0),
    ]


class _Db:
    def __init__(self, record):
        self.record = record

    def run(self, run_id):
        return self.record

    def snapshot(self, run_id):
        return None


class _Monitor:
    def resource_facts(self, run_id):
        return None  # the run was not watched by this process (no journaled facts)


class _Platform:
    """What the run page reads of a platform: the journal's record and the held result."""

    def __init__(self, record, result):
        self.db = _Db(record)
        self.monitor = _Monitor()
        self._result = result

    def result(self, run_id):
        return self._result


def test_run_page_timeline_from_node_times_and_requirements():
    from dagforge.server.ui import RunView

    dag = DAG()
    dag.add_node("load", lambda: time.sleep(0.002), resources={"gpu": 1})
    dag.add_node("fit", lambda x: x, resources={"gpu": 2, "memory": 4})
    dag.add_edge("load", "fit")
    result = Executor(dag, backend="threads").execute()
    nodes = {  # as the platform journals a finished run: seconds from its start
        "load": {"status": "succeeded", "start": 0.0, "end": 0.5, "worker": "w1"},
        "fit": {"status": "succeeded", "start": 0.25, "end": 1.0, "worker": "w2"},
    }
    record = {"status": "succeeded", "started": 1000.0, "nodes": nodes}
    view = RunView(_Platform(record, result), "r1")
    gpu, memory = view.resource_usage()
    assert [(s.start, s.end, s.amount, s.holders) for s in gpu.steps] == [
        (0.0, 0.25, 1.0, ("load",)),
        (0.25, 0.5, 3.0, ("fit", "load")),
        (0.5, 1.0, 2.0, ("fit",)),
    ]
    assert [(s.start, s.end, s.amount) for s in memory.steps] == [
        (0.0, 0.25, 0.0),
        (0.25, 1.0, 4.0),
    ]
    page = view.resources_html(view.bars())
    assert re.findall(r'data-resource="(\w+)"', page) == ["gpu", "memory"]
    # no requirements (every spec-compiled platform run today), or no result held: words
    plain = DAG()
    plain.add_node("load", lambda: 1)
    bare = RunView(_Platform(record, Executor(plain, backend="threads").execute()), "r1")
    assert bare.resource_usage() == []
    assert "No resource requirements" in bare.resources_html(bare.bars())
    assert RunView(_Platform(record, None), "r1").resource_usage() == []
