"""The request log: one line per run attempt in DAGit's ten fields and order
(``requests.log``) and one JSON object per attempt with those plus queue delay, status
and attempt (``requests.jsonl``).

Invariants: every ``requests.log`` line has exactly the ten fields of ``LOG_FIELDS``
(text that could split a line or a field is JSON-quoted, see ``log_field``); each line
is one ``O_APPEND`` write, so lines of several writers never interleave; the files are
opened per line, so a rotated log is followed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["LOG_FIELDS", "RequestLog", "log_field", "timestamp"]


class RequestLog:
    """``requests.log`` and ``requests.jsonl`` in one folder (the server's data dir)."""

    def __init__(self, folder: Path):
        self.path = folder / "requests.log"
        self.jsonl_path = folder / "requests.jsonl"
        # its own lock, not the platform's: accept/subscribe need that one on the event
        # loop's threads, and a line is written while a dispatcher finishes a run
        self._lock = threading.Lock()

    def write(
        self,
        run: dict[str, Any],
        started: float,
        finished: float,
        status: str,
        cleanup_error: str | None = None,
        attempt: int = 1,
    ) -> None:
        """One line per run attempt in DAGit's ten fields and order (``requests.log``),
        and one JSON object with those plus queue delay, status and attempt
        (``requests.jsonl``). Text fields are quoted when they could split or break a
        line, so every line has exactly ten fields. A retried run's lines keep its
        first accept as ``request_start``."""
        accepted = run["accepted"]
        entry = {
            "request_start": timestamp(accepted),
            "request_end": timestamp(finished),
            "workflow_start": timestamp(started),
            "workflow_end": timestamp(finished),
            "total_response_time": round(finished - accepted, 3),
            "workflow_response_time": round(finished - started, 3),
            "priority": run["priority"],
            "trigger": run["trigger"],
            "dag": run["dag"] or "",
            "run_id": run["id"],
            "queue_delay": round(started - accepted, 3),
            "status": status,
            "attempt": attempt,
        }
        if cleanup_error:
            entry["cleanup_error"] = cleanup_error
        line = ", ".join(log_field(entry[k]) for k in LOG_FIELDS)
        record = json.dumps(entry)  # ensure_ascii: U+2028/U+0085 are escaped too
        # its own lock, not the platform's (accept/subscribe need that one on the event
        # loop's threads), and one os.open/write/close per file instead of open()'s
        # buffered file object; still opened per line, so a rotated log is followed
        with self._lock:
            _append(self.path, line + "\n")
            _append(self.jsonl_path, record + "\n")


_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)


def _append(path: Any, text: str) -> None:
    """Append ``text`` (UTF-8) to ``path`` with one ``write`` (O_APPEND: lines of
    several writers never interleave)."""
    fd = os.open(path, _APPEND, 0o666)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


LOG_FIELDS = (
    "request_start",
    "request_end",
    "workflow_start",
    "workflow_end",
    "total_response_time",
    "workflow_response_time",
    "priority",
    "trigger",
    "dag",
    "run_id",
)


def log_field(value: Any) -> str:
    """A request-log field: bare when it is plain text that cannot split a line or a
    field, else a JSON string (quoted, every non-ASCII and control character escaped)."""
    text = str(value)
    if text and text.isascii() and text.isprintable() and "," not in text and '"' not in text:
        return text
    return json.dumps(text)


def timestamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
