"""The job protocol: what the engine sends a backend, and what comes back.

A :class:`Job` is one attempt of one node, ready to call; an :class:`Event` is how it
went. Both are ``NamedTuple`` records (built here and in the engine's ``_launch`` only):
fields by name for readers, a plain tuple's cost on the hot path, and they pickle to the
processes and Dask workers as they are.

``run_job`` is the single function every backend executes (inline, on a thread, in a
child process, on a Dask worker), so timing, output checking and profiling
measurements mean the same thing everywhere. It never raises for a task's own error:
the error travels back inside the event, ``SystemExit`` included (it is the node's
failure). ``KeyboardInterrupt`` does propagate, so Ctrl-C reaches the engine.
"""

from __future__ import annotations

import types
from time import perf_counter
from typing import Any, NamedTuple

from dagforge.calling import K_NOARGS, K_POS, K_TASK  # call kinds (re-exported here)
from dagforge.errors import TaskOutputError


class Job(NamedTuple):
    """One attempt of one node, as the engine hands it to a backend."""

    idx: int  #: the node's index in the run
    attempt: int  #: 1 for the first try; a retry or re-run counts up
    kind: int  #: K_POS (parents' values positionally), K_NOARGS or K_TASK (keywords)
    fn: Any  #: the callable (a Task's ``compute`` for K_TASK)
    args: Any  #: positional arguments (K_POS)
    kwargs: Any  #: keyword arguments (K_TASK), else None
    name: str  #: the node's name, for messages
    outputs: tuple[str, ...] | None  #: a Task's declared outputs, checked after the call
    serializer: Any  #: set when profiling: measure the value's (de)serialization


class Event(NamedTuple):
    """How one job went, as a backend reports it (on the clock of the run)."""

    idx: int
    attempt: int
    ok: bool
    value: Any  #: the node's value when ``ok``
    error: BaseException | None  #: the node's exception when not ``ok``
    traceback: str | None  #: its formatted traceback ("" when there is none to show)
    t_start: float
    t_end: float
    worker: int  #: index into the backend's ``worker_names``; -1 when none ran it
    metrics: Any  #: a NodeMetrics when profiling, else None


_new = tuple.__new__  # builds a record without NamedTuple.__new__'s Python frame


def done(idx: int, attempt: int, value: Any, t0: float, t1: float, wid: int, metrics: Any = None):
    """The event of a job that returned ``value``."""
    return _new(Event, (idx, attempt, True, value, None, None, t0, t1, wid, metrics))


def failed(
    idx: int, attempt: int, err: BaseException, tb: str | None, t0: float, t1: float, wid: int
) -> Event:
    """The event of a job that raised ``err`` (or that could not run or report)."""
    return _new(Event, (idx, attempt, False, None, err, tb, t0, t1, wid, None))


_CO_VARARGS = 0x04  # inspect.CO_VARARGS (inspect is imported only when needed)


def call_kind(fn: Any) -> int:
    """K_NOARGS for a callable declaring no parameters, else K_POS (parents positionally)."""
    code = getattr(fn, "__code__", None)
    if code is not None and type(fn) is types.FunctionType:
        if code.co_argcount or code.co_kwonlyargcount or code.co_flags & _CO_VARARGS:
            return K_POS
        return K_NOARGS
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without signatures: assume positional
        return K_POS
    return K_POS if any(p.kind is not p.VAR_KEYWORD for p in params) else K_NOARGS


class NodeMetrics:
    """Profiling measurements of one node, taken on the worker that ran it."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "compute_ms",
        "deserialize_ms",
        "output_bytes",
        "serialize_ms",
    )

    def __init__(
        self,
        compute_ms: float,
        serialize_ms: float = 0.0,
        deserialize_ms: float = 0.0,
        bytes_out: int = 0,
        output_bytes: dict[str, int] | None = None,
        bytes_in: int = 0,
    ):
        self.compute_ms = compute_ms
        self.serialize_ms = serialize_ms
        self.deserialize_ms = deserialize_ms
        self.bytes_in = bytes_in
        self.bytes_out = bytes_out
        self.output_bytes = output_bytes or {}

    def __repr__(self) -> str:
        return (
            f"<NodeMetrics compute={self.compute_ms:.3f}ms out={self.bytes_out}B "
            f"ser={self.serialize_ms:.3f}ms de={self.deserialize_ms:.3f}ms>"
        )


def check_task_outputs(name: str, outputs: tuple[str, ...] | None, value: Any) -> dict[str, Any]:
    """A Task's value, checked against its declared ``outputs``."""
    outputs = outputs or ()
    if type(value) is not dict:
        if not isinstance(value, dict):
            raise TaskOutputError(
                f"node {name!r}: compute() must return a dict of its outputs {list(outputs)}, "
                f"got {type(value).__name__}"
            )
        value = dict(value)
    if len(value) != len(outputs) or any(k not in value for k in outputs):
        missing = [k for k in outputs if k not in value]
        extra = [k for k in value if k not in outputs]
        parts = []
        if missing:
            parts.append(f"missing declared output(s) {missing}")
        if extra:
            parts.append(f"undeclared output(s) {extra}")
        raise TaskOutputError(f"node {name!r}: compute() returned {'; '.join(parts)}")
    return value


def measure_value(
    name: str, kind: int, value: Any, serializer: Any
) -> tuple[float, float, int, dict]:
    """Serialize and deserialize each output once: (ser ms, de ms, bytes, bytes per output)."""
    from dagforge.serializers import get_serializer, measure

    ser = get_serializer(serializer or "pickle")
    items = value.items() if kind == K_TASK else (("value", value),)
    s_ms = d_ms = 0.0
    sizes: dict[str, int] = {}
    for key, v in items:
        m = measure(v, ser, context=f"node {name!r} output {key!r}")
        s_ms += m.serialize_ms
        d_ms += m.deserialize_ms
        sizes[key] = m.nbytes
    return s_ms, d_ms, sum(sizes.values()), sizes


