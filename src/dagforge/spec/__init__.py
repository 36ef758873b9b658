"""DAGit workflow specifications: models, validation, the planner, the runner.

``load_spec`` validates (errors name the JSON path), ``spec_json_schema`` publishes the
format, ``FunctionRegistry`` resolves ``node_id``s to functions, ``SpecPlanner`` is the
pure state machine that decides which node instances run next, and ``run_workflow``
runs a spec on the one engine by compiling the planner's steps to dynamic rules.
pydantic is imported only when this package is (``pip install 'dagforge[spec]'``).
"""

from __future__ import annotations

from dagforge.spec.models import Condition, Properties, SpecNode, WorkflowSpec
from dagforge.spec.planner import SpecPlanner, Step, compare, instance_name
from dagforge.spec.registry import FunctionRegistry
from dagforge.spec.runner import compile_spec, run_workflow
from dagforge.spec.validate import SpecWarning, check_structure, load_spec, spec_json_schema

__all__ = [
    "Condition",
    "FunctionRegistry",
    "Properties",
    "SpecNode",
    "SpecPlanner",
    "SpecWarning",
    "Step",
    "WorkflowSpec",
    "check_structure",
    "compare",
    "compile_spec",
    "instance_name",
    "load_spec",
    "run_workflow",
    "spec_json_schema",
]
