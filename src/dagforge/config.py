"""``Config``: the run configuration tasks read their parameters from.

A ``Config`` is an immutable-by-convention mapping of parameter names to values with
attribute access (``cfg.N``), item access (``cfg["N"]``) and ``copy(**changes)`` for
variants. It is what ``estimate_instructions(cfg)`` and ``compute(..., cfg=cfg)`` see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dagforge.errors import ConfigError


class Config(Mapping[str, Any]):
    """A named set of run parameters: ``Config(N=10000, scale=2.0)``."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any):
        merged = dict(values or {})
        merged.update(kwargs)
        object.__setattr__(self, "_values", merged)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"Config has no parameter {name!r}; known: {sorted(self._values)}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Config is read-only; use cfg.copy(name=value) for a variant")

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise ConfigError(
                f"Config has no parameter {key!r}; known: {sorted(self._values)}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._values == other._values
        if isinstance(other, Mapping):
            return self._values == dict(other)
        return NotImplemented

    def __hash__(self) -> int:  # mappings are unhashable; so is a Config
        raise TypeError("Config is not hashable")  # the protocol: hash() raises TypeError

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Config({inner})"

    def __reduce__(self):
        return (Config, (self._values,))

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when the parameter is not set."""
        return self._values.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A plain ``dict`` copy, for JSON export."""
        return dict(self._values)

    def copy(self, **changes: Any) -> Config:
        """A new Config with ``changes`` applied; this one is unchanged."""
        merged = dict(self._values)
        merged.update(changes)
        return Config(merged)
