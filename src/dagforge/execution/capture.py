"""Per-node capture of stdout, stderr and log records, size-bounded and thread-aware.

``Executor(dag, capture_logs=True)`` (and the platform, always) wraps each node's call
so that what the node prints and logs while it runs lands in that node's
:class:`NodeLogs` (``result["node"].logs``) instead of being lost in the process output.

How it stays correct with many nodes running at once: ``sys.stdout`` / ``sys.stderr``
are replaced, while at least one captured call is running anywhere in the process, by
routers that look up the *current node* in a ``contextvars.ContextVar``. A context
variable is per thread and per asyncio task, so two nodes printing at the same time on
two threads (or two coroutines on one loop) each get only their own lines, and a thread
that is not running a node (the server, the engine) writes straight through to the real
stream. Log records reach the node through one handler on the root logger, routed the
same way, so they obey the logging configuration (a record below a logger's level is
never created, hence never captured).

Bounded: each node keeps at most ``limit`` characters over all three streams; the rest
is counted (``dropped``) and ``truncated`` is set, so a node printing in a loop cannot
exhaust the memory of the engine or the journal.

Other processes: on the ``processes`` and ``dask`` backends the wrapper runs in the
worker and captures into a buffer there; ``execution/jobs.py`` (``take_logs`` /
``merge_logs``) brings what it holds back into the run's capture (processes: with each
event; Dask: when the run ends). Output written by C code straight to file descriptor
1 or 2 bypasses ``sys.stdout`` and is not captured.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from typing import Any

from dagforge.errors import RunArgumentError

DEFAULT_LIMIT = 64_000  # characters kept per node over stdout, stderr and records

_current: contextvars.ContextVar[NodeLogs | None] = contextvars.ContextVar(
    "dagforge_node_logs", default=None
)
_install_lock = threading.Lock()
_active = 0
_handler: _RecordRouter | None = None


class NodeLogs:
    """What one node wrote: ``stdout``, ``stderr`` (text) and ``records`` (log records as
    dicts with ``time``, ``level``, ``logger``, ``message``, ``attempt``)."""

    __slots__ = ("_err", "_out", "attempt", "dropped", "limit", "records", "size")

    def __init__(self, limit: int = DEFAULT_LIMIT):
        self.limit = limit
        self._out: list[str] = []
        self._err: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.size = 0
        self.dropped = 0
        self.attempt = 1

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def _room(self, text: str) -> str:
        left = self.limit - self.size
        if len(text) <= left:
            self.size += len(text)
            return text
        kept = text[: max(left, 0)]
        self.size += len(kept)
        self.dropped += len(text) - len(kept)
        return kept

    def write(self, stream: str, text: str) -> None:
        kept = self._room(text)
        if kept:
            (self._out if stream == "stdout" else self._err).append(kept)

    def record(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad %-format in the node's own log call
            message = f"{record.msg!r} (unformattable: {exc})"
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        kept = self._room(message)
        if kept or not message:
            self.records.append(
                {
                    "time": record.created,
                    "level": record.levelname,
                    "logger": record.name,
                    "message": kept,
                    "attempt": self.attempt,
                }
            )

    def __bool__(self) -> bool:
        return bool(self._out or self._err or self.records or self.dropped)

    @property
    def text(self) -> str:
        """Everything in one readable block (stdout, stderr, then records)."""
        parts = []
        if self._out:
            parts.append(self.stdout)
        if self._err:
            parts.append(self.stderr)
        for r in self.records:
            parts.append(f"{r['level']} {r['logger']}: {r['message']}\n")
        if self.dropped:
            parts.append(f"[... {self.dropped} characters dropped: over {self.limit}]\n")
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stdout": self.stdout,
            "stderr": self.stderr,
            "records": list(self.records),
            "truncated": self.truncated,
            "dropped": self.dropped,
        }

    def __repr__(self) -> str:
        return f"<NodeLogs {self.size} chars{' truncated' if self.dropped else ''}>"


class _StreamRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``: the current node's buffer, or the
    real stream when no node runs in this thread/task."""

    def __init__(self, stream: Any, name: str):
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        logs = _current.get()
        if logs is None:
            return self._stream.write(text)
        logs.write(self._name, text)
        return len(text)

    def flush(self) -> None:
        if _current.get() is None:
            self._stream.flush()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


class _RecordRouter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)

    def handle(self, record: logging.LogRecord) -> bool:  # no handler lock: per-node buffers
        logs = _current.get()
        if logs is not None:
            logs.record(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() overrides
        self.handle(record)


def _enter() -> None:
    """Count one more captured call; make sure the routers are in place. Checked on every
    call, not only the first: something else (a test runner, a framework) may have put
    its own stream in ``sys.stdout`` while a long captured call was running."""
    global _active, _handler
    with _install_lock:
        _active += 1
        if not isinstance(sys.stdout, _StreamRouter):
            sys.stdout = _StreamRouter(sys.stdout, "stdout")
        if not isinstance(sys.stderr, _StreamRouter):
            sys.stderr = _StreamRouter(sys.stderr, "stderr")
        if _handler is None:
            _handler = _RecordRouter()
            logging.getLogger().addHandler(_handler)


def _exit() -> None:
    """One captured call less; the last one puts the real streams back."""
    global _active, _handler
    with _install_lock:
        _active -= 1
        if _active:
            return
        # put back only what we installed (someone may have replaced it since)
        if isinstance(sys.stdout, _StreamRouter):
            sys.stdout = sys.stdout._stream
        if isinstance(sys.stderr, _StreamRouter):
            sys.stderr = sys.stderr._stream
        if _handler is not None:
            logging.getLogger().removeHandler(_handler)
            _handler = None


class LogCapture:
    """The logs of one run, by node name. ``wrap(name, fn)`` is what the engine calls."""

    def __init__(self, limit: int = DEFAULT_LIMIT):
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise RunArgumentError(
                f"capture limit must be a non-negative int of characters: {limit!r}"
            )
        self.limit = limit
        self.logs: dict[str, NodeLogs] = {}

    def __getstate__(self) -> dict[str, Any]:
        # sent to another process (processes / dask backends): only the limit travels;
        # what the node writes there stays there (see the module docstring)
        return {"limit": self.limit}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.limit = state["limit"]
        self.logs = {}

    def _for(self, name: str) -> NodeLogs:
        logs = self.logs.get(name)
        if logs is None:
            logs = self.logs[name] = NodeLogs(self.limit)
        else:
            logs.attempt += 1
        return logs

    def wrap(self, name: str, fn: Any) -> Any:
        from dagforge.execution.backends.asyncio_backend import _is_coroutine_callable

        if _is_coroutine_callable(fn):
            return _CapturedAsync(self, name, fn)
        return _Captured(self, name, fn)

    def get(self, name: str) -> NodeLogs | None:
        return self.logs.get(name)


class _Captured:
    __slots__ = ("capture", "fn", "name")

    def __init__(self, capture: LogCapture, name: str, fn: Any):
        self.capture = capture
        self.name = name
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        logs = self.capture._for(self.name)
        _enter()
        token = _current.set(logs)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _current.reset(token)
            _exit()


class _CapturedAsync(_Captured):
    __slots__ = ()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        logs = self.capture._for(self.name)
        _enter()
        token = _current.set(logs)
        try:
            return await self.fn(*args, **kwargs)
        finally:
            _current.reset(token)
            _exit()
