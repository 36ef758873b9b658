"""Name-ordered listing cursors: the last name of a page, URL- and header-safe.

``GET /schedules`` and the dashboard's ``/ui/registry`` page hand these out (the same
encoding as ``GET /functions``' cursors: base64url of the name, unpadded). A cursor is
accepted only if it is exactly what ``cursor_for`` gives for some name, so a cursor
this server did not hand out is refused (``BadCursor``) rather than guessed at.
"""

from __future__ import annotations

import base64
from typing import Any

from dagforge.errors import RegistryError

# a name of 200 characters (the longest a schedule takes), 4 UTF-8 bytes each at most,
# is 800 bytes: 1067 base64 characters
MAX_CURSOR = 1100


class BadCursor(RegistryError):
    """Raised when a listing's cursor is not one this server handed out (answered 422)."""

    def __init__(self, cursor: str):
        shown = cursor if len(cursor) <= 80 else cursor[:80] + "..."
        super().__init__(f"cursor {shown!r} is not one this server handed out")


def link_next(headers: Any, path: str, limit: int, cursor: str) -> None:
    """Name the next page in a listing's answer: ``X-Next-Cursor`` and ``Link: rel="next"``."""
    headers["X-Next-Cursor"] = cursor
    headers["Link"] = f'<{path}?limit={limit}&cursor={cursor}>; rel="next"'


def cursor_for(name: str) -> str:
    """The cursor of a page that ends with ``name``."""
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def name_from_cursor(cursor: str) -> str:
    """The name ``cursor`` stands for; ``BadCursor`` if it is not one ``cursor_for`` makes."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor(cursor)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if cursor_for(name) == cursor:
            return name
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        pass
    raise BadCursor(cursor)
