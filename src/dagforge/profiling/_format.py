"""The small rules of dagprofiler's file format that every profile record follows.

Which release the file is a contract with, the per-node timing keys, and how values are
written: weights and bytes as integers where dagprofiler's schema wants integers, floats
rounded to 6 places, anything else made JSON-safe. Used by the records (``metrics.py``)
and :class:`~dagforge.profiling.profile.Profile` (``profile.py``).

Invariants:
- Only the standard library is imported; nothing here knows a profile's structure.
- ``_num`` never changes a value, only its type (an integral float becomes an int, a
  numpy scalar a Python number); ``_int`` and ``_round`` are what the file stores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The dagprofiler release whose format ``save()`` writes (``metadata.dagprofiler_version``).
DAGPROFILER_FORMAT_VERSION = "0.1.0"

_TIMINGS = ("compute_time_ms", "serialize_time_ms", "deserialize_time_ms")
_SEED_KEYS = (*_TIMINGS, "bytes_in", "bytes_out")


def _num(value: Any) -> Any:
    """ints stay ints; integral floats become ints; numpy scalars become Python numbers."""
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _int(value: Any) -> int:
    """A weight as dagprofiler's schema wants it: an integer."""
    return round(value)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON values; numpy scalars via ``.item()``; anything else by ``repr``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return repr(value)
