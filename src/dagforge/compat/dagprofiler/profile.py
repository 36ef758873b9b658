"""dagprofiler's ``Profile`` (``dagprofiler.profile``).

dagforge's :class:`~dagforge.profiling.Profile` with dagprofiler's ``compare``: a dict of
differences ``self - other`` (``config_diff``, ``node_weight_diff``, ``edge_weight_diff``,
``time_diff_ms``), plus dagprofiler's attribute names (``seed``, ``timestamp``,
``hostname``, ``final_outputs``, ``config``, ``dag_structure``, ``metrics``).
"""

from __future__ import annotations

from typing import Any

from dagforge.profiling.profile import Profile as _Profile
from dagforge.profiling.profile import compare_dict

__all__ = ["Profile"]


class Profile(_Profile):
    __slots__ = ()

    def compare(self, other: _Profile) -> dict[str, Any]:  # type: ignore[override]
        """dagprofiler's comparison dict; differences are ``self - other``."""
        return compare_dict(self, other)

    def save(self, path: Any) -> str:  # type: ignore[override]
        """Write the profile; returns the path as a string, as dagprofiler does."""
        return str(super().save(path))

    @property
    def timestamp(self) -> str | None:
        return self.metadata.get("timestamp")

    @property
    def hostname(self) -> str | None:
        return self.metadata.get("hostname")

    @property
    def final_outputs(self) -> dict[str, Any]:
        """Outputs of the last node in execution order ({} for a loaded profile)."""
        result = self.result
        if result is None or not self.execution_order:
            return {}
        value = result.values.get(self.execution_order[-1])
        return dict(value) if isinstance(value, dict) else {}

    @classmethod
    def wrap(cls, profile: _Profile) -> Profile:
        """The same profile object, seen as dagprofiler's ``Profile``."""
        if not isinstance(profile, cls):
            profile.__class__ = cls
        return profile  # type: ignore[return-value]
