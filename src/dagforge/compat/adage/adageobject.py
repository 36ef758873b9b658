"""adage's workflow object (``adage.adageobject``): the graph, open rules, applied rules."""

from __future__ import annotations

from typing import Any

from dagforge.compat.adage.graph import AdageDAG

__all__ = ["adageobject"]


class adageobject:
    def __init__(self, dag: AdageDAG | None = None, rules: Any = None, applied_rules: Any = None):
        self.dag = dag if dag is not None else AdageDAG()
        self.rules = list(rules or [])
        self.applied_rules = list(applied_rules or [])
