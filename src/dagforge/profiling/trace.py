"""Chrome trace-event export of a run (opens in Perfetto and ``chrome://tracing``).

``build_trace(result)`` turns an :class:`~dagforge.execution.result.ExecutionResult`
into the JSON Object Format of the Trace Event specification:

- one process (``pid`` 1) named after the backend; one track (``tid``) per worker, in
  the order of ``result.workers``, named by ``thread_name`` metadata events;
- one complete (``"ph": "X"``) event per *attempt* of a node (one per node when it ran
  once), timestamps and durations in microseconds from the run's start;
- ``args`` carry the node name, status (of that attempt), attempt number, bytes in and
  out, and — when profiling was on — compute and (de)serialization times; a failed
  attempt carries its error text.

Nodes that never ran (skipped, cancelled before start) have no event; ``otherData``
lists them so a reader can still see them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ChromeTrace", "build_trace"]

_PID = 1


class ChromeTrace:
    """A list of trace events with ``to_dict()``, ``to_json()`` and an atomic ``save()``."""

    __slots__ = ("events", "metadata")

    def __init__(self, events: list[dict[str, Any]], metadata: dict[str, Any] | None = None):
        self.events = events
        self.metadata = dict(metadata or {})

    @property
    def node_events(self) -> list[dict[str, Any]]:
        """The complete ("X") events, one per node attempt."""
        return [e for e in self.events if e.get("ph") == "X"]

    @property
    def tracks(self) -> dict[int, str]:
        """``tid -> worker name`` from the thread_name metadata events."""
        return {
            e["tid"]: e["args"]["name"]
            for e in self.events
            if e.get("ph") == "M" and e.get("name") == "thread_name"
        }

    def to_dict(self) -> dict[str, Any]:
        return {"traceEvents": self.events, "displayTimeUnit": "ms", "otherData": self.metadata}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trace JSON atomically; returns the path."""
        from dagforge.profiling.profile import atomic_write_text

        return atomic_write_text(path, self.to_json())

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<ChromeTrace events={len(self.events)} tracks={len(self.tracks)}>"


def build_trace(result: Any) -> ChromeTrace:
    """The Chrome trace of a finished run (see the module docstring for the layout)."""
    workers: list[str] = list(getattr(result, "workers", []) or [])
    tids: dict[str, int] = {}

    def tid(worker: str | None) -> int:
        name = worker or "?"
        if name not in tids:
            if name not in workers:
                workers.append(name)
            tids[name] = workers.index(name)
        return tids[name]

    for w in workers:
        tid(w)
    events: list[dict[str, Any]] = []
    not_run: dict[str, str] = {}
    results = result.results
    # Start order, each node once (a retried node starts more than once), then the rest.
    ordered = list(dict.fromkeys([*result.execution_order, *results]))
    for name in ordered:
        nr = results[name]
        m = nr.metrics
        common: dict[str, Any] = {"node": name}
        if m is not None:
            common.update(
                bytes_in=m.bytes_in,
                bytes_out=m.bytes_out,
                compute_ms=round(m.compute_ms, 6),
                serialize_ms=round(m.serialize_ms, 6),
                deserialize_ms=round(m.deserialize_ms, 6),
            )
        attempts = list(nr.attempts or [])
        spans: list[tuple[float, float, str | None, str, int, BaseException | None]] = []
        if attempts:  # the engine records every attempt of a node with retries/timeout
            spans = [(a.start, a.end, a.worker, a.status, a.number, a.error) for a in attempts]
        elif nr.start is not None and nr.end is not None:
            spans = [(nr.start, nr.end, nr.worker, nr.status, 1, nr.error)]
        if not spans:
            not_run[name] = nr.status
            continue
        for start, end, worker, status, number, error in spans:
            args = dict(common)
            args["status"] = status
            args["attempt"] = number
            if error is not None:
                args["error"] = f"{type(error).__name__}: {error}"
            events.append(
                {
                    "name": name,
                    "cat": "node",
                    "ph": "X",
                    "ts": round(start * 1e6, 3),
                    "dur": round(max(end - start, 0.0) * 1e6, 3),
                    "pid": _PID,
                    "tid": tid(worker),
                    "args": args,
                }
            )
    meta: list[dict[str, Any]] = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": _PID,
            "tid": 0,
            "args": {"name": f"dagforge run ({getattr(result, 'backend', '?')})"},
        }
    ]
    for w, t in sorted(tids.items(), key=lambda kv: kv[1]):
        meta.append({"name": "thread_name", "ph": "M", "pid": _PID, "tid": t, "args": {"name": w}})
        meta.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": _PID,
                "tid": t,
                "args": {"sort_index": t},
            }
        )
    other = {
        "backend": getattr(result, "backend", None),
        "status": getattr(result, "status", None),
        "total_time_ms": getattr(result, "total_time_ms", None),
        "started_at": getattr(result, "started_at", None),
        "not_run": not_run,
    }
    return ChromeTrace(meta + events, other)
