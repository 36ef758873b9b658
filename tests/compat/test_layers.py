"""The layers mirror their originals' public names and never import the originals."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

LAYERS = {
    "dagforge.compat.dagprofiler": [
        "Task",
        "Config",
        "DAG",
        "Profile",
        "TaskMetrics",
        "EdgeMetrics",
        "task",
    ],
    "dagforge.compat.dagprofiler.decorators": ["task", "dag"],
    "dagforge.compat.dagprofiler.metrics": ["TaskMetrics", "EdgeMetrics", "DAGMetrics"],
    "dagforge.compat.dagprofiler.schema": ["PROFILE_SCHEMA", "validate_profile"],
    "dagforge.compat.tawazi": [
        "DAG",
        "AsyncDAG",
        "DAGExecution",
        "AsyncDAGExecution",
        "xn",
        "dag",
        "cfg",
        "and_",
        "or_",
        "not_",
        "Resource",
        "ExecNode",
        "ErrorStrategy",
    ],
    "dagforge.compat.tawazi.errors": ["ErrorStrategy", "TawaziError", "TawaziUsageError"],
    "dagforge.compat.dagron": [
        "DAG",
        "ResourcePool",
        "ResourceRequirements",
        "ResourceSnapshot",
        "ResourceTimeline",
        "ResourceAwareExecutor",
        "AsyncResourceAwareExecutor",
        "ExecutionCallbacks",
        "ExecutionResult",
    ],
    "dagforge.compat.adage": ["adagetask", "adageop", "Rule", "adageobject", "rundag"],
    "dagforge.compat.adage.graph": ["AdageDAG"],
    "dagforge.compat.adage.nodestate": ["DEFINED", "RUNNING", "FAILED", "SUCCESS"],
    "dagforge.compat.adage.serialize": ["obj_to_json", "node_to_json", "dag_from_json"],
    "dagforge.compat.dagit.functions": ["Functions"],
    "dagforge.compat.dagit.deployment": ["DeploymentManager"],
    "dagforge.compat.dagit.store_output": ["store_intermediate_data"],
}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_public_names_resolve(module):
    mod = importlib.import_module(module)
    for name in LAYERS[module]:
        assert getattr(mod, name) is not None, (module, name)
    for name in getattr(mod, "__all__", []):
        assert hasattr(mod, name), (module, name)


def test_the_layers_never_import_the_originals():
    code = (
        "import sys, json\n"
        + "".join(f"import {m}\n" for m in LAYERS)
        + "print(json.dumps(sorted(m for m in ('dagprofiler', 'tawazi', 'adage', 'dagron') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
