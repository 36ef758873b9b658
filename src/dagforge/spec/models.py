"""Pydantic models of DAGit's workflow specification (seed 004), accepted verbatim.

DAGit writes "no value" as ``""`` (``next``, ``branch_1``, ``branch_2``) and "no
condition" as ``{}`` or ``""``; the models accept exactly that and normalise an empty
condition to ``None`` (it is written back as ``{}``). ``arguments`` and
``outputs_from`` also accept ``""`` for "empty", as DAGit's docs say "keep it blank".

The models are strict (no silent coercion: ``"5"`` is not an ``int``, ``1`` is not a
node_id) and forbid unknown fields, so a typo is an error that names its JSON path.
Whole-document rules (unknown targets, joins, loops, reachability) live in
:mod:`dagforge.spec.validate`; build specs through :func:`~dagforge.spec.load_spec`,
which runs both. The published JSON Schema (:func:`spec_json_schema`) describes the
same shapes and accepts the seed documents verbatim.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    Tag,
    WithJsonSchema,
    field_serializer,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from dagforge.errors import SpecError, UnknownNodeError

OPERATORS: tuple[str, ...] = (
    "equals",
    "greater_than",
    "less_than",
    "greater_than_equals",
    "less_than_equals",
)
PRIMITIVES: tuple[str, ...] = ("serial", "parallel", "condition")

Operator = Literal["equals", "greater_than", "less_than", "greater_than_equals", "less_than_equals"]
Primitive = Literal["serial", "parallel", "condition"]

#: Instance names are ``node_id`` or ``node_id#N``; a node_id may not contain it.
INSTANCE_SEPARATOR = "#"

# -- field types ---------------------------------------------------------------------------
# Unions are discriminated by the Python type of the value, so a wrong value gets one
# clear error instead of one per union member. The tags ("<str>", ...) appear in
# pydantic's error locations; validate.py drops them when it builds JSON paths.


def _node_id(value: str) -> str:
    if not value:
        raise PydanticCustomError("node_id_empty", "a node_id must be a non-empty string")
    if INSTANCE_SEPARATOR in value:
        raise PydanticCustomError(
            "node_id_hash",
            "a node_id must not contain '#': it separates a node from its pass number in "
            "instance names such as 'add_water#2'",
        )
    return value


NodeId = Annotated[
    str,
    AfterValidator(_node_id),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": "^[^#]+$"}),
]


def _next_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "<str>"
    if isinstance(value, list):
        return "<list>"
    return None


Next = Annotated[
    Annotated[str, Tag("<str>")] | Annotated[list[str], Tag("<list>")],
    Discriminator(
        _next_kind,
        custom_error_type="next_type",
        custom_error_message=(
            'must be a node_id string ("" ends the workflow) or, for a parallel node, '
            "a list of node_ids"
        ),
    ),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": 'serial: one node_id or "" to end; parallel: a list of node_ids',
        }
    ),
]


def _target_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, str):
        return "<str>"
    return None


Target = Annotated[
    Annotated[str, Tag("<str>")]
    | Annotated[int, Tag("<int>")]
    | Annotated[float, Tag("<float>")]
    | Annotated[bool, Tag("<bool>")],
    Discriminator(
        _target_kind,
        custom_error_type="target_type",
        custom_error_message="must be a string, a number or a boolean",
    ),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]


def _empty_condition(value: Any) -> Any:
    if (isinstance(value, str) and value == "") or (isinstance(value, dict) and not value):
        return None
    if value is None:
        raise PydanticCustomError("condition_null", 'write "no condition" as {} or "", not null')
    return value


def _empty_to(empty: Any) -> Any:
    def convert(value: Any) -> Any:
        return empty() if isinstance(value, str) and value == "" else value

    return convert


Arguments = Annotated[
    dict[str, Any],
    BeforeValidator(_empty_to(dict)),
    WithJsonSchema({"anyOf": [{"type": "object"}, {"const": ""}]}),
]
OutputsFrom = Annotated[
    list[NodeId],
    BeforeValidator(_empty_to(list)),
    WithJsonSchema({"anyOf": [{"type": "array", "items": {"type": "string"}}, {"const": ""}]}),
]


def _dag_not_empty(value: list[Any]) -> list[Any]:
    if not value:
        raise PydanticCustomError(
            "dag_empty", "must contain at least one node (execution starts at the first entry)"
        )
    return value


# -- errors -------------------------------------------------------------------------------

#: How many errors a SpecError's message lists (``.errors`` always has all of them).
MAX_LISTED = 20


def spec_error(errors: list[tuple[str, str]]) -> SpecError:
    """One ``SpecError`` for every ``(path, message)``; its text starts with the first."""
    path, message = errors[0]
    if len(errors) > 1:
        listed = errors[1:MAX_LISTED]
        message += f"\n{len(errors) - 1} more error(s):" + "".join(
            f"\n  {p}: {m}" for p, m in listed
        )
        if len(errors) > MAX_LISTED:
            message += f"\n  ... and {len(errors) - MAX_LISTED} more (see .errors)"
    return SpecError(message, path=path, errors=errors)


def json_type(value: Any) -> str:
    """The JSON name of a value's type (``null``, ``boolean``, ``number``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# -- resource requirements ----------------------------------------------------------------

