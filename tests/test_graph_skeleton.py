"""``DAG.skeleton()``: the structure of a DAG without its callables."""

from __future__ import annotations

import gc
import weakref

from dagforge import DAG
from dagforge.profiling import Profile


class Work:
    def __call__(self, *values):
        return sum(values) + 1


def test_a_skeleton_keeps_structure_and_options_and_drops_callables():
    work = Work()
    dag = DAG(name="d", config={"k": 2})
    dag.add_node("a", work, priority=3, resources={"cpu": 1})
    dag.add_node("b", work)
    dag.add_edge("a", "b")
    bones = dag.skeleton()
    assert bones.nodes == dag.nodes and bones.edges == dag.edges
    assert bones.options("a").priority == 3 and bones.options("a").resources == {"cpu": 1}
    assert bones.config.k == 2 and bones.name == "d"
    assert bones.task("a") is None and bones.task("b") is None
    assert dag.task("a") is work  # the original is untouched
    bones.add_node("c")  # independent: changing it leaves the original as it was
    assert "c" not in dag


def test_a_skeleton_lets_a_run_s_callables_go():
    work = Work()
    ref = weakref.ref(work)
    dag = DAG()
    dag.add_node("a", work)
    bones = dag.skeleton()
    del dag, work
    gc.collect()
    assert ref() is None
    assert bones.nodes == ["a"]


def test_a_result_with_a_skeleton_still_gives_its_profile():
    dag = DAG()
    dag.add_node("a", lambda: 1)
    dag.add_node("b", lambda x: x + 1)
    dag.add_edge("a", "b")
    result = dag.execute()
    before = Profile.from_result(result).to_dict()
    result.dag = result.dag.skeleton()
    after = Profile.from_result(result).to_dict()
    assert after == before
    assert after["dag_structure"]["nodes"] == ["a", "b"]
