"""DESIGN.md §2: lower layers load no upper layer; upward reaches go through _seams."""

import subprocess
import sys

import pytest


def _loaded_after(module: str) -> set[str]:
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('dagforge')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module", ["dagforge.graph", "dagforge.dynamic", "dagforge.scheduling.simulate"]
)
def test_lower_layers_import_no_engine_profiling_or_plot(module):
    loaded = _loaded_after(module)
    upper = sorted(
        m
        for m in loaded
        if m.startswith(("dagforge.execution", "dagforge.profiling", "dagforge.plot"))
    )
    assert upper == [], f"importing {module} loaded {upper}"


def test_dynamic_imports_no_engine_but_reads_the_same_states():
    from dagforge import states
    from dagforge.execution import states as engine_states

    assert engine_states.SUCCEEDED == states.SUCCEEDED
    assert engine_states.NAMES is states.NAMES
    assert engine_states.illegal is states.illegal


def test_seam_resolves_the_real_upper_layer_objects():
    from dagforge import _seams
    from dagforge.dynamic import Rule
    from dagforge.profiling.profile import Profile

    assert _seams.rule_class() is Rule
    assert _seams.profile_class() is Profile


def test_dag_conveniences_still_reach_the_engine_through_the_seam():
    from dagforge.graph import DAG

    dag = DAG()
    dag.add_node("a", lambda: 2)
    dag.add_node("b", lambda a: a * 3)
    dag.add_edge("a", "b")
    dag.prepare()
    assert dag.execute().values["b"] == 6
    from dagforge.errors import GraphError

    with pytest.raises(GraphError, match=r"add_rule\(\) takes a dagforge\.Rule"):
        dag.add_rule(object())