#: At most this many resources in one requirement.
MAX_RESOURCES = 16
#: The largest amount of one resource a requirement (or a capacity) may name.
MAX_AMOUNT = 1e12
#: A resource name: a letter or ``_``, then letters, digits, ``_``, ``.`` or ``-``; at
#: most 64 characters (so it is safe in HTML, metric labels and log lines).
RESOURCE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", re.ASCII)


def resource_problems(value: Any, path: str) -> list[tuple[str, str]]:
    """Every ``(json_path, message)`` wrong with ``value`` as a resource requirement.

    A requirement is a JSON object of at most :data:`MAX_RESOURCES` resources, each
    named per :data:`RESOURCE_NAME` and mapped to a positive finite number (not a
    boolean) of at most :data:`MAX_AMOUNT`: ``{"cpu": 2, "memory": 512}``. ``path`` is
    where ``value`` sits (``dag[0].properties.resources``); a resource's path adds its
    name (``...resources.cpu``).
    """
    if not isinstance(value, Mapping):
        kind = json_type(value)
        return [
            (
                path,
                'must be a JSON object of resource amounts such as {"cpu": 2, "memory": 512}, '
                f"got {kind}",
            )
        ]
    problems: list[tuple[str, str]] = []
    if len(value) > MAX_RESOURCES:
        problems.append(
            (path, f"names {len(value)} resources; at most {MAX_RESOURCES} are allowed")
        )
    for name, amount in list(value.items())[: MAX_RESOURCES + 1]:
        if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
            shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
            problems.append(
                (
                    f"{path}[{json.dumps(str(name)[:80])}]",
                    f"resource name {shown} is not allowed: a letter or '_', then letters, "
                    "digits, '_', '.' or '-', at most 64 characters",
                )
            )
            continue
        where = (
            f"{path}.{name}"
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
            else (f"{path}[{json.dumps(name)}]")
        )
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            problems.append((where, f"resource {name!r} must be a number, got {json_type(amount)}"))
        elif not math.isfinite(amount) or amount <= 0:
            problems.append(
                (where, f"resource {name!r} must be a positive finite number, got {amount!r}")
            )
        elif amount > MAX_AMOUNT:
            problems.append(
                (where, f"resource {name!r} is {amount!r}, over the limit of {MAX_AMOUNT:g}")
            )
    return problems


def check_resources(value: Any, path: str = "resources") -> dict[str, float]:
    """``value`` as ``{resource: amount}`` (see :func:`resource_problems`); ``None`` and
    ``{}`` mean no requirement. Raises ``SpecError`` naming every problem's JSON path."""
    if value is None:
        return {}
    problems = resource_problems(value, path)
    if problems:
        raise spec_error(problems)
    return {name: float(amount) for name, amount in value.items()}


# -- the comparison rule -------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def as_number(value: Any) -> int | float | None:
    """``value`` as a number if it is one, or a string spelling a decimal number.

    ``int`` and ``float`` count (``bool`` does not); so does a string that, after
    stripping surrounding whitespace, is a decimal literal: ``"1000"``, ``"-2.5"``,
    ``".5"``, ``"1e3"``. ``"nan"``, ``"inf"``, ``"0x10"`` and ``"1_000"`` are not numbers.
    Integer strings become ``int`` so large values compare exactly.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than int() parses by default
                return float(text)
        if _DECIMAL.fullmatch(text):
            return float(text)
    return None


def as_text(value: Any) -> str:
    """``value`` as a string: strings as they are, anything else as its JSON text."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def compare(value: Any, operator: str, target: Any) -> bool:
    """DAGit's comparison of a node's output ``value`` with a condition's ``target``.

    When both sides are numbers (:func:`as_number`) they compare as numbers, so
    ``250 < "1000"``. Otherwise both compare as strings (:func:`as_text`; ``True`` is
    ``"true"``), by Unicode code points: ``"apple" < "banana"``, ``"b" > "1"``.
    """
    a: Any = as_number(value)
    b: Any = as_number(target)
    if a is None or b is None:
        a, b = as_text(value), as_text(target)
    if operator == "equals":
        return bool(a == b)
    if operator == "greater_than":
        return bool(a > b)
    if operator == "less_than":
        return bool(a < b)
    if operator == "greater_than_equals":
        return bool(a >= b)
    if operator == "less_than_equals":
        return bool(a <= b)
    raise SpecError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")