def call_node(kind: int, fn: Any, args: Any, kwargs: Any, finish: bool = True) -> Any:
    """Call a node's callable the way its kind says: THE node-call convention, the one
    definition every path uses (``run_job`` on every backend, the asyncio backend, and
    the inline loops ``FastPath._dispatch_inline`` and ``Core._run_compiled``).

    K_POS: the parents' values positionally (``args``); K_NOARGS: no arguments; K_TASK:
    a Task's keyword inputs plus ``cfg`` (``kwargs``). A coroutine the call returns (an
    ``async def`` run off an event loop) is run to its end here unless ``finish`` is
    False (the asyncio backend awaits it on its own loop)."""
    if kind == K_POS:
        value = fn(*args)
    elif kind == K_NOARGS:
        value = fn()
    else:
        value = fn(**kwargs)
    if finish and type(value) is _COROUTINE:
        return finish_coroutine(value)
    return value


_COROUTINE = types.CoroutineType


def finish_coroutine(value: Any) -> Any:
    """A node that returned a coroutine (an ``async def`` run off the event loop): run it
    to its end here."""
    import asyncio  # imported here: most runs never need it (import time)

    return asyncio.run(value)


def run_job(job: Job, worker: int) -> Event:
    """Run one job on the current thread and return its completion event."""
    idx, attempt, kind, fn, args, kwargs, name, outputs, serializer = job
    t0 = perf_counter()
    try:
        value = call_node(kind, fn, args, kwargs)
        if kind == K_TASK:
            value = check_task_outputs(name, outputs, value)
    except (Exception, SystemExit) as exc:  # SystemExit too: it is the node's failure
        t1 = perf_counter()
        tb = format_error(exc)
        return _new(Event, (idx, attempt, False, None, exc, tb, t0, t1, worker, None))
    t1 = perf_counter()
    metrics = None
    if serializer is not None:
        try:
            s_ms, d_ms, total, sizes = measure_value(name, kind, value, serializer)
        except Exception as exc:
            return failed(idx, attempt, exc, format_error(exc), t0, t1, worker)
        metrics = NodeMetrics((t1 - t0) * 1000.0, s_ms, d_ms, total, sizes)
    return _new(Event, (idx, attempt, True, value, None, None, t0, t1, worker, metrics))


# -- capture_logs= in another process (processes backend) ------------------------------


_CAPTURE_WRAPPERS = frozenset({"_Captured", "_CapturedAsync"})  # execution/capture.py


def take_logs(fn: Any) -> dict[str, Any] | None:
    """In a worker process, after the call: what the node's capture wrapper
    (``LogCapture.wrap``, execution/capture.py) recorded there, taken out of it, as a
    dict to travel back beside the event; None when the node is not captured.

    The wrapper crossed the process boundary carrying only its limit (see
    ``LogCapture.__getstate__``), so it captured into a worker-local buffer."""
    # Recognised by its class, not imported: capture.py imports the backends, which
    # import this module (no import circle inside execution/).
    if type(fn).__name__ not in _CAPTURE_WRAPPERS:
        return None
    logs = fn.capture.logs.pop(fn.name, None)
    return logs.to_dict() if logs else None


def merge_logs(capture: Any, name: str, logs: dict[str, Any]) -> None:
    """In the engine's process: add what a worker captured for node ``name`` to the
    run's ``LogCapture``, as one more attempt of that node, within the node's limit."""
    node = capture._for(name)  # counts the attempt, as a local call would
    node.write("stdout", logs["stdout"])
    node.write("stderr", logs["stderr"])
    for record in logs["records"]:
        kept = node._room(record["message"])
        node.records.append({**record, "message": kept, "attempt": node.attempt})
    node.dropped += logs["dropped"]


def format_error(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` (what an event carries)."""
    import traceback

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# -- seed= ---------------------------------------------------------------------------------


def node_seed(seed: int, name: str) -> int:
    """The seed of node ``name`` in a run seeded with ``seed``: the same on every machine."""
    import hashlib

    digest = hashlib.blake2b(f"{seed}\0{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def seed_globals(seed: int) -> None:
    """Seed ``random`` and, when numpy is imported, numpy's global generator."""
    import random
    import sys

    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % (2**32))


class Seeded:
    """A node's callable that first seeds the global generators from the node's seed.

    Every node draws from its own stream, whichever backend, worker or order runs it,
    so ``seed=`` gives the same data on every backend. Nodes sharing one interpreter
    (threads, asyncio's worker threads) would interleave their draws from the one
    global generator, so a seeded call holds one lock: seeded nodes of one process run
    one at a time. A coroutine is seeded when it starts; its draws after its first
    ``await`` may interleave with other coroutines'.
    """

    __slots__ = ("fn", "seed")

    def __init__(self, fn: Any, seed: int):
        self.fn = fn
        self.seed = seed

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with _seed_lock():
            seed_globals(self.seed)
            value = self.fn(*args, **kwargs)
        if type(value) is types.CoroutineType:
            return _seeded_coroutine(value, self.seed)
        return value

    def __reduce__(self) -> tuple:
        return (Seeded, (self.fn, self.seed))


async def _seeded_coroutine(coro: Any, seed: int) -> Any:
    seed_globals(seed)
    return await coro


_LOCKS: dict[int, Any] = {}


def _seed_lock() -> Any:
    lock = _LOCKS.get(0)
    if lock is None:
        import threading

        lock = _LOCKS.setdefault(0, threading.RLock())  # atomic: every caller gets one lock
    return lock
