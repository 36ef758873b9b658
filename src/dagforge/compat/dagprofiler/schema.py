"""dagprofiler's profile schema (``dagprofiler.schema``).

``PROFILE_SCHEMA`` is dagforge's JSON Schema of the format, which accepts every file
dagprofiler 0.1.0 writes; ``validate_profile(data)`` returns ``True`` or raises a
``ValueError`` (``ProfileError``) whose message starts with the JSON path at fault.
"""

from __future__ import annotations

from typing import Any

from dagforge.profiling.schema import PROFILE_SCHEMA, normalise_task_names
from dagforge.profiling.schema import validate_profile as _validate

__all__ = ["PROFILE_SCHEMA", "validate_profile"]


def validate_profile(data: dict[str, Any]) -> bool:
    _validate(normalise_task_names(data))
    return True