# -- models --------------------------------------------------------------------------------

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class Condition(BaseModel):
    """``{source, operator, target}``: compare the node's output ``source`` with ``target``."""

    model_config = _STRICT

    source: str = Field(min_length=1, description="a key of the node's own output dict")
    operator: Operator
    target: Target

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (the output under ``source``) satisfies the condition."""
        return compare(value, self.operator, self.target)


def _properties_schema(schema: dict[str, Any]) -> None:
    # The condition is a Condition, {} or "" (never null): say so in the schema.
    prop = schema["properties"]["condition"]
    ref = next(alt for alt in prop.pop("anyOf") if "$ref" in alt)
    prop["anyOf"] = [ref, {"type": "object", "maxProperties": 0}, {"const": ""}]
    prop.pop("default", None)


class Properties(BaseModel):
    """What a node does and where control goes next."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_properties_schema
    )

    label: str = ""
    primitive: Primitive
    condition: Annotated[Condition | None, BeforeValidator(_empty_condition)] = None
    next: Next = ""
    branch_1: str = ""
    branch_2: str = ""
    arguments: Arguments = Field(default_factory=dict)
    outputs_from: OutputsFrom = Field(default_factory=list)
    # dagforge's own: what one instance of this node holds while it runs (checked, with
    # JSON paths, by validate.check_structure); overlays the function's requirement.
    resources: Annotated[
        dict[str, Any],
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": MAX_RESOURCES,
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_.\\-]{0,63}$"},
                "additionalProperties": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_AMOUNT,
                },
                "description": 'resources one instance holds while it runs, e.g. {"cpu": 2}',
            }
        ),
    ] = Field(default_factory=dict)

    @field_serializer("condition")
    def _dump_condition(self, condition: Condition | None) -> dict[str, Any]:
        return {} if condition is None else condition.model_dump()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out = handler(self)
        if isinstance(out, dict) and not out.get("resources"):
            out.pop("resources", None)  # DAGit's documents have no such field
        return dict(out)

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

    model_config = _STRICT

    node_id: NodeId
    properties: Properties


class WorkflowSpec(BaseModel):
    """A DAGit workflow: ``name``, the ``dag`` entries (the first one starts), a loop bound.

    ``max_iterations`` (optional, default 1000) is how many instances one node may have
    in a run; the planner raises ``LoopLimitError`` past it. ``warnings`` lists the
    ``(path, message)`` pairs :func:`~dagforge.spec.load_spec` also emitted as
    ``SpecWarning``.
    """

    model_config = _STRICT

    name: str = Field(min_length=1)
    dag: Annotated[list[SpecNode], AfterValidator(_dag_not_empty)]
    max_iterations: int = Field(default=1000, ge=1)
    # "dagforge" (default): a node's outputs_from outputs are merged into its keywords;
    # "dagit": one upstream passes its output as is, several pass the *list* (issue 12).
    input_shape: Literal["dagforge", "dagit"] = "dagforge"

    _warnings: list[tuple[str, str]] = PrivateAttr(default_factory=list)
    _checked: bool = PrivateAttr(default=False)

    def node(self, node_id: str) -> SpecNode:
        """The entry named ``node_id`` (``UnknownNodeError``, a ``KeyError``, if none)."""
        for entry in self.dag:
            if entry.node_id == node_id:
                return entry
        raise UnknownNodeError(self._unknown(node_id))

    def index(self, node_id: str) -> int:
        """The position of ``node_id`` in ``dag`` (for ``dag[i]`` paths)."""
        for i, entry in enumerate(self.dag):
            if entry.node_id == node_id:
                return i
        raise UnknownNodeError(self._unknown(node_id))

    def _unknown(self, node_id: str) -> str:
        known = [entry.node_id for entry in self.dag]
        return f"node {node_id!r} is not in this spec; known: {known[:10]}"

    @property
    def start(self) -> str:
        """The node execution starts at: the first entry of ``dag``."""
        return self.dag[0].node_id

    @property
    def node_ids(self) -> list[str]:
        return [entry.node_id for entry in self.dag]

    @property
    def warnings(self) -> list[tuple[str, str]]:
        """``(path, message)`` of every warning found when the spec was loaded."""
        return list(self._warnings)

    def to_json_dict(self) -> dict[str, Any]:
        """The spec as DAGit JSON (``{}`` for no condition, ``""`` for no next)."""
        return self.model_dump(mode="json")


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow spec (``dagforge spec schema``).

    It describes the shapes; the whole-document rules (targets exist, a condition has
    both branches, ...) are checked by ``load_spec`` and listed in ``docs/specs.md``.
    """
    schema = WorkflowSpec.model_json_schema(mode="validation")
    schema["properties"]["dag"].update(
        minItems=1, description="the nodes; execution starts at the first entry"
    )
    schema.pop("title", None)
    schema["description"] = (
        "A DAGit workflow specification as dagforge accepts it. Execution starts at the "
        "first dag entry; see docs/specs.md for the semantics and the checks beyond shape."
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dagforge / DAGit workflow specification",
        **schema,
    }
