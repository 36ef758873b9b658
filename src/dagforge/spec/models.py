"""Pydantic models of DAGit's workflow specification (seed 004), accepted verbatim.

DAGit writes "no value" as ``""`` (``next``, ``branch_1``, ``condition``) or ``{}``
(``condition``); the models normalise both to ``None``/``""`` so the rest of dagforge
sees one shape. Structural checks that need the whole document (unknown targets,
joins, loops) live in :mod:`dagforge.spec.validate`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Operator = Literal["equals", "greater_than", "less_than", "greater_than_equals", "less_than_equals"]
Primitive = Literal["serial", "parallel", "condition"]


class Condition(BaseModel):
    """``{source, operator, target}``: compare the node's output ``source`` with ``target``."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    operator: Operator
    target: int | float | str


class Properties(BaseModel):
    """What a node does and where control goes next."""

    model_config = ConfigDict(extra="forbid")

    label: str = ""
    primitive: Primitive
    condition: Condition | None = None
    next: str | list[str] = ""
    branch_1: str = ""
    branch_2: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    outputs_from: list[str] = Field(default_factory=list)

    @field_validator("condition", mode="before")
    @classmethod
    def _empty_condition(cls, value: Any) -> Any:
        return None if value in ("", {}, None) else value

    @field_validator("outputs_from", mode="before")
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return [] if value in ("", None) else value

    @field_validator("arguments", mode="before")
    @classmethod
    def _empty_arguments(cls, value: Any) -> Any:
        return {} if value in ("", None) else value

    @property
    def successors(self) -> list[str]:
        """Every node control may go to from here (both branches of a condition)."""
        if self.primitive == "condition":
            return [b for b in (self.branch_1, self.branch_2) if b]
        if isinstance(self.next, list):
            return [n for n in self.next if n]
        return [self.next] if self.next else []


class SpecNode(BaseModel):
    """One entry of ``dag``: a function (``node_id``) and its properties."""

    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(min_length=1)
    properties: Properties


class WorkflowSpec(BaseModel):
    """A DAGit workflow: ``name``, the ``dag`` entries (the first one starts), a loop bound."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    dag: list[SpecNode]
    max_iterations: int = Field(default=1000, ge=1)

    def node(self, node_id: str) -> SpecNode:
        for entry in self.dag:
            if entry.node_id == node_id:
                return entry
        raise KeyError(node_id)

    @property
    def start(self) -> str:
        return self.dag[0].node_id

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
