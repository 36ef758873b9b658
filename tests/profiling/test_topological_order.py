"""One topological sort: profiles, their validation and the simulator order their
structure by ``DAG.topological_order`` (scheduling/order.py), not by copies of Kahn's."""

from __future__ import annotations

import copy
import json
import random

import pytest

from dagforge import DAG, CycleError, ProfileError
from dagforge.profiling import Profile, TaskMetrics
from dagforge.scheduling.order import topological_names
from dagforge.scheduling.simulate import simulate


def _random_structure(seed: int, n: int = 40) -> tuple[list[str], list[tuple[str, str]]]:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(n)]
    rng.shuffle(names)  # insertion order is not name order
    edges = sorted(
        {(names[u], names[v]) for u in range(n) for v in range(u + 1, n) if rng.random() < 0.1}
    )
    rng.shuffle(edges)
    return names, edges


@pytest.mark.parametrize("seed", range(5))
def test_the_order_is_the_dags_own(seed):
    names, edges = _random_structure(seed)
    dag = DAG(dict.fromkeys(names), edges)
    assert topological_names(names, edges) == dag.topological_order()


def test_names_a_dag_would_refuse_and_duplicate_edges_are_fine():
    assert topological_names(["", "b", "a"], [("b", ""), ("", "a"), ("b", "")]) == ["b", "", "a"]


def test_a_cycle_is_named_with_the_given_names():
    with pytest.raises(CycleError) as info:
        topological_names(["x", "a", "b", "c"], [("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_critical_path_of_a_profile_uses_that_order():
    p = Profile(
        nodes=["a", "b", "c", "d"],
        edges=[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
        execution_metrics={
            n: TaskMetrics(n, t) for n, t in {"a": 1.0, "b": 5.0, "c": 2.0, "d": 1.0}.items()
        },
    )
    assert p.critical_path() == (["a", "b", "d"], 7.0)


def test_a_profile_document_with_a_cycle_names_the_cycle(seed_fixture_path):
    doc = json.loads(seed_fixture_path.read_text())
    bad = copy.deepcopy(doc)
    bad["dag_structure"]["edges"].append({"source": "classify", "target": "collect"})
    with pytest.raises(ProfileError) as info:
        Profile.from_dict(bad)
    msg = str(info.value)
    assert msg.startswith("$.dag_structure.edges: the edges form a cycle ")
    cycle = msg.split("form a cycle ", 1)[1].split(";", 1)[0].split(" -> ")
    assert cycle[0] == cycle[-1] and {"classify", "collect"} <= set(cycle)


def test_simulating_a_cyclic_structure_is_a_value_error_naming_the_cycle():
    p = Profile(
        nodes=["a", "b"],
        edges=[("a", "b")],
        execution_metrics={n: TaskMetrics(n, 1.0) for n in "ab"},
    )
    p.edges.append(("b", "a"))  # past validation: the simulator still refuses it
    with pytest.raises(ValueError, match=r"cycle a -> b -> a; simulate\(\) needs a DAG"):
        simulate(p, workers=1)
