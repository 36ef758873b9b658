"""DAGit's developer-side modules on dagforge: ``functions`` (``Functions``),
``deployment`` (``DeploymentManager``) and ``store_output``
(``store_intermediate_data``), named as in DAGit's control plane so its scripts run with
``from dagforge.compat.dagit.functions import Functions`` etc.

The control plane's HTTP routes are served by ``dagforge serve`` itself
(:mod:`dagforge.server.dagit_routes` adds DAGit's ``/view/...``, ``/list/...`` and
``/run/dag|action/...`` routes with DAGit's bodies). DAGit's multi-upstream input shape —
a node whose ``outputs_from`` names several nodes receives the *list* of their outputs —
is a per-spec option (see ``docs/migrating.md``); dagforge's default merges them.
"""

from __future__ import annotations

from dagforge.compat.dagit.deployment import DeploymentManager
from dagforge.compat.dagit.functions import FunctionInfo, Functions
from dagforge.compat.dagit.store_output import load_intermediate_data, store_intermediate_data

__all__ = [
    "DeploymentManager",
    "FunctionInfo",
    "Functions",
    "load_intermediate_data",
    "store_intermediate_data",
]
