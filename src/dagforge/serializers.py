"""Named serializers: how a node's output becomes bytes and back.

Values cross a process boundary (a worker process, a Dask worker, an HTTP function,
a store) as bytes; a *serializer* names the format. Four are built in:

``pickle`` (the default)
    :mod:`pickle` protocol 5. Fast and general, but loading runs code chosen by
    whoever wrote the bytes, so it is ``trusted_only``.
``cloudpickle``
    :mod:`cloudpickle` (lambdas, closures, classes defined in ``__main__``); loads
    with :func:`pickle.loads`. ``trusted_only``.
``json``
    UTF-8 JSON with compact separators, keys in insertion order. Bytes and numpy
    values are refused with a :class:`SerializationError` rather than guessed at;
    tuples come back as lists. Safe to load from anyone.
``numpy``
    ``np.save(allow_pickle=False)`` for an array, a small container format for a
    dict or list/tuple whose values are all arrays, and pickle for everything else,
    so it is ``trusted_only``. ``numpy-safe`` is the same format without the pickle
    fallback: it refuses other values when writing and pickled payloads when reading.

Only the standard library is imported here; numpy is imported when a value turns out
to be a numpy array (which it cannot be unless numpy is already imported).

The size of a value for profile edge weights is :func:`payload_size`: a numpy array
counts its raw buffer (``nbytes``); every other value counts the length of its
serialized bytes. See ``docs/stores.md``.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from dagforge.errors import SerializationError

__all__ = [
    "DEFAULT_SERIALIZER",
    "Measurement",
    "Serializer",
    "available_serializers",
    "deserialize",
    "get_serializer",
    "is_trusted_only",
    "measure",
    "payload_size",
    "register_serializer",
    "serialize",
]

DEFAULT_SERIALIZER = "pickle"


class Serializer:
    """A named pair of ``dumps(obj) -> bytes`` and ``loads(data) -> obj``.

    Subclass it, or pass any object with ``name``, ``dumps`` and ``loads``.
    ``trusted_only`` is True when loading can execute code chosen by the writer of the
    bytes (pickle-like formats); a serializer that does not say otherwise is treated as
    such, so stores shared with other writers refuse it unless the reader opts in.
    """

    name: str = ""
    trusted_only: bool = True

    def dumps(self, obj: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<serializer {self.name!r}{' (trusted only)' if self.trusted_only else ''}>"


def _error(
    serializer: str, verb: str, what: str, exc: BaseException, context: str | None = None
) -> SerializationError:
    """The one message shape: serializer, what it failed at (and where), and why."""
    target = f"{context} ({what})" if context else what
    err = SerializationError(
        f"serializer {serializer!r} cannot {verb} {target}: {type(exc).__name__}: {exc}"
    )
    err.serializer = serializer  # type: ignore[attr-defined]
    err.context = context  # type: ignore[attr-defined]
    return err


def _encoding(obj: Any) -> str:
    return f"a {type(obj).__name__} value"


def _decoding(data: bytes) -> str:
    return f"{len(data)} bytes"


def _ndarray_type() -> type | None:
    """``numpy.ndarray`` if numpy is already imported, else None (nothing can be one)."""
    np = sys.modules.get("numpy")
    return getattr(np, "ndarray", None)


def _is_ndarray(value: Any) -> bool:
    nd = _ndarray_type()
    return nd is not None and isinstance(value, nd)


# --- built-ins ---------------------------------------------------------------------------


class PickleSerializer(Serializer):
    name = "pickle"
    trusted_only = True

    def dumps(self, obj: Any) -> bytes:
        try:
            return pickle.dumps(obj, protocol=5)
        except Exception as exc:
            raise _error(self.name, "encode", _encoding(obj), exc) from exc

    def loads(self, data: bytes) -> Any:
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise _error(self.name, "decode", _decoding(data), exc) from exc


class CloudpickleSerializer(PickleSerializer):
    name = "cloudpickle"

    def dumps(self, obj: Any) -> bytes:
        import cloudpickle

        try:
            return cloudpickle.dumps(obj, protocol=5)
        except Exception as exc:
            raise _error(self.name, "encode", _encoding(obj), exc) from exc


def _json_default(obj: Any) -> Any:
    # json.dumps' ``default`` hook must raise TypeError; dumps() turns it into a
    # SerializationError (this one its __cause__).
    if isinstance(obj, bytes | bytearray | memoryview):
        raise TypeError("bytes are not JSON; use the 'pickle' or 'numpy' serializer")
    if type(obj).__module__ == "numpy":
        raise TypeError(
            f"numpy value of type {type(obj).__name__} is not JSON; convert it with "
            ".tolist() / .item(), or use the 'numpy' serializer"
        )
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class JsonSerializer(Serializer):
    name = "json"
    trusted_only = False

    def dumps(self, obj: Any) -> bytes:
        try:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        except Exception as exc:
            raise _error(self.name, "encode", _encoding(obj), exc) from exc
        return text.encode("utf-8")

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data)
        except Exception as exc:
            raise _error(self.name, "decode", _decoding(data), exc) from exc


class NumpySerializer(Serializer):
    """Arrays via ``np.save(allow_pickle=False)``; containers of arrays; else pickle.

    Payload layout (all integers little-endian)::

        b"DFNP" version:u8 tag:u8 body
        tag "A": body is one .npy file
        tag "D" / "L" / "T": a dict / list / tuple whose values are all plain arrays;
            body is header_len:u32, a UTF-8 JSON header {"keys": [...] (dict only),
            "sizes": [...]}, then the .npy files back to back
        tag "P": body is a pickle (protocol 5) — written only with the fallback on

    Object-dtype arrays and ndarray subclasses are not plain arrays: they take the
    pickle fallback (or are refused when it is off).
    """

    MAGIC: ClassVar[bytes] = b"DFNP"
    VERSION: ClassVar[int] = 1
    _CONTAINERS: ClassVar[dict[type, bytes]] = {dict: b"D", list: b"L", tuple: b"T"}

    def __init__(self, name: str = "numpy", *, pickle_fallback: bool = True):
        self.name = name
        self.pickle_fallback = pickle_fallback
        self.trusted_only = pickle_fallback

    # -- encoding
    def dumps(self, obj: Any) -> bytes:
        try:
            return self._dumps(obj)
        except SerializationError:
            raise
        except Exception as exc:
            raise _error(self.name, "encode", _encoding(obj), exc) from exc

    def _dumps(self, obj: Any) -> bytes:
        nd = _ndarray_type()
        if nd is not None and type(obj) is nd:
            npy = self._npy(obj)
            if npy is not None:
                return self._head(b"A") + npy
        elif type(obj) in self._CONTAINERS:
            values = list(obj.values()) if isinstance(obj, dict) else list(obj)
            keys_ok = not isinstance(obj, dict) or all(isinstance(k, str) for k in obj)
            if keys_ok and all(type(v) is nd for v in values):
                blobs = [self._npy(v) for v in values]
                if None not in blobs:
                    return self._container(obj, blobs)  # type: ignore[arg-type]
        if not self.pickle_fallback:  # dumps() raises it as a SerializationError
            raise TypeError(
                f"serializer {self.name!r} writes only plain numpy arrays (not object dtype, "
                "not subclasses) and dicts/lists/tuples of them, without a pickle fallback; "
                "use 'numpy' for other values if the readers trust the writer"
            )
        return self._head(b"P") + pickle.dumps(obj, protocol=5)

    def _head(self, tag: bytes) -> bytes:
        return self.MAGIC + bytes([self.VERSION]) + tag

    @staticmethod
    def _npy(array: Any) -> bytes | None:
        import numpy as np

        buf = io.BytesIO()
        try:
            np.save(buf, array, allow_pickle=False)
        except ValueError:  # object dtype: needs pickle
            return None
        return buf.getvalue()

    def _container(self, obj: Any, blobs: list[bytes]) -> bytes:
        header: dict[str, Any] = {"sizes": [len(b) for b in blobs]}
        if isinstance(obj, dict):
            header["keys"] = list(obj)
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        tag = self._CONTAINERS[type(obj)]
        return b"".join([self._head(tag), struct.pack("<I", len(raw)), raw, *blobs])

    # -- decoding
    def loads(self, data: bytes) -> Any:
        try:
            return self._loads(bytes(data))
        except SerializationError:
            raise
        except Exception as exc:
            raise _error(self.name, "decode", _decoding(data), exc) from exc

    def _loads(self, data: bytes) -> Any:
        # Its ValueErrors are internal: loads() raises them as a SerializationError.
        if data[:4] != self.MAGIC or len(data) < 6:
            raise ValueError("not a dagforge numpy payload (bad magic)")
        if data[4] != self.VERSION:
            raise ValueError(f"unsupported numpy payload version {data[4]}")
        tag, body = data[5:6], memoryview(data)[6:]
        if tag == b"P":
            if not self.pickle_fallback:
                raise ValueError(
                    "payload is pickled and this serializer refuses pickle; read it with "
                    "serializer 'numpy' if you trust its writer"
                )
            return pickle.loads(body)
        if tag == b"A":
            return self._load_npy(body)
        if tag not in (b"D", b"L", b"T"):
            raise ValueError(f"unknown numpy payload tag {tag!r}")
        (hlen,) = struct.unpack_from("<I", body, 0)
        header = json.loads(bytes(body[4 : 4 + hlen]))
        arrays, pos = [], 4 + hlen
        for size in header["sizes"]:
            arrays.append(self._load_npy(body[pos : pos + size]))
            pos += size
        if tag == b"D":
            return dict(zip(header["keys"], arrays, strict=True))
        return arrays if tag == b"L" else tuple(arrays)

    @staticmethod
    def _load_npy(body: memoryview) -> Any:
        import numpy as np

        return np.load(io.BytesIO(body), allow_pickle=False)


# --- registry ---------------------------------------------------------------------------

_REGISTRY: dict[str, Any] = {}
_LOCK = threading.Lock()


def register_serializer(serializer: Any, *, replace: bool = False) -> Any:
    """Make ``serializer`` available by its ``name``; returns it.

    A second registration under a taken name is an error unless ``replace=True``.
    """
    name = getattr(serializer, "name", None)
    if not isinstance(name, str) or not name:
        raise SerializationError(
            f"cannot register {serializer!r}: it needs a non-empty string attribute 'name'"
        )
    for method in ("dumps", "loads"):
        if not callable(getattr(serializer, method, None)):
            raise SerializationError(
                f"cannot register serializer {name!r}: it has no callable {method}()"
            )
    with _LOCK:
        if name in _REGISTRY and not replace:
            raise SerializationError(
                f"serializer {name!r} is already registered; pass replace=True to replace it"
            )
        _REGISTRY[name] = serializer
    return serializer


def get_serializer(name_or_obj: Any = None) -> Any:
    """The serializer named ``name_or_obj``; a serializer object is returned as is.

    ``None`` means the default (``"pickle"``).
    """
    if name_or_obj is None:
        name_or_obj = DEFAULT_SERIALIZER
    if isinstance(name_or_obj, str):
        try:
            return _REGISTRY[name_or_obj]
        except KeyError:
            known = ", ".join(repr(n) for n in available_serializers())
            raise SerializationError(
                f"unknown serializer {name_or_obj!r}; known serializers: {known} "
                "(add one with register_serializer())"
            ) from None
    if callable(getattr(name_or_obj, "dumps", None)) and callable(
        getattr(name_or_obj, "loads", None)
    ):
        return name_or_obj
    raise SerializationError(
        f"{name_or_obj!r} is neither a serializer name nor an object with dumps() and loads()"
    )


def available_serializers() -> list[str]:
    """The registered serializer names, sorted."""
    with _LOCK:
        return sorted(_REGISTRY)


def is_trusted_only(serializer: Any) -> bool:
    """Whether loading with ``serializer`` may run code; unknown objects count as yes."""
    return bool(getattr(get_serializer(serializer), "trusted_only", True))


def _name(serializer: Any) -> str:
    return str(getattr(serializer, "name", None) or type(serializer).__name__)


def serialize(value: Any, serializer: Any = None, *, context: str | None = None) -> bytes:
    """``dumps`` through a named serializer; every failure is a :class:`SerializationError`.

    ``context`` (e.g. ``"node 'x' output 'y'"``) is named in the message, and the
    original exception is the error's ``__cause__``.
    """
    ser = get_serializer(serializer)
    try:
        data = ser.dumps(value)
    except Exception as exc:
        _reraise(exc, ser, "encode", _encoding(value), context)
    if not isinstance(data, bytes | bytearray | memoryview):
        where = f" for {context}" if context else ""
        raise SerializationError(
            f"serializer {_name(ser)!r} returned {type(data).__name__} instead of bytes{where}"
        )
    return bytes(data)


def deserialize(data: bytes, serializer: Any = None, *, context: str | None = None) -> Any:
    """``loads`` through a named serializer; every failure is a :class:`SerializationError`."""
    ser = get_serializer(serializer)
    try:
        return ser.loads(data)
    except Exception as exc:
        _reraise(exc, ser, "decode", _decoding(data), context)


def _reraise(exc: Exception, ser: Any, verb: str, what: str, context: str | None) -> NoReturn:
    """Raise ``exc`` as a SerializationError naming ``context``, from the original cause."""
    if isinstance(exc, SerializationError):
        cause = exc.__cause__
        if context is None or cause is None:
            raise exc
        raise _error(_name(ser), verb, what, cause, context) from cause
    raise _error(_name(ser), verb, what, exc, context) from exc


# --- sizes and timing --------------------------------------------------------------------


def payload_size(value: Any, serializer: Any = None, *, context: str | None = None) -> int:
    """Bytes a value weighs on an edge: a numpy array's ``nbytes``, else its serialized length."""
    if _is_ndarray(value):
        return int(value.nbytes)
    return len(serialize(value, serializer, context=context))


@dataclass(frozen=True, slots=True)
class Measurement:
    """One real round trip: ``nbytes`` by the :func:`payload_size` rule, times in ms."""

    nbytes: int
    serialize_ms: float
    deserialize_ms: float


def measure(value: Any, serializer: Any = None, *, context: str | None = None) -> Measurement:
    """Serialize and deserialize ``value`` once, timing both with ``time.perf_counter``."""
    ser = get_serializer(serializer)
    t0 = time.perf_counter()
    data = serialize(value, ser, context=context)
    t1 = time.perf_counter()
    deserialize(data, ser, context=context)
    t2 = time.perf_counter()
    nbytes = int(value.nbytes) if _is_ndarray(value) else len(data)
    return Measurement(nbytes, (t1 - t0) * 1000.0, (t2 - t1) * 1000.0)


for _builtin in (
    PickleSerializer(),
    CloudpickleSerializer(),
    JsonSerializer(),
    NumpySerializer(),
    NumpySerializer("numpy-safe", pickle_fallback=False),
):
    register_serializer(_builtin)
del _builtin
